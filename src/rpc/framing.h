// arpeecee 2.2 framing of the Hyperspace RPC stream (docs/formats/rpc.md "Framing"):
//   frame = varint(len) ‖ varint(service << 2 | type) ‖ varint(method) ‖ varint(id) ‖ payload
// where len counts everything after itself; len 0 is a keep-alive. Sans-IO: no sockets, no
// timers. Not thread-safe; one decoder per connection.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::rpc {

enum class FrameType : std::uint8_t {
    Request = 0,
    Response = 1,
    Error = 2,     // payload is an RPCError
    Reserved = 3,  // never sent; arpeecee ignores it for a known method (the dispatcher decides)
};

// The largest payload the server accepts in one frame. arpeecee's own default is 8 MiB and
// @hyperspace/rpc raises it to 2 GiB; 64 MiB bounds per-connection memory while leaving room
// for batched appends of several blocks of up to 8 MiB each. A client sending more is
// disconnected (Errc::FrameTooLarge), so batches above 64 MiB must be split by the caller.
inline constexpr std::uint64_t kDefaultMaxPayloadBytes = 64ull * 1024 * 1024;
// A frame-header varint still unfinished after this many bytes is invalid (arpeecee: 56 bits).
inline constexpr std::size_t kMaxFrameVarintBytes = 8;

struct FrameHeader {
    FrameType type = FrameType::Request;
    std::uint64_t service = 0;
    std::uint64_t method = 0;
    std::uint64_t id = 0;  // 0 = the sender expects no reply; >= 1 = request id to echo
    bool operator==(const FrameHeader&) const = default;
};

// A frame's payload: owned bytes, a contiguous range (it converts to ByteView). Unlike Bytes it
// grows with realloc(), which glibc does for large blocks by moving their pages (mremap) rather
// than copying them into fresh ones: a payload gathered piece by piece in growing buffers then
// costs the same page faults and copies as one reserved at its final size.
class Payload {
public:
    using value_type = std::uint8_t;
    using const_iterator = const std::uint8_t*;
    using iterator = const_iterator;

    Payload() noexcept = default;
    // An exact-size copy of `bytes`.
    explicit Payload(ByteView bytes);
    Payload(const Payload& other) : Payload(ByteView(other)) {}
    Payload(Payload&& other) noexcept
        : m_data(std::exchange(other.m_data, nullptr)),
          m_size(std::exchange(other.m_size, 0)),
          m_capacity(std::exchange(other.m_capacity, 0)) {}
    Payload& operator=(Payload other) noexcept {
        std::swap(m_data, other.m_data);
        std::swap(m_size, other.m_size);
        std::swap(m_capacity, other.m_capacity);
        return *this;
    }
    ~Payload() { std::free(m_data); }

    const std::uint8_t* data() const noexcept { return m_data; }
    std::size_t size() const noexcept { return m_size; }
    std::size_t capacity() const noexcept { return m_capacity; }
    bool empty() const noexcept { return m_size == 0; }
    const std::uint8_t* begin() const noexcept { return m_data; }
    const std::uint8_t* end() const noexcept { return m_data + m_size; }
    std::uint8_t operator[](std::size_t i) const noexcept { return m_data[i]; }
    Bytes to_bytes() const { return Bytes(begin(), end()); }

    // Makes capacity() exactly max(capacity, size()), keeping the bytes. Throws std::bad_alloc.
    void set_capacity(std::size_t capacity);
    // REQUIRES: size() + bytes.size() <= capacity().
    void append(ByteView bytes) noexcept;
    // The bytes past size(), up to capacity(), to be written and then counted with grow().
    MutableByteView free_space() noexcept { return {m_data + m_size, m_capacity - m_size}; }
    // REQUIRES: size() + n <= capacity(), the n bytes after size() written.
    void grow(std::size_t n) noexcept { m_size += n; }
    // size() becomes 0; the buffer stays.
    void clear() noexcept { m_size = 0; }

    friend bool operator==(const Payload& a, const Payload& b) noexcept {
        return equal(a, ByteView(b));
    }
    friend bool operator==(const Payload& a, ByteView b) noexcept { return equal(a, b); }

private:
    static bool equal(const Payload& a, ByteView b) noexcept;

    std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0;
};

struct Frame {
    FrameHeader header;
    Payload payload;
    bool operator==(const Frame&) const = default;
};

// Appends the frame prefix (len, header, method, id) for a payload of `payload_bytes`; the caller
// appends exactly that many payload bytes next.
// REQUIRES: header.service < 2^61 (it is shifted left by two).
void encode_frame_prefix(Bytes& out, const FrameHeader& header, std::size_t payload_bytes);
// Appends one complete frame.
void encode_frame(Bytes& out, const FrameHeader& header, ByteView payload);
// Appends one frame whose payload is `message` (any struct of rpc/messages.h), encoded in place.
template <typename Message>
requires requires(const Message& m, Bytes& b) {
    m.encode_to(b);
    m.encoded_size();
}
void encode_frame(Bytes& out, const FrameHeader& header, const Message& message) {
    const std::size_t n = message.encoded_size();
    encode_frame_prefix(out, header, n);
    message.encode_to(out);
}
// The header of the complete frame that starts `frame` (as encode_frame wrote it), or nothing if
// the bytes do not start with a well-formed frame prefix. Reads only the prefix.
std::optional<FrameHeader> peek_frame_header(ByteView frame);
// Appends a keep-alive (a frame of length 0), which receivers skip.
inline void encode_keep_alive(Bytes& out) { out.push_back(0); }

// Split payloads declared at least this large may take a pooled buffer (PayloadPool).
inline constexpr std::size_t kPooledPayloadBytes = 256 * 1024;

