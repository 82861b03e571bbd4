// The secret-stream pump (secret_stream_io.h) over any duplex with the interface of a connected
// Asio TCP socket: get_executor(), async_read_some() (asio::error::eof at the peer's end),
// asio::async_write(), shutdown(shutdown_send), close(std::error_code&). The TCP socket
// instantiates it in secret_stream_io.cpp; a UDX stream (v11/udx_io/duplex.h) is another.
#pragma once

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "common/async/task_group.h"
#include "v11/secretstream/secret_stream_io.h"

namespace hs::v11 {

namespace pump_detail {

inline constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

template <class Socket>
struct Pump {
    BasicSecretStreamIo<Socket> io;
    async::Event changed;  // output added, input ended, stream closed
    bool read_ended = false;
    bool write_ended = false;
    bool stopping = false;  // the pump closes the socket: errors from now on are ours

    explicit Pump(BasicSecretStreamIo<Socket> i) : io(i), changed(i.socket.get_executor()) {}

    bool finished() const {
        return io.stream.closed() || (read_ended && write_ended);
    }
    void wake() {
        changed.notify();
        if (io.writable) io.writable->notify();
    }
};

template <class Socket>
asio::awaitable<void> read_loop(Pump<Socket>& p) {
    std::vector<std::uint8_t> buffer(256 * 1024);
    while (!p.io.stream.closed() && !p.read_ended) {
        auto [ec, n] = co_await p.io.socket.async_read_some(asio::buffer(buffer), kAwait);
        if (n > 0) (void)p.io.stream.receive(ByteView(buffer.data(), n), Clock::now());
        if (ec == asio::error::eof) {
            p.read_ended = true;
            p.io.stream.receive_end();
        } else if (ec && !p.io.stream.closed() && !p.stopping) {
            p.io.stream.destroy(make_error(Errc::Io, "secret-stream: read failed: {}", ec.message()));
        }
        p.wake();
    }
}

template <class Socket>
asio::awaitable<void> write_loop(Pump<Socket>& p) {
    Bytes buffer;
    while (!p.io.stream.closed() && !p.write_ended) {
        const ByteView pending = p.io.stream.pending_output();
        if (pending.empty()) {
            if (p.io.stream.ready_to_end()) {
                std::error_code ignored;
                p.io.socket.shutdown(asio::socket_base::shutdown_send, ignored);
                p.write_ended = true;
                p.wake();
                break;
            }
            co_await p.changed.wait();
            continue;
        }
        // Take the whole output (no copy): what the stream writes meanwhile goes to a new buffer.
        buffer = p.io.stream.take_output();
        auto [ec, written] = co_await asio::async_write(p.io.socket, asio::buffer(buffer), kAwait);
        (void)written;
        if (ec) {
            if (!p.io.stream.closed() && !p.stopping)
                p.io.stream.destroy(make_error(Errc::Io, "secret-stream: write failed: {}", ec.message()));
            p.wake();
            break;
        }
        if (p.io.writable && !p.io.stream.output_over_limit()) p.io.writable->notify();
    }
}

template <class Socket>
asio::awaitable<void> tick_loop(Pump<Socket>& p) {
    while (!p.finished()) {
        const auto next = p.io.stream.tick(Clock::now());
        if (p.io.stream.closed()) {
            p.wake();
            break;
        }
        co_await p.changed.wait_until(next);
    }
}

}  // namespace pump_detail

template <class Socket>
asio::awaitable<Error> run_secret_stream_on(BasicSecretStreamIo<Socket> io) {
    using namespace pump_detail;
    Pump<Socket> p(io);
    auto previous = io.stream.on_output;
    io.stream.on_output = [&p, previous] {
        if (previous) previous();
        p.changed.notify();
    };
    async::TaskGroup tasks(io.socket.get_executor(), "secret-stream");
    tasks.spawn("read", read_loop(p));
    tasks.spawn("write", write_loop(p));
    tasks.spawn("tick", tick_loop(p));
    while (!p.finished()) co_await p.changed.wait();
    const bool closed = io.stream.closed();
    p.stopping = true;
    std::error_code ignored;
    io.socket.close(ignored);
    p.changed.notify();
    tasks.cancel();
    co_await tasks.join();
    io.stream.on_output = previous;
    p.wake();
    if (closed) co_return io.stream.close_reason();
    co_return Error{Errc::Closed, "ended"};
}

}  // namespace hs::v11
