// Stream: two Streams back to back in memory (any chunking), and a Stream against a scripted
// remote (a bare NoiseHandshake + TransportCipher) that can send whatever bytes a test needs.
// Time is fake: every call gets an explicit time point.
#include "v9/protocol/stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/crypto/capability.h"
#include "common/crypto/derive.h"
#include "protocol_test_util.h"
#include "common/util/varint.h"

namespace hs::protocol {
namespace {

using namespace std::chrono_literals;
using test::filled;
using test::filled_array;
using test::unhex;

const Clock::time_point kT0 = Clock::time_point{} + 1000h;

crypto::PublicKey core_key(std::uint8_t seed) {
    return crypto::keypair_from_seed(filled(seed, 32)).public_key;
}
Bytes dk_bytes(const crypto::PublicKey& key) {
    const auto dk = crypto::discovery_key(key);
    return Bytes(dk.begin(), dk.end());
}

// Records everything a stream and its channels report. Hooks let a test act inside callbacks.
struct Recorder : StreamEvents, ChannelHandler {
    struct Received {
        ChannelId local_id;
        msg::Message message;
    };

    int handshakes = 0;
    std::vector<crypto::Hash32> discovery_keys;
    std::vector<msg::Options> stream_options;
    std::vector<std::pair<std::uint64_t, Bytes>> stream_extensions;
    std::vector<Error> stream_closes;
    std::vector<ChannelId> remote_opens;
    std::vector<Received> messages;
    std::vector<ChannelId> channel_closes;

    std::function<void(Stream&, const crypto::Hash32&)> on_dk;
    std::function<Status(Channel&, const msg::Message&)> on_msg;
    std::function<void(Stream&)> on_hs;

    void on_handshake(Stream& s) override {
        ++handshakes;
        if (on_hs) on_hs(s);
    }
    void on_discovery_key(Stream& s, const crypto::Hash32& dk) override {
        discovery_keys.push_back(dk);
        if (on_dk) on_dk(s, dk);
    }
    void on_stream_extension(Stream&, std::uint64_t id, ByteView payload) override {
        stream_extensions.emplace_back(id, to_bytes(payload));
    }
    void on_stream_options(Stream&, const msg::Options& o) override { stream_options.push_back(o); }
    void on_close(Stream&, const Error& reason) override { stream_closes.push_back(reason); }

