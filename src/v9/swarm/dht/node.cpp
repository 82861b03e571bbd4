#include "v9/swarm/dht/node.h"

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "common/util/host_port.h"

namespace hs::swarm::dht {
namespace {

using asio::awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

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

CoreOptions core_options(const NodeOptions& o) {
    CoreOptions c;
    c.ephemeral = o.ephemeral;
    if (o.id) c.id = NodeId(*o.id);
    c.log = o.log;
    c.random = o.random;
    c.tick = o.tick;
    return c;
}

AnnounceParams params(const AnnounceOptions& o) {
    AnnounceParams p;
    p.port = o.port;
    if (o.local_address) p.local_address = to_peer(*o.local_address);
    return p;
}

NodeCore::OnPeers adapt(std::function<void(const PeersReply&)> on_peers) {
    if (!on_peers) return nullptr;
    return [on_peers = std::move(on_peers)](const PeersFound& found) {
        PeersReply reply;
        reply.from = to_address(found.from);
        for (const auto& p : found.peers) reply.peers.push_back(to_address(p));
        for (const auto& p : found.local_peers) reply.local_peers.push_back(to_address(p));
        on_peers(reply);
    };
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

// The result slot of one coroutine call. Lives in the caller's frame: the core's callbacks
// reach it only while the call waits (an abandoned call cancels its query first).
struct Node::Call {
    std::optional<Result<QueryResult>> result;
    NodeCore::QueryId id = 0;
    NodeCore::OnDone done() {
        return [this](Result<QueryResult> r) { result = std::move(r); };
    }
};

Node::Node(asio::any_io_executor executor, NodeOptions options)
    : m_executor(executor),
      m_options(std::move(options)),
      m_log(m_options.log ? m_options.log : std::make_shared<spdlog::logger>("dht")),
      m_socket(executor),
      m_core(core_options(m_options), [this](const Peer& to, ByteView d) { send(to, d); }),
      m_tasks(executor, "dht", m_log),
      m_timer_wake(executor),
      m_changed(executor) {}

Node::~Node() { HS_ASSERT(m_tasks.empty() && m_calls == 0); }

Status Node::listen() {
    std::vector<Peer> bootstrap;
    for (const auto& entry : m_options.bootstrap) {
        HS_ASSIGN_OR_RETURN(PeerAddress a, parse_peer_address(entry));
        bootstrap.push_back(to_peer(a));
    }
    m_core.set_bootstrap(std::move(bootstrap));
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

void Node::start() {
    HS_ASSERT(m_socket.is_open() && !m_started);
    m_started = true;
    m_core.start(Clock::now());
    m_tasks.spawn("receive", receive_loop());
    m_tasks.spawn("timer", timer_loop());
    changed();
}

void Node::changed() {
    m_timer_wake.notify();
    m_changed.notify();
}

awaitable<void> Node::ready() {
    // The first bootstrap is bounded by the request timeouts, so this wait is too.
    while (!m_core.bootstrapped() && !m_closing && m_started) co_await m_changed.wait();
}

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
        if (!from.address().is_v4()) continue;
        m_core.on_datagram(ByteView(buffer.data(), n), to_peer(from), Clock::now());
        changed();
    }
}

awaitable<void> Node::timer_loop() {
    while (!m_closing) {
        // Woken early whenever a call into the core may have moved its deadline.
        const TimePoint next = m_core.next_wakeup();
        const bool woken = co_await m_timer_wake.wait_until(next);
        if (m_closing) break;
        if (woken && Clock::now() < m_core.next_wakeup()) continue;
        m_core.on_timer(Clock::now());
        m_changed.notify();
    }
}

void Node::send(const Peer& to, ByteView datagram) {
    if (!m_socket.is_open()) return;
    std::error_code ec;
    // Non-blocking socket: a full send buffer drops the datagram, which retries cover.
    m_socket.send_to(asio::buffer(datagram.data(), datagram.size()), to_endpoint(to), 0, ec);
    if (ec) m_log->trace("dht send to {}: {}", to.to_string(), ec.message());
}

awaitable<Result<QueryResult>> Node::wait_for(Call& call) {
    ++m_calls;
    struct Leave {
        Node& node;
        Call& call;
        ~Leave() {
            if (!call.result) node.m_core.cancel(call.id);
            --node.m_calls;
            node.m_changed.notify();
        }
    } leave{*this, call};
    while (!call.result) co_await m_changed.wait();
    co_return std::move(*call.result);
}

awaitable<void> Node::close() {
    if (!m_closing) {
        m_closing = true;
        m_core.close(Clock::now());
        std::error_code ec;
        m_socket.close(ec);
        changed();
    }
    while (m_calls > 0) co_await m_changed.wait();
    co_await m_tasks.join();
}

std::optional<asio::ip::udp::endpoint> Node::remote_address() const {
    auto p = m_core.remote_address();
    if (!p) return std::nullopt;
    return to_endpoint(*p);
}

awaitable<Result<QueryResult>> Node::announce(const std::array<std::uint8_t, 32>& topic,
                                              AnnounceOptions options,
                                              std::function<void(const PeersReply&)> on_peers) {
    Call call;
    call.id = m_core.announce(topic, params(options), adapt(std::move(on_peers)), call.done(),
                              Clock::now());
    changed();
    auto r = co_await wait_for(call);
    co_return r;
}

awaitable<Result<QueryResult>> Node::lookup(const std::array<std::uint8_t, 32>& topic,
                                            std::function<void(const PeersReply&)> on_peers) {
    Call call;
    call.id = m_core.lookup(topic, adapt(std::move(on_peers)), call.done(), Clock::now());
    changed();
    auto r = co_await wait_for(call);
    co_return r;
}

awaitable<Status> Node::unannounce(const std::array<std::uint8_t, 32>& topic,
                                   AnnounceOptions options) {
    Call call;
    call.id = m_core.unannounce(topic, params(options), call.done(), Clock::now());
    changed();
    auto r = co_await wait_for(call);
    if (!r) co_return std::move(r).error();
    co_return Status{};
}

}  // namespace hs::swarm::dht
