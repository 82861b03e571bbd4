// v11::SecretStream (src/v11/secretstream): two sans-IO ends wired together in memory. The
// handshake, the setup message, messages of every size up to the frame limit delivered whole
// whatever the split of the input, keep-alives and the receive timeout, datagrams, and every
// kind of bad input closing the stream with its typed reason. The same against JS
// @hyperswarm/secret-stream over TCP: tests/interop/secret_stream.test.js.
#include <gtest/gtest.h>

#include <random>

#include "v11/secretstream/secret_stream.h"

namespace hs::v11 {
namespace {

using namespace std::chrono_literals;

crypto::KeyPair keys(std::uint8_t n) {
    Bytes seed(32, n);
    return crypto::keypair_from_seed(seed);
}

struct Pair {
    explicit Pair(noise::Pattern pattern = noise::Pattern::XX, SecretStreamOptions extra = {})
        : a(options(true, pattern, extra), t0), b(options(false, pattern, extra), t0) {
        a.on_message = [this](ByteView m) { got_a.emplace_back(m.begin(), m.end()); };
        b.on_message = [this](ByteView m) { got_b.emplace_back(m.begin(), m.end()); };
        a.on_open = [this] { ++opened; };
        b.on_open = [this] { ++opened; };
    }
    SecretStreamOptions options(bool initiator, noise::Pattern pattern, SecretStreamOptions o) {
        o.initiator = initiator;
        o.pattern = pattern;
        o.static_keys = initiator ? keys(1) : keys(2);
        if (pattern == noise::Pattern::IK && initiator) o.remote_public_key = keys(2).public_key;
        return o;
    }
    // Moves every pending byte across, `chunk` bytes at a time, until both sides are quiet.
    void pump(std::size_t chunk = 1u << 30) {
        for (int round = 0; round < 1000; ++round) {
            bool moved = false;
            for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
                while (!from->pending_output().empty() && !to->closed()) {
                    const ByteView out = from->pending_output();
                    const std::size_t n = std::min(chunk, out.size());
                    (void)to->receive(out.first(n), t0);
                    from->consume_output(n);
                    moved = true;
                }
            }
            if (!moved) return;
        }
    }
    Clock::time_point t0 = Clock::now();
    SecretStream a, b;
    std::vector<Bytes> got_a, got_b;
    int opened = 0;
};

Bytes pattern_bytes(std::size_t n, std::uint32_t seed) {
    Bytes out(n);
    std::mt19937 rng(seed);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

TEST(SecretStream, XxHandshakeFramesAndRemoteKeys) {
    Pair p;
    // The initiator's first message is out at once: u24 length 32 + 32 bytes.
    EXPECT_EQ(p.a.pending_output().size(), 35u);
    p.pump();
    EXPECT_TRUE(p.a.open());
    EXPECT_TRUE(p.b.open());
    EXPECT_EQ(p.opened, 2);
    EXPECT_EQ(*p.a.remote_public_key(), keys(2).public_key);
    EXPECT_EQ(*p.b.remote_public_key(), keys(1).public_key);
    EXPECT_EQ(p.a.handshake_hash(), p.b.handshake_hash());
    EXPECT_NE(stream_id(p.a.handshake_hash(), true), stream_id(p.a.handshake_hash(), false));
}

TEST(SecretStream, MessagesOfEverySizeArriveWholeWhateverTheSplit) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{1} << 30}) {
        Pair p;
        std::vector<Bytes> sent;
        for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{65536}})
            sent.push_back(pattern_bytes(n, static_cast<std::uint32_t>(n)));
        // Written before the handshake finished: queued, in order.
        for (const auto& m : sent) ASSERT_TRUE(p.a.write(m, p.t0).ok());
        p.pump(chunk);
        EXPECT_EQ(p.got_b, sent) << "chunk " << chunk;
        ASSERT_TRUE(p.b.write(sent[1], p.t0).ok());
        p.pump(chunk);
        ASSERT_EQ(p.got_a.size(), 1u);
        EXPECT_EQ(p.got_a[0], sent[1]);
    }
}

