// Fuzz target: the RLE bitfield decoder (Have messages). Decoding must never crash or allocate
// past its limit; whatever decodes must re-encode to something that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v9/hypercore/bitfield_rle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t kMax = 1 << 20;
    auto decoded = hs::hypercore::rle_decode(hs::ByteView(data, size), kMax);
    if (!decoded) return 0;
    if (decoded->size() > kMax) std::abort();
    const auto again = hs::hypercore::rle_encode(*decoded);
    auto round = hs::hypercore::rle_decode(again, kMax);
    if (!round) std::abort();
    // Both decodings agree on every byte they share; the tails are zero padding.
    const auto& a = *decoded;
    const auto& b = *round;
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        const std::uint8_t x = i < a.size() ? a[i] : 0;
        const std::uint8_t y = i < b.size() ? b[i] : 0;
        if (x != y) std::abort();
    }
    return 0;
}
