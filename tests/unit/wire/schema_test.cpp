// The shared proto2 codec (wire/schema.h) on its own: each Dialect option changes exactly the rule
// it names, field limits, presence, packed repeated varints and borrowed bytes.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/util/hex.h"
#include "common/wire/schema.h"

namespace hs::wire::test {

struct Inner {
    std::uint64_t a = 0;            // 1 required
    std::optional<std::string> s;   // 2
    bool operator==(const Inner&) const = default;
};
struct Outer {
    std::uint64_t id = 0;                 // 1 required
    std::optional<bool> flag;             // 2
    std::optional<std::uint32_t> port;    // 3
    std::optional<std::string> text;      // 4
    std::optional<BytesRef> blob;         // 5
    std::vector<std::uint64_t> numbers;   // 6
    std::vector<Inner> inners;            // 7
    std::optional<std::int32_t> signed_value;  // 8
    bool operator==(const Outer&) const = default;
};
constexpr auto schema_of(std::type_identity<Inner>) {
    return schema("Inner", field(1, &Inner::a), field(2, &Inner::s));
}
constexpr auto schema_of(std::type_identity<Outer>) {
    return schema("Outer", field(1, &Outer::id), field(2, &Outer::flag), field(3, &Outer::port),
                  field(4, &Outer::text).limit_bytes(4), field(5, &Outer::blob),
                  field(6, &Outer::numbers), field(7, &Outer::inners).limit_count(2),
                  field(8, &Outer::signed_value));
}

constexpr Dialect kStrict{.name = "strict"};
constexpr Dialect kLoose{.name = "loose",
                         .bools = BoolRule::OneByte,
                         .mismatch = WireMismatch::SkipAsUnknown,
                         .text = TextRule::Raw,
                         .reject_field_zero = true,
                         .max_field_bytes = 8};
constexpr Dialect kNoRequired{.name = "none", .check_required = false};

Bytes unhex(std::string_view s) {
    std::string clean;
    for (char c : s)
        if (c != ' ') clean.push_back(c);
    auto b = from_hex(clean);
    EXPECT_TRUE(b.has_value()) << s;
    return b ? *b : Bytes{};
}

template <const Dialect& D>
Result<Outer> dec(std::string_view hex) {
    static Bytes keep;  // BytesRef fields borrow: keep the input alive for the assertions
    keep = unhex(hex);
    return decode<D, Outer>(keep);
}

TEST(WireSchema, EncodesInTableOrderAndRoundTrips) {
    Outer o;
    o.id = 300;
    o.flag = false;  // present and false is written
    o.port = 8080;
    o.text = "hi";
    o.blob = Bytes{1, 2};
    o.numbers = {1, 2};  // unpacked
    o.inners = {Inner{5, std::nullopt}};
    o.signed_value = -11;  // 5 bytes, as the JS encoder writes it
    Bytes out;
    encode<kStrict>(o, out);
    EXPECT_EQ(to_hex(out),
              "08ac02" "1000" "18903f" "22026869" "2a020102" "30013002" "3a020805" "40f5ffffff0f");
    EXPECT_EQ(encoded_size(o), out.size());
    auto back = decode<kStrict, Outer>(out);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, o);
    ASSERT_TRUE(back->blob.has_value());
    EXPECT_TRUE(back->blob->borrowed());
    EXPECT_GE(back->blob->data(), out.data());
    EXPECT_LT(back->blob->data(), out.data() + out.size());
}

TEST(WireSchema, BoolRule) {
    // 2008 8001: flag as a two-byte varint (128). Varint: true and the input is consumed.
    auto v = dec<kStrict>("0801 108001");
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->flag, std::optional<bool>(true));
    // OneByte reads 0x80 as true and then 0x01 as the next tag (field 0, wire 1): with
    // reject_field_zero that fails, which shows the second byte was not part of the bool.
    EXPECT_FALSE(dec<kLoose>("0801 108001").ok());
    auto one = dec<kLoose>("0801 1002");
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->flag, std::optional<bool>(true));
}

