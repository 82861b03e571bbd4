// Message bodies: byte identity with the JS encoder, proto2 defaults and presence, and rejection of
// malformed bodies without crashing.
#include "v9/protocol/messages.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "protocol_test_util.h"
#include "common/util/varint.h"

namespace hs::protocol::msg {
namespace {

using test::filled;
using test::unhex;

Bytes seq(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i);
    return b;
}

Bytes body_of(const Message& m) {
    Bytes out;
    std::visit(
        [&](const auto& x) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, Ignored>) x.encode_to(out);
        },
        m);
    return out;
}

// The values of make_fixtures.js `cases`, by name.
Message make_case(std::string_view name) {
    static const std::map<std::string_view, std::function<Message()>> kCases = {
        {"open_min",
         [] {
             return Open{filled(0xd1, 32), std::nullopt};
         }},
        {"open_capability",
         [] {
             return Open{filled(0xd1, 32), filled(0xca, 32)};
         }},
        {"open_empty_key",
         [] {
             return Open{Bytes{}, std::nullopt};
         }},
        {"options_empty", [] { return Options{}; }},
        {"options_full",
         [] {
             return Options{{"a", "hypertrie", "z\xc3\xbc"}, true};
         }},
        {"options_ack_false",
         [] {
             return Options{{}, false};
         }},
        {"status_empty", [] { return PeerStatus{}; }},
        {"status_not_uploading",
         [] {
             return PeerStatus{false, std::nullopt};
         }},
        {"status_both",
         [] {
             return PeerStatus{true, false};
         }},
        {"have_start",
         [] {
             return Have{0, std::nullopt, std::nullopt, std::nullopt};
         }},
        {"have_length_one",
         [] {
             return Have{5, 1, std::nullopt, std::nullopt};
         }},
        {"have_big",
         [] {
             return Have{(std::uint64_t{1} << 40) + 3, std::uint64_t{1} << 33, unhex("0f02e0"),
                         true};
         }},
        {"have_empty_bitfield",
         [] {
             return Have{0, 1048576, Bytes{}, std::nullopt};
         }},
        {"have_max_safe",
         [] {
             return Have{(std::uint64_t{1} << 53) - 1, std::nullopt, std::nullopt, false};
         }},
        {"unhave_start",
         [] {
             return Unhave{3, std::nullopt};
         }},
        {"unhave_zero_length",
         [] {
             return Unhave{0, 0};
         }},
        {"want_window",
         [] {
             return Want{0, 1048576};
         }},
        {"want_start",
         [] {
             return Want{std::uint64_t{1} << 32, std::nullopt};
         }},
        {"unwant",
         [] {
             return Unwant{1, 2};
         }},
        {"request_min",
         [] {
             return Request{0, std::nullopt, std::nullopt, std::nullopt};
         }},
        {"request_full",
         [] {
             return Request{7, 0, true, (std::uint64_t{1} << 35) + 1};
         }},
        {"request_bytes",
         [] {
             return Request{0, 123456789012, std::nullopt, std::nullopt};
         }},
        {"cancel",
         [] {
             return Cancel{3, 100, false};
         }},
        {"data_min",
         [] {
             return Data{0, std::nullopt, {}, std::nullopt};
         }},
        {"data_full",
         [] {
             return Data{
                 5,
                 to_bytes(std::string_view("hello")),
                 {Node{10, filled(0xab, 32), 5}, Node{3, filled(0xcd, 32), std::uint64_t{1} << 34}},
                 filled(0x5e, 64)};
         }},
        {"data_empty_fields",
         [] {
             return Data{1, Bytes{}, {}, Bytes{}};
         }},
        {"data_big_value",
         [] {
             return Data{std::uint64_t{1} << 40, seq(300), {}, std::nullopt};
         }},
        {"close_empty", [] { return Close{}; }},
        {"close_key", [] { return Close{filled(0xd1, 32)}; }},
    };
    return kCases.at(name)();
}

