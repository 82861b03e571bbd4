#include "v11/udx_io/socket.h"

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/socket_base.hpp>
#include <asio/use_awaitable.hpp>

#include "v11/udx/packet.h"

namespace hs::v11::udx_io {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxDatagram = 65536;

}  // namespace

Stream::Stream(Socket& socket, udx::StreamConfig cfg, Endpoint remote)
    : m_socket(socket),
      m_remote(remote),
      m_core(
          cfg, [this](ByteView d) { m_socket.send_to(d, m_remote); }, [this] { notify(); }),
      m_event(socket.m_executor) {}

void Stream::notify() {
    m_event.notify();
    ++m_changes;
    for (asio::steady_timer* t : m_wakers) t->cancel();
}

void Stream::changed() {
    notify();
    m_socket.wake_for(*this);
}

void Stream::remove_waker(asio::steady_timer* t) {
    std::erase(m_wakers, t);
}

std::size_t Stream::try_read(MutableByteView out) {
    const std::size_t n = m_core.read(out);
    if (n > 0) m_socket.wake_for(*this);
    return n;
}

bool Stream::try_write(ByteView data) {
    if (m_core.closed()) return false;
    m_core.write(data);
    m_core.flush(udx::Clock::now());
    m_socket.wake_for(*this);
    return m_core.writable();
}

Status Stream::closed_error() const {
    return make_error(Errc::Closed, "UDX stream {} (remote {} at {}:{}): {}", m_core.local_id(),
                      m_core.remote_id(), m_remote.address().to_string(), m_remote.port(),
                      udx::to_string(m_core.close_reason()));
}

asio::awaitable<Result<std::size_t>> Stream::read_some(MutableByteView out) {
    for (;;) {
        if (m_core.readable() > 0) {
            const std::size_t n = m_core.read(out);
            m_socket.wake_for(*this);
            co_return n;
        }
        if (m_core.eof()) co_return std::size_t{0};
        if (m_core.closed()) co_return closed_error().error();
        co_await m_event.wait();
    }
}

asio::awaitable<Status> Stream::write(ByteView data) {
    if (m_core.closed()) co_return closed_error();
    m_core.write(data);
    m_core.flush(udx::Clock::now());
    m_socket.wake_for(*this);
    while (!m_core.writable() && !m_core.closed()) co_await m_event.wait();
    if (m_core.closed()) co_return closed_error();
    co_return Status{};
}

asio::awaitable<Status> Stream::drain() {
    while (m_core.unacked_bytes() > 0 && !m_core.closed()) co_await m_event.wait();
    if (m_core.closed() && m_core.close_reason() != CloseReason::kEnded &&
        m_core.close_reason() != CloseReason::kEndUnconfirmed)
        co_return closed_error();
    co_return Status{};
}

void Stream::end() {
    m_core.end();
    m_core.flush(udx::Clock::now());
    m_socket.wake_for(*this);
}

void Stream::destroy() {
    m_core.destroy();
    changed();
}

bool Stream::send_message(ByteView data) { return m_core.send_message(data); }

asio::awaitable<std::optional<Bytes>> Stream::read_message() {
    for (;;) {
        if (auto m = m_core.take_message()) co_return m;
        if (m_core.closed()) co_return std::nullopt;
        co_await m_event.wait();
    }
}

asio::awaitable<void> Stream::wait_closed() {
    while (!m_core.closed()) co_await m_event.wait();
}

void Stream::change_remote(Endpoint remote, std::uint32_t remote_id) {
    m_remote = remote;
    m_core.set_remote_id(remote_id);
}

Socket::Socket(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log)
    : m_executor(executor),
      m_log(log ? std::move(log) : std::make_shared<spdlog::logger>("udx")),
      m_socket(executor),
      m_tasks(executor, "udx", m_log),
      m_timer_wake(executor) {}

Socket::~Socket() { HS_ASSERT(m_tasks.empty()); }

Status Socket::bind(const Endpoint& at) {
    const auto where = at.address().to_string() + ":" + std::to_string(at.port());
    if (!at.address().is_v4())
        return make_error(Errc::InvalidArgument, "UDX: bind address {} is not IPv4", where);
    std::error_code ec;
    m_socket.open(asio::ip::udp::v4(), ec);
    if (!ec) m_socket.bind(at, ec);
    if (!ec) m_socket.non_blocking(true, ec);
    if (ec) {
        std::error_code ignore;
        m_socket.close(ignore);
        return make_error(Errc::Io, "UDX: cannot bind UDP {}: {}", where, ec.message());
    }
    // Room for a receive window's worth of packets; the kernel may grant less (not an error).
    std::error_code ignore;
    m_socket.set_option(asio::socket_base::receive_buffer_size(4 << 20), ignore);
    m_socket.set_option(asio::socket_base::send_buffer_size(4 << 20), ignore);
    return {};
}

Endpoint Socket::local_endpoint() const {
    std::error_code ec;
    auto ep = m_socket.local_endpoint(ec);
    return ec ? Endpoint{} : ep;
}

