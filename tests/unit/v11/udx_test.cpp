// UDX packet codec and single-stream behaviour (src/v11/udx): the header layout of
// docs/formats/udx.md, bad datagrams, and the sender's answers to acks, SACKs, probes and timeouts
// driven by hand on a fake clock. Two whole endpoints over a modelled link: tests/sim/udx_sim_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "v11/udx/packet.h"
#include "v11/udx/stream.h"

namespace hs::v11::udx {
namespace {

TEST(UdxPacket, HeaderLayoutIsLittleEndian) {
    Header h;
    h.type = kData | kEnd;
    h.stream_id = 0x04030201;
    h.rwnd = 0x08070605;
    h.seq = 0x0c0b0a09;
    h.ack = 0x100f0e0d;
    const std::uint8_t data[] = {0xaa, 0xbb};
    const Bytes d = encode(h, {}, data);
    const Bytes want = {0xff, 1, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xaa, 0xbb};
    EXPECT_EQ(d, want);
    const auto p = decode(d);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->header.type, kData | kEnd);
    EXPECT_EQ(p->header.stream_id, 0x04030201u);
    EXPECT_EQ(p->header.rwnd, 0x08070605u);
    EXPECT_EQ(p->header.seq, 0x0c0b0a09u);
    EXPECT_EQ(p->header.ack, 0x100f0e0du);
    EXPECT_EQ(Bytes(p->data.begin(), p->data.end()), Bytes({0xaa, 0xbb}));
    EXPECT_EQ(peek_stream_id(d), 0x04030201u);
}

TEST(UdxPacket, RejectsShortWrongMagicWrongVersionAndBadOffset) {
    Bytes d = encode(Header{}, {}, {});
    DecodeError e{};
    EXPECT_FALSE(decode(ByteView(d).first(19), &e));
    EXPECT_EQ(e, DecodeError::kTooShort);
    Bytes m = d;
    m[0] = 0xfe;
    EXPECT_FALSE(decode(m, &e));
    EXPECT_EQ(e, DecodeError::kBadMagic);
    EXPECT_FALSE(peek_stream_id(m));
    m = d;
    m[1] = 2;
    EXPECT_FALSE(decode(m, &e));
    EXPECT_EQ(e, DecodeError::kBadVersion);
    m = d;
    m[3] = 1;  // one byte of padding announced, none present
    EXPECT_FALSE(decode(m, &e));
    EXPECT_EQ(e, DecodeError::kBadDataOffset);
    m.push_back(0);
    const auto p = decode(m);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->data.empty());
}

TEST(UdxPacket, SackBlocksRoundTripAndAreCappedAt50) {
    std::vector<SackBlock> blocks;
    for (std::uint32_t i = 0; i < 60; ++i) blocks.push_back({10 * i + 2, 10 * i + 5});
    const Bytes d = encode(Header{}, blocks, {});
    EXPECT_EQ(d[2], kSack);
    const auto p = decode(d);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->sacks.size(), kMaxSackBlocks);
    EXPECT_EQ(p->sacks[49], (SackBlock{492, 495}));
    // A trailing partial block is ignored.
    Bytes t = encode(Header{}, std::vector<SackBlock>{{1, 2}}, {});
    t.push_back(7);
    const auto q = decode(t);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->sacks.size(), 1u);
}

// A stream whose datagrams land in `out`, on a clock the test moves.
struct Harness {
    std::vector<Bytes> out;
    TimePoint now = TimePoint{} + std::chrono::hours(1);
    StreamCore s;
    explicit Harness(StreamConfig c = {1, 2})
        : s(c, [this](ByteView d) { out.emplace_back(d.begin(), d.end()); }) {}
    Packet last() const { return *decode(out.back()); }
    void feed(Header h, std::vector<SackBlock> sacks = {}, ByteView data = {}) {
        h.stream_id = 1;
        const Bytes d = encode(h, sacks, data);
        s.on_packet(*decode(d), now);
    }
};

Header ack_of(std::uint32_t ack, std::uint32_t rwnd = 1 << 20) {
    Header h;
    h.ack = ack;
    h.rwnd = rwnd;
    return h;
}