TEST(WireSchema, WireMismatch) {
    // id (field 1) sent length-delimited, then as a varint.
    auto strict = dec<kStrict>("0a0105 0807");
    ASSERT_FALSE(strict.ok());
    EXPECT_EQ(strict.error().code, Errc::Protocol);
    EXPECT_NE(strict.error().message.find("strict Outer field 1"), std::string::npos)
        << strict.error().message;
    auto loose = dec<kLoose>("0a0105 0807");
    ASSERT_TRUE(loose.ok()) << loose.error().message;
    EXPECT_EQ(loose->id, 7u);
    // Skipped occurrences do not count as present.
    EXPECT_FALSE(dec<kLoose>("0a0105").ok());
}

TEST(WireSchema, TextRule) {
    auto replaced = dec<kStrict>("0801 2202ff41");
    ASSERT_TRUE(replaced.ok());
    EXPECT_EQ(*replaced->text, "\xef\xbf\xbd" "A");
    auto raw = dec<kLoose>("0801 2202ff41");
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(*raw->text, "\xff" "A");
}

TEST(WireSchema, FieldZero) {
    EXPECT_TRUE(dec<kStrict>("0801 0001").ok());  // an unknown field
    EXPECT_FALSE(dec<kLoose>("0801 0001").ok());
}

TEST(WireSchema, ByteLimits) {
    auto text = dec<kStrict>("0801 22056162636465");  // 5 > limit_bytes(4)
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().code, Errc::TooLarge);
    // The dialect limit applies to unknown fields too; a length past the end stays Protocol.
    auto unknown = dec<kLoose>("0801 7a09000000000000000000");
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, Errc::TooLarge);
    auto truncated = dec<kLoose>("0801 7a0900");
    ASSERT_FALSE(truncated.ok());
    EXPECT_EQ(truncated.error().code, Errc::Protocol);
    EXPECT_TRUE(dec<kStrict>("0801 7a09000000000000000000").ok());
}

TEST(WireSchema, CountLimitCountsOccurrences) {
    EXPECT_TRUE(dec<kStrict>("0801 3a020801 3a020802").ok());
    auto three = dec<kStrict>("0801 3a020801 3a020802 3a020803");
    ASSERT_FALSE(three.ok());
    EXPECT_EQ(three.error().code, Errc::Protocol);
    // With SkipAsUnknown, an occurrence of the wrong wire type still counts.
    EXPECT_FALSE(dec<kLoose>("0801 3a020801 3a020802 3801").ok());
}

TEST(WireSchema, RequiredFields) {
    auto missing = dec<kStrict>("1001");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("required field 1"), std::string::npos);
    // ... also inside an embedded message.
    EXPECT_FALSE(dec<kStrict>("0801 3a00").ok());
    std::uint64_t found = 0;
    const Bytes in = unhex("1001");
    auto lenient = decode<kNoRequired, Outer>(in, &found);
    ASSERT_TRUE(lenient.ok());
    EXPECT_EQ(found, 0b10u);
}

TEST(WireSchema, PackedRepeatedVarintsAndUint32Range) {
    auto packed = dec<kStrict>("0801 3203010203 3004");
    ASSERT_TRUE(packed.ok()) << packed.error().message;
    EXPECT_EQ(packed->numbers, (std::vector<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_TRUE(dec<kStrict>("0801 18ffffffff0f").ok());
    auto over = dec<kStrict>("0801 188080808010");
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, Errc::Protocol);
}

TEST(WireSchema, MalformedInputFails) {
    for (const char* hex : {"0880", "0801 1b", "0801 0e", "0801 0f", "0801 2a05 01",
                            "08ffffffffffffffffffff01", "0801 1901020304"}) {
        SCOPED_TRACE(hex);
        auto m = dec<kStrict>(hex);
        ASSERT_FALSE(m.ok());
        EXPECT_EQ(m.error().code, Errc::Protocol);
    }
}

TEST(WireSchema, BytesRefOwn) {
    const Bytes in = unhex("0801 2a03010203");
    auto m = decode<kStrict, Outer>(in);
    ASSERT_TRUE(m.ok());
    Outer copy = *m;
    EXPECT_TRUE(copy.blob->borrowed());
    copy.blob->own();
    EXPECT_FALSE(copy.blob->borrowed());
    EXPECT_EQ(copy.blob->to_bytes(), (Bytes{1, 2, 3}));
    EXPECT_TRUE(copy.blob->data() < in.data() || copy.blob->data() >= in.data() + in.size());
    EXPECT_EQ(copy, *m);
}

}  // namespace hs::wire::test