void Socket::start() {
    HS_ASSERT(m_socket.is_open());
    m_tasks.spawn("receive", receive_loop());
    m_tasks.spawn("timer", timer_loop());
}

Result<std::shared_ptr<Stream>> Socket::connect(udx::StreamConfig cfg, const Endpoint& remote) {
    if (m_closing) return make_error(Errc::Closed, "UDX: socket closed");
    auto it = m_streams.find(cfg.local_id);
    if (it != m_streams.end()) {
        if (!it->second->closed())
            return make_error(Errc::Exists, "UDX: stream id {} is in use on this socket; pick another",
                              cfg.local_id);
        m_streams.erase(it);
    }
    auto s = std::make_shared<Stream>(*this, cfg, remote);
    m_streams.emplace(cfg.local_id, s);
    wake();
    return s;
}

void Socket::send_to(ByteView d, const Endpoint& to) {
    if (!m_socket.is_open()) return;
    std::error_code ec;
    // Non-blocking: a full send buffer drops the datagram, which retransmission covers.
    m_socket.send_to(asio::buffer(d.data(), d.size()), to, 0, ec);
    if (ec) {
        ++m_dropped;
        m_log->trace("udx send to {}:{}: {}", to.address().to_string(), to.port(), ec.message());
    }
}

void Socket::wake_for(Stream& s) {
    if ((s.closed() && !s.m_closed_at) || s.m_core.next_wakeup() < m_timer_deadline) wake();
}

void Socket::route(ByteView d, const Endpoint& from, std::vector<std::shared_ptr<Stream>>& touched) {
    auto p = (!d.empty() && d[0] == udx::kMagic) ? udx::decode(d) : std::nullopt;
    auto it = p ? m_streams.find(p->header.stream_id) : m_streams.end();
    if (it == m_streams.end()) {
        if (m_other) {
            m_other(d, from);
        } else {
            ++m_dropped;
        }
        return;
    }
    std::shared_ptr<Stream> s = it->second;  // the handlers below may drop the map's
    if (from != s->m_remote) {
        if (!m_firewall || !m_firewall(*s, from)) {
            ++m_dropped;
            return;
        }
        s->m_remote = from;
    }
    s->m_core.on_packet(*p, udx::Clock::now());
    if (touched.empty() || touched.back() != s) touched.push_back(std::move(s));
}

asio::awaitable<void> Socket::receive_loop() {
    // Up to this many datagrams are taken per wake-up (non-blocking reads after the first), and
    // each stream they touched is notified once.
    constexpr int kBatch = 64;
    Bytes buffer(kMaxDatagram);
    Endpoint from;
    std::vector<std::shared_ptr<Stream>> touched;
    while (!m_closing) {
        auto [ec, n] = co_await m_socket.async_receive_from(asio::buffer(buffer), from, kTuple);
        if (m_closing || ec == asio::error::operation_aborted || !m_socket.is_open()) break;
        if (ec) {
            m_log->trace("udx receive: {}", ec.message());
            continue;
        }
        route(ByteView(buffer.data(), n), from, touched);
        for (int i = 1; i < kBatch && !m_closing && m_socket.is_open(); ++i) {
            std::error_code rec;
            const std::size_t m = m_socket.receive_from(asio::buffer(buffer), from, 0, rec);
            if (rec) break;  // would_block: the kernel queue is empty
            route(ByteView(buffer.data(), m), from, touched);
        }
        for (auto& s : touched) s->changed();
        touched.clear();
    }
}

asio::awaitable<void> Socket::timer_loop() {
    while (!m_closing) {
        udx::TimePoint next = udx::TimePoint::max();
        const udx::TimePoint now = udx::Clock::now();
        for (auto it = m_streams.begin(); it != m_streams.end();) {
            Stream& s = *it->second;
            if (s.closed()) {
                if (!s.m_closed_at) s.m_closed_at = now;
                if (now - *s.m_closed_at >= kLinger) {
                    it = m_streams.erase(it);
                    continue;
                }
                next = std::min(next, *s.m_closed_at + kLinger);
            }
            next = std::min(next, s.m_core.next_wakeup());
            ++it;
        }
        m_timer_deadline = next;
        const bool woken = co_await m_timer_wake.wait_until(next);
        m_timer_deadline = udx::TimePoint::min();
        if (m_closing) break;
        if (woken) continue;
        const udx::TimePoint t = udx::Clock::now();
        for (auto& [id, s] : m_streams) {
            if (s->m_core.next_wakeup() <= t) {
                s->m_core.on_timer(t);
                s->notify();
            }
        }
    }
}

asio::awaitable<void> Socket::close() {
    if (!m_closing) {
        m_closing = true;
        std::error_code ec;
        m_socket.close(ec);
        m_timer_wake.notify();
        for (auto& [id, s] : m_streams) s->notify();
    }
    co_await m_tasks.join();
}

}  // namespace hs::v11::udx_io
