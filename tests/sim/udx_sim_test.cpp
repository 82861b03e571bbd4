// Two sans-IO UDX endpoints on a fake clock over the modelled link of udx_sim.h: exact delivery
// under seeded loss, duplication and reordering, half-close both ways, destroy, timeouts, the
// receive window, and the throughput and fairness of the congestion controllers (BBR with
// pacing, src/v11/udx/bbr.h, and NewReno-style AIMD). Figures are printed; bounds are generous.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "sim/udx_sim.h"

namespace hs::v11::udx::sim {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Pair {
    Network net;
    StreamCore* a;
    StreamCore* b;
    Pair(LinkModel link, std::uint64_t seed, std::uint32_t rwnd = 4u << 20) : net(link, seed) {
        StreamConfig ca{1, 2};
        ca.rwnd_max = rwnd;
        StreamConfig cb{2, 1};
        cb.rwnd_max = rwnd;
        a = &net.add(0, ca);
        b = &net.add(1, cb);
    }
};

void both_ways(LinkModel link, std::uint64_t seed, std::uint64_t ab, std::uint64_t ba,
               double* secs = nullptr) {
    Pair p(link, seed);
    Transfer x{p.a, p.b, ab, 0, 0, false, seed};
    Transfer y{p.b, p.a, ba, 0, 0, false, seed + 1};
    x.end_reader_on_eof = y.end_reader_on_eof = false;
    const TimePoint start = p.net.now();
    p.net.run(start + std::chrono::minutes(10), [&] { return p.a->closed() && p.b->closed(); },
              [&] {
                  x.step(p.net.now());
                  y.step(p.net.now());
                  if (std::getenv("UDX_SIM_VERBOSE")) {
                      static int last = 0;
                      const int now_ms = (int)(seconds(p.net.now() - start) * 1000);
                      if (now_ms / 500 != last / 500) std::printf("  t=%d ms x=%llu y=%llu cwnd %u/%u inflight-bytes %zu\n", now_ms, (unsigned long long)x.received, (unsigned long long)y.received, p.a->cwnd(), p.b->cwnd(), p.a->unacked_bytes());
                      last = now_ms;
                  }
              });
    EXPECT_FALSE(x.mismatch) << "seed " << seed;
    EXPECT_FALSE(y.mismatch) << "seed " << seed;
    EXPECT_EQ(x.received, ab) << "seed " << seed;
    EXPECT_EQ(y.received, ba) << "seed " << seed;
    EXPECT_EQ(p.a->close_reason(), CloseReason::kEnded) << "seed " << seed;
    EXPECT_EQ(p.b->close_reason(), CloseReason::kEnded) << "seed " << seed;
    if (secs) *secs = seconds(p.net.now() - start);
    if (std::getenv("UDX_SIM_VERBOSE")) {
        for (StreamCore* c : {p.a, p.b})
            std::printf("  stream %u: sent %llu retransmits %llu fast %llu timeouts %llu cwnd %u srtt %lld drops %llu\n",
                        c->local_id(), (unsigned long long)c->stats().packets_sent,
                        (unsigned long long)c->stats().retransmits, (unsigned long long)c->stats().fast_losses,
                        (unsigned long long)c->stats().timeouts, c->cwnd(), (long long)c->srtt().count(),
                        (unsigned long long)p.net.dropped());
    }
}

TEST(UdxSim, CleanLinkBothWays) {
    double s = 0;
    both_ways(LinkModel{}, 1, 8u << 20, 1u << 20, &s);
    std::printf("udx sim: clean 100 Mbit/s, 10 ms: 8 MiB + 1 MiB both ways in %.2f s (%.1f Mbit/s)\n",
                s, 8.0 * 8 * 1.048576 / s);
}

TEST(UdxSim, LossyReorderingDuplicatingLinkDeliversExactly) {
    LinkModel l;
    l.loss = 0.05;
    l.duplicate = 0.02;
    l.reorder = 0.1;
    for (std::uint64_t seed = 1; seed <= 6; ++seed) both_ways(l, seed, 1u << 20, 300000);
}

TEST(UdxSim, TinyTransfersAndEmptyStreams) {
    both_ways(LinkModel{}, 3, 1, 0);
    both_ways(LinkModel{}, 4, 0, 0);
}

// One writer over a 100 Mbit/s link with a 20 ms one-way delay (a 256 KiB queue, 0.5 BDP) and
// seeded random loss, 24 MiB: BBR keeps its rate through random loss. Figures when written
// (seed 7): BBR 87 / 84 / 78 % of the link at 0 / 1 / 5 % loss; NewReno 4 / 1 % at 1 / 5 %
// (what 1.22 MSS / (RTT sqrt(p)) predicts for a loss-based window).
double one_way_rate(double loss, CongestionControl cc, std::uint64_t seed) {
    LinkModel l;
    l.loss = loss;
    l.delay = Millis(20);
    Network net(l, seed);
    StreamConfig ca{1, 2};
    ca.congestion = cc;
    StreamConfig cb{2, 1};
    cb.congestion = cc;
    StreamCore& a = net.add(0, ca);
    StreamCore& b = net.add(1, cb);
    const std::uint64_t total = 24u << 20;
    Transfer x{&a, &b, total, 0, 0, false, seed};
    const TimePoint start = net.now();
    net.run(start + std::chrono::minutes(10), [&] { return a.closed() && b.closed(); },
            [&] { x.step(net.now()); });
    EXPECT_FALSE(x.mismatch);
    EXPECT_EQ(x.received, total);
    EXPECT_EQ(a.close_reason(), CloseReason::kEnded);
    return static_cast<double>(total) / seconds(net.now() - start) / l.bandwidth;
}

TEST(UdxSim, BbrKeepsItsRateThroughRandomLoss) {
    const double clean = one_way_rate(0, CongestionControl::kBbr, 7);
    const double lossy1 = one_way_rate(0.01, CongestionControl::kBbr, 7);
    const double lossy5 = one_way_rate(0.05, CongestionControl::kBbr, 7);
    const double reno1 = one_way_rate(0.01, CongestionControl::kNewReno, 7);
    const double reno5 = one_way_rate(0.05, CongestionControl::kNewReno, 7);
    std::printf("udx sim: 100 Mbit/s, 20 ms, 24 MiB: BBR %.0f%% / %.0f%% / %.0f%% of the link at "
                "0 / 1 / 5 %% loss; NewReno %.0f%% / %.0f%% at 1 / 5 %%\n",
                clean * 100, lossy1 * 100, lossy5 * 100, reno1 * 100, reno5 * 100);
    EXPECT_GT(clean, 0.7);
    EXPECT_GT(lossy1, 0.5);
    EXPECT_GT(lossy5, 0.3);
    EXPECT_GT(lossy1, 2 * reno1);
}

// MTU search: from 1152 payload bytes in steps of 32 up to the path's limit (here datagrams of
// at most 1400 bytes: payload 1376 is the last step that fits; three probes of 1408 are lost),
// or to 1452 (a 1500-byte IP packet) on a path without one; the transfer is exact either way.
TEST(UdxSim, MtuSearchFindsThePathLimit) {
    for (const std::size_t limit : {std::size_t{1400}, std::size_t{65536}}) {
        LinkModel l;
        l.max_datagram = limit;
        Pair p(l, 21);
        Transfer x{p.a, p.b, 4u << 20, 0, 0, false, 21};
        p.net.run(
            p.net.now() + std::chrono::minutes(2),
            [&] { return p.a->closed() && p.b->closed(); }, [&] { x.step(p.net.now()); });
        EXPECT_FALSE(x.mismatch);
        EXPECT_EQ(x.received, 4u << 20);
        EXPECT_EQ(p.a->close_reason(), CloseReason::kEnded);
        EXPECT_TRUE(p.a->mtu_search_done());
        EXPECT_EQ(p.a->payload_size(), limit == 1400 ? 1376u : 1452u) << "limit " << limit;
        EXPECT_EQ(p.a->stats().mtu_probes, 10u);  // 7 + 3 lost, or 9 steps + the last to 1452
        std::printf("udx sim: MTU search, datagrams up to %zu B: payload %zu after %llu probes\n",
                    limit, p.a->payload_size(),
                    static_cast<unsigned long long>(p.a->stats().mtu_probes));
    }
}

// Keep-alive: idle streams send a HEARTBEAT every interval, which the other side answers.
TEST(UdxSim, IdleStreamsSendKeepAlives) {
    Network net(LinkModel{}, 22);
    StreamConfig ca{1, 2};
    ca.keepalive = Millis(1000);
    StreamCore& a = net.add(0, ca);
    StreamCore& b = net.add(1, {2, 1});
    a.write(Bytes(100, 1));
    a.flush(net.now());
    const TimePoint end = net.now() + std::chrono::seconds(10);
    net.run(end, [&] { return net.now() >= end; }, [&] { b.read_all(); });
    EXPECT_GE(a.stats().keepalives, 8u);
    EXPECT_LE(a.stats().keepalives, 10u);
    EXPECT_GE(b.stats().acks_sent, a.stats().keepalives);  // each was answered
    EXPECT_EQ(b.stats().keepalives, 0u);  // off by default
    EXPECT_FALSE(a.closed());
    EXPECT_FALSE(b.closed());
}

// Past a hole the sender stays within the receive window counted from the hole (SACKed
// packets included), so the receiver never has to drop out-of-order data for want of room (with
// the window counted over the packets in flight only, this run dropped 205 packets).
TEST(UdxSim, SenderStaysWithinTheWindowPastAHole) {
    LinkModel l;
    l.loss = 0.1;
    l.delay = Millis(20);
    Pair p(l, 23, 64 * 1024);
    Transfer x{p.a, p.b, 2u << 20, 0, 0, false, 23};
    p.net.run(
        p.net.now() + std::chrono::minutes(2), [&] { return p.a->closed() && p.b->closed(); },
        [&] { x.step(p.net.now()); });
    EXPECT_FALSE(x.mismatch);
    EXPECT_EQ(x.received, 2u << 20);
    EXPECT_GT(p.a->stats().fast_losses, 10u);
    EXPECT_EQ(p.b->stats().dropped_data, 0u);
}

TEST(UdxSim, DestroyResetsTheRemote) {
    Pair p(LinkModel{}, 5);
    p.a->write(Bytes(5000, 1));
    p.a->flush(p.net.now());
    bool destroyed = false;
    p.net.run(p.net.now() + std::chrono::seconds(10), [&] { return p.b->closed(); }, [&] {
        if (!destroyed && p.b->readable() == 5000) {
            p.a->destroy();
            destroyed = true;
        }
    });
    EXPECT_EQ(p.a->close_reason(), CloseReason::kDestroyed);
    EXPECT_EQ(p.b->close_reason(), CloseReason::kReset);
}

TEST(UdxSim, DeadLinkTimesOut) {
    LinkModel l;
    l.loss = 1.0;
    Pair p(l, 6);
    p.a->write(Bytes(5000, 1));
    p.a->flush(p.net.now());
    const TimePoint start = p.net.now();
    p.net.run(start + std::chrono::minutes(5), [&] { return p.a->closed(); }, [] {});
    EXPECT_EQ(p.a->close_reason(), CloseReason::kTimedOut);
    EXPECT_LE(p.net.now() - start, std::chrono::seconds(100));
}

// interop_udx_lossy's flake: udx-native writes (we write nothing, or as much back), 5 % loss and
// the relay's 20 ms delay, duplicates and reordering. Our stream closes once udx-native's END
// arrived and ours was acknowledged; the test peer then closes its socket and exits. Our ack of
// udx-native's END is the last datagram of the connection; if it is lost, udx-native resends its
// tail at its RTO into a closed port and gives up after 6 timeouts (ETIMEDOUT, ~13 s). The writer
// here is our own core, which resends and gives up the same way. With the final ack sent three
// times in all (the copies still due go out when the socket closes) every writer ends.
TEST(UdxSim, WriterEndsWhenTheReceiversSocketClosesRightAfterItsStreamEnded) {
    LinkModel l;
    l.delay = Millis(20);
    l.loss = 0.05;
    l.duplicate = 0.01;
    l.reorder = 0.02;
    l.reorder_delay = Millis(10);
    int timed_out = 0;
    std::uint64_t copies = 0;
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        // Odd seeds: the receiver writes nothing and ends at once (its stream closes on the
        // remote's END); even ones: both write (as the 10-stream interop case), so the receiver's
        // stream often closes on the ack of its END after the remote's END arrived.
        const std::uint64_t back = seed % 2 == 0 ? 60000 : 0;
        Pair p(l, seed);
        Transfer x{p.a, p.b, 60000, 0, 0, false, seed};
        Transfer y{p.b, p.a, back, 0, 0, false, seed + 1000};
        x.end_reader_on_eof = y.end_reader_on_eof = false;
        bool gone = false;
        const TimePoint start = p.net.now();
        p.net.run(start + std::chrono::minutes(3), [&] { return p.a->closed() && p.b->closed(); }, [&] {
            x.step(p.net.now());
            if (!gone) y.write_step(p.net.now());
            y.read_step(p.net.now());
            if (!gone && p.b->closed()) {
                // Socket::close(): the final acks still due go out, then nothing answers.
                p.b->flush_final_acks();
                p.net.detach(1, 2);
                gone = true;
            }
        });
        EXPECT_FALSE(x.mismatch) << "seed " << seed;
        EXPECT_FALSE(y.mismatch) << "seed " << seed;
        EXPECT_EQ(x.received, 60000u) << "seed " << seed;
        EXPECT_EQ(y.received, back) << "seed " << seed;
        // Ours may close first (then on the writer's final ack, or with two RTOs of silence if
        // all its copies were lost: udx-native sends just one).
        EXPECT_TRUE(p.b->close_reason() == CloseReason::kEnded ||
                    p.b->close_reason() == CloseReason::kEndUnconfirmed)
            << "seed " << seed << ": " << to_string(p.b->close_reason());
        // The writer stands for udx-native, which has no kEndUnconfirmed: for it that is ETIMEDOUT.
        if (p.a->close_reason() != CloseReason::kEnded) {
            ++timed_out;
            ADD_FAILURE() << "seed " << seed << ": the writer closed as " << to_string(p.a->close_reason());
        }
        copies += p.b->stats().final_acks;
    }
    std::printf("udx sim: 300 transfers at 5 %% loss, the receiver gone once its stream ended: %d writers "
                "gave up, %llu final-ack copies\n", timed_out, (unsigned long long)copies);
}