TEST(UdxStream, SendsInitialWindowOfTenPacketsAndAcksAdvanceIt) {
    Harness t;
    const Bytes data(1152 * 20, 7);
    t.s.write(data);
    t.s.flush(t.now);
    ASSERT_EQ(t.out.size(), 10u);
    EXPECT_EQ(t.last().header.seq, 9u);
    EXPECT_EQ(t.last().header.type, kData);
    EXPECT_EQ(t.last().data.size(), 1152u);
    t.now += Millis(100);
    t.out.clear();
    t.feed(ack_of(5));  // 5 acked: slow start grows cwnd to 15, 5 in flight
    EXPECT_EQ(t.s.cwnd(), 15u);
    EXPECT_EQ(t.out.size(), 10u);
    EXPECT_EQ(t.s.srtt(), Millis(100));
    EXPECT_EQ(t.s.rto(), Millis(1000));  // 100 + 4 * 50 under the 1 s floor
}

TEST(UdxStream, AcksOfUnsentDataAndSacksOutsideTheWindowAreIgnored) {
    Harness t;
    t.s.write(Bytes(100, 1));
    t.s.flush(t.now);
    ASSERT_EQ(t.out.size(), 1u);
    t.feed(ack_of(5));
    EXPECT_EQ(t.s.stats().invalid_acks, 1u);
    EXPECT_EQ(t.s.unacked_bytes(), 100u);
    t.feed(ack_of(0), {{3, 9}, {1, 0}, {0, 1}});
    EXPECT_EQ(t.s.stats().dropped_sacks, 2u);  // {3,9} beyond seq 1, {1,0} empty; {0,1} is fine
    EXPECT_EQ(t.s.unacked_bytes(), 0u);
    // A block whose end wraps past 2^32 (start - end is INT32_MIN) is outside the window too.
    t.s.write(Bytes(100, 1));
    t.s.flush(t.now);
    t.feed(ack_of(1), {{0x10000000, 0x90000000}});
    EXPECT_EQ(t.s.stats().dropped_sacks, 3u);
    EXPECT_EQ(t.s.unacked_bytes(), 100u);
    EXPECT_FALSE(t.s.closed());
}

TEST(UdxStream, HeartbeatIsAnsweredWithAnAck) {
    Harness t;
    Header h;
    h.type = kHeartbeat;
    t.feed(h);
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(t.last().header.type, 0);
    EXPECT_EQ(t.last().header.stream_id, 2u);
    EXPECT_EQ(t.last().header.rwnd, 4u * 1024 * 1024);
}

TEST(UdxStream, OutOfOrderDataIsSackedAndDeliveredInOrder) {
    Harness t;
    Header h;
    h.type = kData;
    const std::uint8_t a[] = {'a'}, b[] = {'b'}, c[] = {'c'};
    h.seq = 2;
    t.feed(h, {}, c);
    EXPECT_EQ(t.last().header.ack, 0u);
    ASSERT_EQ(t.last().sacks.size(), 1u);
    EXPECT_EQ(t.last().sacks[0], (SackBlock{2, 3}));
    h.seq = 1;
    t.feed(h, {}, b);
    EXPECT_EQ(t.last().sacks[0], (SackBlock{1, 3}));
    EXPECT_EQ(t.s.readable(), 0u);
    h.seq = 0;
    t.feed(h, {}, a);
    EXPECT_EQ(t.last().header.ack, 3u);
    EXPECT_TRUE(t.last().sacks.empty());
    EXPECT_EQ(as_string(t.s.read_all()), "abc");
    h.seq = 1;  // a duplicate is acknowledged again, not delivered again
    t.feed(h, {}, b);
    EXPECT_EQ(t.last().header.ack, 3u);
    EXPECT_EQ(t.s.readable(), 0u);
    EXPECT_EQ(t.s.stats().duplicate_data, 1u);
}

