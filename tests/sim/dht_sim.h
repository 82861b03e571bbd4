// A deterministic in-process network of sans-IO DHT nodes (swarm/dht/node_core.h) on a fake
// clock: every datagram goes through one event queue, with seeded loss and latency, and nodes
// join and leave when the test says so. Same seed, same calls -> the same run, datagram for
// datagram (trace_hash() digests every delivery). Nothing here touches a socket or the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <memory>
#include <queue>
#include <random>
#include <vector>

#include "v9/swarm/dht/node_core.h"

namespace hs::swarm::dht::sim {

using Duration = std::chrono::steady_clock::duration;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct SimOptions {
    std::uint64_t seed = 1;
    double loss = 0.0;  // probability that one datagram is lost
    milliseconds min_latency{5};
    milliseconds max_latency{80};
    milliseconds tick{750};  // the nodes' retry tick
};

class Network {
public:
    explicit Network(SimOptions options);
    ~Network();

    // Adds a node at a fresh address (10.x.y.z:49737); started at once unless `start` is false.
    std::size_t add_node(bool ephemeral, std::vector<Peer> bootstrap, bool start = true);
    NodeCore& node(std::size_t i) { return *m_nodes[i].core; }
    const Peer& address(std::size_t i) const { return m_nodes[i].address; }
    std::size_t size() const noexcept { return m_nodes.size(); }
    bool alive(std::size_t i) const { return m_nodes[i].alive; }
    std::vector<std::size_t> alive_nodes() const;
    // The node vanishes without a word (as a crashed process): datagrams to it are lost.
    void kill(std::size_t i);

    // An address outside the node set: datagrams to it go to `on_datagram`.
    void attach_probe(const Peer& address, std::function<void(const Peer& from, ByteView)> fn);
    // A datagram from any address (a probe's) to any address, through the same lossy queue.
    void send(const Peer& from, const Peer& to, Bytes datagram);

    // Runs events until the fake clock reached now() + d.
    void run_for(Duration d);
    // Runs events until `done()` holds (checked after every event) or `limit` passed; true if
    // done() held.
    bool run_until(const std::function<bool()>& done, Duration limit);
    TimePoint now() const noexcept { return m_now; }

    // Digest of every delivered datagram (time, from, to, bytes), in delivery order.
    std::uint64_t trace_hash() const noexcept { return m_hash; }
    std::size_t delivered() const noexcept { return m_delivered; }
    std::size_t lost() const noexcept { return m_lost; }
    std::mt19937_64& rng() noexcept { return m_rng; }

private:
    struct Member {
        Peer address;
        std::unique_ptr<NodeCore> core;
        bool alive = true;
        TimePoint scheduled = TimePoint::max();  // the timer event in the queue
        std::uint64_t generation = 0;            // older timer events are stale
    };
    struct Event {
        TimePoint at;
        std::uint64_t seq = 0;
        bool timer = false;
        std::size_t node = 0;
        std::uint64_t generation = 0;
        Peer from, to;
        Bytes data;
        bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
    };

    void schedule(std::size_t i);
    void schedule_all();
    bool step(TimePoint until);
    void deliver(Event& e);
    void mix(const void* data, std::size_t n);

    SimOptions m_options;
    std::mt19937_64 m_rng;
    TimePoint m_now;
    std::uint64_t m_seq = 0;
    std::vector<Member> m_nodes;
    std::map<Peer, std::size_t> m_by_address;
    std::map<Peer, std::function<void(const Peer&, ByteView)>> m_probes;
    std::priority_queue<Event, std::vector<Event>, std::greater<Event>> m_events;
    std::uint64_t m_hash = 0xcbf29ce484222325ULL;
    std::size_t m_delivered = 0;
    std::size_t m_lost = 0;
};

// ---- helpers for tests on the simulated network

// A topic whose first byte is 0x55 and whose other bytes are `n`.
inline NodeId topic(std::uint8_t n) {
    NodeId t;
    t.fill(n);
    t[0] = 0x55;
    return t;
}

// The outcome of one query, filled in by the core's callbacks (collect, finish).
struct Outcome {
    bool done = false;
    std::optional<Result<QueryResult>> result;
    std::set<Peer> peers;
    bool ok() const { return result && result->ok(); }
    std::string error() const { return result && !result->ok() ? result->error().message : ""; }
};

inline NodeCore::OnPeers collect(const std::shared_ptr<Outcome>& o) {
    return [o](const PeersFound& f) { o->peers.insert(f.peers.begin(), f.peers.end()); };
}
inline NodeCore::OnDone finish(const std::shared_ptr<Outcome>& o) {
    return [o](Result<QueryResult> r) {
        o->done = true;
        o->result = std::move(r);
    };
}

}  // namespace hs::swarm::dht::sim