    void on_remote_open(Channel& ch) override { remote_opens.push_back(ch.local_id()); }
    Status on_message(Channel& ch, const msg::Message& m) override {
        messages.push_back({ch.local_id(), m});
        return on_msg ? on_msg(ch, m) : Status();
    }
    void on_close(Channel& ch) override {
        EXPECT_TRUE(ch.closed());
        channel_closes.push_back(ch.local_id());
    }
};

StreamOptions options(bool initiator, std::uint8_t seed) {
    StreamOptions o;
    o.initiator = initiator;
    o.static_keys = noise_keypair_from_seed(filled(seed, 32));
    return o;
}

// Moves `from`'s output into `to` in pieces whose sizes cycle through `chunks` (0 = all at once).
void transfer(Stream& from, Stream& to, const std::vector<std::size_t>& chunks, std::size_t& turn,
              Clock::time_point now) {
    while (!from.pending_output().empty() && !to.closed()) {
        ByteView out = from.pending_output();
        std::size_t n = chunks.empty() ? 0 : chunks[turn++ % chunks.size()];
        if (n == 0 || n > out.size()) n = out.size();
        const Bytes piece(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
        from.consume_output(n);
        (void)to.receive(piece, now);
    }
}

// Initiator `a` and responder `b`, wired in memory.
struct Pair {
    Recorder ra, rb;
    Stream a{options(true, 0x11), ra, kT0};
    Stream b{options(false, 0x22), rb, kT0};
    std::vector<std::size_t> chunks;
    std::size_t turn = 0;

    void pump(Clock::time_point now = kT0) {
        for (int i = 0; i < 1000; ++i) {
            if (a.pending_output().empty() && b.pending_output().empty()) return;
            transfer(a, b, chunks, turn, now);
            transfer(b, a, chunks, turn, now);
            if (a.closed() || b.closed()) return;
        }
        FAIL() << "pump did not settle";
    }
};

// A scripted remote: drives the handshake with a bare NoiseHandshake, then encrypts whatever
// plaintext a test gives it and decrypts/decodes what the Stream under test sends.
struct RawPeer {
    NoiseHandshake hs;
    std::optional<TransportCipher> cipher;
    FrameDecoder decoder;

    explicit RawPeer(bool initiator)
        : hs(initiator ? test::kat_initiator() : test::kat_responder()) {}

    // Completes the handshake with `s` (whose role is the opposite of ours).
    void handshake(Stream& s, Clock::time_point now = kT0) {
        Bytes to_stream = hs.take_output();
        for (int i = 0; i < 4 && !hs.done(); ++i) {
            if (!to_stream.empty()) {
                ASSERT_TRUE(s.receive(to_stream, now).ok());
            }
            const ByteView out = s.pending_output();
            auto r = hs.receive(out);
            ASSERT_TRUE(r.ok()) << r.error().message;
            ASSERT_EQ(*r, out.size()) << "the stream sent frames before our handshake finished";
            s.consume_output(out.size());
            to_stream = hs.take_output();
        }
        ASSERT_TRUE(hs.done());
        if (!to_stream.empty()) {
            ASSERT_TRUE(s.receive(to_stream, now).ok());
        }
        ASSERT_TRUE(s.handshake_done());
        cipher.emplace(hs.transport_cipher());
    }

    Bytes encrypt(Bytes plain) {
        cipher->encrypt(plain);
        return plain;
    }
    Bytes frame(ChannelId ch, const msg::Message& m) {
        Bytes plain;
        msg::encode_frame(plain, ch, m);
        return encrypt(std::move(plain));
    }
    Bytes open(ChannelId ch, const crypto::PublicKey& key) {
        const auto cap = crypto::capability(key, hs.split());
        return frame(ch, msg::Open{dk_bytes(key), Bytes(cap.begin(), cap.end())});
    }

    // Everything `s` sent since the last read, decoded. `keep_alives` counts zero bytes, which
    // is the number of keep-alives when the frames contain no zero byte.
    std::vector<std::pair<ChannelId, msg::Message>> read(Stream& s,
                                                         std::size_t* keep_alives = nullptr) {
        Bytes wire = to_bytes(s.pending_output());
        s.consume_output(wire.size());
        cipher->decrypt(wire);
        if (keep_alives)
            *keep_alives = static_cast<std::size_t>(std::count(wire.begin(), wire.end(), 0));
        std::vector<Frame> frames;
        EXPECT_TRUE(decoder.push(wire, frames).ok());
        std::vector<std::pair<ChannelId, msg::Message>> out;
        for (const auto& f : frames) {
            auto m = msg::decode_message(f.type, f.body);
            EXPECT_TRUE(m.ok());
            if (!m) continue;
            msg::own(*m);  // `wire` ends with this call
            out.emplace_back(f.channel, std::move(*m));
        }
        return out;
    }
};

template <typename M>
const M* as(const msg::Message& m) {
    return std::get_if<M>(&m);
}

// ---------------------------------------------------------------------------------------------
// Handshake and chunking

class StreamChunking : public ::testing::TestWithParam<std::vector<std::size_t>> {};

TEST_P(StreamChunking, HandshakeChannelsAndMessages) {
    Pair p;
    p.chunks = GetParam();
    const auto key = core_key(1);
    // The initiator opens and sends before the handshake; the responder opens after it.
    Channel* ca = p.a.open(key, p.ra);
    ASSERT_NE(ca, nullptr);
    ca->send(msg::Want{0, 1048576});
    p.pump();
    ASSERT_TRUE(p.a.handshake_done());
    ASSERT_TRUE(p.b.handshake_done());
    EXPECT_EQ(p.ra.handshakes, 1);
    EXPECT_EQ(p.rb.handshakes, 1);
    EXPECT_EQ(*p.a.remote_public_key(), p.b.local_public_key());
    EXPECT_EQ(*p.b.remote_public_key(), p.a.local_public_key());
    // b does not know the key yet: it heard the discovery key and refused it.
    ASSERT_EQ(p.rb.discovery_keys.size(), 1u);
    EXPECT_EQ(p.rb.discovery_keys[0], crypto::discovery_key(key));
    // a got Close{dk} for its channel and closed it.
    EXPECT_TRUE(ca->closed());
    EXPECT_EQ(p.ra.channel_closes, std::vector<ChannelId>{1});
    EXPECT_TRUE(p.rb.messages.empty()) << "the Want on a refused channel is ignored";

    // Now both open: capabilities verify both ways, and messages route by channel.
    p.rb.on_dk = [&](Stream& s, const crypto::Hash32&) { s.open(key, p.rb); };
    Channel* ca2 = p.a.open(key, p.ra);
    ASSERT_NE(ca2, nullptr);
    ca2->send(msg::Have{5, 2, std::nullopt, std::nullopt});
    p.pump();
    ASSERT_EQ(p.rb.remote_opens.size(), 1u);
    ASSERT_EQ(p.ra.remote_opens.size(), 1u);
    EXPECT_TRUE(ca2->remote_opened());
    ASSERT_EQ(p.rb.messages.size(), 1u);
    EXPECT_EQ(*as<msg::Have>(p.rb.messages[0].message),
              (msg::Have{5, 2, std::nullopt, std::nullopt}));
    Channel* cb = p.b.find(crypto::discovery_key(key));
    ASSERT_NE(cb, nullptr);
    cb->send(msg::PeerStatus{false, true});
    cb->send(msg::Extension{3, to_bytes("hello")});
    p.pump();
    ASSERT_EQ(p.ra.messages.size(), 2u);
    EXPECT_EQ(*as<msg::PeerStatus>(p.ra.messages[0].message), (msg::PeerStatus{false, true}));
    EXPECT_EQ(*as<msg::Extension>(p.ra.messages[1].message),
              (msg::Extension{3, to_bytes("hello")}));
    EXPECT_EQ(p.a.bytes_sent(), p.b.bytes_received());
    EXPECT_EQ(p.b.bytes_sent(), p.a.bytes_received());
    EXPECT_FALSE(p.a.closed());
    EXPECT_FALSE(p.b.closed());
}

INSTANTIATE_TEST_SUITE_P(Chunks, StreamChunking,
                         ::testing::Values(std::vector<std::size_t>{}, std::vector<std::size_t>{1},
                                           std::vector<std::size_t>{2, 5},
                                           std::vector<std::size_t>{7, 1, 64, 3},
                                           std::vector<std::size_t>{58, 60, 122, 124, 90, 92}));

TEST(Stream, RandomChunkingDeliversEverythingInOrder) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 20; ++round) {
        Pair p;
        for (int i = 0; i < 16; ++i)
            p.chunks.push_back(std::uniform_int_distribution<std::size_t>(1, 200)(rng));
        const auto key = core_key(2);
        p.rb.on_dk = [&](Stream& s, const crypto::Hash32&) { s.open(key, p.rb); };
        Channel* ca = p.a.open(key, p.ra);
        for (std::uint64_t i = 0; i < 50; ++i)
            ca->send(msg::Have{i, std::nullopt, Bytes(i % 7, 0xab), std::nullopt});
        p.pump();
        ASSERT_EQ(p.rb.messages.size(), 50u) << "round " << round;
        for (std::uint64_t i = 0; i < 50; ++i)
            EXPECT_EQ(as<msg::Have>(p.rb.messages[i].message)->start, i);
    }
}

TEST(Stream, BytesAfterTheLastHandshakeMessageInTheSameReadAreTransport) {
    Pair p;
    const auto key = core_key(3);
    p.rb.on_dk = [&](Stream& s, const crypto::Hash32&) { s.open(key, p.rb); };
    p.a.open(key, p.ra)->send(msg::Want{0, 8192});
    // m1 -> b, m2 -> a; a's output is now m3 followed by its held frames, delivered in one read.
    ASSERT_TRUE(
        p.b.receive(Bytes(p.a.pending_output().begin(), p.a.pending_output().end()), kT0).ok());
    p.a.consume_output(p.a.pending_output().size());
    ASSERT_TRUE(
        p.a.receive(Bytes(p.b.pending_output().begin(), p.b.pending_output().end()), kT0).ok());
    p.b.consume_output(p.b.pending_output().size());
    ASSERT_TRUE(p.a.handshake_done());
    ASSERT_GT(p.a.pending_output().size(), 91u) << "m3 plus the held Open and Want";
    ASSERT_TRUE(
        p.b.receive(Bytes(p.a.pending_output().begin(), p.a.pending_output().end()), kT0).ok());
    EXPECT_TRUE(p.b.handshake_done());
    EXPECT_EQ(p.rb.discovery_keys.size(), 1u);
    ASSERT_EQ(p.rb.messages.size(), 1u);
    EXPECT_EQ(*as<msg::Want>(p.rb.messages[0].message), (msg::Want{0, 8192}));
}

// The first chunks the JS initiator sends in the known-answer session of
// stream_fixture_test.cpp (simple-hypercore-protocol 2.1.2, known-answer keys): m1, m3, the Open
// it queued before the handshake, then a keep-alive.
constexpr std::string_view kJsM1 =
    "3acde8dc3b40f5f77354b5db96c739c06b7029edc7d1b745cd118e30603cd06a710a18555555555555555555"
    "555555555555555555555555555555";
constexpr std::string_view kJsM3 =
    "5a3023a1a528c2ab5b51fb410fb27f499b08e0fa694f8e676c1cdd0ec2227b262409edfeaaec751b29083405"
    "d18826a877b68184d6caad12473b2e7bab4619fa284670448af4efcc38ec165ab5383746eafe2fe2d477e981"
    "8ca64a";
constexpr std::string_view kJsOpen =
    "f400a60ec9bbc80ef42ba6ffa48623d40d01d7002da73ad701313f01292797a956181ce0a13a42d7ca3327eb"
    "9fe848af8b5578ce2960e4e6956bf53233ff25f04be0ada2d71e";
constexpr std::string_view kJsKeepAlive = "24";

TEST(Stream, InitiatorBytesMatchTheJsSession) {
    Recorder r;
    StreamOptions o;
    o.initiator = true;
    o.static_keys = noise_keypair_from_seed(filled(0x11, 32));
    o.nonce = filled_array<24>(0x55);
    o.ephemeral_keys = noise_keypair_from_seed(filled(0x33, 32));
    Stream s(o, r, kT0);
    crypto::PublicKey key;
    const Bytes kb = unhex(test::kCorePublicKey);
    std::copy(kb.begin(), kb.end(), key.begin());
    ASSERT_NE(s.open(key, r), nullptr);
    EXPECT_EQ(to_hex(s.pending_output()), kJsM1);
    s.consume_output(s.pending_output().size());

    RawPeer remote(false);  // the known-answer responder
    ASSERT_TRUE(remote.hs.receive(unhex(kJsM1)).ok());
    ASSERT_TRUE(s.receive(remote.hs.take_output(), kT0 + 1s).ok());
    EXPECT_EQ(to_hex(s.pending_output()), std::string(kJsM3) + std::string(kJsOpen));
    s.consume_output(s.pending_output().size());
    // 10 s after the last send: one keep-alive, at keystream offset 70.
    EXPECT_EQ(s.tick(kT0 + 10s), kT0 + 11s);
    EXPECT_TRUE(s.pending_output().empty());
    EXPECT_EQ(s.tick(kT0 + 11s), kT0 + 21s);
    EXPECT_EQ(to_hex(s.pending_output()), kJsKeepAlive);
}

TEST(Stream, GarbageInsteadOfAHandshakeClosesWithAReason) {
    for (bool initiator : {true, false}) {
        Recorder r;
        Stream s(options(initiator, 0x11), r, kT0);
        Bytes garbage(200, 0xff);
        const Status st = s.receive(garbage, kT0);
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, Errc::HandshakeFailed);
        EXPECT_NE(st.error().message.find("Noise handshake error"), std::string::npos);
        EXPECT_TRUE(s.closed());
        ASSERT_EQ(r.stream_closes.size(), 1u);
        EXPECT_EQ(r.stream_closes[0].code, Errc::HandshakeFailed);
        EXPECT_EQ(s.close_reason().code, Errc::HandshakeFailed);
        EXPECT_EQ(s.receive(garbage, kT0).error().code, Errc::HandshakeFailed) << "stays closed";
        EXPECT_EQ(r.stream_closes.size(), 1u);
    }
    // A well-formed length prefix followed by a message that does not authenticate.
    Recorder r;
    Stream s(options(true, 0x11), r, kT0);
    Bytes m2{122};
    m2.resize(123, 0x42);
    EXPECT_EQ(s.receive(m2, kT0).error().code, Errc::HandshakeFailed);
}

