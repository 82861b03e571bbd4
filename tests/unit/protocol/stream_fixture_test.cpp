// A whole JS session, both directions, byte for byte: simple-hypercore-protocol 2.1.2 with the keys
// and nonces of docs/known-answers.md sends a handshake and then assorted messages and keep-alives
// (tests/unit/protocol/js/make_fixtures.js). Our handshake, capability, frame, message and cipher
// code must reproduce every chunk, and decode what the JS side sent.
#include <gtest/gtest.h>

#include "common/crypto/capability.h"
#include "v9/protocol/cipher.h"
#include "v9/protocol/framing.h"
#include "v9/protocol/messages.h"
#include "v9/protocol/noise.h"
#include "protocol_test_util.h"

namespace hs::protocol {
namespace {

using test::filled;
using test::unhex;

// Each entry is one send() of the JS initiator: m1, m3, then one encrypted frame or keep-alive.
constexpr std::string_view kInitiatorChunks[] = {
    // clang-format off
    "3acde8dc3b40f5f77354b5db96c739c06b7029edc7d1b745cd118e30603cd06a710a18555555555555555555"
    "555555555555555555555555555555",
    "5a3023a1a528c2ab5b51fb410fb27f499b08e0fa694f8e676c1cdd0ec2227b262409edfeaaec751b29083405"
    "d18826a877b68184d6caad12473b2e7bab4619fa284670448af4efcc38ec165ab5383746eafe2fe2d477e981"
    "8ca64a",
    "f400a60ec9bbc80ef42ba6ffa48623d40d01d7002da73ad701313f01292797a956181ce0a13a42d7ca3327eb"
    "9fe848af8b5578ce2960e4e6956bf53233ff25f04be0ada2d71e",
    "24",
    "5452966fbe05b090ad1f8fbf08f17d",
    "858e4421bcdd1368f8e8fe826a",
    "5c73bf0ff2adf682cb3aaf191fe6215b678bd1e7d61c46922aea5bfaa76e0bb80d2393500963c5d1a5be10a2"
    "d2572382e78904f396c78ec97dd59f1fa44b51aeb8db9cf580e3551eed8fbeb64aa8a06a2673c0aa044dadc2"
    "081ea1c34bb21de5e6586e0b62b5209866bc4fbb00f00a6d4611945d4fd0255b68805f8f9df5cfa75d64f15f"
    "dbc7255dce3479224572575c0e4ca54117ce89c8439ed4105370c8cfab0c5648193ff73bb0644cd65990f974"
    "b2bc7fb95c076127fcb113998c8b10eba31af4d190831fd354260b5efd70ca2545f2dc01c74dfb6b0fcff0ab"
    "5e34a45e55fea395b3cce9ac5d40ed4b2cdc7be982a5702a2fe0b96e044619064776f670c3e49b29918fa5f4"
    "d4bd87cc99894e96c92e69e9a4ccb7537810d20772d09a95e975c15c040ea282f8bd748605f50ebe183ab235"
    "6160b0afaeea97",
    "34",
    "b9785d2c2f1992",
    "3120",
    // clang-format on
};
// The JS responder: m2, then its frames.
constexpr std::string_view kResponderChunks[] = {
    // clang-format off
    "7aaa566aa5652ec29d8642a4d039fe6d45e336d8fa24afeec75b55342bc1487e024327a75ba3858c6871b5b7"
    "1633d629b66272bb691153d29e52eaa1544a84ae9cc81c7bc6d7e0f0b9fa65be9f6fa2b858aee7a1377d65de"
    "6b6812abeb909f32fb37759a42f8e488b6a40d73c6f7004f80f7f0b39cb4a663591c43",
    "838fa7251b8c67fb673dffd09c8059f81792a670d625bf8202f1c8de4a2d1d9249284deead9a3ea4b94c00a5"
    "4f82378e74a9e5e578b568d034e998e2f20eec99e965a9865026",
    "b01e7aede4d4",
    "bb34d905b7286ff5",
    "089e4bbbd907",
    "a5",
    "737bb0cf",
    "125bf877470a8923b238cbb5fe708d4f041a77414b0af508a98316bf1d17999bd11337cf",
    // clang-format on
};

// One send: a message on a channel, or a keep-alive (nullopt).
using Send = std::optional<std::pair<std::uint64_t, msg::Message>>;

crypto::PublicKey core_key() {
    crypto::PublicKey k;
    const Bytes b = unhex(test::kCorePublicKey);
    std::copy(b.begin(), b.end(), k.begin());
    return k;
}

Bytes seq(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i);
    return b;
}

// What sendA() in make_fixtures.js sends, with the capability of the sender's session.
std::vector<Send> initiator_sends(const crypto::SplitKeys& split) {
    const auto cap = crypto::capability(core_key(), split);
    const Bytes dk = unhex(test::kCoreDiscoveryKey);
    return {
        Send({1, msg::Open{dk, Bytes(cap.begin(), cap.end())}}),
        std::nullopt,
        Send({1, msg::Options{{"hypertrie"}, false}}),
        Send({1, msg::Have{0, 1048576, unhex("0f02e0"), std::nullopt}}),
        Send({1, msg::Data{3, seq(200), {msg::Node{6, filled(0xab, 32), 200}}, filled(0x5e, 64)}}),
        std::nullopt,
        Send({1, msg::Extension{0, to_bytes(std::string_view("ping"))}}),
        Send({1, msg::Close{}}),
    };
}

// What sendB() sends.
std::vector<Send> responder_sends(const crypto::SplitKeys& split) {
    const auto cap = crypto::capability(core_key(), split);
    const Bytes dk = unhex(test::kCoreDiscoveryKey);
    return {
        Send({1, msg::Open{dk, Bytes(cap.begin(), cap.end())}}),
        Send({1, msg::PeerStatus{false, true}}),
        Send({1, msg::Want{0, 1048576}}),
        Send({1, msg::Request{3, std::nullopt, std::nullopt, 2}}),
        std::nullopt,
        Send({1, msg::Cancel{3, std::nullopt, std::nullopt}}),
        Send({1, msg::Close{dk}}),
    };
}

// Encrypts each send separately and compares it with the JS chunk of the same index.
void expect_sends_match(TransportCipher& cipher, const std::vector<Send>& sends,
                        std::span<const std::string_view> chunks) {
    ASSERT_EQ(sends.size(), chunks.size());
    for (std::size_t i = 0; i < sends.size(); ++i) {
        Bytes wire;
        if (sends[i]) {
            msg::encode_frame(wire, sends[i]->first, sends[i]->second);
        } else {
            wire.push_back(kKeepAliveByte);
        }
        cipher.encrypt(wire);
        EXPECT_EQ(to_hex(wire), std::string(chunks[i]).c_str()) << "send " << i;
    }
}

// Decrypts and decodes the JS chunks in 7-byte pieces (unrelated to the chunk boundaries) and
// compares the messages with what the JS side sent (keep-alives produce no frame).
void expect_receives_match(TransportCipher& cipher, const std::vector<Send>& sends,
                           std::span<const std::string_view> chunks) {
    Bytes wire;
    for (auto c : chunks) append_bytes(wire, unhex(c));
    FrameDecoder decoder;
    std::vector<msg::Message> got;
    std::vector<std::uint64_t> channels;
    for (std::size_t pos = 0; pos < wire.size(); pos += 7) {
        MutableByteView piece =
            MutableByteView(wire).subspan(pos, std::min<std::size_t>(7, wire.size() - pos));
        cipher.decrypt(piece);
        std::vector<Frame> frames;
        ASSERT_TRUE(decoder.push(piece, frames).ok());
        for (const auto& f : frames) {
            auto m = msg::decode_message(f.type, f.body);
            ASSERT_TRUE(m.ok()) << m.error().message;
            msg::own(*m);  // the frame body may live in the decoder's reused buffer
            got.push_back(std::move(*m));
            channels.push_back(f.channel);
        }
    }
    std::vector<msg::Message> want;
    for (const auto& s : sends)
        if (s) want.push_back(s->second);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_TRUE(got[i] == want[i]) << "message " << i;
        EXPECT_EQ(channels[i], 1u);
    }
}

