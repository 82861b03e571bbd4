#include "v11/udx_io/socket.h"

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/socket_base.hpp>
#include <asio/use_awaitable.hpp>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "v11/udx/packet.h"

namespace hs::v11::udx_io {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxDatagram = 65536;
// Transmit batches: at most this many datagrams (of at most kMaxTxDatagram bytes; larger ones
// go out at once) per sendmmsg, and per GSO send at most kMaxGsoSegments and 64 KB.
constexpr std::size_t kTxBatch = 64;
constexpr std::size_t kMaxTxDatagram = 2048;
constexpr std::size_t kMaxGsoSegments = 64;
constexpr std::size_t kMaxGsoBytes = 65000;
// Receive batches.
constexpr unsigned kRxBatch = 64;
constexpr std::size_t kRxSlot = 4096;

}  // namespace

Stream::Stream(Socket& socket, udx::StreamConfig cfg, Endpoint remote)
    : m_socket(socket),
      m_remote(remote),
      m_core(
          cfg, [this](ByteView d) { m_socket.queue_tx(d, m_remote); }, [this] { notify(); }),
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
    m_socket.flush_tx();
    return n;
}

bool Stream::try_write(ByteView data) {
    if (m_core.closed()) return false;
    m_core.write(data);
    m_core.flush(udx::Clock::now());
    m_socket.wake_for(*this);
    m_socket.flush_tx();
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
            m_socket.flush_tx();
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
    m_socket.flush_tx();
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
    m_socket.flush_tx();
}

void Stream::destroy() {
    m_core.destroy();
    changed();
    m_socket.flush_tx();
}

bool Stream::send_message(ByteView data) {
    const bool ok = m_core.send_message(data);
    m_socket.flush_tx();
    return ok;
}

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
      m_timer_wake(executor),
      m_tx_wake(executor) {
    m_tx_buf.reserve(kTxBatch * kMaxTxDatagram);
    m_tx.reserve(kTxBatch);
}

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
    // Don't fragment, and don't let the kernel's path-MTU guess refuse sends: the streams' MTU
    // search finds the size (a probe larger than the path is lost, or refused with EMSGSIZE).
    const int probe = IP_PMTUDISC_PROBE;
    ::setsockopt(m_socket.native_handle(), IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
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
    m_tasks.spawn("transmit", transmit_loop());
}

Result<std::shared_ptr<Stream>> Socket::connect(udx::StreamConfig cfg, const Endpoint& remote) {
    if (m_closing) return make_error(Errc::Closed, "UDX: socket closed");
    auto it = m_streams.find(cfg.local_id);
    if (it != m_streams.end()) {
        if (!it->second->closed())
            return make_error(Errc::Exists,
                              "UDX: stream id {} is in use on this socket; pick another",
                              cfg.local_id);
        it->second->m_core.flush_final_acks();
        m_streams.erase(it);
    }
    auto s = std::make_shared<Stream>(*this, cfg, remote);
    m_streams.emplace(cfg.local_id, s);
    wake();
    return s;
}

void Socket::queue_tx(ByteView d, const Endpoint& to) {
    if (!m_socket.is_open()) return;
    if (d.size() > kMaxTxDatagram) {
        flush_tx();
        send_to(d, to);
        return;
    }
    if (m_tx.size() == kTxBatch) flush_tx();
    if (m_tx.empty()) m_tx_wake.notify();
    m_tx.push_back({m_tx_buf.size(), d.size(), to});
    m_tx_buf.insert(m_tx_buf.end(), d.begin(), d.end());
}