struct JsMessage {
    std::string_view name;
    std::uint8_t type;
    std::string_view body;
};
// simple-hypercore-protocol 2.1.2 messages.js output (tests/unit/protocol/js/make_fixtures.js).
constexpr JsMessage kJsMessages[] = {
    // clang-format off
    {"open_min", 0, "0a20d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"},
    {"open_capability", 0, "0a20d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d11220cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca"},
    {"open_empty_key", 0, "0a00"},
    {"options_empty", 1, ""},
    {"options_full", 1, "0a01610a096879706572747269650a037ac3bc1001"},
    {"options_ack_false", 1, "1000"},
    {"status_empty", 2, ""},
    {"status_not_uploading", 2, "0800"},
    {"status_both", 2, "08011000"},
    {"have_start", 3, "0800"},
    {"have_length_one", 3, "08051001"},
    {"have_big", 3, "088380808080201080808080201a030f02e02001"},
    {"have_empty_bitfield", 3, "0800108080401a00"},
    {"have_max_safe", 3, "08ffffffffffffff0f2000"},
    {"unhave_start", 4, "0803"},
    {"unhave_zero_length", 4, "08001000"},
    {"want_window", 5, "080010808040"},
    {"want_start", 5, "088080808010"},
    {"unwant", 6, "08011002"},
    {"request_min", 7, "0800"},
    {"request_full", 7, "08071000180120818080808001"},
    {"request_bytes", 7, "08001094b4e4f4cb03"},
    {"cancel", 8, "080310641800"},
    {"data_min", 9, "0800"},
    {"data_full", 9, "0805120568656c6c6f1a26080a1220abababababababababababababababababababababababababababababababab18051a2a08031220cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd18808080804022405e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"},
    {"data_empty_fields", 9, "080112002200"},
    {"data_big_value", 9, "0880808080802012ac02000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b"},
    {"close_empty", 10, ""},
    {"close_key", 10, "0a20d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"},
    // clang-format on
};

TEST(Messages, EncodeMatchesJsEncoder) {
    for (const auto& c : kJsMessages) {
        SCOPED_TRACE(std::string(c.name));
        const Message m = make_case(c.name);
        EXPECT_EQ(static_cast<std::uint8_t>(type_of(m)), c.type);
        EXPECT_EQ(to_hex(body_of(m)), c.body);
    }
}

TEST(Messages, DecodeJsBytesKeepsPresence) {
    for (const auto& c : kJsMessages) {
        SCOPED_TRACE(std::string(c.name));
        const Bytes body = unhex(c.body);
        auto m = decode_message(c.type, body);
        ASSERT_TRUE(m.ok()) << m.error().message;
        EXPECT_TRUE(*m == make_case(c.name));
        EXPECT_EQ(body_of(*m), body);  // re-encodes to the same bytes
    }
}

struct JsFrame {
    std::string_view name;
    std::uint64_t channel;
    std::uint8_t type;
    std::string_view frame;
};
// simple-message-channels 1.2.1 send() output (make_fixtures.js `frames`).
constexpr JsFrame kJsFrames[] = {
    {"frame_options_ch0", 0, 1, "04010a0178"},
    {"frame_have_ch1", 1, 3, "09130800108080401a00"},
    {"frame_want_ch300", 300, 5, "08c525080010808040"},
    {"frame_close_ch7", 7, 10, "017a"},
    {"frame_extension_ch2", 2, 15, "052fac026869"},
    {"frame_extension_empty", 1, 15, "021f00"},
};

Message make_frame_case(std::string_view name) {
    if (name == "frame_options_ch0") return Options{{"x"}, std::nullopt};
    if (name == "frame_have_ch1") return Have{0, 1048576, Bytes{}, std::nullopt};
    if (name == "frame_want_ch300") return Want{0, 1048576};
    if (name == "frame_close_ch7") return Close{};
    if (name == "frame_extension_ch2") return Extension{300, to_bytes(std::string_view("hi"))};
    return Extension{0, {}};
}

TEST(Messages, FramesMatchJs) {
    for (const auto& c : kJsFrames) {
        SCOPED_TRACE(std::string(c.name));
        const Message m = make_frame_case(c.name);
        Bytes out;
        encode_frame(out, c.channel, m);
        EXPECT_EQ(to_hex(out), c.frame);

        FrameDecoder d;
        std::vector<Frame> frames;
        const Bytes wire = unhex(c.frame);
        ASSERT_TRUE(d.push(wire, frames).ok());
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0].channel, c.channel);
        EXPECT_EQ(frames[0].type, c.type);
        auto decoded = decode_message(frames[0].type, frames[0].body);
        ASSERT_TRUE(decoded.ok()) << decoded.error().message;
        EXPECT_TRUE(*decoded == m);
    }
}

TEST(Messages, TypedFrameEncoderMatchesVariantEncoder) {
    const Data d{9, seq(70), {Node{18, filled(1, 32), 70}}, filled(2, 64)};
    Bytes a;
    encode_frame(a, 3, d);
    Bytes b;
    encode_frame(b, 3, Message(d));
    EXPECT_EQ(a, b);
    Bytes c;
    protocol::encode_frame(c, 3, 9, body_of(d));
    EXPECT_EQ(a, c);
}

