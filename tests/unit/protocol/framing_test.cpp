// Frame codec: every split point of a multi-frame buffer, keep-alives, limits and bad varints.
#include "v9/protocol/framing.h"

#include <gtest/gtest.h>

#include "protocol_test_util.h"
#include "common/util/varint.h"

namespace hs::protocol {
namespace {

using test::unhex;

struct Owned {
    std::uint64_t channel;
    std::uint8_t type;
    Bytes body;
    bool operator==(const Owned&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Owned& f) {
    return os << "{ch " << f.channel << " type " << int(f.type) << " body " << to_hex(f.body)
              << "}";
}

// Frame bodies are views valid until the next push: copy them out right away.
Status push_all(FrameDecoder& d, ByteView in, std::vector<Owned>& out) {
    std::vector<Frame> frames;
    auto st = d.push(in, frames);
    for (const auto& f : frames) out.push_back({f.channel, f.type, to_bytes(f.body)});
    return st;
}

TEST(Framing, EncodeMatchesJsFrames) {
    // simple-message-channels 1.2.1 output (tests/unit/protocol/js/make_fixtures.js).
    Bytes out;
    encode_frame(out, 7, 10, {});
    EXPECT_EQ(to_hex(out), "017a");
    out.clear();
    encode_frame(out, 300, 5, unhex("080010808040"));
    EXPECT_EQ(to_hex(out), "08c525080010808040");
    out.clear();
    encode_frame(out, 2, 15, unhex("ac026869"));
    EXPECT_EQ(to_hex(out), "052fac026869");
    // insert_frame_header produces the same bytes after a prefix that stays put.
    Bytes with_prefix = unhex("aabb");
    append_bytes(with_prefix, unhex("ac026869"));
    insert_frame_header(with_prefix, 2, 2, 15);
    EXPECT_EQ(to_hex(with_prefix), "aabb052fac026869");
}

TEST(Framing, EverySplitPointOfAMultiFrameBuffer) {
    // Frames with 1- and 2-byte length and header varints, an empty body, keep-alives between,
    // and a 200-byte body whose length varint takes two bytes.
    const std::vector<Owned> frames = {
        {0, 1, unhex("0a0178")},         {1, 3, unhex("0800108080401a00")},
        {300, 5, unhex("080010808040")}, {7, 10, {}},
        {2, 15, Bytes(200, 0x5a)},       {(std::uint64_t{1} << 40) + 5, 9, unhex("0801")},
    };
    Bytes wire;
    wire.push_back(kKeepAliveByte);
    for (const auto& f : frames) {
        encode_frame(wire, f.channel, f.type, f.body);
        wire.push_back(kKeepAliveByte);
    }
    // Whole buffer at once.
    {
        FrameDecoder d;
        std::vector<Owned> got;
        ASSERT_TRUE(push_all(d, wire, got).ok());
        EXPECT_EQ(got, frames);
    }
    // Every single split point, and every pair of split points (three pieces).
    for (std::size_t i = 0; i <= wire.size(); ++i) {
        FrameDecoder d;
        std::vector<Owned> got;
        ASSERT_TRUE(push_all(d, ByteView(wire).first(i), got).ok());
        ASSERT_TRUE(push_all(d, ByteView(wire).subspan(i), got).ok());
        ASSERT_EQ(got, frames) << "split at " << i;
        EXPECT_EQ(d.buffered_bytes(), 0u);
    }
    for (std::size_t i = 0; i <= wire.size(); i += 3) {
        for (std::size_t j = i; j <= wire.size(); j += 5) {
            FrameDecoder d;
            std::vector<Owned> got;
            ASSERT_TRUE(push_all(d, ByteView(wire).first(i), got).ok());
            ASSERT_TRUE(push_all(d, ByteView(wire).subspan(i, j - i), got).ok());
            ASSERT_TRUE(push_all(d, ByteView(wire).subspan(j), got).ok());
            ASSERT_EQ(got, frames) << "split at " << i << ", " << j;
        }
    }
    // Byte by byte.
    FrameDecoder d;
    std::vector<Owned> got;
    for (std::uint8_t b : wire) ASSERT_TRUE(push_all(d, ByteView(&b, 1), got).ok());
    EXPECT_EQ(got, frames);
}

TEST(Framing, BodiesViewInputWhenWhole) {
    Bytes wire;
    encode_frame(wire, 1, 9, Bytes(100, 1));
    FrameDecoder d;
    std::vector<Frame> out;
    ASSERT_TRUE(d.push(wire, out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].body.data(),
              wire.data() + 2);  // len 101 and header are one byte each: no copy
    EXPECT_EQ(out[0].body.size(), 100u);
}

TEST(Framing, KeepAlivesOnlyProduceNothing) {
    FrameDecoder d;
    std::vector<Frame> out;
    ASSERT_TRUE(d.push(Bytes(1000, 0), out).ok());
    EXPECT_TRUE(out.empty());
    // A non-minimal zero length is also a keep-alive.
    ASSERT_TRUE(d.push(unhex("8000"), out).ok());
    EXPECT_TRUE(out.empty());
}

TEST(Framing, MaxBodyAcceptedOneMoreRejected) {
    {
        Bytes wire;
        encode_frame(wire, 1, 9, Bytes(kMaxFrameBodyBytes, 7));
        FrameDecoder d;
        std::vector<Frame> out;
        ASSERT_TRUE(d.push(ByteView(wire).first(1000), out).ok());
        ASSERT_TRUE(d.push(ByteView(wire).subspan(1000), out).ok());
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0].body.size(), kMaxFrameBodyBytes);
    }
    // len = 8 MiB + 2 with a one-byte header: body 8 MiB + 1. Rejected from the header alone,
    // before any body byte is buffered.
    Bytes wire;
    varint::encode(wire, kMaxFrameBodyBytes + 2);
    wire.push_back(0x19);
    FrameDecoder d;
    std::vector<Frame> out;
    auto st = d.push(wire, out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::FrameTooLarge);
    EXPECT_EQ(d.buffered_bytes(), 0u);
    // A length that can never fit is rejected before its header arrives.
    Bytes huge;
    varint::encode(huge, std::uint64_t{1} << 40);
    FrameDecoder d2;
    st = d2.push(huge, out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::FrameTooLarge);
    EXPECT_TRUE(out.empty());
}

TEST(Framing, LongVarintsRejected) {
    // Eight continuation bytes in the length varint, delivered in pieces.
    FrameDecoder d;
    std::vector<Frame> out;
    ASSERT_TRUE(d.push(unhex("80808080"), out).ok());
    ASSERT_TRUE(d.push(unhex("808080"), out).ok());
    auto st = d.push(unhex("80"), out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::Protocol);
    EXPECT_TRUE(d.failed());
    // Sticky, even for valid input.
    st = d.push(unhex("017a"), out);
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(out.empty());
    // The same in the header varint.
    FrameDecoder h;
    st = h.push(unhex("0a8080808080808080"), out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::Protocol);
    // A 7-byte header varint is fine: 2^42 = channel 2^38, type 0.
    FrameDecoder ok;
    ASSERT_TRUE(ok.push(unhex("07 80808080808001"), out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].channel, std::uint64_t{1} << 38);
    EXPECT_EQ(out[0].type, 0);
    EXPECT_TRUE(out[0].body.empty());
}

TEST(Framing, LengthShorterThanHeaderRejected) {
    FrameDecoder d;
    std::vector<Frame> out;
    auto st = d.push(unhex("01 ac02"), out);  // len 1, header of 2 bytes
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::Protocol);
}