// Ranges are merged as packets fill them, and past 50 ranges the newest one is reported last.
TEST(UdxStream, SackReportsTheOldestRangesAndTheNewest) {
    Harness t;
    Header h;
    h.type = kData;
    const std::uint8_t x[] = {'x'};
    for (std::uint32_t seq = 2; seq <= 120; seq += 2) {  // 60 one-packet ranges, 0 and 1 missing
        h.seq = seq;
        t.feed(h, {}, x);
    }
    auto p = t.last();
    ASSERT_EQ(p.sacks.size(), kMaxSackBlocks);
    EXPECT_EQ(p.sacks[0], (SackBlock{2, 3}));
    EXPECT_EQ(p.sacks[48], (SackBlock{98, 99}));
    EXPECT_EQ(p.sacks[49], (SackBlock{120, 121}));
    h.seq = 3;  // joins {2,3} and {4,5}
    t.feed(h, {}, x);
    EXPECT_EQ(t.last().sacks[0], (SackBlock{2, 5}));
    h.seq = 0;
    t.feed(h, {}, x);
    EXPECT_EQ(t.last().header.ack, 1u);
    h.seq = 1;  // fills the first hole: 0..4 delivered, {6,7} is the oldest range left
    t.feed(h, {}, x);
    EXPECT_EQ(t.last().header.ack, 5u);
    EXPECT_EQ(t.last().sacks[0], (SackBlock{6, 7}));
    EXPECT_EQ(t.last().sacks.size(), kMaxSackBlocks);
    EXPECT_EQ(t.s.readable(), 5u);
}

// BBR paces: once the bucket is spent, packets wait although the window has room, and
// next_wakeup() says when to send them.
TEST(UdxStream, PacingHoldsPacketsUntilNextWakeup) {
    Harness t;
    t.s.write(Bytes(1152 * 200, 7));
    t.s.flush(t.now);
    ASSERT_EQ(t.out.size(), 10u);  // the initial window
    EXPECT_GT(t.s.pacing_rate(), 0);
    t.now += Millis(100);
    t.out.clear();
    t.feed(ack_of(10));  // cwnd 20; rate = 10 packets per 100 ms x 2.89: the bucket holds 10
    EXPECT_EQ(t.s.cwnd(), 20u);
    EXPECT_EQ(t.out.size(), 10u);
    const TimePoint w = t.s.next_wakeup();
    EXPECT_GT(w, t.now);
    EXPECT_LT(w, t.now + Millis(50));
    t.now = w;
    t.s.on_timer(t.now);
    EXPECT_GE(t.out.size(), 11u);
    EXPECT_LE(t.out.size(), 20u);
}

// In-order data is acked every second packet, by flush_acks() or after 1 ms; a gap at once.
TEST(UdxStream, InOrderAcksAreDelayedGapsAreNot) {
    Harness t;
    Header h;
    h.type = kData;
    const std::uint8_t x[] = {'x'};
    h.seq = 0;
    t.feed(h, {}, x);
    EXPECT_TRUE(t.out.empty());
    h.seq = 1;
    t.feed(h, {}, x);
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(t.last().header.ack, 2u);
    h.seq = 2;
    t.feed(h, {}, x);
    EXPECT_EQ(t.out.size(), 1u);
    t.s.flush_acks();
    ASSERT_EQ(t.out.size(), 2u);
    EXPECT_EQ(t.last().header.ack, 3u);
    t.s.flush_acks();  // nothing held: nothing sent
    EXPECT_EQ(t.out.size(), 2u);
    h.seq = 3;
    t.feed(h, {}, x);
    EXPECT_EQ(t.out.size(), 2u);
    EXPECT_LE(t.s.next_wakeup(), t.now + Millis(1));
    t.now = t.s.next_wakeup();
    t.s.on_timer(t.now);
    ASSERT_EQ(t.out.size(), 3u);
    EXPECT_EQ(t.last().header.ack, 4u);
    h.seq = 5;  // a gap: acked at once, with its SACK block
    t.feed(h, {}, x);
    ASSERT_EQ(t.out.size(), 4u);
    EXPECT_EQ(t.last().sacks.size(), 1u);
    h.seq = 4;  // fills it: acked at once too
    t.feed(h, {}, x);
    ASSERT_EQ(t.out.size(), 5u);
    EXPECT_EQ(t.last().header.ack, 6u);
    EXPECT_EQ(t.s.stats().acks_sent, 5u);
}

TEST(UdxStream, DataFarAheadOfTheWindowIsDropped) {
    Harness t;
    Header h;
    h.type = kData;
    h.seq = 1u << 20;
    const std::uint8_t x[] = {1};
    t.feed(h, {}, x);
    EXPECT_EQ(t.s.stats().dropped_data, 1u);
    EXPECT_EQ(t.s.buffered_bytes(), 0u);
}

TEST(UdxStream, DestroyWithAnOldSeqIsIgnoredAndACurrentOneResets) {
    StreamConfig c{1, 2};
    c.initial_ack = 10;
    Harness t(c);
    Header h;
    h.type = kDestroy;
    h.seq = 9;
    t.feed(h);
    EXPECT_FALSE(t.s.closed());
    h.seq = 10;
    t.feed(h);
    EXPECT_EQ(t.s.close_reason(), CloseReason::kReset);
}