TEST(UdxSim, MessagesArrive) {
    Pair p(LinkModel{}, 8);
    for (int i = 0; i < 20; ++i) {
        const std::uint8_t m[] = {static_cast<std::uint8_t>(i)};
        p.a->send_message(m);
    }
    int got = 0;
    p.net.run(p.net.now() + std::chrono::seconds(1), [&] { return got == 20; }, [&] {
        while (auto m = p.b->take_message()) ++got;
    });
    EXPECT_EQ(got, 20);
}

TEST(UdxSim, ReceiveWindowBoundsMemoryAndReopens) {
    Pair p(LinkModel{}, 9, 256 * 1024);
    Transfer x{p.a, p.b, 3u << 20, 0, 0, false, 9};
    const TimePoint read_from = p.net.now() + std::chrono::seconds(5);
    std::size_t max_buffered = 0;
    p.net.run(p.net.now() + std::chrono::minutes(2), [&] { return p.a->closed() && p.b->closed(); },
              [&] {
                  max_buffered = std::max(max_buffered, p.b->buffered_bytes());
                  x.write_step(p.net.now());
                  if (p.net.now() >= read_from) x.read_step(p.net.now());
              });
    // The reader held at most the window plus what was in flight when it closed.
    EXPECT_GE(max_buffered, 200u * 1024);
    EXPECT_LE(max_buffered, 2u * 256 * 1024);
    EXPECT_FALSE(x.mismatch);
    EXPECT_EQ(x.received, 3u << 20);
    EXPECT_EQ(p.b->close_reason(), CloseReason::kEnded);
}