// ---------------------------------------------------------------------------------------------
// Channels against a scripted remote

struct Scripted : ::testing::Test {
    Recorder r;
    Stream s{options(true, 0x11), r, kT0};
    RawPeer remote{false};
    const crypto::PublicKey key = core_key(7);

    void SetUp() override { remote.handshake(s); }
    Status feed(const Bytes& wire) { return s.receive(wire, kT0); }
    // What s sent since the last read: exactly `close`, on our channel id `id`.
    void expect_sent_close(ChannelId id, const msg::Close& close = {}) {
        auto sent = remote.read(s);
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0].first, id);
        const auto* got = as<msg::Close>(sent[0].second);
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(*got, close);
    }
};

TEST_F(Scripted, CorrectCapabilityOpensTheChannel) {
    Channel* ch = s.open(key, r);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(ch->local_id(), 1u);
    auto sent = remote.read(s);
    ASSERT_EQ(sent.size(), 1u);
    const auto* open = as<msg::Open>(sent[0].second);
    ASSERT_NE(open, nullptr);
    EXPECT_EQ(open->discovery_key, dk_bytes(key));
    // What we send is what the remote expects from us.
    ASSERT_TRUE(open->capability);
    EXPECT_TRUE(crypto::verify_remote_capability(key, remote.hs.split(), *open->capability));

    ASSERT_TRUE(feed(remote.open(9, key)).ok());
    EXPECT_EQ(r.remote_opens, std::vector<ChannelId>{1});
    EXPECT_TRUE(ch->remote_opened());
    EXPECT_EQ(ch->remote_id(), std::optional<ChannelId>(9));
    ASSERT_TRUE(feed(remote.frame(9, msg::Request{4, std::nullopt, true, 2})).ok());
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].local_id, 1u);
    EXPECT_EQ(*as<msg::Request>(r.messages[0].message), (msg::Request{4, std::nullopt, true, 2}));
}

