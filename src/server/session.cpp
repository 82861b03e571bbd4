#include "server/session.h"

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace hs::server {
using namespace hs::rpc;      // the codec
using namespace hs::service;  // the daemon's services
namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);

// The large-read buffer of this thread (every session of a server runs on its network thread).
// Safe to share: a read into it is decoded, which copies every payload out, before the next
// co_await.
MutableByteView large_read_buffer() {
    thread_local std::unique_ptr<std::uint8_t[]> buffer;
    if (!buffer) buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kLargeReadBytes);
    return MutableByteView(buffer.get(), kLargeReadBytes);
}

// Frees a buffer that grew past kKeepOutputBytes, else empties it keeping its capacity.
void release_output(Bytes& buffer) {
    if (buffer.capacity() > kKeepOutputBytes)
        Bytes().swap(buffer);
    else
        buffer.clear();
}
}  // namespace

void SparePayloads::give(Payload&& payload) {
    if (!m_pool.give(std::move(payload))) return;
    m_timer.expires_after(kSpareKeep);
    m_timer.async_wait([this](std::error_code ec) {
        if (ec) return;  // restarted, or the server is gone
        m_pool.clear();
    });
}

Session::Session(std::uint64_t id, Socket socket, std::string peer, Handlers& handlers,
                 SessionLimits limits, std::shared_ptr<spdlog::logger> log,
                 SparePayloads* spare)
    : m_id(id),
      m_socket(std::move(socket)),
      m_peer(std::move(peer)),
      m_handlers(handlers),
      m_limits(limits),
      m_log(log),
      m_spare(spare),
      m_decoder(FrameDecoderOptions{limits.max_payload_bytes, spare ? &spare->pool() : nullptr}),
      m_state(id, *this, m_socket.get_executor(), handlers.registry(), handlers.network(),
              limits.client, std::move(log)),
      m_read_buf(limits.read_chunk_bytes),
      m_wake(m_socket.get_executor()),
      m_drained(m_socket.get_executor()),
      m_stall_timer(m_socket.get_executor()) {}

Session::~Session() = default;

void Session::close(std::string reason) {
    if (m_closed) return;
    m_closed = true;
    if (!m_draining) m_close_reason = std::move(reason);
    Bytes().swap(m_out);
    m_out_events = 0;
    std::error_code ec;
    m_socket.cancel(ec);
    m_stall_timer.cancel();
    m_wake.notify();
    m_drained.notify();
}

void Session::shutdown(std::string reason) {
    if (m_closed || m_draining) return;
    if (queued_bytes() == 0) return close(std::move(reason));
    m_draining = true;
    m_close_reason = std::move(reason);
    std::error_code ec;
    m_socket.shutdown(Socket::shutdown_receive, ec);  // the pending read ends
    m_drained.notify();
    m_wake.notify();
}

void Session::output_appended() {
    // Events are frames the daemon sends on its own: requests with id 0.
    const ByteView frame(m_out.data() + m_append_start, m_out.size() - m_append_start);
    if (const auto h = peek_frame_header(frame); h && h->type == FrameType::Request && h->id == 0) {
        m_out_events += frame.size();
        if (queued_event_bytes() > m_limits.event_queue_limit_bytes) {
            close(fmt::format(
                "client is not reading: {} bytes of events queued, over the limit of {} "
                "({} bytes of output queued in all)",
                queued_event_bytes(), m_limits.event_queue_limit_bytes, queued_bytes()));
            return;
        }
    }
    m_wake.notify();
}