struct Shares {
    double first = 0;  // bytes/s of each stream from the second's start to the end
    double second = 0;
    double link = 0;
    std::uint64_t drops = 0;
    double jain() const {
        return (first + second) * (first + second) / (2 * (first * first + second * second));
    }
    double utilisation() const { return (first + second) / link; }
};

// Two streams from side 0 to side 1 sharing one 20 Mbit/s bottleneck (20 ms one way, BDP
// 100 KB) with a drop-tail queue of `queue` bytes; the second starts 2 s after the first and
// both run to 30 s.
Shares compete(std::size_t queue, CongestionControl first, CongestionControl second,
               std::uint64_t seed) {
    LinkModel l;
    l.bandwidth = 2.5e6;
    l.delay = Millis(20);
    l.queue_bytes = queue;
    Network net(l, seed);
    StreamConfig c1{1, 101};
    c1.congestion = first;
    StreamConfig c2{2, 102};
    c2.congestion = second;
    StreamCore& a1 = net.add(0, c1);
    StreamCore& b1 = net.add(1, {101, 1});
    StreamCore& a2 = net.add(0, c2);
    StreamCore& b2 = net.add(1, {102, 2});
    const std::uint64_t big = 1ull << 40;
    Transfer x{&a1, &b1, big, 0, 0, false, 1};
    Transfer y{&a2, &b2, big, 0, 0, false, 2};
    const TimePoint start = net.now();
    const TimePoint second_start = start + std::chrono::seconds(2);
    const TimePoint end = start + std::chrono::seconds(30);
    std::uint64_t x_at_2 = 0;
    net.run(end, [&] { return net.now() >= end; }, [&] {
        x.step(net.now());
        if (net.now() >= second_start) {
            y.step(net.now());
        } else {
            x_at_2 = x.received;
        }
    });
    EXPECT_FALSE(x.mismatch);
    EXPECT_FALSE(y.mismatch);
    const double span = seconds(end - second_start);
    Shares r;
    r.first = static_cast<double>(x.received - x_at_2) / span;
    r.second = static_cast<double>(y.received) / span;
    r.link = l.bandwidth;
    r.drops = net.dropped();
    return r;
}

