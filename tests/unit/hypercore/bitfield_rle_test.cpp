// bitfield-rle compatibility: encoder output byte-identical to JS, decoder accepting what JS
// accepts (align(4) padding) and failing with Errc::Corrupt on malformed or oversized input.
#include "v9/hypercore/bitfield_rle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "common/util/hex.h"
#include "common/util/varint.h"

namespace hs::hypercore {
namespace {

// Vectors from `node tests/unit/hypercore/js/bitfield_fixture.js --rle` (bitfield-rle 2.2.1).
// Inputs are specs: tokens `xx` or `xx*n`, or `rand:n` (the generator in biased()). Expected
// outputs longer than 200 hex digits are '#' length ':' FNV-1a 32.
struct Vector {
    const char* input;
    const char* expected;
};

// clang-format off
const Vector kEncodeVectors[] = {
    {"ff ff ff e0 00 00 00 00", "0f02e0"},
    {"", ""},
    {"00*10", ""},
    {"ff", "07"},
    {"ff ff", "0b"},
    {"ff*63", "ff01"},
    {"ff*64", "8302"},
    {"ff*5000", "a39c01"},
    {"00*10 ff", "2907"},
    {"01 02 03", "06010203"},
    {"ff 01 ff 01 ff 01 ff", "070c01ff01ff01ff"},
    {"00 ff 00 ff 00 ff 00 00 ff ff", "050705070507090b"},
    {"e0 ff*3 07 00*200 01", "02e00f0207a1060201"},
    {"ff*1024 00*1024 ff*7 fe", "832081201f02fe"},
    {"80*3 00*300", "06808080"},
    {"00 00 01 00 00 ff ff 02", "090201090b0202"},
    {"rand:90", "108080808080808080cb02"},
    {"rand:300", "#242:3933697760"},
    {"rand:700", "#430:2552254884"},
    {"rand:4000", "#1615:2240615692"},
    {"rand:20000", "#6688:2438141542"},
};

// Input hex, JS `rle.align(4).decode` output.
const Vector kDecodeVectors[] = {
    {"", ""},
    {"00", ""},
    {"01", ""},
    {"03", ""},
    {"0f", "ffffff00"},
    {"02e0", "e0000000"},
    {"0f02e0", "ffffffe0"},
    {"0400ff", "00ff0000"},
    {"0f0f", "ffffffffffff0000"},
    {"05", "00000000"},
    {"07", "ff000000"},
    {"0401020f", "0102ffffff000000"},
    {"fd6f0204", "#3584:2178248569"},
    {"8101", "0000000000000000000000000000000000000000000000000000000000000000"},
    {"8301", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
    {"02ff02ff", "ffff0000"},
    {"0cffffffffffff", "ffffffffffff0000"},
    {"0b", "ffff0000"},
    {"00000f00", "ffffff00"},
};
// clang-format on

std::uint32_t fnv1a(ByteView bytes) {
    std::uint32_t h = 2166136261u;
    for (const auto b : bytes) h = (h ^ b) * 16777619u;
    return h;
}

// Mirrors biased() in bitfield_fixture.js: runs of 00 / ff / random / 80 bytes.
Bytes biased(std::size_t n) {
    auto x = static_cast<std::uint32_t>(n);
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    };
    Bytes out;
    while (out.size() < n) {
        const std::uint32_t k = next() % 4;
        const std::uint32_t len = 1 + next() % (k == 3 ? 6 : 300);
        for (std::uint32_t i = 0; i < len; ++i) {
            out.push_back(k == 0   ? 0
                          : k == 1 ? 255
                          : k == 2 ? static_cast<std::uint8_t>(next() & 255)
                                   : 0x80);
        }
    }
    out.resize(n);
    return out;
}

Bytes parse_spec(std::string_view spec) {
    if (spec.starts_with("rand:")) return biased(std::stoul(std::string(spec.substr(5))));
    Bytes out;
    while (!spec.empty()) {
        const auto space = spec.find(' ');
        const std::string token(spec.substr(0, space));
        spec = space == std::string_view::npos ? std::string_view{} : spec.substr(space + 1);
        const auto star = token.find('*');
        const auto byte = static_cast<std::uint8_t>(std::stoul(token.substr(0, star), nullptr, 16));
        const std::size_t count =
            star == std::string::npos ? 1 : std::stoul(token.substr(star + 1));
        out.insert(out.end(), count, byte);
    }
    return out;
}

std::string show(ByteView bytes) {
    const std::string hex = to_hex(bytes);
    if (hex.size() <= 200) return hex;
    return "#" + std::to_string(bytes.size()) + ":" + std::to_string(fnv1a(bytes));
}

Bytes hex(std::string_view text) {
    auto bytes = from_hex(text);
    EXPECT_TRUE(bytes.has_value()) << text;
    return bytes.value_or(Bytes{});
}

TEST(BitfieldRle, KnownAnswer) {
    EXPECT_EQ(to_hex(rle_encode(hex("ffffffe0000000000000"))), "0f02e0");
}

TEST(BitfieldRle, EncoderMatchesJs) {
    for (const auto& v : kEncodeVectors) {
        SCOPED_TRACE(v.input);
        EXPECT_EQ(show(rle_encode(parse_spec(v.input))), v.expected);
    }
}

TEST(BitfieldRle, DecoderMatchesJs) {
    for (const auto& v : kDecodeVectors) {
        SCOPED_TRACE(v.input);
        auto decoded = rle_decode(hex(v.input), 1 << 20);
        ASSERT_TRUE(decoded.ok()) << decoded.error().message;
        EXPECT_EQ(show(*decoded), v.expected);
    }
}

TEST(BitfieldRle, RoundTripPadsToFourBytes) {
    std::mt19937 rng(20240611);
    for (int round = 0; round < 300; ++round) {
        Bytes input = biased(1 + rng() % 3000);
        if (round % 3 == 0) input.resize(input.size() + rng() % 9, 0);  // trailing zeros
        if (round % 5 == 0) input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
        const Bytes encoded = rle_encode(input);
        auto decoded = rle_decode(encoded, 1 << 20);
        ASSERT_TRUE(decoded.ok()) << decoded.error().message;
        std::size_t trimmed = input.size();
        while (trimmed && !input[trimmed - 1]) --trimmed;
        ASSERT_EQ(decoded->size(), (trimmed + 3) / 4 * 4);
        EXPECT_TRUE(std::equal(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(trimmed),
                               decoded->begin()));
        EXPECT_TRUE(all_zero(ByteView(*decoded).subspan(trimmed)));
    }
}

TEST(BitfieldRle, TrailingZerosDoNotChangeTheEncoding) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        Bytes input = biased(1 + rng() % 500);
        input.back() = 0x5a;
        const Bytes encoded = rle_encode(input);
        input.resize(input.size() + 1 + rng() % 100, 0);
        EXPECT_EQ(rle_encode(input), encoded);
    }
}