asio::awaitable<void> Session::run() {
    auto self = shared_from_this();
    try {
        std::error_code ec;
        m_socket.non_blocking(true, ec);
        if (ec) {
            close("cannot make the socket non-blocking: " + ec.message());
        } else {
            using namespace asio::experimental::awaitable_operators;
            // Each loop closes the session when it stops, which ends the other one.
            co_await (read_loop() && write_loop());
        }
    } catch (const std::exception& e) {
        close(fmt::format("internal error: {}", e.what()));
    }
    if (!m_closed) close("connection ended");
    try {
        m_state.release_all();  // also cancels the client's own tasks
        m_handlers.after_batch();
    } catch (const std::exception& e) {
        m_log->error("client {}: releasing its state failed: {}", m_id, e.what());
    }
    // Those tasks answer through this session: it lives until they are gone. (Even when run()
    // itself was cancelled: the join must not be cut short.)
    co_await asio::this_coro::reset_cancellation_state();
    co_await m_state.tasks().join();
    std::error_code ignored;
    m_socket.close(ignored);
}

asio::awaitable<void> Session::read_loop() {
    std::vector<Frame> frames;
    while (!m_closed) {
        // async_read_some tries the recv at once and only then waits (edge-triggered epoll): a
        // client waiting for each reply costs one recv that gets EAGAIN per request. Waiting for
        // readiness first (async_wait) costs an epoll_ctl re-arm per wait instead, no fewer
        // syscalls (measured with strace), so reads stay speculative. The wait uses the small
        // per-session buffer; only a read that fills it is followed by one non-blocking read
        // into the thread's large buffer (then the loop goes through the reactor again, so one
        // busy client does not starve the others).
        auto [ec, n] = co_await m_socket.async_read_some(asio::buffer(m_read_buf), kUseTuple);
        if (m_closed || m_draining) co_return;
        if (ec) {
            close(ec == asio::error::eof ? std::string("client disconnected")
                                         : "read failed: " + ec.message());
            co_return;
        }
        Status decoded = co_await consume(ByteView(m_read_buf.data(), n), false, frames);
        if (m_closed || m_draining) co_return;
        std::error_code end;  // how a large read ended the stream, handled after dispatching
        if (decoded && n == m_read_buf.size() &&
            m_decoder.payload_remaining() >= kDirectReadMinBytes) {
            end = co_await read_payload_directly(frames);
            if (m_closed || m_draining) co_return;
        } else if (decoded && n == m_read_buf.size()) {
            const MutableByteView large = large_read_buffer();
            const std::size_t more =
                m_socket.read_some(asio::buffer(large.data(), large.size()), end);
            if (!end) {
                decoded = co_await consume(ByteView(large.data(), more), true, frames);
                if (m_closed || m_draining) co_return;
            } else if (end == asio::error::would_block || end == asio::error::try_again) {
                end.clear();
            }
        }
        m_handlers.after_batch();
        if (!decoded) {
            close(fmt::format("invalid frame ({}): {}", errc_name(decoded.error().code),
                              decoded.error().message));
            co_return;
        }
        if (end) {
            close(end == asio::error::eof ? std::string("client disconnected")
                                          : "read failed: " + end.message());
            co_return;
        }
        if (frames.capacity() > 64) std::vector<Frame>().swap(frames);
    }
}

asio::awaitable<Status> Session::consume(ByteView in, bool shared, std::vector<Frame>& frames) {
    // Decoded a slice at a time, so the frames waiting for dispatch stay few (a slice of 4-byte
    // requests is 1024 frames) even while the session waits for the client to read.
    constexpr std::size_t kSlice = 4096;
    Bytes rest;  // what is left of a shared buffer when the session has to wait
    std::size_t at = 0;
    while (at < in.size()) {
        const std::size_t n = std::min(kSlice, in.size() - at);
        frames.clear();
        const Status decoded = m_decoder.receive(in.subspan(at, n), frames);
        at += n;
        for (Frame& frame : frames) {
            // Past the high-water mark, take no more requests until the client has read its
            // output down to the low-water mark.
            if (queued_bytes() > m_limits.write_high_water_bytes) {
                if (shared && at < in.size()) {
                    // Other sessions read into the shared buffer while this one waits.
                    rest.assign(in.begin() + static_cast<std::ptrdiff_t>(at), in.end());
                    in = rest;
                    at = 0;
                    shared = false;
                }
                co_await wait_for_output_room();
            }
            if (m_closed || m_draining) co_return Status{};
            dispatch(frame);
            release(frame);  // give the request's memory back now
        }
        if (!decoded) co_return decoded;
    }
    co_return Status{};
}

