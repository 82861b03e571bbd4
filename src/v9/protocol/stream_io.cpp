#include "v9/protocol/stream_io.h"

#include <algorithm>
#include <asio/buffer.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <vector>

namespace hs::protocol {
namespace {

using asio::ip::tcp;
using asio::experimental::awaitable_operators::operator||;
constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

// Asio's steady_timer clock is the Stream's Clock (steady_clock), so time points pass straight
// through.
static_assert(std::is_same_v<asio::steady_timer::clock_type, Clock>);

std::string endpoint_text(const tcp::endpoint& ep) {
    const auto a = ep.address();
    return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port())
                     : fmt::format("{}:{}", a.to_string(), ep.port());
}

// True once the coroutine's cancellation slot fired (run_stream's loops are cancelled by the
// `||` that runs them when a sibling finishes, or by the owner).
asio::awaitable<bool> cancelled() {
    const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    co_return cs.cancelled() != asio::cancellation_type::none;
}

// State shared by the three loops of one run_stream. The timers double as wake-up events:
// they wait until time_point::max() and are woken by cancel(). Every waiter re-checks its
// condition before waiting, so a wake-up with nobody waiting is harmless (single thread).
struct Pump {
    Pump(tcp::socket& s, Stream& st, const StreamIoOptions& o)
        : socket(s),
          stream(st),
          options(o),
          output_ready(s.get_executor()),
          drained(s.get_executor()),
          tick_timer(s.get_executor()) {}

    tcp::socket& socket;
    Stream& stream;
    StreamIoOptions options;
    asio::steady_timer output_ready;  // woken when output appears or the stream closes
    asio::steady_timer drained;       // woken when output drops below the high-water mark
    asio::steady_timer tick_timer;    // the time Stream::tick asked for; woken to re-ask
};

void close_cancelled(Stream& stream) {
    stream.close(make_error(Errc::Closed, "replication connection cancelled"));
}

// One write of at most write_chunk_bytes with a deadline. The pending output is copied first:
// the stream may grow (reallocate) its buffer while the write is in flight.
asio::awaitable<std::error_code> write_some(Pump& p, Bytes& buffer,
                                            std::chrono::milliseconds timeout) {
    const ByteView pending = p.stream.pending_output();
    const std::size_t n = std::min(pending.size(), p.options.write_chunk_bytes);
    buffer.assign(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
    asio::steady_timer deadline(p.socket.get_executor());
    deadline.expires_after(timeout);
    auto result = co_await (p.socket.async_write_some(asio::buffer(buffer), kAwait) ||
                            deadline.async_wait(kAwait));
    if (result.index() == 1) co_return asio::error::timed_out;
    auto [ec, written] = std::get<0>(result);
    // Bytes the kernel took count even if a cancellation raced the completion.
    p.stream.consume_output(written);
    if (!p.stream.output_over_limit()) p.drained.cancel();
    co_return ec;
}

asio::awaitable<void> read_loop(Pump& p) {
    co_await asio::this_coro::throw_if_cancelled(false);
    std::vector<std::uint8_t> buffer(std::max<std::size_t>(p.options.read_chunk_bytes, 1));
    while (!p.stream.closed()) {
        if (p.stream.output_over_limit()) {
            // Past the write high-water mark: stop reading until the writer catches up.
            p.drained.expires_at(Clock::time_point::max());
            co_await p.drained.async_wait(kAwait);
            if (co_await cancelled()) break;
            continue;
        }
        auto [ec, n] = co_await p.socket.async_read_some(asio::buffer(buffer), kAwait);
        if (n > 0) {
            const bool was_handshaking = !p.stream.handshake_done();
            (void)p.stream.receive(ByteView(buffer.data(), n), Clock::now());
            // Keep-alives start with the transport: the tick loop's deadline may be too late.
            if (was_handshaking && p.stream.handshake_done()) p.tick_timer.cancel();
        }
        if (co_await cancelled()) break;
        if (ec == asio::error::eof) {
            p.stream.close(make_error(Errc::Closed, "the remote ended the connection"));
        } else if (ec) {
            p.stream.close(make_error(Errc::Io, "read failed: {}", ec.message()));
        }
    }
    close_cancelled(p.stream);  // a no-op unless we were cancelled with the stream still open
}

asio::awaitable<void> write_loop(Pump& p) {
    co_await asio::this_coro::throw_if_cancelled(false);
    Bytes buffer;
    while (!p.stream.closed()) {
        if (p.stream.pending_output().empty()) {
            p.output_ready.expires_at(Clock::time_point::max());
            co_await p.output_ready.async_wait(kAwait);
            if (co_await cancelled()) break;
            continue;
        }
        const std::error_code ec = co_await write_some(p, buffer, p.options.write_timeout);
        if (co_await cancelled()) break;
        if (ec == asio::error::timed_out) {
            p.stream.close(
                make_error(Errc::Io, "write stalled for {} ms", p.options.write_timeout.count()));
        } else if (ec) {
            p.stream.close(make_error(Errc::Io, "write failed: {}", ec.message()));
        }
    }
    close_cancelled(p.stream);
}

asio::awaitable<void> tick_loop(Pump& p) {
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!p.stream.closed()) {
        const Clock::time_point next = p.stream.tick(Clock::now());
        if (p.stream.closed()) break;
        p.tick_timer.expires_at(next);
        co_await p.tick_timer.async_wait(kAwait);  // expired, or woken to re-ask
        if (co_await cancelled()) break;
    }
    close_cancelled(p.stream);
}

}  // namespace