TEST_F(Scripted, WrongCapabilityClosesTheWholeStream) {
    Channel* ch = s.open(key, r);
    Channel* other = s.open(core_key(8), r);
    ASSERT_NE(other, nullptr);
    const Status st = feed(remote.frame(1, msg::Open{dk_bytes(key), filled(0xca, 32)}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::VerificationFailed);
    EXPECT_NE(st.error().message.find("Invalid remote channel capability"), std::string::npos);
    EXPECT_TRUE(s.closed());
    EXPECT_TRUE(ch->closed());
    EXPECT_TRUE(other->closed());
    EXPECT_TRUE(r.remote_opens.empty());
    EXPECT_EQ(r.channel_closes.size(), 2u);
    ASSERT_EQ(r.stream_closes.size(), 1u);
    EXPECT_EQ(s.channel_count(), 0u);
    EXPECT_EQ(s.open(core_key(9), r), nullptr) << "a closed stream opens nothing";
}

TEST_F(Scripted, MissingCapabilityClosesTheWholeStream) {
    s.open(key, r);
    const Status st = feed(remote.frame(1, msg::Open{dk_bytes(key), std::nullopt}));
    EXPECT_EQ(st.error().code, Errc::VerificationFailed);
}

TEST_F(Scripted, CapabilityOfAnotherSessionIsRejected) {
    s.open(key, r);
    crypto::SplitKeys other;
    other.tx.fill(1);
    other.rx.fill(2);
    const auto cap = crypto::capability(key, other);
    EXPECT_FALSE(
        feed(remote.frame(1, msg::Open{dk_bytes(key), Bytes(cap.begin(), cap.end())})).ok());
}

TEST_F(Scripted, UnknownDiscoveryKeyIsRefusedWithCloseOnAFreeId) {
    s.open(core_key(8), r);  // takes local id 1
    remote.read(s);
    ASSERT_TRUE(feed(remote.open(4, key)).ok());
    ASSERT_EQ(r.discovery_keys.size(), 1u);
    EXPECT_EQ(r.discovery_keys[0], crypto::discovery_key(key));
    // On the lowest free local id, not attached to anything.
    ASSERT_NO_FATAL_FAILURE(expect_sent_close(2, msg::Close{dk_bytes(key)}));
    // The remote's messages on that channel are ignored; the id is free again.
    ASSERT_TRUE(feed(remote.frame(4, msg::Want{0, 1048576})).ok());
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(s.open(key, r)->local_id(), 2u);
    EXPECT_FALSE(s.closed());
}

TEST_F(Scripted, UnknownDiscoveryKeyOpenedByTheOwnerDuringTheCall) {
    r.on_dk = [&](Stream& st, const crypto::Hash32& dk) {
        EXPECT_EQ(dk, crypto::discovery_key(key));
        ASSERT_NE(st.open(key, r), nullptr);
    };
    ASSERT_TRUE(feed(remote.open(3, key)).ok());
    EXPECT_EQ(r.remote_opens, std::vector<ChannelId>{1});
    auto sent = remote.read(s);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_TRUE(as<msg::Open>(sent[0].second));
    ASSERT_TRUE(feed(remote.frame(3, msg::Unhave{2, std::nullopt})).ok());
    ASSERT_EQ(r.messages.size(), 1u);
}

TEST_F(Scripted, BadCapabilityOnAChannelOpenedInAnswerClosesOnlyThatChannel) {
    r.on_dk = [&](Stream& st, const crypto::Hash32&) { st.open(key, r); };
    ASSERT_TRUE(feed(remote.frame(3, msg::Open{dk_bytes(key), filled(1, 32)})).ok());
    EXPECT_FALSE(s.closed());
    EXPECT_TRUE(r.remote_opens.empty());
    EXPECT_EQ(r.channel_closes, std::vector<ChannelId>{1});
    auto sent = remote.read(s);
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_TRUE(as<msg::Open>(sent[0].second));
    EXPECT_EQ(sent[1].first, 1u);
    EXPECT_EQ(*as<msg::Close>(sent[1].second), msg::Close{});
    EXPECT_EQ(s.channel_count(), 0u);
}

TEST_F(Scripted, MalformedDiscoveryKeyIsRefused) {
    ASSERT_TRUE(feed(remote.frame(1, msg::Open{Bytes(5, 1), std::nullopt})).ok());
    EXPECT_TRUE(r.discovery_keys.empty());
    auto sent = remote.read(s);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(*as<msg::Close>(sent[0].second), (msg::Close{Bytes(5, 1)}));
}

TEST_F(Scripted, DuplicateOpensAreAProtocolError) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    const Status st = feed(remote.open(2, key));
    EXPECT_EQ(st.error().code, Errc::Protocol);
}

