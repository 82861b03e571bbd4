#include "sim/dht_sim.h"

namespace hs::swarm::dht::sim {

Network::Network(SimOptions options)
    : m_options(options),
      m_rng(options.seed),
      // Far from the clock's epoch, so "now - 5 minutes" stays meaningful.
      m_now(TimePoint{} + std::chrono::hours(1)) {}

Network::~Network() = default;

std::size_t Network::add_node(bool ephemeral, std::vector<Peer> bootstrap, bool start) {
    const std::size_t i = m_nodes.size();
    const std::size_t n = i + 1;
    Peer address;
    address.host = {10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                    static_cast<std::uint8_t>(n)};
    address.port = 49737;
    CoreOptions o;
    o.ephemeral = ephemeral;
    o.bootstrap = std::move(bootstrap);
    o.tick = m_options.tick;
    o.random = seeded_random(m_rng());
    Member m;
    m.address = address;
    m.core = std::make_unique<NodeCore>(std::move(o), [this, address](const Peer& to, ByteView d) {
        send(address, to, Bytes(d.begin(), d.end()));
    });
    m_nodes.push_back(std::move(m));
    m_by_address.emplace(address, i);
    if (start) {
        m_nodes[i].core->start(m_now);
        schedule(i);
    }
    return i;
}

std::vector<std::size_t> Network::alive_nodes() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
        if (m_nodes[i].alive) out.push_back(i);
    return out;
}

void Network::kill(std::size_t i) {
    Member& m = m_nodes[i];
    if (!m.alive) return;
    m.alive = false;
    // close() sends nothing; it ends the node's own queries (with Errc::Closed).
    m.core->close(m_now);
    ++m.generation;
    m.scheduled = TimePoint::max();
}

void Network::attach_probe(const Peer& address,
                           std::function<void(const Peer& from, ByteView)> fn) {
    m_probes[address] = std::move(fn);
}

void Network::send(const Peer& from, const Peer& to, Bytes datagram) {
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (m_options.loss > 0 && coin(m_rng) < m_options.loss) {
        ++m_lost;
        return;
    }
    std::uniform_int_distribution<std::int64_t> latency(m_options.min_latency.count(),
                                                        m_options.max_latency.count());
    Event e;
    e.at = m_now + milliseconds(latency(m_rng));
    e.seq = m_seq++;
    e.from = from;
    e.to = to;
    e.data = std::move(datagram);
    m_events.push(std::move(e));
}

void Network::schedule(std::size_t i) {
    Member& m = m_nodes[i];
    if (!m.alive) return;
    const TimePoint next = m.core->next_wakeup();
    if (next == m.scheduled) return;
    m.scheduled = next;
    ++m.generation;
    if (next == TimePoint::max()) return;
    Event e;
    e.at = std::max(next, m_now);
    e.seq = m_seq++;
    e.timer = true;
    e.node = i;
    e.generation = m.generation;
    m_events.push(std::move(e));
}

void Network::schedule_all() {
    for (std::size_t i = 0; i < m_nodes.size(); ++i) schedule(i);
}

void Network::mix(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        m_hash ^= p[i];
        m_hash *= 0x100000001b3ULL;
    }
}

void Network::deliver(Event& e) {
    ++m_delivered;
    const auto t = (e.at - TimePoint{}).count();
    mix(&t, sizeof t);
    mix(e.from.host.data(), 4);
    mix(&e.from.port, sizeof e.from.port);
    mix(e.to.host.data(), 4);
    mix(&e.to.port, sizeof e.to.port);
    mix(e.data.data(), e.data.size());
    if (auto p = m_probes.find(e.to); p != m_probes.end()) {
        p->second(e.from, e.data);
        return;
    }
    auto it = m_by_address.find(e.to);
    if (it == m_by_address.end() || !m_nodes[it->second].alive) return;
    m_nodes[it->second].core->on_datagram(e.data, e.from, m_now);
    schedule(it->second);
}

bool Network::step(TimePoint until) {
    while (!m_events.empty()) {
        if (m_events.top().at > until) return false;
        Event e = std::move(const_cast<Event&>(m_events.top()));
        m_events.pop();
        m_now = std::max(m_now, e.at);
        if (e.timer) {
            Member& m = m_nodes[e.node];
            if (!m.alive || e.generation != m.generation) continue;
            m.scheduled = TimePoint::max();
            m.core->on_timer(m_now);
            schedule(e.node);
        } else {
            deliver(e);
        }
        return true;
    }
    return false;
}

void Network::run_for(Duration d) {
    const TimePoint until = m_now + d;
    schedule_all();
    while (step(until)) {
    }
    m_now = until;
}

bool Network::run_until(const std::function<bool()>& done, Duration limit) {
    const TimePoint until = m_now + limit;
    schedule_all();
    if (done()) return true;
    while (step(until)) {
        if (done()) return true;
    }
    m_now = until;
    return done();
}

}  // namespace hs::swarm::dht::sim
