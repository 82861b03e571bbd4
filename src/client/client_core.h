// The sans-IO core of the RPC client (the counterpart of hrpc's client half): it turns calls into
// request frames, matches response and error frames to the calls by request id, and hands every
// server-pushed event (a Request frame from the server) to its owner. No sockets, no threads, no
// clock: the owner feeds it received bytes, takes its output, and decides when it is closed.
// One per connection; not thread-safe (the owner runs it on one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "rpc/framing.h"
#include "rpc/messages.h"
#include "rpc/methods.h"
#include "common/util/bytes.h"
#include "common/util/output_buffer.h"
#include "common/util/error.h"

namespace hs::client {

// The failure of one call: the daemon's RPCError (code "ECANCELED" etc.), or a local reason
// (connection lost, client closed) with an empty `rpc_code`.
struct CallError {
    std::string message;
    std::string rpc_code;  // RPCError.code when the daemon sent one
    bool from_daemon = false;
};

class ClientCore {
public:
    // Called with the response payload, or with why the call failed. Exactly once per call.
    using Reply = std::function<void(bool ok, rpc::Payload payload, CallError error)>;
    // A server-pushed event: its method and payload (not yet decoded).
    using EventFn = std::function<void(rpc::Method method, const rpc::Payload& payload)>;

    explicit ClientCore(rpc::FrameDecoderOptions options = {}) : m_decoder(options) {}

    // Queues a request that expects a reply (request id >= 1). If the core is closed, `reply`
    // runs at once with the close reason.
    template <typename Message>
    void call(rpc::Method method, const Message& message, Reply reply) {
        Bytes payload;
        payload.reserve(message.encoded_size());
        message.encode_to(payload);
        call_raw(method, payload, std::move(reply));
    }
    void call_raw(rpc::Method method, ByteView payload, Reply reply);

    // Queues a request without a reply (request id 0, the JS client's "NoReply" calls). Dropped
    // when closed.
    template <typename Message>
    void send(rpc::Method method, const Message& message) {
        Bytes payload;
        message.encode_to(payload);
        send_raw(method, payload);
    }
    void send_raw(rpc::Method method, ByteView payload);

    // Feeds bytes from the daemon. Replies and events run from inside this call, in arrival
    // order. A malformed stream closes the core (every pending call fails) and returns the error.
    Status receive(ByteView bytes);

    // Bytes waiting to be written, and how many of them were written.
    ByteView pending_output() const noexcept { return m_output.pending(); }
    void consume_output(std::size_t n);
    // Moves all pending output out at once (the writer writes it without a copy).
    Bytes take_output() { return m_output.take(); }

    // Closes (idempotent): every pending call fails with `reason`; later calls fail at once.
    void close(const std::string& reason);
    bool closed() const noexcept { return m_closed; }
    const std::string& close_reason() const noexcept { return m_close_reason; }
    std::size_t pending_calls() const noexcept { return m_pending.size(); }

    EventFn on_event;
    // Called whenever output is added (the owner's writer wakes up).
    std::function<void()> on_output;

private:
    void handle(rpc::Frame& frame);

    rpc::FrameDecoder m_decoder;
    std::vector<rpc::Frame> m_frames;
    OutputBuffer m_output;
    std::map<std::uint64_t, Reply> m_pending;
    std::uint64_t m_next_id = 1;
    bool m_closed = false;
    std::string m_close_reason;
};

}  // namespace hs::client