TEST(Framing, FramesBeforeAnErrorAreDelivered) {
    Bytes wire;
    encode_frame(wire, 1, 2, unhex("0800"));
    append_bytes(wire, unhex("8080808080808080"));
    FrameDecoder d;
    std::vector<Frame> out;
    auto st = d.push(wire, out);
    ASSERT_FALSE(st.ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(to_hex(out[0].body), "0800");
}

TEST(Framing, AssembledBodyStaysValidUntilNextPush) {
    Bytes wire;
    encode_frame(wire, 1, 9, Bytes(50, 0x11));
    encode_frame(wire, 2, 9, Bytes(50, 0x22));
    encode_frame(wire, 3, 9, Bytes(50, 0x33));
    FrameDecoder d;
    std::vector<Frame> out;
    ASSERT_TRUE(d.push(ByteView(wire).first(20), out).ok());
    EXPECT_TRUE(out.empty());
    // Completes frame 1 from the buffer, frame 2 from the input, starts frame 3.
    ASSERT_TRUE(d.push(ByteView(wire).first(120).subspan(20), out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(to_bytes(out[0].body), Bytes(50, 0x11));
    EXPECT_EQ(to_bytes(out[1].body), Bytes(50, 0x22));
    out.clear();
    ASSERT_TRUE(d.push(ByteView(wire).subspan(120), out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].channel, 3u);
    EXPECT_EQ(to_bytes(out[0].body), Bytes(50, 0x33));
}

}  // namespace
}  // namespace hs::protocol
