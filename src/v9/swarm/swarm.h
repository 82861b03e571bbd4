// The connection layer of Hyperswarm 2 as Hyperspace uses it (docs/behaviour/networking.md), TCP
// only: a listener on the network port, topics joined on the DHT and the LAN, a queue of found
// peers dialed with backoff, at most max_peers authenticated connections, and the deduplication
// rule both ends apply after the Noise handshake. What runs over a connection is the owner's (the
// Networker): the swarm hands it connected sockets.
//
// Connections that have not finished the Noise handshake are not peers: they have a deadline
// (handshake_timeout), and the inbound ones live in their own bounded pool (max_handshaking, at
// most max_handshaking_per_address from one address) so that silent or garbage sockets can
// never take the places of real peers. The accept loop never stops: a new inbound connection
// that finds the pool full evicts an older unauthenticated one (see accept_loop). Network thread
// only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include <spdlog/logger.h>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "v9/swarm/discovery.h"
#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::swarm {

inline constexpr std::uint16_t kDefaultPort = 49737;

struct SwarmOptions {
    // Where the TCP listener (and the DHT's UDP socket) bind, and the source of our dials.
    asio::ip::address bind_address = asio::ip::address_v4::any();
    // --network-port: nullopt tries 49737, 49738, 49739, then random ports; 0 is any free port.
    std::optional<std::uint16_t> port;
    // Authenticated connections (Noise handshake done). Handshaking ones do not count.
    std::size_t max_peers = 256;
    // Authenticated connections that one address (an exact IPv4 address; an IPv6 /64) opened to
    // us: a host that completes handshakes cannot take every peer slot. Connections we dialed
    // do not count (we chose those addresses).
    std::size_t max_inbound_peers_per_address = 16;
    // Inbound connections still in the Noise handshake, in all and from one address (an exact
    // IPv4 address; an IPv6 /64). A connection over either cap evicts the oldest one of its
    // address, or of the address holding the most (see accept_loop). max_handshaking is also
    // held to a quarter of the open-file limit the swarm finds when it is constructed.
    std::size_t max_handshaking = 512;
    std::size_t max_handshaking_per_address = 32;
    // A connection (inbound or dialed) that has not finished the handshake by then is closed.
    std::chrono::milliseconds handshake_timeout{5000};
    std::size_t max_dials = 16;  // connection attempts in flight
    std::chrono::milliseconds connect_timeout{10000};
    // DHT rounds repeat after a random delay in [round_min, round_max] (JS: 5-10 min);
    // a round that failed or whose lookup found nobody is repeated after 1 s, 2 s, ... 32 s.
    std::chrono::milliseconds round_min{5 * 60 * 1000};
    std::chrono::milliseconds round_max{10 * 60 * 1000};
    // Builds the DHT for the chosen port (the DHT must use the TCP port number: JS peers
    // dial the address our datagrams come from). Null: no DHT. Fails when the UDP port is taken,
    // and the swarm then tries another port.
    std::function<Result<std::unique_ptr<Discovery>>(const asio::ip::udp::endpoint&)> make_dht;
    // Builds LAN discovery; it reports peers through the function it is given. Null: none.
    std::function<Result<std::unique_ptr<LocalDiscovery>>(
        std::function<void(const Topic&, const asio::ip::tcp::endpoint&)>)>
        make_local;
    std::shared_ptr<spdlog::logger> log;
};

// One TCP connection as the swarm knows it.
struct ConnectionInfo {
    std::uint64_t id = 0;
    bool initiator = false;                       // we dialed it
    asio::ip::tcp::endpoint remote;               // the socket's remote end
    std::optional<asio::ip::tcp::endpoint> dialed;  // the queued address we dialed
};

enum class DedupResult : std::uint8_t {
    Keep,       // the connection replicates
    Duplicate,  // another connection to the same peer survives; this one gets no replication
    Self,       // we connected to ourselves: close it
    Full,       // max_peers authenticated connections already: close it
};

class Swarm {
public:
    using ConnectionHandler = std::function<void(asio::ip::tcp::socket, ConnectionInfo)>;

    Swarm(asio::any_io_executor executor, SwarmOptions options, ConnectionHandler on_connection);
    ~Swarm();
    Swarm(const Swarm&) = delete;
    Swarm& operator=(const Swarm&) = delete;

    // Binds the TCP listener and the DHT on one port number (docs/behaviour/networking.md
    // "Ports"). Errc::Io naming the address when nothing could be bound.
    Status listen();
    std::uint16_t port() const noexcept { return m_port; }
    asio::ip::tcp::endpoint local_endpoint() const;
    // Starts accepting and dialing.
    void start();

    // Joins `topic` (a discovery key): a new discovery round starts now
    // (docs/behaviour/networking.md "Topics").
    // REQUIRES: announce || lookup.
    void join(const Topic& topic, bool announce, bool lookup);
    // Leaves the topic: unannounces if it announced; its queued peers are no longer dialed.
    void leave(const Topic& topic);
    bool joined(const Topic& topic) const { return m_topics.count(topic) != 0; }

    // Completes once the topic's current discovery round has finished and every connection
    // attempt it queued has been made (docs/behaviour/networking.md "Flush"), or at `deadline`.
    // True when flushed.
    asio::awaitable<bool> flush(const Topic& topic, std::chrono::steady_clock::time_point deadline);

    // Adds a peer address for a topic by hand (tests, `--peer`). Dialed like a found peer.
    void add_peer(const Topic& topic, const asio::ip::tcp::endpoint& peer);

