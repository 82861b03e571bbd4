// compact-encoding 3 (docs/formats/compact-encoding.md): the primitive encodings of every second
// generation wire message, as state codecs. Sans-IO, no allocation beyond the values returned.
//
// Each codec is a struct with three static functions, mirroring the JS package:
//   preencode(EncodeState&, value)  adds the value's encoded size to state.end;
//   encode(EncodeState&, value)     writes it at state.start (REQUIRES: a matching preencode
//                                   sized the buffer; overrunning it is a bug and asserts);
//   decode(DecodeState&)            reads one value from state.start, never past state.end.
// Decoders accept what the JS decoders accept (non-minimal uint forms, any bool byte, invalid
// UTF-8 replaced by U+FFFD) and reject what they reject (values above 2^53 - 1, arrays of more
// than 2^20 items, anything past `end`) with Errc::Protocol. Encoders write exactly the bytes the
// JS encoders write. Decoded buffers are views into the decoded bytes: they live as long as those.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::v11::compact {

// JS Number.MAX_SAFE_INTEGER: the JS decoders reject any uint above it (uint, uint64).
inline constexpr std::uint64_t kMaxSafeUint = (std::uint64_t{1} << 53) - 1;
// The JS array decoder rejects a count above this before reading any item.
inline constexpr std::uint64_t kMaxArrayItems = 0x100000;

// The encoding half of JS's {start, end, buffer}: preencode grows `end` from 0; the caller then
// points `buffer` at `end` bytes and encode fills them from `start`.
struct EncodeState {
    std::size_t start = 0;
    std::size_t end = 0;
    std::uint8_t* buffer = nullptr;

    // The next n bytes to write; advances start. Asserts that preencode made room for them.
    std::uint8_t* take(std::size_t n);
};

// The decoding half: reads buffer[start, end). `buffer` must outlive the state and every view a
// decoder returned.
struct DecodeState {
    std::size_t start = 0;
    std::size_t end = 0;
    const std::uint8_t* buffer = nullptr;

    DecodeState() = default;
    explicit DecodeState(ByteView bytes) noexcept : end(bytes.size()), buffer(bytes.data()) {}

    std::size_t remaining() const noexcept { return end - start; }
    // Errc::Protocol unless n bytes remain; on success returns them and advances start.
    Result<ByteView> take(std::size_t n, std::string_view what);
};

// uint: one byte up to 0xfc, else 0xfd + u16, 0xfe + u32, 0xff + u64 (LE); the encoder picks the
// shortest. Values above kMaxSafeUint encode in the 9-byte form (JS cannot produce them) and no
// decoder, ours or JS, accepts them: protocol code must not send them.
struct Uint {
    using Value = std::uint64_t;
    static constexpr std::size_t size(std::uint64_t n) noexcept {
        return n <= 0xfc ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
    }
    static void preencode(EncodeState& s, std::uint64_t n) { s.end += size(n); }
    static void encode(EncodeState& s, std::uint64_t n);
    static Result<std::uint64_t> decode(DecodeState& s);
};

namespace detail {
template <std::size_t N>
struct UintValue;
template <> struct UintValue<1> { using type = std::uint8_t; };
template <> struct UintValue<2> { using type = std::uint16_t; };
template <> struct UintValue<3> { using type = std::uint32_t; };
template <> struct UintValue<4> { using type = std::uint32_t; };
template <> struct UintValue<8> { using type = std::uint64_t; };
void put_le(std::uint8_t* out, std::uint64_t v, std::size_t n) noexcept;
std::uint64_t get_le(const std::uint8_t* in, std::size_t n) noexcept;
}  // namespace detail

// uint8/16/24/32/64: fixed-width little-endian. uint64 decoding rejects values above
// kMaxSafeUint as JS does. REQUIRES (encode): the value fits the width (uint24 < 2^24).
template <std::size_t N>
struct FixedUint {
    using Value = typename detail::UintValue<N>::type;
    static void preencode(EncodeState& s, Value) { s.end += N; }
    static void encode(EncodeState& s, Value n);
    static Result<Value> decode(DecodeState& s);
};
using Uint8 = FixedUint<1>;
using Uint16 = FixedUint<2>;
using Uint24 = FixedUint<3>;
using Uint32 = FixedUint<4>;
using Uint64 = FixedUint<8>;

// bool: one byte, 1 or 0; decoding reads any byte other than 1 as false (as JS does).
struct Bool {
    using Value = bool;
    static void preencode(EncodeState& s, bool) { s.end += 1; }
    static void encode(EncodeState& s, bool b) { *s.take(1) = b ? 1 : 0; }
    static Result<bool> decode(DecodeState& s);
};

