// Frames of simple-message-channels 1.2 (docs/formats/wire.md "Frames"):
//   frame = varint(len) || varint(channel << 4 | type) || body,  len = size of the last two parts.
// len 0 is a keep-alive (the single byte 00). Sans-IO: the decoder takes plaintext bytes in
// arbitrary chunks; the transport cipher runs before it.
#pragma once

#include <cstdint>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::protocol {

// A body longer than this is an error (JS: "Incoming message is larger than max size").
inline constexpr std::size_t kMaxFrameBodyBytes = 8 * 1024 * 1024;
// A varint still unfinished after this many bytes is an error (JS: "Incoming varint is invalid").
inline constexpr std::size_t kMaxFrameVarintBytes = 8;
// The largest channel id whose header still fits kMaxFrameVarintBytes (56 bits).
inline constexpr std::uint64_t kMaxChannel = (std::uint64_t{1} << 52) - 1;
// What a keep-alive looks like before encryption.
inline constexpr std::uint8_t kKeepAliveByte = 0x00;

// One decoded frame. `body` is a view: see FrameDecoder::push for how long it stays valid.
struct Frame {
    std::uint64_t channel = 0;
    std::uint8_t type = 0;  // 0..15
    ByteView body;
};

// Appends varint(len) || varint(channel << 4 | type) || body.
// REQUIRES: channel <= kMaxChannel, type < 16.
void encode_frame(Bytes& out, std::uint64_t channel, std::uint8_t type, ByteView body);
// For encoders that append a body first: inserts the frame header in front of the bytes
// out[body_start, out.size()), moving them. Same REQUIRES as encode_frame.
void insert_frame_header(Bytes& out, std::size_t body_start, std::uint64_t channel,
                         std::uint8_t type);

// Incremental frame decoder. Not thread-safe; one per receiving direction.
// Invariant: at most one partial frame is buffered, and its buffered body never exceeds
// kMaxFrameBodyBytes.
class FrameDecoder {
public:
    // Decodes every frame completed by `in` and appends it to `out` (keep-alives are skipped);
    // buffers the bytes of an unfinished frame. Each body views either `in` or this decoder's
    // buffer and stays valid until the next push() or the decoder's destruction.
    // Errors: Errc::FrameTooLarge (body over kMaxFrameBodyBytes), Errc::Protocol (a varint over
    // kMaxFrameVarintBytes, or len shorter than its header). After an error the decoder is
    // failed: every later push returns the same error. `out` then holds the frames that came
    // before the bad one (JS delivers those too).
    [[nodiscard]] Status push(ByteView in, std::vector<Frame>& out);

    bool failed() const noexcept { return m_error.code != Errc::Ok; }
    // Bytes of the unfinished frame's body held in the buffer (for memory accounting).
    std::size_t buffered_bytes() const noexcept { return m_assembling.size(); }

private:
    enum class State : std::uint8_t { Length, Header, Body };

    Status fail(Error error);

    State m_state = State::Length;
    std::uint64_t m_varint = 0;       // value of the varint being read
    std::uint8_t m_varint_bytes = 0;  // bytes of it read so far
    std::uint64_t m_length = 0;       // len of the current frame
    std::uint64_t m_header = 0;
    std::size_t m_body_left = 0;  // body bytes still to come
    Bytes m_assembling;           // body of a frame that straddles push() calls
    Bytes m_completed;            // last assembled body, viewed by a Frame from the last push
    Error m_error;
};

}  // namespace hs::protocol
