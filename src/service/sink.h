// Where the server's frames to one client go, and how a handler answers one request.
// Network thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "rpc/framing.h"
#include "rpc/messages.h"
#include "rpc/methods.h"
#include "common/util/bytes.h"

namespace hs::service {

// The output side of one client connection. Implemented by Session (and by test fakes).
class FrameSink {
public:
    virtual ~FrameSink() = default;
    // True once the connection is closing: frames are then dropped.
    virtual bool closed() const noexcept = 0;
    // The buffer to append complete frames to; call output_appended() after each frame.
    // REQUIRES: !closed().
    virtual Bytes& output_buffer() = 0;
    // Queues what was appended. May close the connection when the client is not reading
    // (its queue is over the hard limit).
    virtual void output_appended() = 0;
};

// Appends one frame carrying `message` (any struct of rpc/messages.h). No-op on a closed sink.
template <typename Message>
void send_frame(FrameSink& sink, const rpc::FrameHeader& header, const Message& message) {
    if (sink.closed()) return;
    rpc::encode_frame(sink.output_buffer(), header, message);
    sink.output_appended();
}

// Sends an event (a request with id 0: the client does not answer it).
template <typename Message>
void send_event(FrameSink& sink, rpc::Method method, const Message& message) {
    const rpc::MethodInfo& info = rpc::method_info(method);
    send_frame(sink,
               rpc::FrameHeader{rpc::FrameType::Request, static_cast<std::uint64_t>(info.service),
                                info.id, 0},
               message);
}

// What an RPC error frame carries (RPCError). Handlers return these; the strings clients match on
// are in service/errors.h.
struct RpcFailure {
    std::string message;
    std::optional<std::string> code;
    std::optional<std::int32_t> errno_value;

    rpc::RPCError to_message() const {
        rpc::RPCError e;
        e.message = message;
        e.code = code;
        e.errno_value = errno_value;
        return e;
    }
};

// The answer slot of one request. Move-only; answers at most once (later calls are no-ops). A
// request with id 0 gets a Responder that expects no reply: answering it does nothing.
// Lifetime: `sink` must outlive the Responder or the Responder must be dropped first (ClientState
// drops every waiter of its connection before the connection dies).
class Responder {
public:
    Responder() = default;
    Responder(FrameSink* sink, const rpc::FrameHeader& request) noexcept
        : m_sink(request.id != 0 ? sink : nullptr),
          m_header{rpc::FrameType::Response, request.service, request.method, request.id} {}
    Responder(Responder&& other) noexcept
        : m_sink(std::exchange(other.m_sink, nullptr)), m_header(other.m_header) {}
    Responder& operator=(Responder&& other) noexcept {
        m_sink = std::exchange(other.m_sink, nullptr);
        m_header = other.m_header;
        return *this;
    }
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;

    bool expects_reply() const noexcept { return m_sink != nullptr; }
    FrameSink* sink() const noexcept { return m_sink; }

    template <typename Message>
    void ok(const Message& message) {
        if (!m_sink) return;
        send_frame(*m_sink, m_header, message);
        m_sink = nullptr;
    }
    void ok() { ok(rpc::Void{}); }
    void fail(const RpcFailure& failure) {
        if (!m_sink) return;
        rpc::FrameHeader h = m_header;
        h.type = rpc::FrameType::Error;
        send_frame(*m_sink, h, failure.to_message());
        m_sink = nullptr;
    }

private:
    FrameSink* m_sink = nullptr;
    rpc::FrameHeader m_header;
};

}  // namespace hs::service