asio::awaitable<void> Session::wait_for_output_room() {
    while (!m_closed && !m_draining && queued_bytes() > m_limits.write_low_water_bytes)
        co_await m_drained.wait();
}

asio::awaitable<std::error_code> Session::read_payload_directly(std::vector<Frame>& frames) {
    const MutableByteView space = m_decoder.payload_space(kLargeReadBytes);
    std::error_code end;
    const std::size_t n = m_socket.read_some(asio::buffer(space.data(), space.size()), end);
    if (end == asio::error::would_block || end == asio::error::try_again) end.clear();
    frames.clear();
    m_decoder.payload_received(end ? 0 : n, frames);
    for (Frame& frame : frames) {  // the frame this read completed, if it did
        if (queued_bytes() > m_limits.write_high_water_bytes) co_await wait_for_output_room();
        if (m_closed || m_draining) co_return end;
        dispatch(frame);
        release(frame);
    }
    co_return end;
}

void Session::release(Frame& frame) {
    if (m_spare != nullptr)
        m_spare->give(std::move(frame.payload));
    frame.payload = {};
}

void Session::dispatch(const Frame& frame) {
    const FrameHeader& h = frame.header;
    switch (h.type) {
        case FrameType::Request:
            m_handlers.handle_request(m_state, h, frame.payload);
            return;
        case FrameType::Response:
        case FrameType::Error:
            // The daemon sends clients no requests that expect an answer (events use id 0).
            close(fmt::format(
                "protocol error: client sent a {} for request id {} (service {}, "
                "method {}), but the daemon sent no request",
                h.type == FrameType::Response ? "response" : "error", h.id, h.service, h.method));
            return;
        case FrameType::Reserved:
            m_log->debug("client {}: ignoring a frame of type 3", m_id);
            return;
    }
}

asio::awaitable<void> Session::write_loop() {
    for (;;) {
        while (!m_closed && !m_draining && m_out.empty()) co_await m_wake.wait();
        if (m_closed) co_return;
        if (m_draining && m_out.empty()) {
            close(m_close_reason);
            co_return;
        }
        m_writing.swap(m_out);
        m_writing_events = std::exchange(m_out_events, 0);
        m_write_offset = 0;
        while (m_write_offset < m_writing.size()) {
            std::error_code ec;
            const std::size_t n = m_socket.write_some(
                asio::buffer(m_writing.data() + m_write_offset, m_writing.size() - m_write_offset),
                ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                // The client's socket buffer is full: wait until it reads, within the deadline.
                m_stall_timer.expires_after(m_limits.write_stall_timeout);
                m_stall_timer.async_wait([weak = weak_from_this(),
                                          timeout =
                                              m_limits.write_stall_timeout](std::error_code e) {
                    if (e) return;
                    if (auto s = weak.lock())
                        s->close(fmt::format(
                            "client is not reading: no output accepted for {} ms, {} bytes queued",
                            timeout.count(), s->queued_bytes()));
                });
                auto [wait_ec] = co_await m_socket.async_wait(Socket::wait_write, kUseTuple);
                m_stall_timer.cancel();
                if (m_closed) co_return;
                if (wait_ec) {
                    close("write failed: " + wait_ec.message());
                    co_return;
                }
                continue;
            }
            if (ec) {
                close("write failed: " + ec.message());
                co_return;
            }
            m_write_offset += n;
        }
        release_output(m_writing);
        m_writing_events = 0;
        m_write_offset = 0;
        if (queued_bytes() <= m_limits.write_low_water_bytes) m_drained.notify();
    }
}

}  // namespace hs::server
