// compact-encoding against the pinned JS package: every case of tests/fixtures/v11/compact.json
// (written by make_compact.js beside it) encodes to the same bytes and decodes to the same value,
// or fails where JS throws. JSON value forms: uint and uint64 as decimal strings, the other
// fixed widths as numbers, bool, bytes (buffer, raw, fixed, string as its UTF-8) as hex or
// {head, seq}, optionalBuffer null or bytes, uint32array numbers, arrays as lists of their items.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/util/hex.h"
#include "v11/compact/compact.h"
#include "v11/compact/utf8.h"

namespace hs::v11::compact {
namespace {

using nlohmann::json;

Bytes bytes_of(const json& j) {
    if (j.is_string()) {
        auto b = from_hex(j.get<std::string>());
        EXPECT_TRUE(b.has_value()) << j;
        return b ? *b : Bytes{};
    }
    Bytes out = *from_hex(j.at("head").get<std::string>());
    const std::size_t n = j.at("seq").get<std::size_t>();
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(i));
    return out;
}

// Per codec: Owned (a value that owns its bytes, built from JSON), arg (what encode takes) and
// of (a decoded value back to JSON, bytes always as hex).
template <typename C>
struct Json;

template <>
struct Json<Uint> {
    using Owned = std::uint64_t;
    static Owned owned(const json& j) { return std::stoull(j.get<std::string>()); }
    static json of(std::uint64_t v) { return std::to_string(v); }
};
template <>
struct Json<Uint64> : Json<Uint> {};
template <std::size_t N>
struct Json<FixedUint<N>> {
    using Owned = typename FixedUint<N>::Value;
    static Owned owned(const json& j) { return j.get<Owned>(); }
    static json of(Owned v) { return v; }
};
template <>
struct Json<Bool> {
    using Owned = bool;
    static Owned owned(const json& j) { return j.get<bool>(); }
    static json of(bool v) { return v; }
};
template <>
struct Json<Buffer> {
    using Owned = Bytes;
    static Owned owned(const json& j) { return bytes_of(j); }
    static json of(ByteView v) { return to_hex(v); }
};
template <>
struct Json<Raw> : Json<Buffer> {};
template <>
struct Json<OptionalBuffer> {
    using Owned = std::optional<Bytes>;
    static Owned owned(const json& j) {
        if (j.is_null()) return std::nullopt;
        return bytes_of(j);
    }
    static std::optional<ByteView> arg(const Owned& o) {
        if (!o) return std::nullopt;
        return ByteView(*o);
    }
    static json of(const std::optional<ByteView>& v) {
        if (!v) return nullptr;
        return to_hex(*v);
    }
};
template <>
struct Json<String> {
    using Owned = std::string;
    static Owned owned(const json& j) { return std::string(as_string(bytes_of(j))); }
    static json of(const std::string& v) { return to_hex(as_bytes(v)); }
};
template <std::size_t N>
struct Json<Fixed<N>> {
    using Owned = ByteArray<N>;
    static Owned owned(const json& j) {
        const Bytes b = bytes_of(j);
        Owned out{};
        EXPECT_EQ(b.size(), N);
        std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
        return out;
    }
    static json of(const ByteArray<N>& v) { return to_hex(v); }
};
template <>
struct Json<Uint32Array> {
    using Owned = std::vector<std::uint32_t>;
    static Owned owned(const json& j) { return j.get<Owned>(); }
    static json of(const std::vector<std::uint32_t>& v) { return v; }
};
template <typename Item>
struct Json<Array<Item>> {
    using Owned = std::vector<typename Json<Item>::Owned>;
    static Owned owned(const json& j) {
        Owned out;
        for (const auto& e : j) out.push_back(Json<Item>::owned(e));
        return out;
    }
    template <typename Range>  // decoded values, or owned ones when normalising
    static json of(const Range& v) {
        json out = json::array();
        for (const auto& e : v) out.push_back(Json<Item>::of(e));
        return out;
    }
};

template <typename C>
decltype(auto) encoder_arg(const typename Json<C>::Owned& o) {
    if constexpr (requires { Json<C>::arg(o); }) return Json<C>::arg(o);
    else return (o);
}

// Expected values normalised through the C++ types (so {head, seq} and hex compare alike).
template <typename C>
json normalised(const json& j) {
    return Json<C>::of(Json<C>::owned(j));
}

std::string js_error_keyword(const std::string& js) {
    if (js == "Out of bounds") return "out of bounds";
    if (js == "Array is too big") return "too many";
    if (js.rfind("uint must be between", 0) == 0) return "2^53 - 1";
    ADD_FAILURE() << "unmapped JS error: " << js;
    return js;
}

template <typename C>
void run_case(const json& c) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    if (c.contains("encoded")) {
        const auto value = Json<C>::owned(c.at("value"));
        const Bytes expected = bytes_of(c.at("encoded"));
        EncodeState sizing;
        C::preencode(sizing, encoder_arg<C>(value));
        EXPECT_EQ(sizing.end, expected.size());
        EXPECT_EQ(to_hex(encode<C>(encoder_arg<C>(value))), to_hex(expected));
        DecodeState s(expected);
        auto back = C::decode(s);
        ASSERT_TRUE(back.ok()) << back.error().message;
        EXPECT_EQ(s.start, expected.size());
        EXPECT_EQ(Json<C>::of(*back), normalised<C>(c.at("value")));
        // One byte short of the whole encoding always fails (every encoding here ends in data
        // it needs), except raw, which takes what there is.
        if (!expected.empty() && !std::is_same_v<C, Raw>) {
            DecodeState shorter(ByteView(expected).first(expected.size() - 1));
            auto r = C::decode(shorter);
            EXPECT_FALSE(r.ok());
            if (!r.ok()) {
                EXPECT_EQ(r.error().code, Errc::Protocol);
            }
        }
        return;
    }
    const Bytes input = bytes_of(c.at("input"));
    DecodeState s(input);
    auto r = C::decode(s);
    if (c.contains("error")) {
        ASSERT_FALSE(r.ok()) << "JS threw " << c.at("error");
        EXPECT_EQ(r.error().code, Errc::Protocol);
        EXPECT_NE(r.error().message.find(js_error_keyword(c.at("error"))), std::string::npos)
            << r.error().message;
        return;
    }
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(s.start, c.at("consumed").get<std::size_t>());
    EXPECT_EQ(Json<C>::of(*r), normalised<C>(c.at("decoded")));
}