void Socket::flush_tx() {
    if (m_tx.empty()) return;
    if (!m_socket.is_open()) {
        m_tx.clear();
        m_tx_buf.clear();
        return;
    }
    const int fd = m_socket.native_handle();
    struct Msg {
        sockaddr_storage addr;
        iovec iov;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))];
    };
    std::array<Msg, kTxBatch> msgs;
    std::array<mmsghdr, kTxBatch> hdrs;
    std::array<std::size_t, kTxBatch> counts;  // datagrams each message carries
    std::size_t n = 0;
    for (std::size_t i = 0; i < m_tx.size();) {
        const TxEntry& first = m_tx[i];
        // A GSO run: one address, equal sizes (the last may be shorter), contiguous bytes.
        std::size_t j = i + 1;
        std::size_t bytes = first.size;
        if (m_gso) {
            while (j < m_tx.size() && j - i < kMaxGsoSegments && m_tx[j].to == first.to &&
                   m_tx[j].size <= first.size && bytes + m_tx[j].size <= kMaxGsoBytes) {
                bytes += m_tx[j].size;
                ++j;
                if (m_tx[j - 1].size < first.size) break;
            }
        }
        Msg& m = msgs[n];
        mmsghdr& h = hdrs[n];
        std::memset(&h, 0, sizeof h);
        const auto addr_len = static_cast<socklen_t>(first.to.size());
        std::memcpy(&m.addr, first.to.data(), addr_len);
        m.iov.iov_base = m_tx_buf.data() + first.offset;
        m.iov.iov_len = bytes;
        h.msg_hdr.msg_name = &m.addr;
        h.msg_hdr.msg_namelen = addr_len;
        h.msg_hdr.msg_iov = &m.iov;
        h.msg_hdr.msg_iovlen = 1;
        if (j - i > 1) {
            h.msg_hdr.msg_control = m.control;
            h.msg_hdr.msg_controllen = sizeof m.control;
            cmsghdr* c = CMSG_FIRSTHDR(&h.msg_hdr);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
            const auto seg = static_cast<std::uint16_t>(first.size);
            std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
        }
        counts[n] = j - i;
        ++n;
        i = j;
    }
    std::size_t done = 0;
    while (done < n) {
        const int r = ::sendmmsg(fd, hdrs.data() + done, static_cast<unsigned>(n - done), 0);
        ++m_tx_stats.syscalls;
        if (r > 0) {
            for (std::size_t k = done; k < done + static_cast<std::size_t>(r); ++k) {
                m_tx_stats.datagrams += counts[k];
                if (counts[k] > 1) ++m_tx_stats.gso_sends;
            }
            done += static_cast<std::size_t>(r);
            continue;
        }
        const int err = errno;
        if (err == EINTR) continue;
        if (hdrs[done].msg_hdr.msg_controllen != 0 &&
            (err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP)) {
            // No GSO here: from now on one datagram per message; this run goes one by one.
            m_gso = false;
            m_log->debug("udx: UDP GSO refused ({}), sending datagrams one by one",
                         std::strerror(err));
            std::size_t first = 0;
            for (std::size_t k = 0; k < done; ++k) first += counts[k];
            for (std::size_t k = 0; k < counts[done]; ++k) {
                const TxEntry& e = m_tx[first + k];
                send_to(ByteView(m_tx_buf.data() + e.offset, e.size), e.to);
            }
            ++done;
            continue;
        }
        m_log->trace("udx sendmmsg: {}", std::strerror(err));
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
            // A full send buffer drops the rest; retransmission covers it.
            for (std::size_t k = done; k < n; ++k) m_dropped += counts[k];
            break;
        }
        // This message alone failed (too big for the path, unreachable, ...): skip it.
        m_dropped += counts[done];
        ++done;
    }
    m_tx.clear();
    m_tx_buf.clear();
}

asio::awaitable<void> Socket::transmit_loop() {
    // Sends whatever the handler that queued it did not flush itself.
    while (!m_closing) {
        if (m_tx.empty()) {
            co_await m_tx_wake.wait();
            continue;
        }
        flush_tx();
    }
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

void Socket::route(ByteView d, const Endpoint& from,
                   std::vector<std::shared_ptr<Stream>>& touched) {
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
    // Per wake-up: one datagram (any size) through Asio, then up to kRxBatch - 1 more that are
    // already queued with one recvmmsg (a datagram over kRxSlot bytes there is dropped: neither
    // UDX nor the DHT sends any); each stream they touched is notified once.
    Bytes buffer(kMaxDatagram);
    Bytes slots(static_cast<std::size_t>(kRxBatch) * kRxSlot);
    std::vector<mmsghdr> hdrs(kRxBatch);
    std::vector<iovec> iovs(kRxBatch);
    std::vector<sockaddr_storage> addrs(kRxBatch);
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
        if (!m_closing && m_socket.is_open()) {
            for (unsigned i = 0; i + 1 < kRxBatch; ++i) {
                iovs[i].iov_base = slots.data() + i * kRxSlot;
                iovs[i].iov_len = kRxSlot;
                std::memset(&hdrs[i], 0, sizeof(mmsghdr));
                hdrs[i].msg_hdr.msg_name = &addrs[i];
                hdrs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
                hdrs[i].msg_hdr.msg_iov = &iovs[i];
                hdrs[i].msg_hdr.msg_iovlen = 1;
            }
            const int got = ::recvmmsg(m_socket.native_handle(), hdrs.data(), kRxBatch - 1,
                                       MSG_DONTWAIT, nullptr);
            for (int i = 0; i < got && !m_closing; ++i) {
                const mmsghdr& h = hdrs[static_cast<std::size_t>(i)];
                if ((h.msg_hdr.msg_flags & MSG_TRUNC) ||
                    h.msg_hdr.msg_namelen > sizeof(sockaddr_storage)) {
                    ++m_dropped;
                    continue;
                }
                std::memcpy(from.data(), &addrs[static_cast<std::size_t>(i)],
                            h.msg_hdr.msg_namelen);
                from.resize(h.msg_hdr.msg_namelen);
                route(ByteView(slots.data() + static_cast<std::size_t>(i) * kRxSlot, h.msg_len),
                      from, touched);
            }
        }
        for (auto& s : touched) {
            s->m_core.flush_acks();  // one ack for what the batch left unacknowledged
            s->changed();
        }
        touched.clear();
        flush_tx();
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
        flush_tx();
    }
}

asio::awaitable<void> Socket::close() {
    if (!m_closing) {
        m_closing = true;
        // Nothing answers the remotes once the socket is closed: the final acks still due go now.
        for (auto& [id, s] : m_streams) s->m_core.flush_final_acks();
        flush_tx();
        std::error_code ec;
        m_socket.close(ec);
        m_tx_wake.notify();
        m_timer_wake.notify();
        for (auto& [id, s] : m_streams) s->notify();
    }
    co_await m_tasks.join();
}

}  // namespace hs::v11::udx_io