TEST_F(Scripted, OpenOnARemoteIdInUseIsAProtocolError) {
    s.open(key, r);
    s.open(core_key(8), r);
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    EXPECT_EQ(feed(remote.open(1, core_key(8))).error().code, Errc::Protocol);
}

TEST_F(Scripted, RemoteCloseClosesOurSideAndAnswersClose) {
    Channel* ch = s.open(key, r);
    ASSERT_TRUE(feed(remote.open(5, key)).ok());
    remote.read(s);
    ASSERT_TRUE(feed(remote.frame(5, msg::Close{})).ok());
    EXPECT_TRUE(ch->closed());
    EXPECT_EQ(r.channel_closes, std::vector<ChannelId>{1});
    ASSERT_NO_FATAL_FAILURE(expect_sent_close(1));
    // Later frames on the old remote id are ignored; a second Close is harmless.
    ASSERT_TRUE(feed(remote.frame(5, msg::Have{0, std::nullopt, std::nullopt, std::nullopt})).ok());
    ASSERT_TRUE(feed(remote.frame(5, msg::Close{})).ok());
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.channel_closes.size(), 1u);
    EXPECT_TRUE(remote.read(s).empty());
}

TEST_F(Scripted, CloseWithDiscoveryKeyOnAnUnknownIdMatchesByKey) {
    Channel* ch = s.open(key, r);
    ASSERT_TRUE(feed(remote.frame(12, msg::Close{dk_bytes(key)})).ok());
    EXPECT_TRUE(ch->closed());
    EXPECT_EQ(r.channel_closes, std::vector<ChannelId>{1});
    // A Close for a key we never opened is ignored.
    ASSERT_TRUE(feed(remote.frame(12, msg::Close{dk_bytes(core_key(8))})).ok());
    EXPECT_FALSE(s.closed());
}

