// Transport cipher (XSalsa20 with a running position) and channel capabilities: known answers of
// docs/known-answers.md and continuity across arbitrary chunking.
#include "v9/protocol/cipher.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <random>

#include "common/crypto/capability.h"
#include "v9/protocol/messages.h"
#include "v9/protocol/noise.h"
#include "protocol_test_util.h"

namespace hs::protocol {
namespace {

using test::filled;
using test::filled_array;
using test::unhex;

crypto::SplitKeys kat_initiator_split() {
    crypto::SplitKeys s;
    const Bytes tx = unhex("fa26c3bdf33b6d46d2f4fa9106645dd9deb1ab161c432a3c96b81a2094455341");
    const Bytes rx = unhex("b9dab094f59c3df22076dbd1cf147f14e95c2657e33ce0b23033f1b1fcf6b562");
    std::copy(tx.begin(), tx.end(), s.tx.begin());
    std::copy(rx.begin(), rx.end(), s.rx.begin());
    return s;
}

const Bytes kOpenPlaintext = unhex(
    "45 10 0a20 c1feb82a2b3ba065ffed9f6addcf19ac250793bcab748986a1b4272c62da20e6 "
    "1220 4eb3e8e4150ed79d8d5322af486f18174d06685e9264d3629fa67b49304475e0");
const Bytes kOpenWire = unhex(
    "f400a60ec9bbc80ef42ba6ffa48623d40d01d7002da73ad701313f01292797a956181ce0a13a42d7ca3327eb9fe848"
    "af"
    "8b5578ce2960e4e6956bf53233ff25f04be0ada2d71e");

crypto::PublicKey core_key() {
    crypto::PublicKey k;
    const Bytes b = unhex(test::kCorePublicKey);
    std::copy(b.begin(), b.end(), k.begin());
    return k;
}

TEST(Capability, ReferenceValues) {
    crypto::SplitKeys split;
    split.tx.fill(0xaa);
    split.rx.fill(0xbb);
    EXPECT_EQ(to_hex(crypto::capability(core_key(), split)),
              "15636c0f0f9464c4eed82e6047d4e99655295fede65e05d8affc56e0f6e72eb0");
    EXPECT_EQ(to_hex(crypto::remote_capability(core_key(), split)),
              "521344a10af16a31754f30a07c0e28ca1d485d90d445b7eb4cfd2322fe46539f");
}

TEST(Capability, FirstOpenOfTranscriptAndPeerCheck) {
    const auto split = kat_initiator_split();
    const auto cap = crypto::capability(core_key(), split);
    EXPECT_EQ(to_hex(cap), "4eb3e8e4150ed79d8d5322af486f18174d06685e9264d3629fa67b49304475e0");
    // The responder's view: its tx/rx are swapped, so what it expects is what we send.
    crypto::SplitKeys peer{split.rx, split.tx};
    EXPECT_EQ(crypto::remote_capability(core_key(), peer), cap);
    EXPECT_TRUE(crypto::verify_remote_capability(core_key(), peer, cap));
    Bytes bad(cap.begin(), cap.end());
    bad[31] ^= 1;
    EXPECT_FALSE(crypto::verify_remote_capability(core_key(), peer, bad));
    EXPECT_FALSE(crypto::verify_remote_capability(core_key(), peer, ByteView(cap).first(31)));
    EXPECT_FALSE(crypto::verify_remote_capability(core_key(), peer, {}));
}

TEST(Cipher, FirstOpenFramePlaintextFromOurEncoder) {
    const auto cap = crypto::capability(core_key(), kat_initiator_split());
    Bytes frame;
    msg::encode_frame(frame, 1,
                      msg::Open{unhex(test::kCoreDiscoveryKey), Bytes(cap.begin(), cap.end())});
    EXPECT_EQ(to_hex(frame), to_hex(kOpenPlaintext));
}

TEST(Cipher, FirstFrameAndKeepAliveOfTranscript) {
    const auto split = kat_initiator_split();
    TransportCipher cipher(split, filled_array<24>(0x55), filled_array<24>(0x66));
    Bytes frame = kOpenPlaintext;
    ASSERT_EQ(frame.size(), 70u);
    cipher.encrypt(frame);
    EXPECT_EQ(to_hex(frame), to_hex(kOpenWire));
    std::uint8_t keep_alive = 0x00;
    cipher.encrypt(MutableByteView(&keep_alive, 1));
    EXPECT_EQ(keep_alive, 0x24);  // keystream offset 70
    EXPECT_EQ(cipher.sent_bytes(), 71u);

    // The responder decrypts with the same key and nonce.
    crypto::SplitKeys peer{split.rx, split.tx};
    TransportCipher other(peer, filled_array<24>(0x66), filled_array<24>(0x55));
    Bytes wire = kOpenWire;
    wire.push_back(0x24);
    other.decrypt(wire);
    EXPECT_EQ(to_hex(ByteView(wire).first(70)), to_hex(kOpenPlaintext));
    EXPECT_EQ(wire[70], 0x00);
    EXPECT_EQ(other.received_bytes(), 71u);
}

TEST(Cipher, TranscriptFromHandshake) {
    auto initiator = test::kat_initiator();
    auto responder = test::kat_responder();
    ASSERT_TRUE(responder.receive(initiator.take_output()).ok());
    ASSERT_TRUE(initiator.receive(responder.take_output()).ok());
    ASSERT_TRUE(responder.receive(initiator.take_output()).ok());
    auto tx = initiator.transport_cipher();
    auto rx = responder.transport_cipher();
    Bytes frame = kOpenPlaintext;
    tx.encrypt(frame);
    EXPECT_EQ(frame, kOpenWire);
    rx.decrypt(frame);
    EXPECT_EQ(frame, kOpenPlaintext);
}

// Reference keystream: libsodium's own xsalsa20 over the whole buffer at once.
Bytes reference_xor(ByteView data, const StreamKey& key, const StreamNonce& nonce) {
    Bytes out(data.begin(), data.end());
    crypto_stream_xsalsa20_xor_ic(out.data(), out.data(), out.size(), nonce.data(), 0, key.data());
    return out;
}

TEST(Cipher, AnyChunkingGivesTheSameStream) {
    const auto key = filled_array<32>(0x42);
    const auto nonce = filled_array<24>(0x17);
    Bytes plain(4096 + 37);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<std::uint8_t>(i * 7 + 3);
    const Bytes expected = reference_xor(plain, key, nonce);

    // Fixed chunk sizes around the block size, then seeded random chunkings.
    for (std::size_t chunk : {1u, 2u, 3u, 63u, 64u, 65u, 127u, 128u, 1000u, 5000u}) {
        XSalsa20Xor x(key, nonce);
        Bytes data = plain;
        for (std::size_t pos = 0; pos < data.size(); pos += chunk)
            x.apply(MutableByteView(data).subspan(pos, std::min(chunk, data.size() - pos)));
        EXPECT_EQ(data, expected) << "chunk " << chunk;
        EXPECT_EQ(x.position(), plain.size());
    }
    std::mt19937 rng(1234);
    for (int round = 0; round < 50; ++round) {
        XSalsa20Xor x(key, nonce);
        Bytes data = plain;
        std::size_t pos = 0;
        while (pos < data.size()) {
            const std::size_t n = std::min<std::size_t>(rng() % 200, data.size() - pos);
            x.apply(MutableByteView(data).subspan(pos, n));  // includes empty chunks
            pos += n;
        }
        ASSERT_EQ(data, expected) << "round " << round;
    }
}

TEST(Cipher, DirectionsAreIndependent) {
    const auto split = kat_initiator_split();
    TransportCipher a(split, filled_array<24>(0x55), filled_array<24>(0x66));
    Bytes x(10, 0);
    Bytes y(10, 0);
    a.encrypt(x);
    a.decrypt(y);
    EXPECT_NE(x, y);
    EXPECT_EQ(a.sent_bytes(), 10u);
    EXPECT_EQ(a.received_bytes(), 10u);
    StreamKey tx_key = split.tx;
    EXPECT_EQ(x, reference_xor(Bytes(10, 0), tx_key, filled_array<24>(0x55)));
    EXPECT_EQ(y, reference_xor(Bytes(10, 0), split.rx, filled_array<24>(0x66)));
}

}  // namespace
}  // namespace hs::protocol
