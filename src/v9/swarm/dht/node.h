// One dht-rpc 4 / @hyperswarm/dht 4 node on a UDP socket (docs/formats/dht.md): the thin pump
// around the sans-IO NodeCore (node_core.h). The pump owns the socket, one receive task and one
// timer task (in an async::TaskGroup), feeds the core datagrams and the steady clock, sends what
// the core sends, and turns the core's callbacks into the coroutine API below.
//
// Thread: every member function and every callback runs on the executor given to the constructor
// (the daemon's network thread); there are no mutexes. Lifetime: after start(), the owner must
// co_await close() before destroying the Node; close() fails the outstanding queries with
// Errc::Closed and returns once every call into the Node and both tasks have ended.
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
#include <spdlog/logger.h>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "v9/swarm/dht/node_core.h"
#include "common/util/error.h"

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
    RandomFill random;                               // system_random() if empty
    // Retry tick: a request is sent again every 3 ticks, 3 sends, and fails after 10 ticks.
    std::chrono::milliseconds tick{750};
};

struct PeersReply {
    PeerAddress from;
    std::vector<PeerAddress> peers;
    std::vector<PeerAddress> local_peers;
};
struct AnnounceOptions {
    std::uint16_t port = 0;  // 0: peers use the port our DHT datagrams come from
    std::optional<PeerAddress> local_address;
};

class Node {
public:
    static constexpr std::size_t kConcurrency = NodeCore::kConcurrency;
    static constexpr std::size_t kMaxInflight = NodeCore::kMaxInflight;

    Node(asio::any_io_executor executor, NodeOptions options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Binds the UDP socket; Errc::Io naming the endpoint, Errc::InvalidArgument for a bad
    // bootstrap entry.
    Status listen();
    asio::ip::udp::endpoint local_endpoint() const;
    // REQUIRES: listen() succeeded. Starts the receive and timer tasks and the first bootstrap.
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
    bool holepunchable() const { return m_core.holepunchable(); }
    std::size_t routing_table_size() const { return m_core.routing_table_size(); }
    const NodeId& id() const noexcept { return m_core.id(); }
    bool ephemeral() const noexcept { return m_core.ephemeral(); }
    // Records stored for other nodes (for tests and stats).
    std::size_t stored_records() const { return m_core.stored_records(); }

private:
    struct Call;  // one announce/lookup/unannounce waiting for the core

    asio::awaitable<void> receive_loop();
    asio::awaitable<void> timer_loop();
    asio::awaitable<Result<QueryResult>> wait_for(Call& call);
    void send(const Peer& to, ByteView datagram);
    // After each call into the core: the deadline may have moved, results may have arrived.
    void changed();

    asio::any_io_executor m_executor;
    NodeOptions m_options;
    std::shared_ptr<spdlog::logger> m_log;
    asio::ip::udp::socket m_socket;
    NodeCore m_core;
    async::TaskGroup m_tasks;
    async::Event m_timer_wake;  // the core's next_wakeup() may have changed, or close
    async::Event m_changed;     // a query finished, the first bootstrap ended, or close
    std::size_t m_calls = 0;    // coroutine calls waiting for the core
    bool m_started = false;
    bool m_closing = false;
};

}  // namespace hs::swarm::dht
