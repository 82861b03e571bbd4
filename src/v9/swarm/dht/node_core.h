// The sans-IO dht-rpc 4 / @hyperswarm/dht 4 node (docs/formats/dht.md): routing table, request
// table with retries, iterative queries, the `peers` store, bootstrap and maintenance, and no I/O.
//
// The core owns no socket, no timer and reads no clock. Its owner (the UDP pump in node.h, the
// simulator in tests/sim, the fuzz target fuzz/dht_node_fuzz.cpp) feeds it:
//   - on_datagram(bytes, from, now) for every datagram received,
//   - on_timer(now) once now >= next_wakeup() (calling it earlier is harmless),
//   - the public operations (start, lookup, announce, unannounce, close),
// and the core sends through the SendFn given to its constructor. Randomness (our node id when
// none is given, roundtrip-token secrets, request ids, the record shuffle) comes from the
// RandomFill of the options, so a core run from a seeded source is deterministic.
//
// Callbacks: SendFn runs synchronously inside the call that sends. Every other callback (peers
// found, query done) runs before the public call that caused it returns, after the core's state
// is consistent again, so a callback may call back into the core (start another query, close).
//
// Single-threaded; no mutexes. Every call takes the current time, which must not go backwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "v9/swarm/dht/messages.h"
#include "v9/swarm/dht/peer_store.h"
#include "v9/swarm/dht/query_table.h"
#include "v9/swarm/dht/routing_table.h"
#include "v9/swarm/dht/tokens.h"
#include "common/util/error.h"

namespace spdlog {
class logger;
}

namespace hs::swarm::dht {

// Fills n bytes with randomness.
using RandomFill = std::function<void(std::uint8_t* out, std::size_t n)>;
// libsodium's randombytes (what the daemon and hyp use).
RandomFill system_random();
// A deterministic stream of bytes from `seed` (simulation and fuzzing only: not secret).
RandomFill seeded_random(std::uint64_t seed);

// Sends one datagram (best effort: a datagram may be lost, the core retries).
using SendFn = std::function<void(const Peer& to, ByteView datagram)>;

struct CoreOptions {
    bool ephemeral = true;  // ephemeral: send no id, so others never store us
    std::vector<Peer> bootstrap;
    std::optional<NodeId> id;             // node id; drawn from `random` if absent
    std::shared_ptr<spdlog::logger> log;  // a silent logger if absent
    RandomFill random;                    // system_random() if empty
    // Retry tick: a request is sent again every 3 ticks, 3 sends, and fails after 10 ticks.
    std::chrono::milliseconds tick{750};
};

// What one `peers` answer reported, with addresses as plain values.
struct PeersFound {
    Peer from;
    std::vector<Peer> peers;
    std::vector<Peer> local_peers;
};
struct QueryResult {
    std::size_t responses = 0;
    std::size_t peers_found = 0;
};
struct AnnounceParams {
    std::uint16_t port = 0;  // 0: peers use the port our DHT datagrams come from
    std::optional<Peer> local_address;
};

class NodeCore {
public:
    static constexpr std::size_t kConcurrency = 16;
    static constexpr std::size_t kMaxInflight = 4096;
    static constexpr std::chrono::seconds kMaintenanceTick{5};

    using QueryId = std::uint64_t;
    using OnPeers = std::function<void(const PeersFound&)>;
    using OnDone = std::function<void(Result<QueryResult>)>;

    NodeCore(CoreOptions options, SendFn send);
    ~NodeCore();
    NodeCore(const NodeCore&) = delete;
    NodeCore& operator=(const NodeCore&) = delete;

    // Replaces the bootstrap list (before start()).
    void set_bootstrap(std::vector<Peer> bootstrap);
    // Starts the retry tick, maintenance and the first bootstrap. Once only.
    void start(TimePoint now);
    void on_datagram(ByteView bytes, const Peer& from, TimePoint now);
    void on_timer(TimePoint now);
    // When on_timer wants to run next; TimePoint::max() before start() and after close().
    TimePoint next_wakeup() const noexcept;
    // Fails every request and query with Errc::Closed (their callbacks run before this returns);
    // later operations fail with Errc::Closed. Sends nothing any more.
    void close(TimePoint now);

