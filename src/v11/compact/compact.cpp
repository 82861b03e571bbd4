#include "v11/compact/compact.h"

#include "v11/compact/utf8.h"

namespace hs::v11::compact {
namespace {

Error out_of_bounds(const DecodeState& s, std::string_view what, std::uint64_t need) {
    return make_error(Errc::Protocol,
                      "compact-encoding {}: needs {} bytes at offset {}, only {} left (out of "
                      "bounds)",
                      what, need, s.start, s.remaining());
}

Error unsafe_uint(std::string_view what, std::uint64_t n) {
    return make_error(Errc::Protocol,
                      "compact-encoding {}: {} exceeds 2^53 - 1, the largest value a JS peer "
                      "encodes or decodes",
                      what, n);
}

// A uint length, checked against the bytes left before anything is read or allocated.
Result<std::size_t> length_prefix(DecodeState& s, std::string_view what, std::size_t unit) {
    HS_ASSIGN_OR_RETURN(const std::uint64_t n, Uint::decode(s));
    if (n > s.remaining() / unit) return out_of_bounds(s, what, n * unit);
    return static_cast<std::size_t>(n);
}

}  // namespace

std::uint8_t* EncodeState::take(std::size_t n) {
    HS_ASSERT(start <= end && n <= end - start && (buffer != nullptr || n == 0));
    std::uint8_t* out = buffer + start;
    start += n;
    return out;
}

Result<ByteView> DecodeState::take(std::size_t n, std::string_view what) {
    if (start > end || n > end - start) return out_of_bounds(*this, what, n);
    const ByteView out(buffer + start, n);
    start += n;
    return out;
}

namespace detail {

void put_le(std::uint8_t* out, std::uint64_t v, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t* in, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{in[i]} << (8 * i);
    return v;
}

Error array_too_big(std::uint64_t count) {
    return make_error(Errc::Protocol,
                      "compact-encoding array: {} items is too many (at most {} are accepted)",
                      count, kMaxArrayItems);
}

}  // namespace detail

void Uint::encode(EncodeState& s, std::uint64_t n) {
    const std::size_t size = Uint::size(n);
    std::uint8_t* out = s.take(size);
    switch (size) {
        case 1: out[0] = static_cast<std::uint8_t>(n); return;
        case 3: out[0] = 0xfd; break;
        case 5: out[0] = 0xfe; break;
        default: out[0] = 0xff; break;
    }
    detail::put_le(out + 1, n, size - 1);
}

Result<std::uint64_t> Uint::decode(DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const ByteView first, s.take(1, "uint"));
    const std::uint8_t a = first[0];
    if (a <= 0xfc) return std::uint64_t{a};
    // Non-minimal forms (0xfd 0x01 0x00 for 1) are accepted, as the JS decoder accepts them.
    const std::size_t width = a == 0xfd ? 2 : a == 0xfe ? 4 : 8;
    HS_ASSIGN_OR_RETURN(const ByteView rest, s.take(width, "uint"));
    const std::uint64_t n = detail::get_le(rest.data(), width);
    if (n > kMaxSafeUint) return unsafe_uint("uint", n);
    return n;
}

template <std::size_t N>
void FixedUint<N>::encode(EncodeState& s, Value n) {
    if constexpr (N == 3) HS_ASSERT(n <= 0xffffff);
    detail::put_le(s.take(N), n, N);
}

template <std::size_t N>
Result<typename FixedUint<N>::Value> FixedUint<N>::decode(DecodeState& s) {
    constexpr std::string_view names[] = {"", "uint8", "uint16", "uint24", "uint32",
                                          "",  "",      "",       "uint64"};
    HS_ASSIGN_OR_RETURN(const ByteView bytes, s.take(N, names[N]));
    const std::uint64_t n = detail::get_le(bytes.data(), N);
    if constexpr (N == 8) {
        if (n > kMaxSafeUint) return unsafe_uint("uint64", n);
    }
    return static_cast<Value>(n);
}

template struct FixedUint<1>;
template struct FixedUint<2>;
template struct FixedUint<3>;
template struct FixedUint<4>;
template struct FixedUint<8>;

Result<bool> Bool::decode(DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const ByteView b, s.take(1, "bool"));
    return b[0] == 1;
}

void Buffer::encode(EncodeState& s, ByteView b) {
    Uint::encode(s, b.size());
    if (!b.empty()) std::memcpy(s.take(b.size()), b.data(), b.size());
}

Result<ByteView> Buffer::decode(DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const std::size_t n, length_prefix(s, "buffer", 1));
    return s.take(n, "buffer");
}

void OptionalBuffer::encode(EncodeState& s, const std::optional<ByteView>& b) {
    if (b) Buffer::encode(s, *b);
    else *s.take(1) = 0;
}

Result<std::optional<ByteView>> OptionalBuffer::decode(DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const std::size_t n, length_prefix(s, "optionalBuffer", 1));
    if (n == 0) return std::optional<ByteView>{};
    HS_ASSIGN_OR_RETURN(const ByteView b, s.take(n, "optionalBuffer"));
    return std::optional<ByteView>{b};
}

Result<std::string> String::decode(DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const std::size_t n, length_prefix(s, "string", 1));
    HS_ASSIGN_OR_RETURN(const ByteView b, s.take(n, "string"));
    if (is_valid_utf8(b)) return std::string(as_string(b));
    return utf8_with_replacement(b);
}

void Raw::encode(EncodeState& s, ByteView b) {
    if (!b.empty()) std::memcpy(s.take(b.size()), b.data(), b.size());
}

Result<ByteView> Raw::decode(DecodeState& s) { return s.take(s.remaining(), "raw"); }

void Uint32Array::encode(EncodeState& s, std::span<const std::uint32_t> v) {
    Uint::encode(s, v.size());
    std::uint8_t* out = s.take(4 * v.size());
    for (std::size_t i = 0; i < v.size(); ++i) detail::put_le(out + 4 * i, v[i], 4);
}

Result<std::vector<std::uint32_t>> Uint32Array::decode(DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const std::size_t n, length_prefix(s, "uint32array", 4));
    HS_ASSIGN_OR_RETURN(const ByteView bytes, s.take(4 * n, "uint32array"));
    std::vector<std::uint32_t> out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::uint32_t>(detail::get_le(bytes.data() + 4 * i, 4));
    return out;
}

}  // namespace hs::v11::compact