TEST(UdxStream, SixTimeoutsCloseTheStreamAndTheRtoIsCappedAt30s) {
    Harness t;
    t.s.write(Bytes(10, 1));
    t.s.flush(t.now);
    const TimePoint start = t.now;
    int sends = 0;
    while (!t.s.closed()) {
        const TimePoint w = t.s.next_wakeup();
        ASSERT_NE(w, TimePoint::max());
        EXPECT_LE(w - t.now, Millis(30000));
        t.now = w;
        const std::size_t before = t.out.size();
        t.s.on_timer(t.now);
        sends += static_cast<int>(t.out.size() - before);
    }
    EXPECT_EQ(t.s.close_reason(), CloseReason::kTimedOut);
    // One tail probe (after 10 ms: no RTT yet), 6 retransmissions, then the 7th expiry gives up.
    EXPECT_EQ(t.s.stats().tail_probes, 1u);
    EXPECT_EQ(sends, 7);
    // 1 + 2 + 4 + 8 + 16 + 30 + 30 seconds.
    EXPECT_EQ(std::chrono::duration_cast<Millis>(t.now - start), Millis(91000));
}

// udx-native closes a stream once both ENDs are acknowledged, without waiting for its last ack to
// arrive: when that ack is lost, our END is never acknowledged. After the remote's END, two
// unanswered RTOs close the stream as kEndUnconfirmed instead of waiting 91 s for ETIMEDOUT.
TEST(UdxStream, EndUnansweredAfterTheRemoteEndedClosesAfterTwoTimeouts) {
    Harness t;
    Header h = ack_of(0);
    h.type = kEnd;
    h.seq = 0;
    t.feed(h);
    EXPECT_TRUE(t.s.eof());
    t.s.write(Bytes(10, 1));
    t.s.end();
    t.s.flush(t.now);
    const TimePoint start = t.now;
    while (!t.s.closed()) {
        ASSERT_NE(t.s.next_wakeup(), TimePoint::max());
        t.now = t.s.next_wakeup();
        t.s.on_timer(t.now);
    }
    EXPECT_EQ(t.s.close_reason(), CloseReason::kEndUnconfirmed);
    EXPECT_EQ(std::chrono::duration_cast<Millis>(t.now - start), Millis(1000 + 2000 + 4000));
}

TEST(UdxStream, LargeRttSamplesCapTheRto) {
    Harness t;
    t.s.write(Bytes(10, 1));
    t.s.flush(t.now);
    t.now += Millis(25000);
    t.feed(ack_of(1));
    EXPECT_EQ(t.s.rto(), Millis(30000));
}

TEST(UdxStream, ZeroWindowIsProbedWithHeartbeats) {
    Harness t;
    t.s.write(Bytes(3000, 1));
    t.s.flush(t.now);
    ASSERT_EQ(t.out.size(), 3u);
    t.now += Millis(10);
    t.feed(ack_of(1, 0));  // one acked, window closed
    t.feed(ack_of(3, 0));
    t.out.clear();
    t.s.write(Bytes(10, 2));
    t.s.flush(t.now);
    EXPECT_TRUE(t.out.empty());
    t.now = t.s.next_wakeup();
    t.s.on_timer(t.now);
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(t.last().header.type, kHeartbeat);
    Header h = ack_of(3, 5000);
    h.seq = 1;  // a newer packet from the receiver reopens the window
    t.feed(h);
    EXPECT_EQ(t.out.size(), 2u);
    EXPECT_EQ(t.last().header.type, kData);
}

TEST(UdxStream, MessagesAreUnorderedAndDoNotConsumeSequenceNumbers) {
    Harness t;
    const std::uint8_t m[] = {'h', 'i'};
    EXPECT_TRUE(t.s.send_message(m));
    EXPECT_FALSE(t.s.send_message(Bytes(1153, 0)));
    EXPECT_EQ(t.last().header.type, kMessage);
    EXPECT_EQ(t.last().header.seq, 0u);
    Header h;
    h.type = kMessage;
    h.seq = 77;
    t.feed(h, {}, m);
    const auto got = t.s.take_message();
    ASSERT_TRUE(got);
    EXPECT_EQ(as_string(*got), "hi");
    t.s.write(Bytes(1, 1));
    t.s.flush(t.now);
    EXPECT_EQ(t.last().header.seq, 0u);
}