    // The owner reports, after the Noise handshake, the keys of a connection
    // (docs/behaviour/networking.md "Deduplication").
    // From then on the connection is a peer (unless the result says to close it): it leaves the
    // handshake pool, its deadline no longer applies, and it counts against max_peers.
    DedupResult deduplicate(std::uint64_t connection, ByteView local_key, ByteView remote_key);
    // The owner reports that a connection handed out by on_connection has closed. `banned`:
    // the peer misbehaved (never dial its address again).
    void connection_closed(std::uint64_t connection, bool banned);

    // Told when an older connection lost a deduplication to a newer one (it gets no more
    // replication; close it if we dialed it).
    std::function<void(std::uint64_t connection)> on_duplicate;
    // Told to close a connection still in the handshake: its deadline passed, or it was evicted
    // from the full handshake pool. The owner closes it (and then reports connection_closed);
    // the swarm no longer counts it in the pool from this call on. Required.
    std::function<void(std::uint64_t connection, const Error& reason)> on_drop;

    // Every connection handed out and not yet closed (handshaking ones included).
    std::size_t connection_count() const noexcept { return m_connections.size(); }
    // Connections past the handshake (what max_peers bounds).
    std::size_t peer_connection_count() const noexcept { return m_authenticated; }
    // Inbound connections in the handshake pool.
    std::size_t handshaking_count() const noexcept { return m_handshaking_inbound.size(); }
    // Accept calls that failed (e.g. EMFILE), since start.
    std::uint64_t accept_failures() const noexcept { return m_accept_failures; }
    std::size_t queued_count() const noexcept { return m_peers.size(); }
    const Discovery* dht() const noexcept { return m_dht.get(); }

    // Shutdown: stops accepting and dialing, unannounces (bounded), closes the DHT and the LAN
    // discovery, and completes when every task of the swarm has finished. Connections handed to
    // the owner are the owner's to close.
    asio::awaitable<void> close();

private:
    struct TopicState {
        Topic topic{};
        bool announce = false;
        bool lookup = false;
        bool left = false;
        std::uint64_t rounds_started = 0;
        std::uint64_t rounds_done = 0;
        bool found = false;  // the current round found peers
        std::unique_ptr<asio::steady_timer> timer;  // between rounds
    };
    struct PeerEntry {
        asio::ip::tcp::endpoint address;
        std::set<Topic> topics;
        int priority = 1;  // 0 LAN, 1 DHT (lower first)
        unsigned attempts = 0;
        bool dialing = false;
        std::optional<std::uint64_t> connection;  // connected through this address
        bool banned = false;                      // misbehaved or connected to self: forever
        std::optional<std::uint64_t> banned_until_closed;  // a dedup survivor's connection id
        std::chrono::steady_clock::time_point retry_at{};
    };
    struct Conn {
        ConnectionInfo info;
        std::optional<std::string> dedup_key;
        bool authenticated = false;  // deduplicate() was called
        bool dropped = false;        // on_drop was called
        std::chrono::steady_clock::time_point deadline{};  // of the handshake
    };
    using AddressKey = std::string;

    asio::awaitable<void> unannounce(Topic topic);
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> dial_loop();
    asio::awaitable<void> dial(asio::ip::tcp::endpoint address);
    asio::awaitable<void> topic_loop(std::shared_ptr<TopicState> state);
    void peers_found(const Topic& topic, const std::vector<asio::ip::tcp::endpoint>& peers,
                     int priority);
    bool is_self(const asio::ip::tcp::endpoint& peer) const;
    bool wanted(const PeerEntry& peer) const;
    std::uint64_t register_connection(ConnectionInfo info);
    asio::awaitable<void> handshake_loop();
    void make_room_for(const AddressKey& address);
    void drop(std::uint64_t connection, Error reason);
    void leave_pool(std::uint64_t connection);
    std::size_t outbound_handshaking() const;
    static AddressKey address_key(const asio::ip::address& address);
    std::chrono::milliseconds round_delay();

    asio::any_io_executor m_executor;
    SwarmOptions m_options;
    ConnectionHandler m_on_connection;
    std::shared_ptr<spdlog::logger> m_log;
    std::optional<asio::ip::tcp::acceptor> m_acceptor;
    std::uint16_t m_port = 0;
    std::unique_ptr<Discovery> m_dht;
    std::unique_ptr<LocalDiscovery> m_local;
    std::map<Topic, std::shared_ptr<TopicState>> m_topics;
    std::map<asio::ip::tcp::endpoint, PeerEntry> m_peers;
    std::map<std::uint64_t, Conn> m_connections;
    std::map<std::string, std::uint64_t> m_dedup;  // local||remote key -> surviving connection
    // Connections in the handshake (ids grow with age, so the first is the oldest and the first
    // to reach its deadline): all of them, the inbound ones, the inbound ones by address.
    std::set<std::uint64_t> m_handshaking;
    std::set<std::uint64_t> m_handshaking_inbound;
    std::map<AddressKey, std::set<std::uint64_t>> m_handshaking_by_address;
    std::size_t m_authenticated = 0;
    std::map<AddressKey, std::size_t> m_inbound_peers;  // authenticated inbound, by address
    std::uint64_t m_accept_failures = 0;
    async::Event m_handshake_wake;  // a new handshaking connection: the deadline loop re-checks
    async::Event m_accept_wake;     // close() ends the accept loop's backoff
    std::uint64_t m_next_connection = 1;
    std::size_t m_dials = 0;
    std::set<asio::ip::tcp::socket*> m_dial_sockets;  // closed on shutdown
    bool m_started = false;
    bool m_closing = false;
    async::Event m_wake;     // the dial loop / accept loop re-check
    async::Event m_changed;  // flush waiters re-check
    async::TaskGroup m_tasks;  // the loops, dials and unannounces
    std::mt19937_64 m_rng;
};

}  // namespace hs::swarm
