// The proto2 wire primitives shared by every protobuf codec of the project (docs/formats/protobuf.md):
// the Hyperspace RPC, hypercore-protocol 8 messages and dht-rpc 4 datagrams. wire/schema.h builds
// whole-message codecs on top of these. They reproduce the npm `protocol-buffers` encoder byte for
// byte (libprotobuf cannot: it writes int32 as 10-byte varints).
//
// Writer functions append to a Bytes buffer and never fail. Reader is a bounds-checked cursor over
// untrusted bytes: every length is checked against the remaining input before anything is read
// or allocated, and errors are values (Errc::Protocol, Errc::TooLarge past a caller's limit),
// never exceptions or asserts. Reader errors name what is malformed, not where: callers prefix
// the message and field.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/util/varint.h"

namespace hs::wire {

enum class WireType : std::uint8_t {
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,  // groups are rejected, as in the JS decoder
    EndGroup = 4,
    Fixed32 = 5,
};

struct Tag {
    std::uint64_t field = 0;  // may exceed the proto range; such fields are simply unknown
    WireType wire = WireType::Varint;
};

// --- writing -------------------------------------------------------------------------------

inline std::size_t tag_size(std::uint32_t field) noexcept {
    return varint::encoding_length(std::uint64_t{field} << 3);
}
inline void put_tag(Bytes& out, std::uint32_t field, WireType wire) {
    varint::encode(out, (std::uint64_t{field} << 3) | static_cast<std::uint8_t>(wire));
}
// A bool is always exactly one byte: the JS decoder reads one byte, whatever follows.
inline void put_bool(Bytes& out, bool v) { out.push_back(v ? 1 : 0); }
// int32 the way protocol-buffers-encodings writes it: negative values as their 32-bit two's
// complement (5 bytes, -11 -> f5 ff ff ff 0f), not libprotobuf's 10-byte sign extension.
inline std::uint64_t int32_wire_value(std::int32_t v) noexcept {
    return static_cast<std::uint32_t>(v);
}
inline void put_int32(Bytes& out, std::int32_t v) { varint::encode(out, int32_wire_value(v)); }
inline void put_length_delimited(Bytes& out, ByteView data) {
    varint::encode(out, data.size());
    append_bytes(out, data);
}
inline std::size_t length_delimited_size(std::size_t n) noexcept {
    return varint::encoding_length(n) + n;
}

// --- reading -------------------------------------------------------------------------------

// Cursor over one message body. Reads consume from the front; after a failed read the cursor
// position is unspecified and the caller must stop (every failure is fatal to the message).
class Reader {
public:
    explicit Reader(ByteView in) noexcept : m_in(in) {}

    bool done() const noexcept { return m_in.empty(); }
    std::size_t remaining() const noexcept { return m_in.size(); }

    [[nodiscard]] Result<Tag> read_tag();
    [[nodiscard]] Result<std::uint64_t> read_varint();
    // Any non-zero varint is true (libprotobuf's rule; the JS decoder reads one byte and tests
    // > 0, and both agree on every canonical encoding).
    [[nodiscard]] Result<bool> read_bool();
    // Exactly one byte, non-zero = true, whatever follows (protocol-buffers-encodings' rule).
    [[nodiscard]] Result<bool> read_bool_byte();
    // Inverse of put_int32. A 10-byte (libprotobuf) negative value keeps its low 32 bits.
    [[nodiscard]] Result<std::int32_t> read_int32();
    // A view into the input; valid as long as the input is. A length past the end is
    // Errc::Protocol; one within the input but over `max` is Errc::TooLarge.
    [[nodiscard]] Result<ByteView> read_length_delimited(
        std::size_t max = std::numeric_limits<std::size_t>::max());
    // UTF-8 text, with ill-formed sequences replaced the way Node's Buffer#toString does.
    [[nodiscard]] Result<std::string> read_string();
    // Skips one field value of `wire` type (unknown fields); a length-delimited value over
    // `max` fails as in read_length_delimited. Groups and wire types 6/7 fail.
    [[nodiscard]] Status skip(WireType wire,
                              std::size_t max = std::numeric_limits<std::size_t>::max());

private:
    [[nodiscard]] Status take(std::size_t n, const char* what);
    ByteView m_in;
};

// Returns `text` with every ill-formed UTF-8 subsequence replaced by U+FFFD using the WHATWG
// "maximal subpart" rule (what V8, and so the JS decoder, does). Valid input is returned as is.
std::string utf8_replace_invalid(std::string_view text);

}  // namespace hs::wire
