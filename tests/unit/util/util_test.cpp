#include <gtest/gtest.h>

#include "util/hex.h"
#include "util/varint.h"

namespace hs {
namespace {

TEST(Hex, RoundTrip) {
    const Bytes b = {0x00, 0x01, 0xab, 0xff};
    EXPECT_EQ(to_hex(b), "0001abff");
    EXPECT_EQ(*from_hex("0001ABff"), b);
    EXPECT_FALSE(from_hex("abc").has_value());
    EXPECT_FALSE(from_hex("zz").has_value());
}

TEST(Hex, ParseKeyAcceptsHyperUrl) {
    const std::string hex(64, 'a');
    ASSERT_TRUE(parse_key(hex));
    ASSERT_TRUE(parse_key("hyper://" + hex));
    ASSERT_TRUE(parse_key("hyper://" + hex + "/"));
    EXPECT_EQ((*parse_key(hex))[0], 0xaa);
    EXPECT_FALSE(parse_key(hex.substr(1)));
    EXPECT_FALSE(parse_key("hyper://" + hex.substr(2) + "zz"));
}

TEST(Varint, EncodeDecode) {
    for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
        Bytes b;
        varint::encode(b, v);
        EXPECT_EQ(b.size(), varint::encoding_length(v));
        ByteView in(b);
        auto d = varint::decode(in);
        ASSERT_TRUE(d);
        EXPECT_EQ(*d, v);
        EXPECT_TRUE(in.empty());
    }
}

TEST(Varint, RejectsTruncatedAndOverlong) {
    const Bytes truncated = {0x80, 0x80};
    ByteView a(truncated);
    EXPECT_FALSE(varint::decode(a));
    const Bytes overlong(11, 0x80);
    ByteView b(overlong);
    EXPECT_FALSE(varint::decode(b));
    const Bytes overflow = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    ByteView c(overflow);
    EXPECT_FALSE(varint::decode(c));
}

}  // namespace
}  // namespace hs