TEST(UdxStream, EndIsDeliveredAfterTheDataBeforeIt) {
    Harness t;
    Header h = ack_of(0);
    h.type = kEnd;
    h.seq = 1;
    t.feed(h);
    EXPECT_FALSE(t.s.eof());
    h.type = kData;
    h.seq = 0;
    const std::uint8_t x[] = {'x'};
    t.feed(h, {}, x);
    EXPECT_FALSE(t.s.eof());  // the byte is unread
    EXPECT_EQ(as_string(t.s.read_all()), "x");
    EXPECT_TRUE(t.s.eof());
    EXPECT_EQ(t.last().header.ack, 2u);
    t.s.end();
    t.s.flush(t.now);
    EXPECT_EQ(t.last().header.type, kEnd);
    t.feed(ack_of(1));
    EXPECT_EQ(t.s.close_reason(), CloseReason::kEnded);
}


// Our ack of the remote's END is the last datagram of the connection: udx-native closes on it and
// resends nothing, and if it is lost its retransmissions find a socket that may be gone (it then
// fails with ETIMEDOUT). When the stream closes it goes out three times in all, a quarter SRTT (at
// least 1 ms) apart; flush_final_acks() sends the copies still due.
TEST(UdxStream, TheAckThatCompletesTheStreamGoesOutThreeTimes) {
    for (const bool flush_at_close : {false, true}) {
        SCOPED_TRACE(flush_at_close ? "socket closes at once" : "socket stays open");
        Harness t;
        t.s.end();
        t.s.flush(t.now);
        ASSERT_EQ(t.last().header.type, kEnd);
        t.now += Millis(40);
        t.feed(ack_of(1));  // our END acknowledged after 40 ms: SRTT 40 ms
        EXPECT_FALSE(t.s.closed());
        t.out.clear();
        Header h = ack_of(1);
        h.type = kData | kEnd;
        h.seq = 0;
        const std::uint8_t x[] = {'x'};
        t.feed(h, {}, x);
        ASSERT_EQ(t.s.close_reason(), CloseReason::kEnded);
        ASSERT_EQ(t.out.size(), 1u);
        EXPECT_EQ(t.last().header.ack, 1u);
        if (flush_at_close) {
            t.s.flush_final_acks();
        } else {
            const TimePoint closed_at = t.now;
            while (t.s.next_wakeup() != TimePoint::max()) {
                t.now = t.s.next_wakeup();
                t.s.on_timer(t.now);
            }
            EXPECT_EQ(t.now - closed_at, Millis(20));  // two gaps of SRTT / 4
        }
        ASSERT_EQ(t.out.size(), 3u);
        for (const Bytes& d : t.out) {
            const Packet p = *decode(d);
            EXPECT_EQ(p.header.type, 0);
            EXPECT_EQ(p.header.ack, 1u);
            EXPECT_EQ(p.header.stream_id, 2u);
        }
        EXPECT_EQ(t.s.stats().final_acks, 2u);
        t.s.flush_final_acks();
        EXPECT_EQ(t.out.size(), 3u);
        EXPECT_EQ(t.s.next_wakeup(), TimePoint::max());
    }
    // Closed by the ack of our END (the remote's END arrived before, and was acked once): the
    // remote may have sent that ack before ours of its END arrived, or ours may have been lost,
    // so two more copies go out, one at once.
    Harness t;
    Header h = ack_of(0);
    h.type = kEnd;
    t.feed(h);
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(t.last().header.ack, 1u);
    t.s.end();
    t.s.flush(t.now);
    t.out.clear();
    t.feed(ack_of(1));
    EXPECT_EQ(t.s.close_reason(), CloseReason::kEnded);
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(t.last().header.type, 0);
    EXPECT_EQ(t.last().header.ack, 1u);
    ASSERT_NE(t.s.next_wakeup(), TimePoint::max());
    t.now = t.s.next_wakeup();
    t.s.on_timer(t.now);
    EXPECT_EQ(t.out.size(), 2u);
    EXPECT_EQ(t.s.stats().final_acks, 2u);
    EXPECT_EQ(t.s.next_wakeup(), TimePoint::max());
}

}  // namespace
}  // namespace hs::v11::udx