void print(const char* what, const Shares& r) {
    std::printf("udx sim: %s: %.2f + %.2f Mbit/s (utilisation %.0f%%, Jain %.3f, drops %llu)\n",
                what, r.first * 8 / 1e6, r.second * 8 / 1e6, r.utilisation() * 100, r.jain(),
                static_cast<unsigned long long>(r.drops));
}

// Two BBR streams. With a 2 BDP queue they share evenly (when written: 12.8 + 6.8 Mbit/s, Jain
// 0.914, 1 drop). In a shallow queue (64 KiB, 0.64 BDP) BBR v1 shares badly, and the split
// swings with small changes (15.4 + 4.1 down to 17.5 + 1.9 Mbit/s, Jain 0.75 to 0.61, about 5 %
// of packets dropped): the first stream's estimate stays high while the newcomer leaves startup
// on the queue's losses. The bounds there only guard against starvation.
TEST(UdxSim, TwoBbrStreamsShareTheBottleneck) {
    const Shares deep = compete(200 * 1000, CongestionControl::kBbr, CongestionControl::kBbr, 11);
    print("two BBR streams, 20 Mbit/s, 20 ms, 200 KB queue", deep);
    EXPECT_GE(deep.jain(), 0.9);
    EXPECT_GT(deep.utilisation(), 0.8);
    const Shares shallow = compete(64 * 1024, CongestionControl::kBbr, CongestionControl::kBbr, 11);
    print("two BBR streams, 20 Mbit/s, 20 ms, 64 KiB queue", shallow);
    EXPECT_GE(shallow.jain(), 0.55);
    EXPECT_GT(shallow.second / shallow.link, 0.05);
    EXPECT_GT(shallow.utilisation(), 0.8);
}

