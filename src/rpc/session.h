// One client connection of the RPC server: reads hrpc frames, hands each request to the
// handlers, and writes responses and events from a bounded output queue.
//
// Flow control (STYLE §5): past `write_high_water_bytes` of queued output the session stops
// taking requests until the client has read it down to `write_low_water_bytes`. A client whose
// socket accepts nothing for `write_stall_timeout`, or whose queue passes
// `write_hard_limit_bytes` (events it does not read), is disconnected with a logged reason.
// Reads have no deadline: an idle client is a normal client.
//
// Network thread only. Owned by RpcServer; run() holds shared_from_this() to outlive its waits.
// Everything the client held (ClientState) is released when run() ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <asio.hpp>

#include "rpc/client_state.h"
#include "rpc/framing.h"
#include "rpc/handlers.h"
#include "rpc/sink.h"

namespace hs::rpc {

struct SessionLimits {
    std::uint64_t max_payload_bytes = kDefaultMaxPayloadBytes;  // larger frames: disconnect
    // One read's buffer: holds a whole request carrying a 64 KiB block (header included).
    std::size_t read_chunk_bytes = 128 * 1024;
    std::size_t write_high_water_bytes = 4 * 1024 * 1024;   // stop reading requests above
    std::size_t write_low_water_bytes = 1024 * 1024;        // resume reading below
    std::size_t write_hard_limit_bytes = 64 * 1024 * 1024;  // disconnect above
    std::chrono::milliseconds write_stall_timeout{30'000};
    ClientLimits client;
    // Server-wide: connections beyond this many are closed at once (logged).
    std::size_t max_clients = 4096;
};

// A one-shot-at-a-time wakeup for one waiting coroutine (a condition variable on one thread).
// Usage: `while (!condition) co_await signal.wait();` and notify() after changing the state.
class Signal {
public:
    explicit Signal(const asio::any_io_executor& executor)
        : m_timer(executor, std::chrono::steady_clock::time_point::max()) {}
    asio::awaitable<void> wait();
    void notify() {
        if (m_waiting) m_timer.cancel();
    }

private:
    asio::steady_timer m_timer;
    bool m_waiting = false;
};

class Session final : public FrameSink, public std::enable_shared_from_this<Session> {
public:
    using Socket = asio::generic::stream_protocol::socket;

    // `handlers` must outlive the session.
    Session(std::uint64_t id, Socket socket, std::string peer, Handlers& handlers,
            SessionLimits limits, std::shared_ptr<spdlog::logger> log);
    ~Session() override;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Serves the client until it disconnects, misbehaves or close() is called, then releases
    // everything it held. The one catch site for this client: never throws.
    asio::awaitable<void> run();
    // Starts closing (idempotent): pending output is dropped, run() finishes soon.
    void close(std::string reason);
    // Graceful close: takes no more requests, writes what is queued, then closes. Bounded by the
    // write stall deadline; the caller may close() harder at any time.
    void shutdown(std::string reason);

    std::uint64_t id() const noexcept { return m_id; }
    const std::string& peer() const noexcept { return m_peer; }
    const std::string& close_reason() const noexcept { return m_close_reason; }
    ClientState& state() noexcept { return m_state; }
    std::size_t queued_bytes() const noexcept {
        return m_out.size() + (m_writing.size() - m_write_offset);
    }

    // FrameSink
    bool closed() const noexcept override { return m_closed; }
    Bytes& output_buffer() override { return m_out; }
    void output_appended() override;

private:
    asio::awaitable<void> read_loop();
    asio::awaitable<void> write_loop();
    void dispatch(const Frame& frame);

    std::uint64_t m_id;
    Socket m_socket;
    std::string m_peer;
    Handlers& m_handlers;
    SessionLimits m_limits;
    std::shared_ptr<spdlog::logger> m_log;
    FrameDecoder m_decoder;
    ClientState m_state;
    Bytes m_read_buf;
    Bytes m_out;      // frames queued, not yet handed to the socket
    Bytes m_writing;  // the batch being written
    std::size_t m_write_offset = 0;
    Signal m_wake;     // output queued (writer)
    Signal m_drained;  // output fell below the low-water mark (reader)
    asio::steady_timer m_stall_timer;
    bool m_closed = false;
    bool m_draining = false;  // shutdown(): no more requests, close once the queue is empty
    std::string m_close_reason;
};

}  // namespace hs::rpc