    // queryAndUpdate('peers'): reports peers as responses arrive, then stores our record on the
    // k closest nodes that answered. "No close nodes responded" if none took the UPDATE.
    QueryId announce(const NodeId& topic, const AnnounceParams& params, OnPeers on_peers,
                     OnDone done, TimePoint now);
    QueryId lookup(const NodeId& topic, OnPeers on_peers, OnDone done, TimePoint now);
    QueryId unannounce(const NodeId& topic, const AnnounceParams& params, OnDone done,
                       TimePoint now);
    // Forgets a running query: none of its callbacks runs any more (its requests still finish).
    void cancel(QueryId id);

    bool started() const noexcept { return m_started; }
    bool closed() const noexcept { return m_closing; }
    // The first bootstrap finished (whether or not any node answered).
    bool bootstrapped() const noexcept { return m_bootstrapped; }
    // Our address as the last 10 responding nodes saw it: needs >= 3 agreeing and < 3 other
    // samples.
    std::optional<Peer> remote_address() const;
    bool holepunchable() const;
    const RoutingTable& table() const noexcept { return m_table; }
    std::size_t routing_table_size() const noexcept { return m_table.size(); }
    const NodeId& id() const noexcept { return m_id; }
    bool ephemeral() const noexcept { return m_options.ephemeral; }
    // Records stored for other nodes (for tests and stats).
    std::size_t stored_records() const noexcept { return m_store.size(); }
    std::size_t inflight_requests() const noexcept { return m_inflight.size(); }
    std::size_t running_queries() const noexcept { return m_queries.size(); }

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
    enum class Mode { Query, Update, QueryAndUpdate };
    struct Query;
    class Entry;  // RAII: sets the time, runs the deferred callbacks when the outermost call ends

    static constexpr QueryId kNoQuery = ~QueryId{0};
    // Runs fn once the outermost call into the core ends; `owner`'s cancel() drops it.
    void defer(std::function<void()> fn, QueryId owner = kNoQuery);
    void drain();

    void tick();
    void maintenance();
    void bootstrap();

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

    // Reads the peers a response reports (nothing for queries that look for none).
    using Extract = std::function<std::optional<PeersFound>(const Received&)>;
    QueryId start_query(std::string command, const NodeId& target, std::optional<Bytes> value,
                        Mode mode, Extract extract, OnPeers on_peers, OnDone done);
    void query_send(Query& q, const Peer& to, const std::optional<NodeId>& id,
                    const std::optional<Bytes>& token);
    void query_reply(QueryId qid, Result<Received> result, std::optional<NodeId> asked,
                     bool update);
    void query_advance(Query& q);
    void query_finish(QueryId qid, Result<QueryResult> result);
    std::optional<Bytes> tally(bool only_ip) const;

    CoreOptions m_options;
    SendFn m_send;
    std::shared_ptr<spdlog::logger> m_log;
    RandomFill m_random;
    NodeId m_id{};
    RoutingTable m_table;
    TokenSecrets m_tokens;
    PeerStore m_store;
    std::map<std::uint16_t, Inflight> m_inflight;
    std::uint16_t m_next_rid = 0;
    std::map<QueryId, std::unique_ptr<Query>> m_queries;
    QueryId m_next_query = 0;
    std::deque<std::pair<NodeId, Bytes>> m_to_samples;  // newest first, at most 10 nodes
    std::deque<std::pair<QueryId, std::function<void()>>> m_deferred;
    int m_depth = 0;
    bool m_draining = false;
    TimePoint m_now{};
    bool m_started = false;
    bool m_closing = false;
    bool m_bootstrapped = false;
    bool m_bootstrapping = false;
    TimePoint m_next_tick = TimePoint::max();
    TimePoint m_next_maintenance = TimePoint::max();
    std::uint64_t m_maintenance_ticks = 0;
    TimePoint m_last_rotation{};
    // Inbound flood bounds: requests answered and holepunches relayed per second.
    TimePoint m_budget_window{};
    std::size_t m_requests_in_window = 0;
    std::size_t m_relays_in_window = 0;
};

}  // namespace hs::swarm::dht