// BBR against a loss-based NewReno stream on the same link, each starting first once. With a
// 2 BDP queue they share fairly (when written: BBR first 10.6 + NewReno 9.1 Mbit/s, NewReno
// first 8.0 + BBR 11.6; Jain 0.994 and 0.968). In a shallow queue (64 KiB) BBR v1 takes most,
// as upstream BBR v1 does (17.3 + 2.1 and 2.2 + 17.2 Mbit/s), but NewReno is not starved.
TEST(UdxSim, BbrAndNewRenoDoNotStarveEachOther) {
    for (const std::size_t queue : {std::size_t{64 * 1024}, std::size_t{200 * 1000}}) {
        const Shares a = compete(queue, CongestionControl::kBbr, CongestionControl::kNewReno, 12);
        const Shares b = compete(queue, CongestionControl::kNewReno, CongestionControl::kBbr, 13);
        char what[96];
        std::snprintf(what, sizeof what, "BBR first, NewReno second, %zu B queue", queue);
        print(what, a);
        std::snprintf(what, sizeof what, "NewReno first, BBR second, %zu B queue", queue);
        print(what, b);
        const bool deep = queue > 100 * 1000;
        for (const Shares& r : {a, b}) {
            EXPECT_GT(r.first / r.link, deep ? 1.0 / 3 : 1.0 / 16);
            EXPECT_GT(r.second / r.link, deep ? 1.0 / 3 : 1.0 / 16);
            if (deep) EXPECT_GE(r.jain(), 0.9);
            EXPECT_GT(r.utilisation(), 0.8);
        }
    }
}

}  // namespace
}  // namespace hs::v11::udx::sim