// buffer: uint length + bytes. An empty buffer is length 0 (it decodes as an empty view).
struct Buffer {
    using Value = ByteView;
    static void preencode(EncodeState& s, ByteView b) {
        s.end += Uint::size(b.size()) + b.size();
    }
    static void encode(EncodeState& s, ByteView b);
    static Result<ByteView> decode(DecodeState& s);
};

// optionalBuffer: as buffer, but length 0 decodes as "absent"; absent and empty both encode as 0.
struct OptionalBuffer {
    using Value = std::optional<ByteView>;
    static void preencode(EncodeState& s, const std::optional<ByteView>& b) {
        s.end += b ? Uint::size(b->size()) + b->size() : 1;
    }
    static void encode(EncodeState& s, const std::optional<ByteView>& b);
    static Result<std::optional<ByteView>> decode(DecodeState& s);
};

// string (utf8): uint byte length + UTF-8 bytes. Encoding writes the given bytes as they are
// (REQUIRES: valid UTF-8, the only strings JS can produce); decoding replaces each invalid
// sequence by U+FFFD the way JS's UTF-8 decoder does.
struct String {
    using Value = std::string;
    static void preencode(EncodeState& s, std::string_view v) {
        s.end += Uint::size(v.size()) + v.size();
    }
    static void encode(EncodeState& s, std::string_view v) { Buffer::encode(s, as_bytes(v)); }
    static Result<std::string> decode(DecodeState& s);
};

// fixed32, fixed64 (fixed(n)): n raw bytes, no length.
template <std::size_t N>
struct Fixed {
    using Value = ByteArray<N>;
    static void preencode(EncodeState& s, const ByteArray<N>&) { s.end += N; }
    static void encode(EncodeState& s, const ByteArray<N>& b) {
        std::memcpy(s.take(N), b.data(), N);
    }
    static Result<ByteArray<N>> decode(DecodeState& s) {
        constexpr std::string_view name = N == 32 ? "fixed32" : N == 64 ? "fixed64" : "fixed";
        HS_ASSIGN_OR_RETURN(const ByteView bytes, s.take(N, name));
        ByteArray<N> out;
        std::memcpy(out.data(), bytes.data(), N);
        return out;
    }
};
using Fixed32 = Fixed<32>;
using Fixed64 = Fixed<64>;

// raw: the bytes as they are, no length; decoding takes everything up to `end`.
struct Raw {
    using Value = ByteView;
    static void preencode(EncodeState& s, ByteView b) { s.end += b.size(); }
    static void encode(EncodeState& s, ByteView b);
    static Result<ByteView> decode(DecodeState& s);
};

// uint32array: uint count + count u32 LE words.
struct Uint32Array {
    using Value = std::vector<std::uint32_t>;
    static void preencode(EncodeState& s, std::span<const std::uint32_t> v) {
        s.end += Uint::size(v.size()) + 4 * v.size();
    }
    static void encode(EncodeState& s, std::span<const std::uint32_t> v);
    static Result<std::vector<std::uint32_t>> decode(DecodeState& s);
};

namespace detail {
Error array_too_big(std::uint64_t count);
}

// array(enc): uint count + each item. Decoding rejects a count above kMaxArrayItems before
// reading, and reserves no more than the bytes left could hold.
template <typename Item>
struct Array {
    using Value = std::vector<typename Item::Value>;
    template <typename Range>
    static void preencode(EncodeState& s, const Range& items) {
        Uint::preencode(s, std::size(items));
        for (const auto& item : items) Item::preencode(s, item);
    }
    template <typename Range>
    static void encode(EncodeState& s, const Range& items) {
        Uint::encode(s, std::size(items));
        for (const auto& item : items) Item::encode(s, item);
    }
    static Result<Value> decode(DecodeState& s) {
        HS_ASSIGN_OR_RETURN(const std::uint64_t count, Uint::decode(s));
        if (count > kMaxArrayItems) return detail::array_too_big(count);
        Value out;
        out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, s.remaining())));
        for (std::uint64_t i = 0; i < count; ++i) {
            auto item = Item::decode(s);
            if (!item) return std::move(item).error();
            out.push_back(std::move(item).value());
        }
        return out;
    }
};

// The whole encoding of one value (preencode, allocate, encode).
template <typename Codec, typename V>
Bytes encode(const V& value) {
    EncodeState s;
    Codec::preencode(s, value);
    Bytes out(s.end);
    s.buffer = out.data();
    Codec::encode(s, value);
    HS_ASSERT(s.start == s.end);
    return out;
}

// Decodes one value from the front of `bytes`; like JS's c.decode, trailing bytes are ignored.
template <typename Codec>
Result<typename Codec::Value> decode(ByteView bytes) {
    DecodeState s(bytes);
    return Codec::decode(s);
}

}  // namespace hs::v11::compact