const std::map<std::string, std::function<void(const json&)>>& runners() {
    static const std::map<std::string, std::function<void(const json&)>> table = {
        {"uint", run_case<Uint>},
        {"uint8", run_case<Uint8>},
        {"uint16", run_case<Uint16>},
        {"uint24", run_case<Uint24>},
        {"uint32", run_case<Uint32>},
        {"uint64", run_case<Uint64>},
        {"bool", run_case<Bool>},
        {"buffer", run_case<Buffer>},
        {"optionalBuffer", run_case<OptionalBuffer>},
        {"string", run_case<String>},
        {"fixed32", run_case<Fixed32>},
        {"fixed64", run_case<Fixed64>},
        {"raw", run_case<Raw>},
        {"uint32array", run_case<Uint32Array>},
        {"array(uint)", run_case<Array<Uint>>},
        {"array(string)", run_case<Array<String>>},
        {"array(buffer)", run_case<Array<Buffer>>},
        {"array(fixed32)", run_case<Array<Fixed32>>},
        {"array(array(uint))", run_case<Array<Array<Uint>>>},
    };
    return table;
}

json load_fixture() {
    std::ifstream in(std::string(HS_V11_FIXTURES) + "/compact.json");
    EXPECT_TRUE(in.good()) << "missing " << HS_V11_FIXTURES << "/compact.json";
    return json::parse(in);
}