TEST_F(Scripted, LocalCloseSendsCloseAndFreesTheId) {
    Channel* c1 = s.open(key, r);
    Channel* c2 = s.open(core_key(8), r);
    Channel* c3 = s.open(core_key(9), r);
    EXPECT_EQ(c1->local_id(), 1u);
    EXPECT_EQ(c2->local_id(), 2u);
    EXPECT_EQ(c3->local_id(), 3u);
    ASSERT_TRUE(feed(remote.open(1, core_key(8))).ok());
    remote.read(s);
    c2->close();
    c2->send(msg::Want{0, 0});  // dropped: the channel is closed
    EXPECT_TRUE(c2->closed());
    EXPECT_EQ(r.channel_closes, std::vector<ChannelId>{2});
    ASSERT_NO_FATAL_FAILURE(expect_sent_close(2));
    EXPECT_EQ(s.find(crypto::discovery_key(core_key(8))), nullptr);
    EXPECT_EQ(s.channel_count(), 2u);
    // The remote's frames on its old id are now ignored, and the id 2 is reused.
    ASSERT_TRUE(feed(remote.frame(1, msg::Want{0, 0})).ok());
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(s.open(core_key(10), r)->local_id(), 2u);
    EXPECT_EQ(s.open(key, r), nullptr) << "already open";
}

TEST_F(Scripted, UnknownRemoteIdsAndReservedTypesAreIgnored) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.frame(1, msg::PeerStatus{true, true})).ok());  // remote never opened 1
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    for (std::uint8_t t = 11; t <= 14; ++t) {
        Bytes plain;
        encode_frame(plain, 1, t, unhex("ffffffff"));  // not a valid body of anything
        ASSERT_TRUE(feed(remote.encrypt(plain)).ok());
    }
    ASSERT_TRUE(feed(remote.frame(77, msg::Data{1, Bytes{1}, {}, std::nullopt})).ok());
    EXPECT_TRUE(r.messages.empty());
    EXPECT_FALSE(s.closed());
}

TEST_F(Scripted, StreamLevelOptionsAndExtensionsOnChannelZero) {
    ASSERT_TRUE(feed(remote.frame(0, msg::Options{{"a", "b"}, std::nullopt})).ok());
    ASSERT_TRUE(feed(remote.frame(0, msg::Extension{1, to_bytes("payload")})).ok());
    ASSERT_EQ(r.stream_options.size(), 1u);
    EXPECT_EQ(r.stream_options[0].extensions, (std::vector<std::string>{"a", "b"}));
    ASSERT_EQ(r.stream_extensions.size(), 1u);
    EXPECT_EQ(r.stream_extensions[0].first, 1u);
    EXPECT_EQ(r.stream_extensions[0].second, to_bytes("payload"));
    EXPECT_TRUE(r.messages.empty());

    s.send_stream_options(msg::Options{{"x"}, std::nullopt});
    s.send_stream_extension(0, to_bytes("hi"));
    auto sent = remote.read(s);
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].first, 0u);
    EXPECT_EQ(*as<msg::Options>(sent[0].second), (msg::Options{{"x"}, std::nullopt}));
    EXPECT_EQ(sent[1].first, 0u);
    EXPECT_EQ(*as<msg::Extension>(sent[1].second), (msg::Extension{0, to_bytes("hi")}));
}

TEST_F(Scripted, ARemoteChannelZeroTakesItsOwnOptions) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.open(0, key)).ok());
    ASSERT_TRUE(feed(remote.frame(0, msg::Options{{"n"}, true})).ok());
    EXPECT_TRUE(r.stream_options.empty());
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].local_id, 1u);
}

TEST_F(Scripted, MalformedBodiesCloseWithAReasonNamingTheMessage) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    Bytes plain;
    encode_frame(plain, 1, 3, {});  // Have without its required start
    const Status st = feed(remote.encrypt(plain));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::Protocol);
    EXPECT_NE(st.error().message.find("channel 1 Have"), std::string::npos) << st.error().message;
    EXPECT_TRUE(s.closed());
    EXPECT_EQ(r.channel_closes, std::vector<ChannelId>{1});
}

TEST_F(Scripted, MalformedBodyOnAnUnknownChannelStillCloses) {
    Bytes plain;
    encode_frame(plain, 40, 15, unhex("ff"));  // Extension whose id varint never ends
    EXPECT_EQ(feed(remote.encrypt(plain)).error().code, Errc::Protocol);
}