TEST(SecretStream, EndingDuringTheHandshakeWaitsForTheQueuedMessages) {
    Pair p;
    ASSERT_TRUE(p.a.write(to_bytes("queued"), p.t0).ok());
    p.a.end();
    EXPECT_TRUE(p.a.ended());
    EXPECT_FALSE(p.a.ready_to_end());  // the message is not in the output yet
    p.pump();
    EXPECT_TRUE(p.a.ready_to_end());
    ASSERT_EQ(p.got_b.size(), 1u);
}

TEST(SecretStream, TheLargestMessageFitsAndOneMoreByteIsRefused) {
    Pair p;
    p.pump();
    const Bytes big = pattern_bytes(kMaxMessageBytes, 9);
    ASSERT_TRUE(p.a.write(big, p.t0).ok());
    const auto too_big = p.a.write(Bytes(kMaxMessageBytes + 1), p.t0);
    ASSERT_FALSE(too_big.ok());
    EXPECT_EQ(too_big.error().code, Errc::TooLarge);
    p.pump(1 << 20);
    ASSERT_EQ(p.got_b.size(), 1u);
    EXPECT_EQ(p.got_b[0], big);
    EXPECT_FALSE(p.a.closed());
}

TEST(SecretStream, EmptyMessagesAreKeepAlivesUnlessAsked) {
    Pair quiet;
    ASSERT_TRUE(quiet.a.send_keep_alive(quiet.t0).ok());
    quiet.pump();
    EXPECT_TRUE(quiet.got_b.empty());
    SecretStreamOptions o;
    o.deliver_empty_messages = true;
    Pair loud(noise::Pattern::XX, o);
    ASSERT_TRUE(loud.a.write({}, loud.t0).ok());
    loud.pump();
    ASSERT_EQ(loud.got_b.size(), 1u);
    EXPECT_TRUE(loud.got_b[0].empty());
}

TEST(SecretStream, KeepAliveAndTimeoutRunFromTick) {
    SecretStreamOptions o;
    o.keep_alive = 1000ms;
    o.timeout = 5000ms;
    Pair p(noise::Pattern::XX, o);
    p.pump();
    EXPECT_EQ(p.a.tick(p.t0 + 500ms), p.t0 + 1000ms);
    EXPECT_TRUE(p.a.pending_output().empty());
    p.a.tick(p.t0 + 1000ms);
    EXPECT_EQ(p.a.pending_output().size(), 3u + kSecretStreamOverhead);  // an empty message
    p.a.tick(p.t0 + 5000ms);
    EXPECT_TRUE(p.a.closed());
    EXPECT_EQ(p.a.close_reason().code, Errc::Closed);
    EXPECT_NE(p.a.close_reason().message.find("timed out"), std::string::npos);
}

TEST(SecretStream, IkHandshakeWithAKnownResponder) {
    Pair p(noise::Pattern::IK);
    p.pump();
    ASSERT_TRUE(p.a.open());
    ASSERT_TRUE(p.b.open());
    EXPECT_EQ(*p.b.remote_public_key(), keys(1).public_key);
    ASSERT_TRUE(p.b.write(to_bytes("over ik"), p.t0).ok());
    p.pump();
    ASSERT_EQ(p.got_a.size(), 1u);
}

TEST(SecretStream, FromAnExistingHandshakeBothSidesTalk) {
    Pair p;
    p.pump();
    SecretStreamKeys ka, kb;
    // Reuse the keys of a finished pair: two new streams skip the handshake.
    noise::Handshake hi = noise::Handshake::initiator(noise::Pattern::XX, keys(1));
    noise::Handshake hr = noise::Handshake::responder(noise::Pattern::XX, keys(2));
    auto m0 = hi.write_message();
    ASSERT_TRUE(hr.read_message(*m0).ok());
    auto m1 = hr.write_message();
    ASSERT_TRUE(hi.read_message(*m1).ok());
    auto m2 = hi.write_message();
    ASSERT_TRUE(hr.read_message(*m2).ok());
    ka = {hi.split(), hi.handshake_hash(), keys(1).public_key, keys(2).public_key};
    kb = {hr.split(), hr.handshake_hash(), keys(2).public_key, keys(1).public_key};
    SecretStream a(true, ka, {}, p.t0), b(false, kb, {}, p.t0);
    std::vector<Bytes> got;
    b.on_message = [&](ByteView m) { got.emplace_back(m.begin(), m.end()); };
    ASSERT_TRUE(a.write(to_bytes("hi"), p.t0).ok());
    ASSERT_TRUE(b.receive(a.pending_output(), p.t0).ok());
    (void)a.receive(b.pending_output(), p.t0);
    EXPECT_TRUE(a.open());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], to_bytes("hi"));
}