TEST(Compact, MatchesJsFixtures) {
    const json fixture = load_fixture();
    EXPECT_EQ(fixture.at("package"), "compact-encoding@3.5.2");
    const auto& cases = fixture.at("cases");
    ASSERT_GE(cases.size(), 100u);
    std::map<std::string, int> seen;
    for (const auto& c : cases) {
        const std::string codec = c.at("codec");
        auto it = runners().find(codec);
        ASSERT_NE(it, runners().end()) << "no C++ codec for " << codec;
        it->second(c);
        ++seen[codec];
    }
    EXPECT_EQ(seen.size(), runners().size()) << "every codec has JS cases";
}

TEST(Compact, UintAboveJsRangeEncodesInNineBytesAndNeverDecodes) {
    const std::uint64_t max = ~std::uint64_t{0};
    const Bytes b = encode<Uint>(max);
    EXPECT_EQ(to_hex(b), "ffffffffffffffffff");
    auto r = decode<Uint>(b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::Protocol);
    EXPECT_EQ(to_hex(encode<Uint>(kMaxSafeUint + 1)), "ff0000000000002000");
    EXPECT_FALSE(decode<Uint>(encode<Uint>(kMaxSafeUint + 1)).ok());
    EXPECT_EQ(*decode<Uint>(encode<Uint>(kMaxSafeUint)), kMaxSafeUint);
}

TEST(Compact, DecodeStopsAtStateEnd) {
    // The state's end, not the buffer's, bounds every read (as a frame's end does in JS).
    const Bytes b = *from_hex("03616263");
    DecodeState s(b);
    s.end = 3;
    auto r = Buffer::decode(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("buffer"), std::string::npos) << r.error().message;
    s = DecodeState(b);
    EXPECT_EQ(as_string(*Buffer::decode(s)), "abc");
    EXPECT_EQ(s.remaining(), 0u);
}

TEST(Compact, MessageOfSeveralFieldsThroughOneState) {
    // A protomux-open-like message: uint, string, optionalBuffer, fixed32, then raw.
    ByteArray<32> key{};
    key.fill(0x42);
    const Bytes tail = {9, 8, 7};
    EncodeState s;
    Uint::preencode(s, 7);
    String::preencode(s, "hypercore/alpha");
    OptionalBuffer::preencode(s, std::nullopt);
    Fixed32::preencode(s, key);
    Raw::preencode(s, tail);
    Bytes buf(s.end);
    s.buffer = buf.data();
    Uint::encode(s, 7);
    String::encode(s, "hypercore/alpha");
    OptionalBuffer::encode(s, std::nullopt);
    Fixed32::encode(s, key);
    Raw::encode(s, tail);
    EXPECT_EQ(s.start, s.end);
    EXPECT_EQ(buf.size(), 1u + 16u + 1u + 32u + 3u);

    DecodeState d(buf);
    EXPECT_EQ(*Uint::decode(d), 7u);
    EXPECT_EQ(*String::decode(d), "hypercore/alpha");
    EXPECT_FALSE(OptionalBuffer::decode(d)->has_value());
    EXPECT_EQ(*Fixed32::decode(d), key);
    EXPECT_EQ(to_bytes(*Raw::decode(d)), tail);
    EXPECT_EQ(d.remaining(), 0u);
    EXPECT_FALSE(Uint::decode(d).ok());
}

TEST(Compact, ArrayCountIsCheckedBeforeItems) {
    // 2^20 + 1 items with no bytes behind the count: rejected by count, not by reading.
    auto r = decode<Array<Bool>>(*from_hex("fe01001000"));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("too many"), std::string::npos);
    // 2^20 items declared, one present: out of bounds after the one.
    auto r2 = decode<Array<Bool>>(*from_hex("fe0000100001"));
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().message.find("out of bounds"), std::string::npos);
}

TEST(Compact, Utf8Replacement) {
    EXPECT_TRUE(is_valid_utf8(as_bytes("z\xc3\xbc \xf0\x9f\x98\x80")));
    EXPECT_FALSE(is_valid_utf8(as_bytes("\xc0\x80")));
    EXPECT_EQ(utf8_with_replacement(as_bytes("a\xf0\x9f\x98")), "a\xef\xbf\xbd");
    EXPECT_EQ(utf8_with_replacement(as_bytes("\xed\xa0\x80")),
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace hs::v11::compact