asio::awaitable<Error> run_stream(tcp::socket& socket, Stream& stream, StreamIoOptions options) {
    co_await asio::this_coro::throw_if_cancelled(false);
    Pump p(socket, stream, options);
    struct ListenerGuard {
        Stream& stream;
        ~ListenerGuard() { stream.set_output_listener(nullptr); }
    } guard{stream};
    stream.set_output_listener([&p] { p.output_ready.cancel(); });

    if (!stream.closed()) {
        // Each loop returns once the stream is closed; the first to return cancels the others,
        // and the `||` waits for all three to finish before it completes.
        co_await (read_loop(p) || write_loop(p) || tick_loop(p));
    }

    // Best effort: write what the stream still has (e.g. Close frames), within one deadline.
    if (!(co_await cancelled())) {
        const auto flush_deadline = Clock::now() + options.close_flush_timeout;
        Bytes buffer;
        while (!stream.pending_output().empty()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(flush_deadline -
                                                                                    Clock::now());
            if (left.count() <= 0) break;
            if (co_await write_some(p, buffer, left)) break;
        }
    }
    std::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    co_return stream.close_reason();
}

asio::awaitable<Result<tcp::socket>> connect_tcp(const HostPort& remote,
                                                 std::optional<asio::ip::address> bind_address,
                                                 std::chrono::milliseconds timeout) {
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer deadline(executor);
    deadline.expires_after(timeout);
    const std::string target = format_host_port(remote.host, remote.port);

    std::vector<tcp::endpoint> endpoints;
    std::error_code ec;
    const auto literal = asio::ip::make_address(remote.host, ec);
    if (!ec) {
        endpoints.emplace_back(literal, remote.port);
    } else {
        tcp::resolver resolver(executor);
        auto r =
            co_await (resolver.async_resolve(remote.host, std::to_string(remote.port), kAwait) ||
                      deadline.async_wait(kAwait));
        if (r.index() == 1)
            co_return make_error(Errc::Io, "resolving {} timed out after {} ms", target,
                                 timeout.count());
        auto [rec, results] = std::get<0>(std::move(r));
        if (rec) co_return make_error(Errc::Io, "cannot resolve {}: {}", target, rec.message());
        for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }

    Error last = make_error(Errc::Io, "no address of {} matches the bind address", target);
    for (const auto& endpoint : endpoints) {
        tcp::socket socket(executor);
        socket.open(endpoint.protocol(), ec);
        if (ec) co_return make_error(Errc::Io, "socket: {}", ec.message());
        if (bind_address) {
            if (bind_address->is_v4() != endpoint.address().is_v4()) continue;
            socket.bind(tcp::endpoint(*bind_address, 0), ec);
            if (ec) {
                co_return make_error(Errc::Io, "cannot bind to {}: {}", bind_address->to_string(),
                                     ec.message());
            }
        }
        auto r = co_await (socket.async_connect(endpoint, kAwait) || deadline.async_wait(kAwait));
        if (r.index() == 1)
            co_return make_error(Errc::Io, "connecting to {} timed out after {} ms",
                                 endpoint_text(endpoint), timeout.count());
        if (auto [cec] = std::get<0>(r); cec) {
            last = make_error(Errc::Io, "cannot connect to {}: {}", endpoint_text(endpoint),
                              cec.message());
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);  // best effort
        co_return std::move(socket);
    }
    co_return last;
}

Result<tcp::acceptor> listen_tcp(const asio::any_io_executor& executor,
                                 const tcp::endpoint& endpoint) {
    tcp::acceptor acceptor(executor);
    std::error_code ec;
    const auto failed = [&](std::string_view what) {
        return make_error(Errc::Io, "cannot listen on {}: {}: {}", endpoint_text(endpoint), what,
                          ec.message());
    };
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return failed("open");
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec) return failed("SO_REUSEADDR");
    acceptor.bind(endpoint, ec);
    if (ec) return failed("bind");
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return failed("listen");
    return acceptor;
}

asio::awaitable<Result<tcp::socket>> accept_tcp(tcp::acceptor& acceptor,
                                                std::chrono::milliseconds timeout) {
    asio::steady_timer deadline(acceptor.get_executor());
    deadline.expires_after(timeout);
    auto r = co_await (acceptor.async_accept(kAwait) || deadline.async_wait(kAwait));
    if (r.index() == 1)
        co_return make_error(Errc::Io, "no connection within {} ms", timeout.count());
    auto [ec, socket] = std::get<0>(std::move(r));
    if (ec) co_return make_error(Errc::Io, "accept failed: {}", ec.message());
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    co_return std::move(socket);
}

}  // namespace hs::protocol
