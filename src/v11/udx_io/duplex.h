// A UDX stream (udx_io/socket.h) with the interface of a connected Asio TCP socket, so that code
// written against one runs unchanged over the other (the secret-stream pump,
// v11/secretstream/secret_stream_pump.h): get_executor(), async_read_some() (asio::error::eof at the
// remote's END), async_write_some() (queues every byte, completes once the stream is under its
// write_high_water), shutdown(shutdown_send) = end(), close(). Also an AsyncReadStream /
// AsyncWriteStream for asio::async_read / asio::async_write. Single-threaded, like the socket.
//
// close() while the stream is open and not both ways ended destroys it (DESTROY to the remote);
// after a clean half-close both ways it leaves the stream to finish its acknowledgements.
#pragma once

#include <memory>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>

#include "v11/udx_io/socket.h"

namespace hs::v11::udx_io {

class Duplex {
public:
    using executor_type = asio::any_io_executor;

    Duplex(asio::any_io_executor executor, std::shared_ptr<Stream> stream);
    ~Duplex();
    Duplex(const Duplex&) = delete;
    Duplex& operator=(const Duplex&) = delete;

    executor_type get_executor() const { return m_executor; }
    Stream& stream() noexcept { return *m_stream; }
    bool is_open() const noexcept { return !m_closed; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_compose<Token, void(std::error_code, std::size_t)>(
            ReadOp<MutableBuffers>{this, buffers}, token, m_wake);
    }
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_compose<Token, void(std::error_code, std::size_t)>(
            WriteOp<ConstBuffers>{this, buffers}, token, m_wake);
    }
    // shutdown_send (or _both) ends our direction; nothing else is needed for the receive side.
    void shutdown(asio::socket_base::shutdown_type what, std::error_code& ec);
    void close(std::error_code& ec);

private:
    // Why an operation cannot go on, or a success code.
    std::error_code state_error() const;

    template <class Buffers>
    struct ReadOp {
        Duplex* d;
        Buffers buffers;
        std::uint64_t seen = ~std::uint64_t{0};  // the stream's changes() when we began to wait
        template <class Self>
        void operator()(Self& self, std::error_code ec = {}) {
            Stream& s = *d->m_stream;
            // The wait ends with operation_aborted both when the stream changed and when the
            // operation was cancelled; only the first bumps changes().
            if (d->m_closed || (ec && seen == s.changes()))
                return self.complete(asio::error::operation_aborted, 0);
            if (s.core().readable() > 0) {
                std::size_t n = 0;
                for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
                    const asio::mutable_buffer b = *it;
                    n += s.try_read(MutableByteView(static_cast<std::uint8_t*>(b.data()), b.size()));
                    if (s.core().readable() == 0) break;
                }
                return self.complete({}, n);
            }
            if (s.core().eof()) return self.complete(asio::error::eof, 0);
            if (auto ec = d->state_error()) return self.complete(ec, 0);
            seen = s.changes();
            d->m_wake.async_wait(std::move(self));
        }
    };

    template <class Buffers>
    struct WriteOp {
        Duplex* d;
        Buffers buffers;
        bool queued = false;
        std::size_t size = 0;
        std::uint64_t seen = ~std::uint64_t{0};  // the stream's changes() when we began to wait
        template <class Self>
        void operator()(Self& self, std::error_code ec = {}) {
            Stream& s = *d->m_stream;
            // The wait ends with operation_aborted both when the stream changed and when the
            // operation was cancelled; only the first bumps changes().
            if (d->m_closed || (ec && seen == s.changes()))
                return self.complete(asio::error::operation_aborted, 0);
            if (auto ec = d->state_error()) return self.complete(ec, 0);
            if (!queued) {
                queued = true;
                for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
                    const asio::const_buffer b = *it;
                    s.try_write(ByteView(static_cast<const std::uint8_t*>(b.data()), b.size()));
                    size += b.size();
                }
            }
            if (s.core().writable() || size == 0) return self.complete({}, size);
            seen = s.changes();
            d->m_wake.async_wait(std::move(self));
        }
    };

    asio::any_io_executor m_executor;
    std::shared_ptr<Stream> m_stream;
    asio::steady_timer m_wake;  // never expires: cancelled by the stream on every change
    bool m_closed = false;
    bool m_shut_send = false;
};

}  // namespace hs::v11::udx_io
