// Two sans-IO UDX endpoints on a fake clock over the modelled link of udx_sim.h: exact delivery
// under seeded loss, duplication and reordering, half-close both ways, destroy, timeouts, the
// receive window, and the throughput and fairness of the congestion controller (NewReno-style
// AIMD, src/v11/udx/stream.h). Figures are printed; bounds are generous, not tight.
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

TEST(UdxSim, ThroughputOnLossyLinks) {
    for (const double loss : {0.01, 0.05}) {
        LinkModel l;
        l.loss = loss;
        l.delay = Millis(20);
        double s = 0;
        both_ways(l, 7, 4u << 20, 0, &s);
        std::printf("udx sim: %.0f%% loss, 20 ms, 100 Mbit/s: 4 MiB in %.2f s (%.1f Mbit/s)\n",
                    loss * 100, s, 4 * 8 * 1.048576 / s);
        EXPECT_LT(s, 120.0);
    }
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

// Two streams from side 0 to side 1 sharing one 20 Mbit/s bottleneck with a 64 KiB queue.
TEST(UdxSim, TwoCompetingStreamsShareTheBottleneck) {
    LinkModel l;
    l.bandwidth = 2.5e6;
    l.delay = Millis(20);
    l.queue_bytes = 64 * 1024;
    Network net(l, 11);
    StreamCore& a1 = net.add(0, {1, 101});
    StreamCore& b1 = net.add(1, {101, 1});
    StreamCore& a2 = net.add(0, {2, 102});
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
    const double span = seconds(end - second_start);
    const double rx = static_cast<double>(x.received - x_at_2) / span;
    const double ry = static_cast<double>(y.received) / span;
    const double jain = (rx + ry) * (rx + ry) / (2 * (rx * rx + ry * ry));
    std::printf("udx sim: two streams on 20 Mbit/s, 20 ms, 64 KiB queue: %.2f + %.2f Mbit/s "
                "(utilisation %.0f%%, Jain %.3f, drops %llu)\n",
                rx * 8 / 1e6, ry * 8 / 1e6, (rx + ry) / l.bandwidth * 100, jain,
                static_cast<unsigned long long>(net.dropped()));
    EXPECT_FALSE(x.mismatch);
    EXPECT_FALSE(y.mismatch);
    EXPECT_GT(jain, 0.8);
    EXPECT_GT((rx + ry) / l.bandwidth, 0.6);
}

}  // namespace
}  // namespace hs::v11::udx::sim
