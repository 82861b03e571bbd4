// One dht-rpc 4 / @hyperswarm/dht 4 node on a UDP socket (docs/formats/dht.md).
//
// Thread: every member function and every callback runs on the executor given to the constructor
// (the daemon's network thread); there are no mutexes. Ownership: the Node owns its socket, its
// three loops (receive, retry tick, maintenance) and the request table. Lifetime: after start(),
// the owner must co_await close() before destroying the Node; close() stops the loops, fails the
// outstanding requests and queries with Errc::Closed and returns once all of them are done.
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "swarm/dht/messages.h"
#include "swarm/dht/peer_store.h"
#include "swarm/dht/query_table.h"
#include "swarm/dht/routing_table.h"
#include "swarm/dht/tokens.h"
#include "util/error.h"

namespace hs::swarm::dht {

struct PeerAddress {
    asio::ip::address_v4 host;
    std::uint16_t port = 0;
    // address_v4 has only < and ==, so the ordering is spelled out (synthesized from them).
    std::strong_ordering operator<=>(const PeerAddress&) const = default;
    std::string to_string() const;
};

// "host:port" (IPv4 literal or "localhost") or ":port" (127.0.0.1), port 1..65535 (read by
// util/host_port.h). Errc::InvalidArgument.
Result<PeerAddress> parse_peer_address(std::string_view text);

struct NodeOptions {
    bool ephemeral = true;               // ephemeral: send no id, so others never store us
    std::vector<std::string> bootstrap;  // "host:port" / ":port"
    asio::ip::udp::endpoint bind{asio::ip::address_v4::any(), 0};
    std::optional<std::array<std::uint8_t, 32>> id;  // node id; random if absent
    std::shared_ptr<spdlog::logger> log;             // "dht"; a silent logger if absent
    // Retry tick: a request is sent again every 3 ticks, 3 sends, and fails after 10 ticks.
    std::chrono::milliseconds tick{750};
};

struct PeersReply {
    PeerAddress from;
    std::vector<PeerAddress> peers;
    std::vector<PeerAddress> local_peers;
};
struct QueryResult {
    std::size_t responses = 0;
    std::size_t peers_found = 0;
};
struct AnnounceOptions {
    std::uint16_t port = 0;  // 0: peers use the port our DHT datagrams come from
    std::optional<PeerAddress> local_address;
};

class Node {
public:
    static constexpr std::size_t kConcurrency = 16;
    static constexpr std::size_t kMaxInflight = 4096;

    Node(asio::any_io_executor executor, NodeOptions options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Binds the UDP socket; Errc::Io naming the endpoint, Errc::InvalidArgument for a bad
    // bootstrap entry.
    Status listen();
    asio::ip::udp::endpoint local_endpoint() const;
    // REQUIRES: listen() succeeded. Starts the receive loop, bootstrap and maintenance.
    void start();
    // Completes when the first bootstrap finished (whether or not any node answered), or on close.
    asio::awaitable<void> ready();

    // queryAndUpdate('peers'): reports peers as responses arrive, then stores our record on the
    // k closest nodes that answered. "No close nodes responded" if none took the UPDATE.
    asio::awaitable<Result<QueryResult>> announce(const std::array<std::uint8_t, 32>& topic,
                                                  AnnounceOptions options,
                                                  std::function<void(const PeersReply&)> on_peers);
    asio::awaitable<Result<QueryResult>> lookup(const std::array<std::uint8_t, 32>& topic,
                                                std::function<void(const PeersReply&)> on_peers);
    asio::awaitable<Status> unannounce(const std::array<std::uint8_t, 32>& topic,
                                       AnnounceOptions options);
    asio::awaitable<void> close();

    // Our address as the last 10 responding nodes saw it: needs >= 3 agreeing and < 3 other
    // samples.
    std::optional<asio::ip::udp::endpoint> remote_address() const;
    bool holepunchable() const;
    std::size_t routing_table_size() const { return m_table.size(); }
    const NodeId& id() const noexcept { return m_id; }
    bool ephemeral() const noexcept { return m_options.ephemeral; }
    // Records stored for other nodes (for tests and stats).
    std::size_t stored_records() const { return m_store.size(); }

private:
    struct Received {
        Message message;
        Peer from;
    };
    using ReplyFn = std::function<void(Result<Received>)>;
    struct Inflight {
        Bytes datagram;
        Peer to;
        int ticks_left = 4;
        int sends = 1;
        std::optional<NodeId> expected_id;
        ReplyFn done;
    };
    struct QueryState;
    enum class Mode { Query, Update, QueryAndUpdate };

    asio::awaitable<void> receive_loop();
    asio::awaitable<void> tick_loop();
    asio::awaitable<void> maintenance_loop();
    void spawn(asio::awaitable<void> task, const char* name);

    void on_datagram(ByteView bytes, const asio::ip::udp::endpoint& from);
    void on_request(bool update, Message message, const Peer& from);
    void on_response(Message message, const Peer& from);
    void on_holepunch(Message message, const Peer& from);
    void on_command(bool update, const Message& message, const Peer& from);
    void note_contact(const NodeId& id, const Peer& from, const std::optional<Bytes>& token,
                      const std::optional<Bytes>& to);

    Message base_message(std::uint64_t type) const;
    void respond(const Message& request, const Peer& to, std::optional<Bytes> value,
                 std::optional<Bytes> closer_nodes);
    void respond_error(const Message& request, const Peer& to, std::string error,
                       std::optional<Bytes> closer_nodes);
    void send_datagram(ByteView datagram, const Peer& to);
    void request(Message message, const Peer& to, std::optional<NodeId> expected_id, ReplyFn done);
    void ping(const Contact& contact);
    Bytes closer_nodes(ByteView target) const;

    asio::awaitable<Result<QueryResult>> run_query(std::string command, NodeId target,
                                                   std::optional<Bytes> value, Mode mode,
                                                   std::function<void(const Received&)> on_data);
    asio::awaitable<void> bootstrap();
    std::optional<Bytes> tally(bool only_ip) const;

    asio::any_io_executor m_executor;
    NodeOptions m_options;
    std::shared_ptr<spdlog::logger> m_log;
    NodeId m_id{};
    std::vector<Peer> m_bootstrap;
    asio::ip::udp::socket m_socket;
    asio::steady_timer m_tick_timer;
    asio::steady_timer m_maintenance_timer;
    asio::steady_timer m_ready_timer;
    asio::steady_timer m_idle_timer;
    RoutingTable m_table;
    TokenSecrets m_tokens;
    PeerStore m_store;
    std::unordered_map<std::uint16_t, Inflight> m_inflight;
    std::uint16_t m_next_rid = 0;
    std::map<std::uint64_t, QueryState*> m_queries;
    std::uint64_t m_next_query = 0;
    std::deque<std::pair<NodeId, Bytes>> m_to_samples;  // newest first, at most 10 nodes
    std::size_t m_tasks = 0;
    bool m_started = false;
    bool m_closing = false;
    bool m_bootstrapped = false;
    bool m_bootstrapping = false;
    TimePoint m_last_rotation{};
    // Inbound flood bounds: requests answered and holepunches relayed per second.
    TimePoint m_budget_window{};
    std::size_t m_requests_in_window = 0;
    std::size_t m_relays_in_window = 0;
};

}  // namespace hs::swarm::dht