TEST(StreamFixture, OurInitiatorAgainstJsResponder) {
    auto hs = test::kat_initiator();
    EXPECT_EQ(to_hex(hs.take_output()), kInitiatorChunks[0]);
    auto r = hs.receive(unhex(kResponderChunks[0]));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(hs.done());
    EXPECT_EQ(to_hex(hs.take_output()), kInitiatorChunks[1]);

    auto cipher = hs.transport_cipher();
    expect_sends_match(cipher, initiator_sends(hs.split()), std::span(kInitiatorChunks).subspan(2));
    const crypto::SplitKeys peer{hs.split().rx, hs.split().tx};
    expect_receives_match(cipher, responder_sends(peer), std::span(kResponderChunks).subspan(1));
}

TEST(StreamFixture, OurResponderAgainstJsInitiator) {
    auto hs = test::kat_responder();
    auto r = hs.receive(unhex(kInitiatorChunks[0]));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(to_hex(hs.take_output()), kResponderChunks[0]);
    // m3 and the whole JS transport in one read: the handshake takes only m3.
    Bytes rest = unhex(kInitiatorChunks[1]);
    const std::size_t m3_size = rest.size();
    for (std::size_t i = 2; i < std::size(kInitiatorChunks); ++i)
        append_bytes(rest, unhex(kInitiatorChunks[i]));
    r = hs.receive(rest);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, m3_size);
    ASSERT_TRUE(hs.done());
    EXPECT_FALSE(hs.has_output());

    auto cipher = hs.transport_cipher();
    expect_sends_match(cipher, responder_sends(hs.split()), std::span(kResponderChunks).subspan(1));
    const crypto::SplitKeys peer{hs.split().rx, hs.split().tx};
    expect_receives_match(cipher, initiator_sends(peer), std::span(kInitiatorChunks).subspan(2));

    // The capabilities each side expects from the other are what the other sent.
    EXPECT_TRUE(crypto::verify_remote_capability(core_key(), hs.split(),
                                                 crypto::capability(core_key(), peer)));
}

}  // namespace
}  // namespace hs::protocol
