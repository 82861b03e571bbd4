#include "v9/swarm/dht/node_core.h"

#include <algorithm>

#include <sodium.h>
#include <spdlog/logger.h>

#include "common/crypto/blake2b.h"

namespace hs::swarm::dht {
namespace {

constexpr std::chrono::minutes kRotateEvery{5};
constexpr std::size_t kK = 20;
constexpr std::size_t kToSamples = 10;
constexpr std::size_t kMaxRequestsPerSecond = 10000;
constexpr std::size_t kMaxRelaysPerSecond = 200;
constexpr int kTicksPerSend = 3;  // ticks between two sends of a request
constexpr int kSends = 3;
constexpr int kFinalTicks = 4;  // ticks after the last send before the request fails

std::optional<NodeId> as_id(const std::optional<Bytes>& b) {
    if (!b || b->size() != kIdBytes) return std::nullopt;
    NodeId id;
    std::copy(b->begin(), b->end(), id.begin());
    return id;
}

template <std::size_t N>
ByteArray<N> draw(const RandomFill& random) {
    ByteArray<N> out{};
    random(out.data(), out.size());
    return out;
}

std::vector<Peer> decode_local(ByteView records, const Peer& prefix) {
    std::vector<Peer> out;
    if (records.size() % kLocalPeerBytes) return out;
    for (std::size_t i = 0; i < records.size(); i += kLocalPeerBytes) {
        const std::uint16_t port = get_u16be(records.data() + i + 2);
        if (port == 0) return {};
        Peer p;
        p.host = {prefix.host[0], prefix.host[1], records[i], records[i + 1]};
        p.port = port;
        out.push_back(p);
    }
    return out;
}

// What @hyperswarm/dht reports for a `peers` answer: nothing without records; an unusable peer
// list (bad length, zero port or host) counts as empty.
std::optional<PeersFound> peers_found(const Message& msg, const Peer& from,
                                      const std::optional<Peer>& local_prefix) {
    if (!msg.value) return std::nullopt;
    auto out = PeersOutput::decode(*msg.value);
    if (!out || (!out->peers && !out->local_peers)) return std::nullopt;
    PeersFound found;
    found.from = from;
    if (out->peers) {
        if (auto peers = decode_peers(*out->peers)) {
            for (const auto& p : *peers) {
                if (p.port == 0 || p.host == std::array<std::uint8_t, 4>{}) {
                    found.peers.clear();
                    break;
                }
                found.peers.push_back(p);
            }
        }
    }
    if (out->local_peers && local_prefix)
        found.local_peers = decode_local(*out->local_peers, *local_prefix);
    return found;
}

}  // namespace

RandomFill system_random() {
    crypto::ensure_sodium();
    return [](std::uint8_t* out, std::size_t n) { randombytes_buf(out, n); };
}

RandomFill seeded_random(std::uint64_t seed) {
    // splitmix64: small, fast, and the same on every platform.
    auto state = std::make_shared<std::uint64_t>(seed);
    return [state](std::uint8_t* out, std::size_t n) {
        for (std::size_t i = 0; i < n; i += 8) {
            std::uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            for (std::size_t j = 0; j < 8 && i + j < n; ++j)
                out[i + j] = static_cast<std::uint8_t>(z >> (8 * j));
        }
    };
}

// One iterative query: its candidate table, counters and callbacks. Requests reach it through
// m_queries by query number, so a reply that arrives after the query ended is dropped.
struct NodeCore::Query {
    Query(const NodeId& self, const NodeId& target) : table(self, target) {}
    QueryId id = 0;
    std::string command;
    NodeId target{};
    std::optional<Bytes> value;
    Mode mode = Mode::Query;
    QueryTable table;
    Extract extract;
    OnPeers on_peers;
    OnDone done;
    QueryResult result;
    std::size_t inflight = 0;
    std::size_t updates = 0;
    bool updating = false;
    bool query() const { return mode != Mode::Update; }
    bool update() const { return mode != Mode::Query; }
};

class NodeCore::Entry {
public:
    Entry(NodeCore& core, TimePoint now) : m_core(core) {
        if (now > core.m_now) core.m_now = now;
        ++core.m_depth;
    }
    ~Entry() {
        if (--m_core.m_depth == 0) m_core.drain();
    }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

private:
    NodeCore& m_core;
};

NodeCore::NodeCore(CoreOptions options, SendFn send)
    : m_options(std::move(options)),
      m_send(std::move(send)),
      m_log(m_options.log ? m_options.log : std::make_shared<spdlog::logger>("dht")),
      m_random(m_options.random ? m_options.random : system_random()),
      m_table(m_options.id ? *m_options.id : draw<32>(m_random)),
      m_tokens(draw<32>(m_random), draw<32>(m_random)) {
    m_id = m_table.self();
    const auto rid = draw<2>(m_random);
    m_next_rid = static_cast<std::uint16_t>(rid[0] << 8 | rid[1]);
    const auto seed = draw<4>(m_random);
    m_store.seed(static_cast<std::uint32_t>(seed[0]) << 24 | seed[1] << 16 | seed[2] << 8 |
                 seed[3]);
}

NodeCore::~NodeCore() = default;

void NodeCore::set_bootstrap(std::vector<Peer> bootstrap) {
    m_options.bootstrap = std::move(bootstrap);
}

void NodeCore::defer(std::function<void()> fn, QueryId owner) {
    m_deferred.emplace_back(owner, std::move(fn));
}

void NodeCore::drain() {
    if (m_draining) return;
    m_draining = true;
    while (!m_deferred.empty()) {
        auto fn = std::move(m_deferred.front().second);
        m_deferred.pop_front();
        ++m_depth;  // calls into the core from a callback only queue more work
        fn();
        --m_depth;
    }
    m_draining = false;
}

void NodeCore::start(TimePoint now) {
    Entry entry(*this, now);
    if (m_started || m_closing) return;
    m_started = true;
    m_last_rotation = m_now;
    m_next_tick = m_now + m_options.tick;
    m_next_maintenance = m_now + kMaintenanceTick;
    bootstrap();
}

TimePoint NodeCore::next_wakeup() const noexcept {
    if (!m_started || m_closing) return TimePoint::max();
    return std::min(m_next_tick, m_next_maintenance);
}

void NodeCore::on_timer(TimePoint now) {
    Entry entry(*this, now);
    if (!m_started || m_closing) return;
    if (m_now >= m_next_tick) {
        m_next_tick = m_now + m_options.tick;
        tick();
    }
    if (m_now >= m_next_maintenance && !m_closing) {
        m_next_maintenance = m_now + kMaintenanceTick;
        maintenance();
    }
}

void NodeCore::tick() {
    std::vector<std::uint16_t> expired;
    for (auto& [rid, req] : m_inflight) {
        if (--req.ticks_left > 0) continue;
        if (req.sends < kSends) {
            ++req.sends;
            req.ticks_left = req.sends < kSends ? kTicksPerSend : kFinalTicks;
            send_datagram(req.datagram, req.to);
            continue;
        }
        expired.push_back(rid);
    }
    for (auto rid : expired) {
        auto it = m_inflight.find(rid);
        if (it == m_inflight.end()) continue;
        auto done = std::move(it->second.done);
        const Peer to = it->second.to;
        m_inflight.erase(it);
        done(make_error(Errc::Io, "DHT request to {} timed out", to.to_string()));
    }
}

void NodeCore::maintenance() {
    const std::uint64_t n = ++m_maintenance_ticks;
    if (m_now - m_last_rotation >= kRotateEvery) {
        m_tokens.rotate(draw<32>(m_random));
        m_last_rotation = m_now;
    }
    m_store.expire(m_now);
    if (n % 8 == 0) {
        for (const auto& c :
             m_table.stale(m_inflight.size() > 2 * kConcurrency ? 3 : 5, m_now - kMaintenanceTick))
            ping(c);
    }
    if ((m_table.size() == 0 && !m_options.bootstrap.empty()) || (n % 64 == 0 && m_table.size() < kK))
        bootstrap();
}

void NodeCore::bootstrap() {
    if (m_bootstrapping) return;
    if (m_options.bootstrap.empty()) {
        m_bootstrapped = true;
        return;
    }
    m_bootstrapping = true;
    start_query("_find_node", m_id, std::nullopt, Mode::Query, nullptr, nullptr,
                [this](Result<QueryResult> r) {
                    m_bootstrapping = false;
                    m_bootstrapped = true;
                    if (!r)
                        m_log->debug("dht bootstrap: {}", r.error().message);
                    else
                        m_log->debug("dht bootstrap: {} responses, {} nodes", r->responses,
                                     m_table.size());
                });
}

void NodeCore::close(TimePoint now) {
    Entry entry(*this, now);
    if (m_closing) return;
    m_closing = true;
    auto inflight = std::move(m_inflight);
    m_inflight.clear();
    for (auto& [rid, req] : inflight) req.done(make_error(Errc::Closed, "DHT node closed"));
    // A query whose requests were all refused before reaching the table is still registered.
    std::vector<QueryId> left;
    for (const auto& [id, q] : m_queries) left.push_back(id);
    for (auto id : left) query_finish(id, make_error(Errc::Closed, "DHT node closed"));
}

// --- sending ------------------------------------------------------------------------------------

void NodeCore::send_datagram(ByteView datagram, const Peer& to) {
    if (m_closing) return;
    m_send(to, datagram);
}

Message NodeCore::base_message(std::uint64_t type) const {
    Message m;
    m.version = kProtocolVersion;
    m.type = type;
    if (!m_options.ephemeral) m.id = Bytes(m_id.begin(), m_id.end());
    return m;
}

void NodeCore::request(Message message, const Peer& to, std::optional<NodeId> expected_id,
                       ReplyFn done) {
    if (m_closing || m_inflight.size() >= kMaxInflight) {
        const bool closed = m_closing;
        defer([done = std::move(done), closed] {
            done(closed ? make_error(Errc::Closed, "DHT node closed")
                        : make_error(Errc::TooLarge, "DHT: too many requests in flight"));
        });
        return;
    }
    while (m_inflight.contains(m_next_rid)) ++m_next_rid;
    const std::uint16_t rid = m_next_rid++;
    message.rid = rid;
    Inflight req;
    req.datagram = message.encode();
    req.to = to;
    req.ticks_left = kTicksPerSend;
    req.expected_id = expected_id;
    req.done = std::move(done);
    auto& stored = m_inflight.emplace(rid, std::move(req)).first->second;
    send_datagram(stored.datagram, to);
}

void NodeCore::respond(const Message& req, const Peer& to, std::optional<Bytes> value,
                       std::optional<Bytes> closer) {
    Message m = base_message(static_cast<std::uint64_t>(PacketType::Response));
    m.rid = req.rid;
    m.to = encode_peer(to);
    m.closer_nodes = std::move(closer);
    m.roundtrip_token = m_tokens.token(to);
    m.value = std::move(value);
    send_datagram(m.encode(), to);
}

void NodeCore::respond_error(const Message& req, const Peer& to, std::string error,
                             std::optional<Bytes> closer) {
    Message m = base_message(static_cast<std::uint64_t>(PacketType::Response));
    m.rid = req.rid;
    m.to = encode_peer(to);
    m.closer_nodes = std::move(closer);
    m.error = std::move(error);
    send_datagram(m.encode(), to);
}

Bytes NodeCore::closer_nodes(ByteView target) const {
    Bytes out;
    if (target.size() != kIdBytes) return out;
    NodeId t;
    std::copy(target.begin(), target.end(), t.begin());
    std::vector<NodeRecord> nodes;
    for (const auto& c : m_table.closest(t, kK)) nodes.push_back(NodeRecord{c.id, c.peer});
    encode_nodes(out, nodes);
    return out;
}

void NodeCore::ping(const Contact& contact) {
    Message m = base_message(static_cast<std::uint64_t>(PacketType::Query));
    m.to = encode_peer(contact.peer);
    m.command = "_ping";
    m.value = Bytes(contact.id.begin(), contact.id.end());
    request(std::move(m), contact.peer, contact.id, [this, id = contact.id](Result<Received> r) {
        if (!r && r.error().code != Errc::Closed) m_table.remove(id);
    });
}

// --- receiving ----------------------------------------------------------------------------------

void NodeCore::on_datagram(ByteView bytes, const Peer& from, TimePoint now) {
    Entry entry(*this, now);
    if (m_closing || from.port == 0) return;
    auto decoded = Message::decode(bytes);
    if (!decoded) {
        m_log->trace("dht: dropped datagram from {}: {}", from.to_string(),
                     decoded.error().message);
        return;
    }
    Message message = std::move(decoded).value();
    if (message.id && message.id->size() != kIdBytes) return;
    if (message.id && !(message.version && *message.version >= kProtocolVersion))
        message.id.reset();
    switch (message.type) {
        case static_cast<std::uint64_t>(PacketType::Response):
            on_response(std::move(message), from);
            break;
        case static_cast<std::uint64_t>(PacketType::Query):
            on_request(false, std::move(message), from);
            break;
        case static_cast<std::uint64_t>(PacketType::Update):
            if (!message.roundtrip_token || !m_tokens.valid(from, *message.roundtrip_token)) {
                m_log->trace("dht: UPDATE from {} with a bad token", from.to_string());
                return;
            }
            on_request(true, std::move(message), from);
            break;
        default: break;
    }
}

void NodeCore::note_contact(const NodeId& id, const Peer& from, const std::optional<Bytes>& token,
                            const std::optional<Bytes>& to) {
    if (id == m_id) return;
    Contact c{id, from, token, m_now};
    if (m_table.add(c) == RoutingTable::AddResult::Full) return;
    if (!to || to->size() != kPeerBytes) return;
    auto it = std::find_if(m_to_samples.begin(), m_to_samples.end(),
                           [&](const auto& s) { return s.first == id; });
    if (it != m_to_samples.end()) m_to_samples.erase(it);
    m_to_samples.emplace_front(id, *to);
    if (m_to_samples.size() > kToSamples) m_to_samples.pop_back();
}

void NodeCore::on_request(bool update, Message message, const Peer& from) {
    if (m_now - m_budget_window >= std::chrono::seconds(1)) {
        m_budget_window = m_now;
        m_requests_in_window = 0;
        m_relays_in_window = 0;
    }
    if (++m_requests_in_window > kMaxRequestsPerSecond) return;
    if (auto id = as_id(message.id)) note_contact(*id, from, std::nullopt, message.to);

    const std::string command = message.command.value_or("");
    if (command == "_ping") {
        if (message.value &&
            !std::equal(message.value->begin(), message.value->end(), m_id.begin(), m_id.end()))
            return;
        respond(message, from, encode_peer(from), std::nullopt);
    } else if (command == "_find_node") {
        if (!message.target || message.target->size() != kIdBytes) return;
        respond(message, from, std::nullopt, closer_nodes(*message.target));
    } else if (command == "_holepunch") {
        on_holepunch(std::move(message), from);
    } else {
        on_command(update, message, from);
    }
}

void NodeCore::on_holepunch(Message message, const Peer& from) {
    if (!message.value) return;
    auto punch = Holepunch::decode(*message.value);
    if (!punch) return;
    if (punch->to) {
        auto to = decode_peer(*punch->to);
        if (!to || *to == from) return;
        if (++m_relays_in_window > kMaxRelaysPerSecond) return;
        // Relay: the same query, now from us, telling `to` who wants to reach it.
        message.version = kProtocolVersion;
        if (m_options.ephemeral)
            message.id.reset();
        else
            message.id = Bytes(m_id.begin(), m_id.end());
        message.to = encode_peer(*to);
        Holepunch relay;
        relay.from = encode_peer(from);
        message.value = Bytes();
        relay.encode_to(*message.value);
        send_datagram(message.encode(), *to);
        return;
    }
    Peer reply_to = from;
    if (punch->from) {
        if (auto f = decode_peer(*punch->from)) reply_to = *f;
    }
    respond(message, reply_to, std::nullopt, std::nullopt);
}

void NodeCore::on_command(bool update, const Message& message, const Peer& from) {
    if (!message.target) return;
    const Bytes closer = closer_nodes(*message.target);
    if (message.command != "peers") {
        respond_error(message, from, "Unsupported command", closer);
        return;
    }
    PeersInput input;
    if (message.value) {
        auto decoded = PeersInput::decode(*message.value);
        if (!decoded) return;
        input = std::move(decoded).value();
    }
    if (update) {
        auto st = m_store.update(*message.target, from, input, m_now);
        if (!st) return respond_error(message, from, st.error().message, closer);
        respond(message, from, std::nullopt, closer);
        return;
    }
    auto out = m_store.query(*message.target, from, input, m_now);
    if (!out) return respond_error(message, from, out.error().message, closer);
    Bytes value;
    out->encode_to(value);
    respond(message, from, std::move(value), closer);
}

void NodeCore::on_response(Message message, const Peer& from) {
    auto it = m_inflight.find(static_cast<std::uint16_t>(message.rid));
    if (message.rid > 0xffff || it == m_inflight.end() || !(it->second.to == from)) return;
    const auto id = as_id(message.id);
    if (id) note_contact(*id, from, message.roundtrip_token, message.to);
    Inflight req = std::move(it->second);
    m_inflight.erase(it);
    if (req.expected_id && (!id || *id != *req.expected_id)) m_table.remove(*req.expected_id);
    req.done(Received{std::move(message), from});
}

// --- remote address -----------------------------------------------------------------------------

std::optional<Bytes> NodeCore::tally(bool only_ip) const {
    std::map<Bytes, std::size_t> hits;
    std::size_t good = 0, count = 0;
    std::optional<Bytes> best;
    for (const auto& [id, to] : m_to_samples) {
        Bytes key = to;
        if (only_ip) key[4] = key[5] = 0;
        const std::size_t h = ++hits[key];
        if (h > good) {
            good = h;
            best = to;
        }
        ++count;
    }
    if (good >= 3 && count - good < 3) return best;
    return std::nullopt;
}

std::optional<Peer> NodeCore::remote_address() const {
    auto t = tally(false);
    if (!t) t = tally(true);
    if (!t) return std::nullopt;
    auto p = decode_peer(*t);
    if (!p) return std::nullopt;
    return *p;
}

bool NodeCore::holepunchable() const { return tally(false).has_value(); }

// --- iterative queries --------------------------------------------------------------------------

NodeCore::QueryId NodeCore::start_query(std::string command, const NodeId& target,
                                        std::optional<Bytes> value, Mode mode,
                                        Extract extract, OnPeers on_peers, OnDone done) {
    const QueryId qid = m_next_query++;
    if (m_closing || !m_started) {
        if (done)
            defer([done = std::move(done)] {
                done(make_error(Errc::Closed, "DHT node is not running"));
            }, qid);
        return qid;
    }
    auto owned = std::make_unique<Query>(m_id, target);
    Query& q = *owned;
    q.id = qid;
    q.command = std::move(command);
    q.target = target;
    q.value = std::move(value);
    q.mode = mode;
    q.extract = std::move(extract);
    q.on_peers = std::move(on_peers);
    q.done = std::move(done);
    m_queries.emplace(qid, std::move(owned));

    const auto known = m_table.closest(target, kK);
    for (const auto& c : known) q.table.add_unverified(NodeRecord{c.id, c.peer});
    if (known.size() < m_options.bootstrap.size()) {
        for (const auto& b : m_options.bootstrap) query_send(q, b, std::nullopt, std::nullopt);
    }
    query_advance(q);
    return qid;
}

void NodeCore::query_send(Query& q, const Peer& to, const std::optional<NodeId>& id,
                          const std::optional<Bytes>& token) {
    Message m =
        base_message(static_cast<std::uint64_t>(token ? PacketType::Update : PacketType::Query));
    m.to = encode_peer(to);
    m.target = Bytes(q.target.begin(), q.target.end());
    if (token) m.roundtrip_token = *token;
    if (!token && !q.query()) {
        m.command = "_find_node";
    } else {
        m.command = q.command;
        m.value = q.value;
    }
    ++q.inflight;
    request(std::move(m), to, id,
            [this, qid = q.id, id, is_update = token.has_value()](Result<Received> r) {
                query_reply(qid, std::move(r), id, is_update);
            });
}

void NodeCore::query_reply(QueryId qid, Result<Received> reply, std::optional<NodeId> asked,
                           bool update) {
    auto it = m_queries.find(qid);
    if (it == m_queries.end()) return;
    Query& q = *it->second;
    --q.inflight;
    if (!reply) {
        if (asked && reply.error().code != Errc::Closed) m_table.remove(*asked);
    } else {
        const Received& rec = *reply;
        const Message& msg = rec.message;
        ++q.result.responses;
        const auto id = as_id(msg.id);
        if (id && msg.roundtrip_token) q.table.add_verified(*id, rec.from, *msg.roundtrip_token);
        if (!q.updating && msg.closer_nodes) {
            if (auto nodes = decode_nodes(*msg.closer_nodes))
                for (const auto& n : *nodes) q.table.add_unverified(n);
        }
        if (update) ++q.updates;
        if (!msg.error && (q.query() || q.updating) && q.extract) {
            if (auto found = q.extract(rec)) {
                q.result.peers_found += found->peers.size() + found->local_peers.size();
                if (q.on_peers)
                    defer([on_peers = q.on_peers, found = std::move(*found)] { on_peers(found); },
                          qid);
            }
        }
    }
    if (m_closing) return query_finish(qid, make_error(Errc::Closed, "DHT node closed"));
    query_advance(q);
}

void NodeCore::query_advance(Query& q) {
    const auto send_batch = [&](std::vector<Candidate>& list, bool with_token) {
        std::size_t sent = 0;
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (q.inflight >= kConcurrency) break;
            Candidate& c = list[i];
            if (c.queried) continue;
            c.queried = true;
            if (with_token && !c.token) continue;
            // Copies: query_send may not touch the list, but keep the arguments independent.
            const Peer peer = c.peer;
            const std::optional<NodeId> id = c.id;
            const std::optional<Bytes> token = with_token ? c.token : std::nullopt;
            query_send(q, peer, id, token);
            ++sent;
        }
        return sent;
    };
    if (!q.updating) {
        const auto sent = send_batch(q.table.unverified(), false);
        if (!sent && q.inflight == 0) {
            if (!q.update()) {
                const QueryResult r = q.result;
                if (r.responses == 0)
                    return query_finish(q.id, make_error(Errc::NotFound, "No nodes responded"));
                return query_finish(q.id, r);
            }
            for (auto& c : q.table.closest()) c.queried = false;
            q.updating = true;
        }
    }
    if (q.updating) {
        const auto sent = send_batch(q.table.closest(), true);
        if (!sent && q.inflight == 0) {
            const QueryResult r = q.result;
            if (r.responses == 0)
                return query_finish(q.id, make_error(Errc::NotFound, "No nodes responded"));
            if (q.updates == 0)
                return query_finish(q.id, make_error(Errc::NotFound, "No close nodes responded"));
            return query_finish(q.id, r);
        }
    }
}

