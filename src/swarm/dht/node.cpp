#include "swarm/dht/node.h"

#include <algorithm>
#include <exception>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <sodium.h>

#include "crypto/blake2b.h"
#include "util/host_port.h"

namespace hs::swarm::dht {
namespace {

using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr std::chrono::seconds kMaintenanceTick{5};
constexpr std::chrono::minutes kRotateEvery{5};
constexpr std::size_t kK = 20;
constexpr std::size_t kToSamples = 10;
constexpr std::size_t kMaxRequestsPerSecond = 10000;
constexpr std::size_t kMaxRelaysPerSecond = 200;
constexpr int kTicksPerSend = 3;  // ticks between two sends of a request
constexpr int kSends = 3;
constexpr int kFinalTicks = 4;  // ticks after the last send before the request fails

Peer to_peer(const asio::ip::udp::endpoint& ep) {
    Peer p;
    p.host = ep.address().to_v4().to_bytes();
    p.port = ep.port();
    return p;
}
Peer to_peer(const PeerAddress& a) {
    Peer p;
    p.host = a.host.to_bytes();
    p.port = a.port;
    return p;
}
PeerAddress to_address(const Peer& p) { return PeerAddress{asio::ip::address_v4(p.host), p.port}; }
asio::ip::udp::endpoint to_endpoint(const Peer& p) {
    return {asio::ip::address_v4(p.host), p.port};
}
std::optional<NodeId> as_id(const std::optional<Bytes>& b) {
    if (!b || b->size() != kIdBytes) return std::nullopt;
    NodeId id;
    std::copy(b->begin(), b->end(), id.begin());
    return id;
}

}  // namespace

std::string PeerAddress::to_string() const { return host.to_string() + ":" + std::to_string(port); }

Result<PeerAddress> parse_peer_address(std::string_view text) {
    auto parsed = parse_host_port(text, {.allow_empty_host = true});
    if (!parsed) return make_error(Errc::InvalidArgument, "DHT peer {}", parsed.error().message);
    if (parsed->port == 0)
        return make_error(Errc::InvalidArgument, "DHT peer '{}' has port 0", text);
    std::string& host = parsed->host;
    if (host.empty() || host == "localhost") host = "127.0.0.1";
    std::error_code aec;
    const auto addr = asio::ip::make_address_v4(host, aec);
    if (aec) return make_error(Errc::InvalidArgument, "DHT peer '{}' needs an IPv4 address", text);
    return PeerAddress{addr, parsed->port};
}

// One iterative query: its candidate table and the replies its requests delivered. Lives in the
// frame of run_query; requests reach it through Node::m_queries by query number, so a reply that
// arrives after the query ended is dropped.
struct Node::QueryState {
    struct Reply {
        Result<Received> result;
        std::optional<NodeId> asked;
        bool update = false;
    };
    QueryState(asio::any_io_executor ex, const NodeId& self, const NodeId& target)
        : table(self, target), wake(ex) {}
    void notify() {
        woken = true;
        wake.cancel();
    }
    QueryTable table;
    std::deque<Reply> inbox;
    asio::steady_timer wake;
    bool woken = false;
};

Node::Node(asio::any_io_executor executor, NodeOptions options)
    : m_executor(executor),
      m_options(std::move(options)),
      m_log(m_options.log ? m_options.log : std::make_shared<spdlog::logger>("dht")),
      m_socket(executor),
      m_tick_timer(executor),
      m_maintenance_timer(executor),
      m_ready_timer(executor),
      m_idle_timer(executor),
      m_table([&] {
          crypto::ensure_sodium();
          if (m_options.id) return NodeId(*m_options.id);
          NodeId id;
          randombytes_buf(id.data(), id.size());
          return id;
      }()) {
    m_id = m_table.self();
    m_next_rid = static_cast<std::uint16_t>(randombytes_uniform(65536));
}

Node::~Node() { HS_ASSERT(m_tasks == 0 && m_queries.empty()); }

Status Node::listen() {
    m_bootstrap.clear();
    for (const auto& entry : m_options.bootstrap) {
        HS_ASSIGN_OR_RETURN(PeerAddress a, parse_peer_address(entry));
        m_bootstrap.push_back(to_peer(a));
    }
    const auto& ep = m_options.bind;
    const auto where = ep.address().to_string() + ":" + std::to_string(ep.port());
    if (!ep.address().is_v4())
        return make_error(Errc::InvalidArgument, "DHT: bind address {} is not IPv4", where);
    std::error_code ec;
    m_socket.open(asio::ip::udp::v4(), ec);
    if (!ec) m_socket.bind(ep, ec);
    if (!ec) m_socket.non_blocking(true, ec);
    if (ec) {
        std::error_code ignore;
        m_socket.close(ignore);
        return make_error(Errc::Io, "DHT: cannot bind UDP {}: {}", where, ec.message());
    }
    return {};
}

asio::ip::udp::endpoint Node::local_endpoint() const {
    std::error_code ec;
    auto ep = m_socket.local_endpoint(ec);
    return ec ? asio::ip::udp::endpoint{} : ep;
}

void Node::spawn(awaitable<void> task, const char* name) {
    ++m_tasks;
    asio::co_spawn(m_executor, std::move(task), [this, name](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                m_log->error("dht {} loop failed: {}", name, ex.what());
            }
        }
        --m_tasks;
        m_idle_timer.cancel();
    });
}