TEST(Messages, AbsentFieldsTakeJsDefaults) {
    auto have = decode_message(3, unhex("0807"));
    ASSERT_TRUE(have.ok());
    const auto& h = std::get<Have>(*have);
    EXPECT_EQ(h.start, 7u);
    EXPECT_FALSE(h.length.has_value());
    EXPECT_EQ(h.length_or_default(), 1u);
    EXPECT_FALSE(h.bitfield.has_value());
    EXPECT_FALSE(h.ack_or_default());

    auto unhave = decode_message(4, unhex("0807"));
    ASSERT_TRUE(unhave.ok());
    EXPECT_EQ(std::get<Unhave>(*unhave).length_or_default(), 1u);
    auto want = decode_message(5, unhex("0807"));
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(std::get<Want>(*want).length_or_default(), 0u);
    auto unwant = decode_message(6, unhex("0807"));
    ASSERT_TRUE(unwant.ok());
    EXPECT_EQ(std::get<Unwant>(*unwant).length_or_default(), 0u);

    auto status = decode_message(2, {});
    ASSERT_TRUE(status.ok());
    EXPECT_FALSE(std::get<PeerStatus>(*status).uploading_or_default());
    EXPECT_FALSE(std::get<PeerStatus>(*status).downloading_or_default());

    auto request = decode_message(7, unhex("0800"));
    ASSERT_TRUE(request.ok());
    const auto& r = std::get<Request>(*request);
    EXPECT_EQ(r.bytes_or_default(), 0u);
    EXPECT_FALSE(r.hash_or_default());
    EXPECT_EQ(r.nodes_or_default(), 0u);

    // An explicit zero length is present and differs from the default.
    auto have0 = decode_message(3, unhex("08071000"));
    ASSERT_TRUE(have0.ok());
    EXPECT_EQ(std::get<Have>(*have0).length, std::optional<std::uint64_t>(0));
    EXPECT_EQ(std::get<Have>(*have0).length_or_default(), 0u);
}

TEST(Messages, FullUint64RangeRoundTrips) {
    const Have h{~std::uint64_t{0}, ~std::uint64_t{0} - 1, std::nullopt, true};
    Bytes body;
    h.encode_to(body);
    ByteView in = body;
    auto back = Have::decode(in);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, h);
    EXPECT_TRUE(in.empty());
}

TEST(Messages, UnknownFieldsAreSkipped) {
    // Have{start: 5} followed by unknown fields of every supported wire type, and a repeated
    // occurrence of start (the last one wins).
    const Bytes body = unhex("0805 4801 5202abcd 590102030405060708 6501020304 0806");
    auto m = decode_message(3, body);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_TRUE(*m == Message(Have{6, std::nullopt, std::nullopt, std::nullopt}));
}

void expect_protocol_error(std::uint8_t type, std::string_view body_hex) {
    SCOPED_TRACE(std::string(body_hex));
    auto m = decode_message(type, unhex(body_hex));
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, Errc::Protocol) << m.error().message;
}

TEST(Messages, MalformedBodiesRejected) {
    expect_protocol_error(0, "");                          // Open without discoveryKey
    expect_protocol_error(0, "1220aa");                    // truncated capability, no key
    expect_protocol_error(0, "0a20d1");                    // truncated discoveryKey
    expect_protocol_error(3, "1001");                      // Have without start
    expect_protocol_error(3, "0a0105");                    // start with the wrong wire type
    expect_protocol_error(7, "");                          // Request without index
    expect_protocol_error(9, "0800 1a04 0801 1802");       // Data.Node without hash
    expect_protocol_error(9, "0800 1a02 1200");            // Data.Node without index and size
    expect_protocol_error(3, "0800 1b 0801 1c");           // a group (JS throws)
    expect_protocol_error(3, "0800 0e");                   // wire type 6
    expect_protocol_error(3, "0800 0f");                   // wire type 7
    expect_protocol_error(3, "0800 0001");                 // field number 0
    expect_protocol_error(3, "08ffffffffffffffffffff01");  // varint over 64 bits
    expect_protocol_error(3, "0880");                      // truncated varint
    expect_protocol_error(3, "0800 19010203");             // truncated fixed64
    expect_protocol_error(15, "");                         // Extension without id
    expect_protocol_error(15, "80");                       // Extension with a truncated id
    auto bad_type = decode_message(16, {});
    EXPECT_FALSE(bad_type.ok());
}

TEST(Messages, ReservedTypesAreIgnoredUnparsed) {
    for (std::uint8_t t = 11; t <= 14; ++t) {
        auto m = decode_message(t, unhex("ffffffff"));
        ASSERT_TRUE(m.ok());
        EXPECT_TRUE(*m == Message(Ignored{t}));
    }
}

