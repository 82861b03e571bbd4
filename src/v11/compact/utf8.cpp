#include "v11/compact/utf8.h"

#include <cstdint>

namespace hs::v11::compact {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// One step of the WHATWG UTF-8 decoder over bytes[i..]: the length of the well-formed sequence
// that starts there, or 0 with `bad` set to how many bytes form the ill-formed part to replace
// (the lead byte plus the continuation bytes that were still acceptable).
std::size_t sequence_at(ByteView bytes, std::size_t i, std::size_t& bad) noexcept {
    const std::uint8_t lead = bytes[i];
    if (lead <= 0x7f) return 1;
    std::size_t needed = 0;
    std::uint8_t lower = 0x80;
    std::uint8_t upper = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        needed = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        needed = 2;
        if (lead == 0xe0) lower = 0xa0;  // no overlongs
        if (lead == 0xed) upper = 0x9f;  // no surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        needed = 3;
        if (lead == 0xf0) lower = 0x90;  // no overlongs
        if (lead == 0xf4) upper = 0x8f;  // nothing above U+10FFFF
    } else {
        bad = 1;
        return 0;
    }
    for (std::size_t k = 1; k <= needed; ++k) {
        if (i + k >= bytes.size() || bytes[i + k] < lower || bytes[i + k] > upper) {
            bad = k;  // the lead and the k - 1 continuation bytes seen so far
            return 0;
        }
        lower = 0x80;
        upper = 0xbf;
    }
    return needed + 1;
}

}  // namespace

bool is_valid_utf8(ByteView bytes) noexcept {
    std::size_t i = 0;
    while (i < bytes.size()) {
        std::size_t bad = 0;
        const std::size_t n = sequence_at(bytes, i, bad);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string utf8_with_replacement(ByteView bytes) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t i = 0;
    while (i < bytes.size()) {
        std::size_t bad = 0;
        const std::size_t n = sequence_at(bytes, i, bad);
        if (n == 0) {
            out += kReplacement;
            i += bad;
        } else {
            out.append(reinterpret_cast<const char*>(bytes.data() + i), n);
            i += n;
        }
    }
    return out;
}

}  // namespace hs::v11::compact