TEST(SecretStream, DatagramsBoxAndOpenAcrossAndRejectTampering) {
    Pair p;
    p.pump();
    auto box = p.a.box_datagram(to_bytes("udp"));
    ASSERT_TRUE(box.ok());
    EXPECT_EQ(box->size(), 8u + 16u + 3u);
    auto opened = p.b.open_datagram(*box);
    ASSERT_TRUE(opened);
    EXPECT_EQ(*opened, to_bytes("udp"));
    EXPECT_FALSE(p.a.open_datagram(*box));  // our own key does not open it
    (*box)[10] ^= 1;
    EXPECT_FALSE(p.b.open_datagram(*box));
    EXPECT_FALSE(p.b.open_datagram(Bytes(10)));
    // Each datagram has its own nonce.
    auto second = p.a.box_datagram(to_bytes("udp"));
    EXPECT_NE(Bytes(box->begin(), box->begin() + 8), Bytes(second->begin(), second->begin() + 8));
}

TEST(SecretStream, ATamperedMessageClosesWithVerificationFailed) {
    Pair p;
    p.pump();
    ASSERT_TRUE(p.a.write(to_bytes("hello"), p.t0).ok());
    Bytes wire(p.a.pending_output().begin(), p.a.pending_output().end());
    wire[5] ^= 0x40;
    const auto st = p.b.receive(wire, p.t0);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::VerificationFailed);
    EXPECT_TRUE(p.b.closed());
    EXPECT_TRUE(p.got_b.empty());
    EXPECT_FALSE(p.b.write(to_bytes("x"), p.t0).ok());  // closed
}

TEST(SecretStream, AWrongStreamIdOrShortSetupIsAProtocolError) {
    for (int variant = 0; variant < 3; ++variant) {
        Pair p;
        // Run the handshake by hand so the responder's setup message can be changed.
        (void)p.b.receive(p.a.pending_output(), p.t0);  // m0
        p.a.consume_output(p.a.pending_output().size());
        (void)p.a.receive(p.b.pending_output(), p.t0);  // m1
        p.b.consume_output(p.b.pending_output().size());
        (void)p.b.receive(p.a.pending_output(), p.t0);  // m2 + a's setup
        p.a.consume_output(p.a.pending_output().size());
        Bytes setup(p.b.pending_output().begin(), p.b.pending_output().end());
        ASSERT_EQ(setup.size(), 3 + kSetupMessageBytes);
        if (variant == 0) setup[3] ^= 1;              // the id
        if (variant == 1) setup = {2, 0, 0, 1, 2};    // too short
        if (variant == 2) setup = {0, 0, 0};          // empty
        const auto st = p.a.receive(setup, p.t0);
        ASSERT_FALSE(st.ok()) << variant;
        EXPECT_EQ(st.error().code, Errc::Protocol) << variant;
        EXPECT_FALSE(p.a.open());
    }
}

TEST(SecretStream, GarbageInsteadOfAHandshakeFailsIt) {
    Pair p;
    std::mt19937 rng(4);
    Bytes garbage(200);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(rng());
    garbage[0] = 40;
    garbage[1] = garbage[2] = 0;
    const auto st = p.b.receive(garbage, p.t0);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::HandshakeFailed);
    // A declared 16 MiB frame costs only what arrived.
    Pair q;
    const Bytes huge_header = {0xff, 0xff, 0xff, 1, 2, 3};
    EXPECT_TRUE(q.b.receive(huge_header, q.t0).ok());
    EXPECT_FALSE(q.b.closed());
}

TEST(SecretStream, DestroyDropsOutputAndCallsOnCloseOnce) {
    Pair p;
    int closes = 0;
    p.a.on_close = [&](const Error& e) {
        ++closes;
        EXPECT_EQ(e.code, Errc::Closed);
    };
    p.a.destroy(Error{Errc::Closed, "bye"});
    p.a.destroy(Error{Errc::Io, "again"});
    EXPECT_EQ(closes, 1);
    EXPECT_TRUE(p.a.pending_output().empty());
    EXPECT_EQ(p.a.close_reason().message, "bye");
}

}  // namespace
}  // namespace hs::v11