TEST(Messages, RepeatedFieldLimits) {
    auto data_with_nodes = [](std::size_t n) {
        Data d{1, std::nullopt, {}, std::nullopt};
        for (std::size_t i = 0; i < n; ++i) d.nodes.push_back(Node{i, Bytes(32, 1), 1});
        Bytes body;
        d.encode_to(body);
        return body;
    };
    auto ok = decode_message(9, data_with_nodes(kMaxDataNodes));
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(std::get<Data>(*ok).nodes.size(), kMaxDataNodes);
    auto too_many = decode_message(9, data_with_nodes(kMaxDataNodes + 1));
    ASSERT_FALSE(too_many.ok());
    EXPECT_EQ(too_many.error().code, Errc::Protocol);

    Options o;
    for (std::size_t i = 0; i <= kMaxExtensionNames; ++i) o.extensions.push_back("e");
    Bytes body;
    o.encode_to(body);
    auto names = decode_message(1, body);
    ASSERT_FALSE(names.ok());
    EXPECT_EQ(names.error().code, Errc::Protocol);
}

TEST(Messages, OversizedBodyRejected) {
    const Bytes body(kMaxFrameBodyBytes + 1, 0);
    for (std::uint8_t t : {0, 9, 15}) {
        auto m = decode_message(t, body);
        ASSERT_FALSE(m.ok());
        EXPECT_EQ(m.error().code, Errc::FrameTooLarge);
    }
}

TEST(Messages, EveryPrefixDecodesCleanlyOrFails) {
    // A prefix cut at a field boundary is a valid message and re-encodes to itself; any other cut
    // fails with Errc::Protocol. Also flips each byte once: no crash, and success re-encodes.
    for (const auto& c : kJsMessages) {
        const Bytes body = unhex(c.body);
        for (std::size_t n = 0; n < body.size(); ++n) {
            const ByteView prefix = ByteView(body).first(n);
            auto m = decode_message(c.type, prefix);
            if (m.ok()) {
                EXPECT_EQ(body_of(*m), to_bytes(prefix)) << c.name << " prefix " << n;
            } else {
                EXPECT_EQ(m.error().code, Errc::Protocol);
            }
        }
        for (std::size_t i = 0; i < body.size(); ++i) {
            Bytes flipped = body;
            flipped[i] ^= 0x80;
            auto m = decode_message(c.type, flipped);
            if (!m.ok()) {
                EXPECT_EQ(m.error().code, Errc::Protocol);
            }
        }
    }
}

TEST(Messages, DataBorrowsFromTheBody) {
    // Decoding a Data copies none of its bytes: value, node hashes and signature are views into
    // the frame body (the block reaches Feed::put without a copy). own() detaches them.
    const Data d{7, seq(1000), {Node{1, filled(0x11, 32), 5}, Node{4, filled(0x22, 32), 9}},
                 filled(0x5e, 64)};
    Bytes body;
    d.encode_to(body);
    auto m = decode_message(9, body);
    ASSERT_TRUE(m.ok()) << m.error().message;
    Data& got = std::get<Data>(*m);
    EXPECT_EQ(got, d);
    const auto inside = [&](const BytesRef& r) {
        return r.borrowed() && r.data() >= body.data() && r.data() + r.size() <= body.data() + body.size();
    };
    EXPECT_TRUE(inside(*got.value));
    EXPECT_TRUE(inside(*got.signature));
    for (const Node& n : got.nodes) EXPECT_TRUE(inside(n.hash));

    own(*m);
    body.assign(body.size(), 0);  // the body is gone; the owned message is not
    EXPECT_EQ(got, d);
    EXPECT_FALSE(got.value->borrowed());
}

TEST(Messages, KnownFieldWithTheWrongWireTypeIsSkipped) {
    // libprotobuf's rule, kept from the codec this one replaced: an occurrence of `start` as bytes
    // is skipped like an unknown field, so the varint `start` after it decides.
    auto m = decode_message(3, unhex("0a0105 0807"));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_TRUE(*m == Message(Have{7, std::nullopt, std::nullopt, std::nullopt}));
    // A bool is any varint (a two-byte 1 is true).
    auto ack = decode_message(3, unhex("0807 208100"));
    ASSERT_TRUE(ack.ok()) << ack.error().message;
    EXPECT_EQ(std::get<Have>(*ack).ack, std::optional<bool>(true));
}

TEST(Messages, ExtensionBody) {
    const Extension e{300, to_bytes(std::string_view("hi"))};
    Bytes body;
    e.encode_to(body);
    EXPECT_EQ(to_hex(body), "ac026869");
    ByteView in = body;
    auto back = Extension::decode(in);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, e);
    EXPECT_TRUE(in.empty());
}

}  // namespace
}  // namespace hs::protocol::msg