void NodeCore::query_finish(QueryId qid, Result<QueryResult> result) {
    auto it = m_queries.find(qid);
    if (it == m_queries.end()) return;
    OnDone done = std::move(it->second->done);
    m_queries.erase(it);
    if (done)
        defer([done = std::move(done), result = std::move(result)]() mutable {
            done(std::move(result));
        }, qid);
}

void NodeCore::cancel(QueryId id) {
    m_queries.erase(id);
    std::erase_if(m_deferred, [id](const auto& d) { return d.first == id; });
}

// --- the `peers` command ------------------------------------------------------------------------

NodeCore::QueryId NodeCore::announce(const NodeId& topic, const AnnounceParams& params,
                                     OnPeers on_peers, OnDone done, TimePoint now) {
    Entry entry(*this, now);
    PeersInput input;
    input.port = params.port;
    if (params.local_address) input.local_address = encode_peer(*params.local_address);
    Bytes value;
    input.encode_to(value);
    Extract extract = [local = params.local_address](const Received& rec) {
        return peers_found(rec.message, rec.from, local);
    };
    return start_query("peers", topic, std::move(value), Mode::QueryAndUpdate, std::move(extract),
                       std::move(on_peers), std::move(done));
}

NodeCore::QueryId NodeCore::lookup(const NodeId& topic, OnPeers on_peers, OnDone done,
                                   TimePoint now) {
    Entry entry(*this, now);
    Bytes value;
    PeersInput{}.encode_to(value);
    Extract extract = [](const Received& rec) {
        return peers_found(rec.message, rec.from, std::nullopt);
    };
    return start_query("peers", topic, std::move(value), Mode::Query, std::move(extract),
                       std::move(on_peers), std::move(done));
}

NodeCore::QueryId NodeCore::unannounce(const NodeId& topic, const AnnounceParams& params,
                                       OnDone done, TimePoint now) {
    Entry entry(*this, now);
    PeersInput input;
    input.port = params.port;
    if (params.local_address) input.local_address = encode_peer(*params.local_address);
    input.unannounce = true;
    Bytes value;
    input.encode_to(value);
    return start_query("peers", topic, std::move(value), Mode::Update, nullptr, nullptr,
                       std::move(done));
}

}  // namespace hs::swarm::dht