TEST_F(Scripted, OversizedFrameCloses) {
    Bytes plain;
    varint::encode(plain, kMaxFrameBodyBytes + 2);
    plain.push_back(0x13);
    const Status st = feed(remote.encrypt(plain));
    EXPECT_EQ(st.error().code, Errc::FrameTooLarge);
    EXPECT_TRUE(s.closed());
}

TEST_F(Scripted, FramesBeforeABadOneAreDelivered) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    Bytes plain;
    msg::encode_frame(plain, 1, msg::Want{0, 0});
    append_bytes(plain, unhex("ffffffffffffffffff"));  // an endless length varint
    EXPECT_EQ(feed(remote.encrypt(plain)).error().code, Errc::Protocol);
    EXPECT_EQ(r.messages.size(), 1u);
}

TEST_F(Scripted, HandlerErrorClosesTheStream) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    r.on_msg = [](Channel&, const msg::Message&) -> Status {
        return make_error(Errc::VerificationFailed, "bad proof");
    };
    const Status st = feed(remote.frame(1, msg::Data{0, Bytes{1}, {}, std::nullopt}));
    EXPECT_EQ(st.error().code, Errc::VerificationFailed);
    EXPECT_EQ(st.error().message, "bad proof");
    ASSERT_EQ(r.stream_closes.size(), 1u);
    EXPECT_EQ(r.stream_closes[0].message, "bad proof");
}

TEST_F(Scripted, HandlersMayCloseFromInsideCallbacks) {
    s.open(key, r);
    ASSERT_TRUE(feed(remote.open(1, key)).ok());
    r.on_msg = [](Channel& ch, const msg::Message&) -> Status {
        ch.close();
        EXPECT_TRUE(ch.closed());  // still a valid object while the call unwinds
        return {};
    };
    Bytes wire = remote.frame(1, msg::Want{0, 0});
    append_bytes(wire, remote.frame(1, msg::Want{1, 0}));  // after the close: ignored
    ASSERT_TRUE(feed(wire).ok());
    EXPECT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.channel_closes.size(), 1u);

    s.open(core_key(8), r);
    ASSERT_TRUE(feed(remote.open(2, core_key(8))).ok());
    r.on_msg = [](Channel& ch, const msg::Message&) -> Status {
        ch.stream().close(make_error(Errc::Closed, "owner stops"));
        return {};
    };
    wire = remote.frame(2, msg::Want{0, 0});
    append_bytes(wire, remote.frame(2, msg::Want{1, 0}));
    const Status st = feed(wire);
    EXPECT_EQ(st.error().message, "owner stops");
    EXPECT_EQ(r.messages.size(), 2u);
}

TEST_F(Scripted, ReceiveAfterCloseFails) {
    s.close(make_error(Errc::Closed, "done"));
    EXPECT_EQ(feed(remote.frame(0, msg::Options{})).error().message, "done");
    s.close(make_error(Errc::Io, "again"));
    EXPECT_EQ(r.stream_closes.size(), 1u);
    EXPECT_EQ(s.close_reason().message, "done");
    EXPECT_EQ(s.tick(kT0 + 1h), Clock::time_point::max());
}

TEST_F(Scripted, ManyMessagesWithPartialConsumption) {
    s.open(key, r);
    remote.read(s);
    Bytes all;
    const Bytes bitfield(1000, 0x5a);
    for (std::uint64_t i = 0; i < 2000; ++i) {
        s.find(crypto::discovery_key(key))->send(msg::Have{i, 1, bitfield, std::nullopt});
        // Write a little less than was produced, in odd sizes.
        const std::size_t n = std::min<std::size_t>(s.pending_output().size(), 777 + i % 300);
        append_bytes(all, s.pending_output().first(n));
        s.consume_output(n);
    }
    EXPECT_EQ(s.output_bytes(), s.pending_output().size());
    append_bytes(all, s.pending_output());
    s.consume_output(s.pending_output().size());
    EXPECT_EQ(s.output_bytes(), 0u);
    remote.cipher->decrypt(all);
    std::vector<Frame> frames;
    ASSERT_TRUE(remote.decoder.push(all, frames).ok());
    ASSERT_EQ(frames.size(), 2000u);
    for (std::uint64_t i = 0; i < 2000; ++i) {
        auto m = msg::decode_message(frames[i].type, frames[i].body);
        ASSERT_TRUE(m.ok());
        EXPECT_EQ(as<msg::Have>(*m)->start, i);
    }
}

TEST_F(Scripted, DestroyingTheStreamClosesItsChannels) {
    Recorder other;
    {
        Stream t(options(false, 0x22), other, kT0);
        t.open(key, other);
        t.open(core_key(8), other);
    }
    EXPECT_EQ(other.channel_closes.size(), 2u);
    EXPECT_TRUE(other.stream_closes.empty());
}

// ---------------------------------------------------------------------------------------------
// Output queued before the handshake, keep-alive and timeout