TEST(BitfieldRle, AcceptsNonCanonicalEncodings) {
    // Zero-length runs and literals, split runs and literals of 00/ff bytes are all valid.
    auto decoded = rle_decode(hex("0001030b0b0400ff02ff"), 64);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(to_hex(*decoded), "ffffffff00ffff00");
}

TEST(BitfieldRle, MalformedInputIsCorrupt) {
    const char* bad[] = {
        "80",                      // varint continues past the end
        "ff",                      // likewise
        "0fff",                    // a valid run, then a truncated varint
        "04aa",                    // literal of 2 bytes with 1 present
        "06aabb",                  // literal of 3 bytes with 2 present
        "0f0480",                  // literal running past the end after a run
        "8080808080808080808001",  // 11-byte varint
        "ffffffffffffffffff7f",    // 10-byte varint overflowing 64 bits
    };
    for (const char* input : bad) {
        SCOPED_TRACE(input);
        auto decoded = rle_decode(hex(input), 1 << 20);
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().code, Errc::Corrupt);
    }
}

TEST(BitfieldRle, OversizedOutputIsCorruptBeforeAllocating) {
    // A run of 2^60 bytes: must fail on the declared length, not by trying to allocate it.
    Bytes huge;
    varint::encode(huge, (std::uint64_t{1} << 60) << 2 | 3);
    auto decoded = rle_decode(huge, 1 << 20);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, Errc::Corrupt);

    // Many runs whose sum overflows 64 bits must not wrap around into an accepted length.
    Bytes many;
    for (int i = 0; i < 8; ++i) varint::encode(many, (std::uint64_t{1} << 61) | 1);
    decoded = rle_decode(many, 1 << 20);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, Errc::Corrupt);
}

TEST(BitfieldRle, MaxBytesBoundary) {
    Bytes run16;
    varint::encode(run16, 16u << 2 | 3);  // 16 bytes of ff
    auto ok = rle_decode(run16, 16);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->size(), 16u);
    auto too_long = rle_decode(run16, 15);
    ASSERT_FALSE(too_long.ok());
    EXPECT_EQ(too_long.error().code, Errc::Corrupt);

    // Padding never goes past max_bytes: 5 bytes with a 5-byte limit stay 5 bytes.
    auto capped = rle_decode(hex("0a0102030405"), 5);
    ASSERT_TRUE(capped.ok());
    EXPECT_EQ(to_hex(*capped), "0102030405");
    auto padded = rle_decode(hex("0a0102030405"), 64);
    ASSERT_TRUE(padded.ok());
    EXPECT_EQ(to_hex(*padded), "0102030405000000");
}

TEST(BitfieldRle, RandomGarbageNeverCrashesOrExceedsTheLimit) {
    std::mt19937 rng(99);
    int accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        Bytes input(rng() % 24);
        for (auto& b : input) b = static_cast<std::uint8_t>(rng());
        const std::size_t limit = rng() % 4096;
        auto decoded = rle_decode(input, limit);
        if (decoded.ok()) {
            ++accepted;
            EXPECT_LE(decoded->size(), limit);
        } else {
            EXPECT_EQ(decoded.error().code, Errc::Corrupt);
        }
    }
    EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace hs::hypercore