void Node::start() {
    HS_ASSERT(m_socket.is_open() && !m_started);
    m_started = true;
    m_last_rotation = std::chrono::steady_clock::now();
    m_ready_timer.expires_at(TimePoint::max());
    spawn(receive_loop(), "receive");
    spawn(tick_loop(), "tick");
    spawn(maintenance_loop(), "maintenance");
}

awaitable<void> Node::ready() {
    while (!m_bootstrapped && !m_closing && m_started) {
        // Cancelled when the first bootstrap ends or on close; the bootstrap itself is bounded by
        // the request timeouts, so this wait is too.
        co_await m_ready_timer.async_wait(kTuple);
    }
}

// --- loops --------------------------------------------------------------------------------------

awaitable<void> Node::receive_loop() {
    std::vector<std::uint8_t> buffer(kMaxMessageBytes);
    asio::ip::udp::endpoint from;
    while (!m_closing) {
        // No deadline: a datagram may never come; close() closes the socket to end this wait.
        auto [ec, n] = co_await m_socket.async_receive_from(asio::buffer(buffer), from, kTuple);
        if (m_closing || ec == asio::error::operation_aborted || !m_socket.is_open()) break;
        if (ec) {
            m_log->trace("dht receive: {}", ec.message());
            continue;
        }
        on_datagram(ByteView(buffer.data(), n), from);
    }
}