TEST(Stream, MessagesSentBeforeTheHandshakeAreHeldThenSentInOrder) {
    Recorder r;
    Stream s(options(false, 0x22), r, kT0);  // responder: nothing to send until m1 arrives
    const auto key = core_key(7);
    Channel* ch = s.open(key, r);
    ch->send(msg::Want{0, 1048576});
    ch->send(msg::PeerStatus{true, false});
    s.send_stream_extension(2, to_bytes("x"));
    EXPECT_TRUE(s.pending_output().empty());
    EXPECT_GT(s.output_bytes(), 0u);
    r.on_hs = [&](Stream& st) {
        EXPECT_TRUE(st.handshake_done());
        ch->send(msg::Unwant{0, 1});  // during on_handshake: after the held ones
    };
    RawPeer remote(true);
    remote.handshake(s);
    EXPECT_EQ(r.handshakes, 1);
    auto sent = remote.read(s);
    ASSERT_EQ(sent.size(), 5u);
    EXPECT_TRUE(as<msg::Open>(sent[0].second));
    EXPECT_TRUE(crypto::verify_remote_capability(key, remote.hs.split(),
                                                 *as<msg::Open>(sent[0].second)->capability));
    EXPECT_TRUE(as<msg::Want>(sent[1].second));
    EXPECT_TRUE(as<msg::PeerStatus>(sent[2].second));
    EXPECT_EQ(sent[3].first, 0u);
    EXPECT_TRUE(as<msg::Extension>(sent[3].second));
    EXPECT_TRUE(as<msg::Unwant>(sent[4].second));
}

TEST(Stream, KeepAliveAfterTenSecondsWithoutSending) {
    Recorder r;
    Stream s(options(true, 0x11), r, kT0);
    // While handshaking there are no keep-alives, only the receive timeout.
    EXPECT_EQ(s.tick(kT0 + 4s), kT0 + 20s);
    EXPECT_EQ(s.pending_output().size(), 59u);  // just m1
    RawPeer remote(false);
    remote.handshake(s, kT0 + 5s);
    // The last send (m3) was at +5 s.
    EXPECT_EQ(s.tick(kT0 + 6s), kT0 + 15s);
    EXPECT_TRUE(s.pending_output().empty());
    EXPECT_EQ(s.tick(kT0 + 15s), kT0 + 25s);
    std::size_t keep_alives = 0;
    EXPECT_TRUE(remote.read(s, &keep_alives).empty());
    EXPECT_EQ(keep_alives, 1u);
    // Sending postpones the next keep-alive.
    ASSERT_TRUE(s.receive(remote.frame(0, msg::Options{}), kT0 + 18s).ok());
    s.send_stream_extension(1, to_bytes("x"));  // stamped +18 s (no zero byte in this frame)
    EXPECT_EQ(s.tick(kT0 + 25s), kT0 + 28s);
    remote.read(s, &keep_alives);
    EXPECT_EQ(keep_alives, 0u);
    EXPECT_FALSE(s.closed());
}

TEST(Stream, TimesOutAfterTwentySecondsWithoutReceiving) {
    Recorder r;
    Stream s(options(true, 0x11), r, kT0);
    RawPeer remote(false);
    remote.handshake(s, kT0 + 1s);
    ASSERT_TRUE(s.receive(remote.frame(0, msg::Options{}), kT0 + 10s).ok());
    s.tick(kT0 + 29s);
    EXPECT_FALSE(s.closed());
    EXPECT_EQ(s.tick(kT0 + 30s), Clock::time_point::max());
    EXPECT_TRUE(s.closed());
    ASSERT_EQ(r.stream_closes.size(), 1u);
    EXPECT_NE(r.stream_closes[0].message.find("ETIMEDOUT"), std::string::npos);

    // Also during the handshake.
    Recorder r2;
    Stream t(options(false, 0x22), r2, kT0);
    t.tick(kT0 + 20s);
    EXPECT_TRUE(t.closed());
}

TEST(Stream, HeldOutputDoesNotCountAgainstTheHighWaterMark) {
    Recorder r;
    StreamOptions o = options(false, 0x22);
    o.max_output_bytes = 10;
    Stream s(o, r, kT0);
    Channel* ch = s.open(core_key(1), r);
    for (int i = 0; i < 10; ++i) ch->send(msg::Want{0, 1048576});
    EXPECT_GT(s.output_bytes(), 10u);
    EXPECT_FALSE(s.output_over_limit()) << "only reading can release held output";
    RawPeer remote(true);
    remote.handshake(s);
    EXPECT_TRUE(s.output_over_limit());
    s.consume_output(s.pending_output().size() - 10);
    EXPECT_FALSE(s.output_over_limit());
}

TEST(Stream, OutputListenerHearsOutputAndClose) {
    Recorder r;
    int calls = 0;
    Stream s(options(false, 0x22), r, kT0);
    s.set_output_listener([&] { ++calls; });
    s.open(core_key(1), r);
    EXPECT_EQ(calls, 0) << "held, not output";
    RawPeer remote(true);
    remote.handshake(s);
    EXPECT_GE(calls, 2);  // m2, then the held Open
    const int before = calls;
    s.close(make_error(Errc::Closed, "bye"));
    EXPECT_EQ(calls, before + 1);
}

}  // namespace
}  // namespace hs::protocol
