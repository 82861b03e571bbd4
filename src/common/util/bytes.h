// Byte buffers, views and fixed-width big-endian helpers.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace hs {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;
template <std::size_t N>
using ByteArray = std::array<std::uint8_t, N>;

inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string(ByteView b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(ByteView b) { return Bytes(b.begin(), b.end()); }
inline Bytes to_bytes(std::string_view s) { return to_bytes(as_bytes(s)); }

inline void put_u64be(std::uint8_t* out, std::uint64_t v) noexcept {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
}
inline std::uint64_t get_u64be(const std::uint8_t* in) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
    return v;
}
inline void put_u16be(std::uint8_t* out, std::uint16_t v) noexcept {
    out[0] = static_cast<std::uint8_t>(v >> 8);
    out[1] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get_u16be(const std::uint8_t* in) noexcept {
    return static_cast<std::uint16_t>((in[0] << 8) | in[1]);
}
inline void append_bytes(Bytes& out, ByteView in) { out.insert(out.end(), in.begin(), in.end()); }
inline bool all_zero(ByteView b) noexcept {
    for (auto c : b)
        if (c) return false;
    return true;
}

}  // namespace hs