awaitable<void> Node::tick_loop() {
    while (!m_closing) {
        m_tick_timer.expires_after(m_options.tick);
        co_await m_tick_timer.async_wait(kTuple);
        if (m_closing) break;
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
}

awaitable<void> Node::maintenance_loop() {
    co_await bootstrap();
    m_bootstrapped = true;
    m_ready_timer.cancel();
    std::uint64_t tick = 0;
    while (!m_closing) {
        m_maintenance_timer.expires_after(kMaintenanceTick);
        co_await m_maintenance_timer.async_wait(kTuple);
        if (m_closing) break;
        ++tick;
        const auto now = std::chrono::steady_clock::now();
        if (now - m_last_rotation >= kRotateEvery) {
            m_tokens.rotate();
            m_last_rotation = now;
        }
        m_store.expire(now);
        if (tick % 8 == 0) {
            for (const auto& c : m_table.stale(m_inflight.size() > 2 * kConcurrency ? 3 : 5,
                                               now - kMaintenanceTick))
                ping(c);
        }
        if ((m_table.size() == 0 && !m_bootstrap.empty()) ||
            (tick % 64 == 0 && m_table.size() < kK))
            co_await bootstrap();
    }
}

awaitable<void> Node::bootstrap() {
    if (m_bootstrap.empty() || m_bootstrapping) co_return;
    m_bootstrapping = true;
    // Arguments are named locals: no temporaries inside a co_await expression (GCC 12 may destroy
    // those twice in a coroutine frame).
    std::string command = "_find_node";
    std::optional<Bytes> no_value;
    std::function<void(const Received&)> no_data;
    auto r = co_await run_query(std::move(command), m_id, std::move(no_value), Mode::Query,
                                std::move(no_data));
    m_bootstrapping = false;
    if (!r)
        m_log->debug("dht bootstrap: {}", r.error().message);
    else
        m_log->debug("dht bootstrap: {} responses, {} nodes", r->responses, m_table.size());
}

awaitable<void> Node::close() {
    if (!m_closing) {
        m_closing = true;
        std::error_code ec;
        m_socket.close(ec);
        m_tick_timer.cancel();
        m_maintenance_timer.cancel();
        m_ready_timer.cancel();
        auto inflight = std::move(m_inflight);
        m_inflight.clear();
        for (auto& [rid, req] : inflight) req.done(make_error(Errc::Closed, "DHT node closed"));
        for (auto& [n, q] : m_queries) q->notify();
    }
    while (m_tasks > 0 || !m_queries.empty()) {
        m_idle_timer.expires_after(std::chrono::milliseconds(200));
        co_await m_idle_timer.async_wait(kTuple);
    }
}

// --- sending ------------------------------------------------------------------------------------

void Node::send_datagram(ByteView datagram, const Peer& to) {
    if (m_closing) return;
    std::error_code ec;
    // Non-blocking socket: a full send buffer drops the datagram, which retries cover.
    m_socket.send_to(asio::buffer(datagram.data(), datagram.size()), to_endpoint(to), 0, ec);
    if (ec) m_log->trace("dht send to {}: {}", to.to_string(), ec.message());
}

Message Node::base_message(std::uint64_t type) const {
    Message m;
    m.version = kProtocolVersion;
    m.type = type;
    if (!m_options.ephemeral) m.id = Bytes(m_id.begin(), m_id.end());
    return m;
}

void Node::request(Message message, const Peer& to, std::optional<NodeId> expected_id,
                   ReplyFn done) {
    if (m_closing || m_inflight.size() >= kMaxInflight) {
        const bool closed = m_closing;
        asio::post(m_executor, [done = std::move(done), closed] {
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
    send_datagram(req.datagram, to);
    m_inflight.emplace(rid, std::move(req));
}

void Node::respond(const Message& req, const Peer& to, std::optional<Bytes> value,
                   std::optional<Bytes> closer) {
    Message m = base_message(static_cast<std::uint64_t>(PacketType::Response));
    m.rid = req.rid;
    m.to = encode_peer(to);
    m.closer_nodes = std::move(closer);
    m.roundtrip_token = m_tokens.token(to);
    m.value = std::move(value);
    send_datagram(m.encode(), to);
}

void Node::respond_error(const Message& req, const Peer& to, std::string error,
                         std::optional<Bytes> closer) {
    Message m = base_message(static_cast<std::uint64_t>(PacketType::Response));
    m.rid = req.rid;
    m.to = encode_peer(to);
    m.closer_nodes = std::move(closer);
    m.error = std::move(error);
    send_datagram(m.encode(), to);
}

Bytes Node::closer_nodes(ByteView target) const {
    Bytes out;
    if (target.size() != kIdBytes) return out;
    NodeId t;
    std::copy(target.begin(), target.end(), t.begin());
    std::vector<NodeRecord> nodes;
    for (const auto& c : m_table.closest(t, kK)) nodes.push_back(NodeRecord{c.id, c.peer});
    encode_nodes(out, nodes);
    return out;
}

void Node::ping(const Contact& contact) {
    Message m = base_message(static_cast<std::uint64_t>(PacketType::Query));
    m.to = encode_peer(contact.peer);
    m.command = "_ping";
    m.value = Bytes(contact.id.begin(), contact.id.end());
    request(std::move(m), contact.peer, contact.id, [this, id = contact.id](Result<Received> r) {
        if (!r && r.error().code != Errc::Closed) m_table.remove(id);
    });
}

// --- receiving ----------------------------------------------------------------------------------

void Node::on_datagram(ByteView bytes, const asio::ip::udp::endpoint& ep) {
    if (ep.port() == 0 || !ep.address().is_v4()) return;
    auto decoded = Message::decode(bytes);
    if (!decoded) {
        m_log->trace("dht: dropped datagram from {}: {}", ep.address().to_string(),
                     decoded.error().message);
        return;
    }
    Message message = std::move(decoded).value();
    if (message.id && message.id->size() != kIdBytes) return;
    if (message.id && !(message.version && *message.version >= kProtocolVersion))
        message.id.reset();
    const Peer from = to_peer(ep);
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

void Node::note_contact(const NodeId& id, const Peer& from, const std::optional<Bytes>& token,
                        const std::optional<Bytes>& to) {
    if (id == m_id) return;
    Contact c{id, from, token, std::chrono::steady_clock::now()};
    if (m_table.add(c) == RoutingTable::AddResult::Full) return;
    if (!to || to->size() != kPeerBytes) return;
    auto it = std::find_if(m_to_samples.begin(), m_to_samples.end(),
                           [&](const auto& s) { return s.first == id; });
    if (it != m_to_samples.end()) m_to_samples.erase(it);
    m_to_samples.emplace_front(id, *to);
    if (m_to_samples.size() > kToSamples) m_to_samples.pop_back();
}

void Node::on_request(bool update, Message message, const Peer& from) {
    const auto now = std::chrono::steady_clock::now();
    if (now - m_budget_window >= std::chrono::seconds(1)) {
        m_budget_window = now;
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

void Node::on_holepunch(Message message, const Peer& from) {
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

void Node::on_command(bool update, const Message& message, const Peer& from) {
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
    const auto now = std::chrono::steady_clock::now();
    if (update) {
        auto st = m_store.update(*message.target, from, input, now);
        if (!st) return respond_error(message, from, st.error().message, closer);
        respond(message, from, std::nullopt, closer);
        return;
    }
    auto out = m_store.query(*message.target, from, input, now);
    if (!out) return respond_error(message, from, out.error().message, closer);
    Bytes value;
    out->encode_to(value);
    respond(message, from, std::move(value), closer);
}

void Node::on_response(Message message, const Peer& from) {
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

std::optional<Bytes> Node::tally(bool only_ip) const {
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

std::optional<asio::ip::udp::endpoint> Node::remote_address() const {
    auto t = tally(false);
    if (!t) t = tally(true);
    if (!t) return std::nullopt;
    auto p = decode_peer(*t);
    if (!p) return std::nullopt;
    return to_endpoint(*p);
}

bool Node::holepunchable() const { return tally(false).has_value(); }

// --- iterative queries --------------------------------------------------------------------------

awaitable<Result<QueryResult>> Node::run_query(std::string command, NodeId target,
                                               std::optional<Bytes> value, Mode mode,
                                               std::function<void(const Received&)> on_data) {
    if (m_closing || !m_started) co_return make_error(Errc::Closed, "DHT node is not running");
    const bool query = mode != Mode::Update;
    const bool update = mode != Mode::Query;
    QueryState state(m_executor, m_id, target);
    const std::uint64_t qid = m_next_query++;
    m_queries.emplace(qid, &state);
    struct Unregister {
        Node* node;
        std::uint64_t qid;
        ~Unregister() {
            node->m_queries.erase(qid);
            node->m_idle_timer.cancel();
        }
    } unregister{this, qid};

    QueryResult result;
    std::size_t inflight = 0, updates = 0;
    bool updating = false;

    const auto send = [&](const Peer& to, const std::optional<NodeId>& id,
                          const std::optional<Bytes>& token) {
        Message m = base_message(
            static_cast<std::uint64_t>(token ? PacketType::Update : PacketType::Query));
        m.to = encode_peer(to);
        m.target = Bytes(target.begin(), target.end());
        if (token) m.roundtrip_token = *token;
        if (!token && !query) {
            m.command = "_find_node";
        } else {
            m.command = command;
            m.value = value;
        }
        ++inflight;
        request(std::move(m), to, id,
                [this, qid, id, is_update = token.has_value()](Result<Received> r) {
                    auto q = m_queries.find(qid);
                    if (q == m_queries.end()) return;
                    q->second->inbox.push_back(QueryState::Reply{std::move(r), id, is_update});
                    q->second->notify();
                });
    };
    const auto send_batch = [&](std::vector<Candidate>& list, bool with_token) {
        std::size_t sent = 0;
        for (auto& c : list) {
            if (inflight >= kConcurrency) break;
            if (c.queried) continue;
            c.queried = true;
            if (with_token && !c.token) continue;
            send(c.peer, c.id, with_token ? c.token : std::nullopt);
            ++sent;
        }
        return sent;
    };

    const auto known = m_table.closest(target, kK);
    for (const auto& c : known) state.table.add_unverified(NodeRecord{c.id, c.peer});
    if (known.size() < m_bootstrap.size()) {
        for (const auto& b : m_bootstrap) send(b, std::nullopt, std::nullopt);
    }

    for (;;) {
        while (!state.inbox.empty()) {
            auto reply = std::move(state.inbox.front());
            state.inbox.pop_front();
            --inflight;
            if (!reply.result) {
                if (reply.asked && reply.result.error().code != Errc::Closed)
                    m_table.remove(*reply.asked);
                continue;
            }
            const Received& rec = *reply.result;
            const Message& msg = rec.message;
            ++result.responses;
            const auto id = as_id(msg.id);
            if (id && msg.roundtrip_token)
                state.table.add_verified(*id, rec.from, *msg.roundtrip_token);
            if (!updating && msg.closer_nodes) {
                if (auto nodes = decode_nodes(*msg.closer_nodes))
                    for (const auto& n : *nodes) state.table.add_unverified(n);
            }
            if (reply.update) ++updates;
            if (msg.error) continue;
            if (!query && !updating) continue;
            if (on_data) on_data(rec);
        }
        if (m_closing) co_return make_error(Errc::Closed, "DHT node closed");

        if (!updating) {
            const auto sent = send_batch(state.table.unverified(), false);
            if (!sent && inflight == 0) {
                if (!update) break;
                for (auto& c : state.table.closest()) c.queried = false;
                updating = true;
            }
        }
        if (updating) {
            const auto sent = send_batch(state.table.closest(), true);
            if (!sent && inflight == 0) break;
        }
        if (state.inbox.empty() && !state.woken) {
            // Every request ends within 10 ticks (reply, timeout or close), which bounds this wait.
            state.wake.expires_after(m_options.tick * 12);
            co_await state.wake.async_wait(kTuple);
        }
        state.woken = false;
    }
    if (result.responses == 0) co_return make_error(Errc::NotFound, "No nodes responded");
    if (update && updates == 0) co_return make_error(Errc::NotFound, "No close nodes responded");
    co_return result;
}

namespace {
std::vector<PeerAddress> decode_local(ByteView records, const PeerAddress& prefix) {
    std::vector<PeerAddress> out;
    if (records.size() % kLocalPeerBytes) return out;
    const auto p = prefix.host.to_bytes();
    for (std::size_t i = 0; i < records.size(); i += kLocalPeerBytes) {
        const std::uint16_t port = get_u16be(records.data() + i + 2);
        if (port == 0) return {};
        out.push_back(
            PeerAddress{asio::ip::address_v4({p[0], p[1], records[i], records[i + 1]}), port});
    }
    return out;
}

// What @hyperswarm/dht reports for a `peers` answer: nothing without records; an unusable peer
// list (bad length, zero port or host) counts as empty.
std::optional<PeersReply> peers_reply(const Message& msg, const Peer& from,
                                      const std::optional<PeerAddress>& local_prefix) {
    if (!msg.value) return std::nullopt;
    auto out = PeersOutput::decode(*msg.value);
    if (!out || (!out->peers && !out->local_peers)) return std::nullopt;
    PeersReply reply;
    reply.from = to_address(from);
    if (out->peers) {
        if (auto peers = decode_peers(*out->peers)) {
            for (const auto& p : *peers) {
                if (p.port == 0 || p.host == std::array<std::uint8_t, 4>{}) {
                    reply.peers.clear();
                    break;
                }
                reply.peers.push_back(to_address(p));
            }
        }
    }
    if (out->local_peers && local_prefix)
        reply.local_peers = decode_local(*out->local_peers, *local_prefix);
    return reply;
}
}  // namespace

awaitable<Result<QueryResult>> Node::announce(const std::array<std::uint8_t, 32>& topic,
                                              AnnounceOptions options,
                                              std::function<void(const PeersReply&)> on_peers) {
    PeersInput input;
    input.port = options.port;
    if (options.local_address) input.local_address = encode_peer(to_peer(*options.local_address));
    Bytes value;
    input.encode_to(value);
    std::size_t found = 0;
    const auto local = options.local_address;
    std::string command = "peers";
    std::optional<Bytes> payload = std::move(value);
    std::function<void(const Received&)> on_data = [&](const Received& rec) {
        auto reply = peers_reply(rec.message, rec.from, local);
        if (!reply) return;
        found += reply->peers.size() + reply->local_peers.size();
        if (on_peers) on_peers(*reply);
    };
    auto r = co_await run_query(std::move(command), topic, std::move(payload), Mode::QueryAndUpdate,
                                std::move(on_data));
    if (r) r->peers_found = found;
    co_return r;
}

awaitable<Result<QueryResult>> Node::lookup(const std::array<std::uint8_t, 32>& topic,
                                            std::function<void(const PeersReply&)> on_peers) {
    Bytes value;
    PeersInput{}.encode_to(value);
    std::size_t found = 0;
    std::string command = "peers";
    std::optional<Bytes> payload = std::move(value);
    std::function<void(const Received&)> on_data = [&](const Received& rec) {
        auto reply = peers_reply(rec.message, rec.from, std::nullopt);
        if (!reply) return;
        found += reply->peers.size();
        if (on_peers) on_peers(*reply);
    };
    auto r = co_await run_query(std::move(command), topic, std::move(payload), Mode::Query,
                                std::move(on_data));
    if (r) r->peers_found = found;
    co_return r;
}

awaitable<Status> Node::unannounce(const std::array<std::uint8_t, 32>& topic,
                                   AnnounceOptions options) {
    PeersInput input;
    input.port = options.port;
    if (options.local_address) input.local_address = encode_peer(to_peer(*options.local_address));
    input.unannounce = true;
    Bytes value;
    input.encode_to(value);
    std::string command = "peers";
    std::optional<Bytes> payload = std::move(value);
    std::function<void(const Received&)> no_data;
    auto r = co_await run_query(std::move(command), topic, std::move(payload), Mode::Update,
                                std::move(no_data));
    if (!r) co_return std::move(r).error();
    co_return Status{};
}

}  // namespace hs::swarm::dht
