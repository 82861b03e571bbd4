// Unsigned LEB128 (protobuf varint) encoding with bounded decoding.
#pragma once

#include <cstdint>
#include <optional>

#include "common/util/bytes.h"

namespace hs::varint {

inline constexpr std::size_t kMaxBytes = 10;

inline void encode(Bytes& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

inline std::size_t encoding_length(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

// Decodes from the front of `in` and advances it. nullopt if `in` ends first or the varint
// is longer than 10 bytes / overflows 64 bits (the caller cannot tell which: both are malformed
// once the whole input is present).
inline std::optional<std::uint64_t> decode(ByteView& in) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < in.size() && i < kMaxBytes; ++i) {
        std::uint64_t b = in[i];
        if (i == 9 && b > 1) return std::nullopt;
        v |= (b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            in = in.subspan(i + 1);
            return v;
        }
    }
    return std::nullopt;
}

}  // namespace hs::varint
