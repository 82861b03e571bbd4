// One client connection of the RPC server: reads hrpc frames, hands each request to the
// handlers, and writes responses and events from a bounded output queue.
//
// Flow control (STYLE §5): past `write_high_water_bytes` of queued output the session stops
// taking requests until the client has read it down to `write_low_water_bytes`, so replies
// queue at most the high-water mark plus the one reply that crossed it. Events (frames the
// daemon sends on its own, id 0) are not held back that way: a client with more than
// `event_queue_limit_bytes` of them queued is disconnected, as is a client whose socket accepts
// nothing for `write_stall_timeout`, each with a logged reason. With the defaults a client that
// never reads costs at most ~256 KiB of replies (+ one reply), 1 MiB of events, and ~180 KiB of
// requests read but not yet handled (the rest of one large read, one decoded slice), for 30 s.
// Reads have no deadline: an idle client is a normal client.
//
// Memory: an idle session holds a small read buffer (`read_chunk_bytes`) and at most a few KiB
// of output buffers. A read that fills the small buffer is followed by one non-blocking read
// into a buffer shared by every session of the thread (kLargeReadBytes), so large frames do not
// need a large buffer per session, or, when a large payload is due, straight into that payload's
// buffer (up to kLargeReadBytes, so the block is not copied once more); output buffers that grew
// for a large batch are freed once it is written. A frame still arriving holds under twice its bytes received so far (or 64 KiB),
// whatever length it declares (FrameDecoder); its buffer is freed once the request is handled,
// except that the server keeps one buffer of a large request (at least 256 KiB, at most 8 MiB:
// SparePayloads) for 1 s, for the next large frame of any of its sessions to start in.
//
// Network thread only. Owned by RpcServer; run() holds shared_from_this() to outlive its waits.
// Everything the client held (ClientState) is released when run() ends, and run() waits for the
// client's own tasks (ClientState::tasks) to finish before it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <asio.hpp>

#include "common/async/event.h"
#include "service/client_state.h"
#include "rpc/framing.h"
#include "server/handlers.h"
#include "service/sink.h"

namespace hs::server {

struct SessionLimits {
    std::uint64_t max_payload_bytes = rpc::kDefaultMaxPayloadBytes;  // larger frames: disconnect
    // Each session's own read buffer, kept while it waits for input (a small request fits).
    std::size_t read_chunk_bytes = 4 * 1024;
    std::size_t write_high_water_bytes = 256 * 1024;  // stop reading requests above
    std::size_t write_low_water_bytes = 64 * 1024;    // resume reading below
    std::size_t event_queue_limit_bytes = 1024 * 1024;  // events queued: disconnect above
    std::chrono::milliseconds write_stall_timeout{30'000};
    service::ClientLimits client;
    // Server-wide: connections beyond this many are closed at once (logged).
    std::size_t max_clients = 4096;
};

// The buffer shared by the sessions of one thread for reads that follow a full small read.
inline constexpr std::size_t kLargeReadBytes = 128 * 1024;
// The spare buffer for large payloads of one server's sessions (rpc::PayloadPool): a batch of
// large appends reuses one buffer instead of faulting in fresh pages for every frame. It holds at
// most kSpareMaxBytes and is freed once no frame has returned a buffer for kSpareKeep.
inline constexpr std::size_t kSpareMaxBytes = 8 * 1024 * 1024;
inline constexpr std::chrono::milliseconds kSpareKeep{1000};
class SparePayloads {
public:
    explicit SparePayloads(const asio::any_io_executor& ex) : m_pool(kSpareMaxBytes), m_timer(ex) {}
    rpc::PayloadPool& pool() noexcept { return m_pool; }
    // A handled frame's payload: kept as the spare (and the release timer restarted), or freed.
    void give(rpc::Payload&& payload);
    std::size_t capacity() const noexcept { return m_pool.capacity(); }

private:
    rpc::PayloadPool m_pool;
    asio::steady_timer m_timer;
};

// After a full small read, a frame with at least this many payload bytes still to come is read
// straight into its payload buffer (FrameDecoder::payload_space), not copied from the large one.
inline constexpr std::size_t kDirectReadMinBytes = 16 * 1024;
// Output buffers with more capacity than this are freed once their batch is written.
inline constexpr std::size_t kKeepOutputBytes = 4 * 1024;

class Session final : public service::FrameSink, public std::enable_shared_from_this<Session> {
public:
    using Socket = asio::generic::stream_protocol::socket;

    // `handlers` must outlive the session.
    Session(std::uint64_t id, Socket socket, std::string peer, Handlers& handlers,
            SessionLimits limits, std::shared_ptr<spdlog::logger> log,
            SparePayloads* spare = nullptr);
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
    service::ClientState& state() noexcept { return m_state; }
    std::size_t queued_bytes() const noexcept {
        return m_out.size() + (m_writing.size() - m_write_offset);
    }
    // Bytes of event frames queued (those in the batch being written count until it is done).
    std::size_t queued_event_bytes() const noexcept { return m_out_events + m_writing_events; }
    // Capacity of the session's buffers now (read buffer and output buffers): for tests.
    std::size_t buffer_capacity() const noexcept {
        return m_read_buf.capacity() + m_out.capacity() + m_writing.capacity();
    }

    // FrameSink
    bool closed() const noexcept override { return m_closed; }
    Bytes& output_buffer() override {
        m_append_start = m_out.size();
        return m_out;
    }
    void output_appended() override;

private:
    asio::awaitable<void> read_loop();
    // Decodes `in` and dispatches its frames, waiting at the high-water mark. `shared`: `in` is
    // the thread's large buffer, copied before any wait. `frames` is scratch space.
    asio::awaitable<Status> consume(ByteView in, bool shared, std::vector<rpc::Frame>& frames);
    // Reads what has arrived of the current frame's payload straight into its buffer (no wait)
    // and dispatches the frame if that completes it. Returns how the read ended (would-block is
    // no error).
    asio::awaitable<std::error_code> read_payload_directly(std::vector<rpc::Frame>& frames);
    // Past the high-water mark: waits until the client has read its output down to the
    // low-water mark (or the session closes or drains).
    asio::awaitable<void> wait_for_output_room();
    asio::awaitable<void> write_loop();
    void dispatch(const rpc::Frame& frame);
    // Gives a handled frame's payload back (to the spare, or freed).
    void release(rpc::Frame& frame);

    std::uint64_t m_id;
    Socket m_socket;
    std::string m_peer;
    Handlers& m_handlers;
    SessionLimits m_limits;
    std::shared_ptr<spdlog::logger> m_log;
    SparePayloads* m_spare;
    rpc::FrameDecoder m_decoder;
    service::ClientState m_state;
    Bytes m_read_buf;
    Bytes m_out;      // frames queued, not yet handed to the socket
    Bytes m_writing;  // the batch being written
    std::size_t m_write_offset = 0;
    std::size_t m_append_start = 0;    // where the frame being appended to m_out starts
    std::size_t m_out_events = 0;      // bytes of event frames in m_out
    std::size_t m_writing_events = 0;  // bytes of event frames in m_writing
    async::Event m_wake;     // output queued (writer)
    async::Event m_drained;  // output fell below the low-water mark (reader)
    asio::steady_timer m_stall_timer;
    bool m_closed = false;
    bool m_draining = false;  // shutdown(): no more requests, close once the queue is empty
    std::string m_close_reason;
};

}  // namespace hs::server