// One spare buffer for large payloads, shared by the decoders of one thread (the RPC server's
// sessions): a split payload of at least kPooledPayloadBytes takes the spare when it holds the
// whole declared length, so a stream of large frames (batched appends) reuses one buffer instead
// of faulting in fresh pages for each. Finished payloads come back through give(); the pool keeps
// the largest one of at most max_bytes. Its owner empties it (clear()) to give the memory back.
class PayloadPool {
public:
    explicit PayloadPool(std::size_t max_bytes) : m_max_bytes(max_bytes) {}
    // The spare (emptied) when its capacity is at least `declared` and `declared` is at least
    // kPooledPayloadBytes; otherwise an empty Payload with no buffer.
    Payload take(std::size_t declared);
    // Keeps `payload`'s buffer as the spare when it is of pooled size, at most max_bytes and
    // larger than the spare; true when kept. `payload` is left empty either way.
    bool give(Payload&& payload);
    void clear() noexcept { m_spare = {}; }
    std::size_t capacity() const noexcept { return m_spare.capacity(); }

private:
    std::size_t m_max_bytes;
    Payload m_spare;
};

struct FrameDecoderOptions {
    std::uint64_t max_payload_bytes = kDefaultMaxPayloadBytes;
    // When set: large split payloads start in its spare buffer (it must outlive the decoder).
    // Such a buffer is not shrunk, and the bounds below then apply to what the decoder allocates.
    PayloadPool* pool = nullptr;
};

// The first piece of a split payload reserves at most this much (unless the piece itself is
// larger): the buffer then grows with the bytes that arrive.
inline constexpr std::size_t kInitialPayloadReserve = 64 * 1024;

// Incremental decoder over arbitrarily split input. Buffers at most one partial frame. Once a
// frame's header is complete, its declared payload length is checked against max_payload_bytes
// (a larger one fails the decoder before anything is allocated). A payload that arrives whole
// in one receive() is copied out once at its exact size. One that arrives in pieces is gathered
// in a buffer sized by the bytes that actually arrived, not by the declared length (a client
// that declares a large frame and then stalls costs what it sent). The buffer's sizes are the
// rungs declared, declared/2, declared/4, ... (rounded up): it starts at the smallest rung that
// holds the first piece and is at least 32 KiB (so 32-64 KiB for a small piece), and moves up to
// the smallest rung that holds what has arrived whenever it is full. So it holds less than
// twice the bytes received (or 64 KiB), its last size is exactly the payload's, and the
// reallocations on the way copy less than the payload once in total even where realloc() has to
// copy (Payload: for large buffers it moves pages instead, so a payload gathered this way costs
// the page faults of one exact-size buffer). The finished buffer goes out in Frame::payload; the
// decoder keeps nothing between frames.
class FrameDecoder {
public:
    explicit FrameDecoder(FrameDecoderOptions options = {}) : m_options(options) {}

    // Consumes all of `in` and appends every frame it completes to `out`, in order. On malformed
    // input (Errc::Protocol: bad varint, frame shorter than its header; Errc::FrameTooLarge)
    // the frames completed before the bad byte are still appended, the decoder becomes failed,
    // and this and every later call return the same error. The connection must then be closed.
    [[nodiscard]] Status receive(ByteView in, std::vector<Frame>& out);

    // Direct receive, for a reader that would otherwise copy a large payload out of its read
    // buffer: while a frame's payload is due (its header decoded, some payload bytes still to
    // come), the free space at the end of the payload buffer where up to `max` of the frame's next
    // bytes can be read straight from the socket; empty between frames and once failed. The
    // buffer grows to the rung that holds them. payload_received(n) must follow (before any other
    // call) with how many bytes were read there, also 0: it completes the frame when they end it
    // (appended to `out`), and otherwise shrinks the buffer back to the rung that holds what has
    // arrived, so between calls the buffer is bounded exactly as with receive() (the larger
    // capacity in between is address space the read may not touch).
    MutableByteView payload_space(std::size_t max);
    void payload_received(std::size_t n, std::vector<Frame>& out);

    // Payload bytes of the current frame still to come (0 unless its header is decoded).
    std::uint64_t payload_remaining() const noexcept {
        return m_state == State::Payload ? m_remaining : 0;
    }
    bool failed() const noexcept { return m_state == State::Failed; }
    // True between frames: no partial frame is buffered (a clean place for the stream to end).
    bool idle() const noexcept { return m_state == State::Length && m_varint_bytes == 0; }
    // Bytes allocated for the partial payload being reassembled (0 between frames, before a
    // split payload's first piece and once failed). For tests and diagnostics.
    std::size_t payload_capacity() const noexcept { return m_payload.capacity(); }

private:
    enum class State : std::uint8_t { Length, Header, Method, Id, Payload, Failed };

    // Handles a finished varint of the current state; may fail the decoder.
    void finish_varint(std::uint64_t value, std::size_t bytes, std::vector<Frame>& out);
    // Makes room for `need` bytes of a split payload of `declared` bytes: the pool's spare for a
    // payload not started yet, else the rung that holds them.
    void reserve(std::size_t need, std::size_t declared);
    // Hands the finished payload out as a frame; the decoder is between frames again.
    void complete(std::vector<Frame>& out);
    void fail(Errc code, const char* what);

    FrameDecoderOptions m_options;
    State m_state = State::Length;
    std::uint64_t m_varint = 0;      // partial varint of the current state
    std::size_t m_varint_bytes = 0;  // bytes of it seen so far
    std::uint64_t m_remaining = 0;   // bytes of the current frame after `len` not yet consumed
    FrameHeader m_header;
    Payload m_payload;
    bool m_pooled = false;  // m_payload's buffer came from the pool
    Error m_error;
};

}  // namespace hs::rpc
