// Noise XX and IK on Ed25519 keys against the pinned JS noise-handshake 4.2.0 + noise-curve-ed
// 2.1.0: tests/fixtures/v11/noise.json (written by make_noise.js beside it) holds whole
// handshakes with fixed keys; both of our roles must reproduce every message, payload,
// handshake hash and split key, and fail where JS failed.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/util/hex.h"
#include "v11/noise/curve_ed25519.h"
#include "v11/noise/handshake.h"

namespace hs::v11::noise {
namespace {

using nlohmann::json;

Bytes unhex(const json& j) {
    auto b = from_hex(j.get<std::string>());
    EXPECT_TRUE(b.has_value()) << j;
    return b ? *b : Bytes{};
}

crypto::KeyPair key_from(const json& seed_hex) {
    return crypto::keypair_from_seed(unhex(seed_hex));
}

Pattern pattern_of(const json& j) {
    return j.get<std::string>() == "XX" ? Pattern::XX : Pattern::IK;
}

json load_fixture() {
    std::ifstream in(std::string(HS_V11_FIXTURES) + "/noise.json");
    EXPECT_TRUE(in.good()) << "missing " << HS_V11_FIXTURES << "/noise.json";
    return json::parse(in);
}

const json& fixture() {
    static const json f = load_fixture();
    return f;
}

struct Pair {
    Handshake initiator;
    Handshake responder;
};

Pair make_pair(Pattern pattern, const crypto::KeyPair& is, const crypto::KeyPair& ie,
               const crypto::KeyPair& rs, const crypto::KeyPair& re, ByteView prologue,
               const crypto::PublicKey& believed_responder) {
    HandshakeOptions io;
    io.prologue = to_bytes(prologue);
    io.ephemeral = ie;
    if (pattern == Pattern::IK) io.remote_static = believed_responder;
    HandshakeOptions ro;
    ro.prologue = to_bytes(prologue);
    ro.ephemeral = re;
    return {Handshake::initiator(pattern, is, std::move(io)),
            Handshake::responder(pattern, rs, std::move(ro))};
}

TEST(NoiseV11, ReproducesJsHandshakesInBothRoles) {
    const auto& handshakes = fixture().at("handshakes");
    ASSERT_EQ(handshakes.size(), 4u);
    for (const auto& h : handshakes) {
        SCOPED_TRACE(h.at("name").get<std::string>());
        const Pattern pattern = pattern_of(h.at("pattern"));
        EXPECT_EQ(protocol_name(pattern), h.at("protocol").get<std::string>());
        const auto& ji = h.at("initiator");
        const auto& jr = h.at("responder");
        const auto is = key_from(ji.at("static_seed"));
        const auto ie = key_from(ji.at("ephemeral_seed"));
        const auto rs = key_from(jr.at("static_seed"));
        const auto re = key_from(jr.at("ephemeral_seed"));
        EXPECT_EQ(to_hex(is.public_key), ji.at("static_public"));
        EXPECT_EQ(to_hex(re.public_key), jr.at("ephemeral_public"));
        auto [initiator, responder] =
            make_pair(pattern, is, ie, rs, re, unhex(h.at("prologue")), rs.public_key);

        for (const auto& m : h.at("messages")) {
            const bool from_initiator = m.at("from") == "initiator";
            Handshake& writer = from_initiator ? initiator : responder;
            Handshake& reader = from_initiator ? responder : initiator;
            ASSERT_TRUE(writer.our_turn());
            ASSERT_FALSE(reader.our_turn());
            auto message = writer.write_message(unhex(m.at("payload")));
            ASSERT_TRUE(message.ok()) << message.error().message;
            EXPECT_EQ(to_hex(*message), m.at("message"));
            auto payload = reader.read_message(*message);
            ASSERT_TRUE(payload.ok()) << payload.error().message;
            EXPECT_EQ(to_hex(*payload), m.at("payload"));
        }
        ASSERT_TRUE(initiator.complete());
        ASSERT_TRUE(responder.complete());
        EXPECT_EQ(to_hex(initiator.handshake_hash()), h.at("handshake_hash"));
        EXPECT_EQ(to_hex(responder.handshake_hash()), h.at("handshake_hash"));
        EXPECT_EQ(to_hex(initiator.split().tx), ji.at("tx"));
        EXPECT_EQ(to_hex(initiator.split().rx), ji.at("rx"));
        EXPECT_EQ(to_hex(responder.split().tx), jr.at("tx"));
        EXPECT_EQ(to_hex(responder.split().rx), jr.at("rx"));
        ASSERT_TRUE(initiator.remote_static_key().has_value());
        ASSERT_TRUE(responder.remote_static_key().has_value());
        EXPECT_EQ(to_hex(*initiator.remote_static_key()), ji.at("remote_static"));
        EXPECT_EQ(to_hex(*responder.remote_static_key()), jr.at("remote_static"));
        // Nothing more to send or read.
        EXPECT_EQ(initiator.write_message().error().code, Errc::InvalidArgument);
        EXPECT_EQ(responder.read_message(Bytes(64)).error().code, Errc::InvalidArgument);
    }
}

TEST(NoiseV11, FailsWhereJsFails) {
    const auto& failures = fixture().at("failures");
    ASSERT_GE(failures.size(), 8u);
    for (const auto& f : failures) {
        SCOPED_TRACE(f.at("name").get<std::string>());
        const Pattern pattern = pattern_of(f.at("pattern"));
        auto [initiator, responder] = make_pair(
            pattern, key_from(f.at("initiator_static_seed")),
            key_from(f.at("initiator_ephemeral_seed")), key_from(f.at("responder_static_seed")),
            key_from(f.at("responder_ephemeral_seed")), {},
            key_from(f.at("initiator_believes_responder_seed")).public_key);
        const std::size_t index = f.at("index");
        // The honest messages before the failing one.
        for (std::size_t i = 0; i < index; ++i) {
            Handshake& writer = i % 2 == 0 ? initiator : responder;
            Handshake& reader = i % 2 == 0 ? responder : initiator;
            auto m = writer.write_message();
            ASSERT_TRUE(m.ok());
            ASSERT_TRUE(reader.read_message(*m).ok());
        }
        Handshake& writer = index % 2 == 0 ? initiator : responder;
        Handshake& reader = index % 2 == 0 ? responder : initiator;
        ASSERT_TRUE(writer.write_message().ok());  // the honest one, replaced below
        auto got = reader.read_message(unhex(f.at("message")));
        if (f.at("fails_in") == "recv") {
            ASSERT_FALSE(got.ok());
            EXPECT_EQ(got.error().code, Errc::HandshakeFailed);
            EXPECT_TRUE(reader.failed());
            EXPECT_EQ(reader.error().code, Errc::HandshakeFailed);
            // Sticky: nothing works afterwards.
            EXPECT_EQ(reader.write_message().error().code, Errc::InvalidArgument);
        } else {
            ASSERT_TRUE(got.ok()) << got.error().message;
            auto reply = reader.write_message();
            ASSERT_FALSE(reply.ok());
            EXPECT_EQ(reply.error().code, Errc::HandshakeFailed);
            EXPECT_TRUE(reader.failed());
        }
    }
}

TEST(NoiseV11, SecretStreamMessageSizes) {
    // XX with empty payloads: 32, 96 and 64 bytes (35, 99, 67 with secret-stream's u24 prefix).
    auto a = Handshake::initiator(Pattern::XX, crypto::random_keypair());
    auto b = Handshake::responder(Pattern::XX, crypto::random_keypair());
    auto m1 = a.write_message();
    ASSERT_TRUE(m1.ok());
    EXPECT_EQ(m1->size(), 32u);
    ASSERT_TRUE(b.read_message(*m1).ok());
    auto m2 = b.write_message();
    EXPECT_EQ(m2->size(), 96u);
    ASSERT_TRUE(a.read_message(*m2).ok());
    auto m3 = a.write_message();
    EXPECT_EQ(m3->size(), 64u);
    ASSERT_TRUE(b.read_message(*m3).ok());
    ASSERT_TRUE(a.complete() && b.complete());
    EXPECT_EQ(a.split().tx, b.split().rx);
    EXPECT_EQ(a.split().rx, b.split().tx);
    EXPECT_EQ(a.handshake_hash(), b.handshake_hash());
    EXPECT_EQ(*a.remote_static_key(), b.local_static_key());
    EXPECT_EQ(*b.remote_static_key(), a.local_static_key());
}

TEST(NoiseV11, TurnOrderAndPayloadLimit) {
    auto a = Handshake::initiator(Pattern::XX, crypto::random_keypair());
    auto b = Handshake::responder(Pattern::XX, crypto::random_keypair());
    EXPECT_EQ(b.write_message().error().code, Errc::InvalidArgument);
    EXPECT_EQ(a.read_message(Bytes(96)).error().code, Errc::InvalidArgument);
    EXPECT_FALSE(a.failed());
    EXPECT_FALSE(b.failed());
    ASSERT_TRUE(b.read_message(*a.write_message()).ok());
    // m2 is encrypted: a payload over 65535 - 16 bytes is refused and nothing changes.
    auto big = b.write_message(Bytes(65520));
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.error().code, Errc::TooLarge);
    EXPECT_FALSE(b.failed());
    auto ok = b.write_message(Bytes(65519));
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(a.read_message(*ok).ok());
}

TEST(NoiseV11, EveryTruncationAndBitFlipFails) {
    for (const Pattern pattern : {Pattern::XX, Pattern::IK}) {
        const auto is = crypto::keypair_from_seed(Bytes(32, 1));
        const auto rs = crypto::keypair_from_seed(Bytes(32, 2));
        const std::size_t count = pattern == Pattern::XX ? 3 : 2;
        for (std::size_t target = 0; target < count; ++target) {
            // The honest transcript up to the target message.
            auto honest = [&] {
                HandshakeOptions io;
                io.remote_static = rs.public_key;
                io.ephemeral = crypto::keypair_from_seed(Bytes(32, 3));
                HandshakeOptions ro;
                ro.ephemeral = crypto::keypair_from_seed(Bytes(32, 4));
                Pair p{Handshake::initiator(pattern, is, io),
                       Handshake::responder(pattern, rs, ro)};
                for (std::size_t i = 0; i < target; ++i) {
                    Handshake& w = i % 2 == 0 ? p.initiator : p.responder;
                    Handshake& r = i % 2 == 0 ? p.responder : p.initiator;
                    EXPECT_TRUE(r.read_message(*w.write_message()).ok());
                }
                return p;
            };
            Pair p = honest();
            Handshake& w = target % 2 == 0 ? p.initiator : p.responder;
            const Bytes message = *w.write_message();
            // XX message 0 is plaintext (an ephemeral key and no payload): only truncation below
            // 32 bytes is detectable there, the rest surfaces in later messages.
            const bool authenticated = !(pattern == Pattern::XX && target == 0);
            for (std::size_t cut = 0; cut < message.size(); ++cut) {
                Pair q = honest();
                Handshake& r = target % 2 == 0 ? q.responder : q.initiator;
                auto got = r.read_message(ByteView(message).first(cut));
                if (authenticated || cut < 32) {
                    ASSERT_FALSE(got.ok()) << "cut " << cut;
                    EXPECT_EQ(got.error().code, Errc::HandshakeFailed);
                }
            }
            if (!authenticated) continue;
            for (std::size_t bit = 0; bit < message.size() * 8; bit += 7) {
                Pair q = honest();
                Handshake& r = target % 2 == 0 ? q.responder : q.initiator;
                Bytes tampered = message;
                tampered[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
                auto got = r.read_message(tampered);
                ASSERT_FALSE(got.ok()) << "bit " << bit;
                EXPECT_EQ(got.error().code, Errc::HandshakeFailed);
                EXPECT_TRUE(r.failed());
            }
        }
    }
}

TEST(NoiseV11, DhMatchesBothWaysAndRejectsBadPoints) {
    const auto a = crypto::keypair_from_seed(Bytes(32, 9));
    const auto b = crypto::keypair_from_seed(Bytes(32, 10));
    auto ab = dh(b.public_key, a.secret_key);
    auto ba = dh(a.public_key, b.secret_key);
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(*ab, *ba);
    crypto::PublicKey identity{};
    identity[0] = 1;
    EXPECT_EQ(dh(identity, a.secret_key).error().code, Errc::HandshakeFailed);
    crypto::PublicKey zero{};
    EXPECT_FALSE(dh(zero, a.secret_key).ok());
}

}  // namespace
}  // namespace hs::v11::noise
