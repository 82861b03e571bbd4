// A failed write leaves no trace (issue 9): every write of every file of a core is failed in
// turn (cleanly, torn in half, or for good) during a run of appends and batches, and of puts
// from a peer; after each operation the feed must be consistent, and after the next append or a
// restart every acknowledged block must be there, verify, and be servable to a fresh peer.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>

#include "common/crypto/derive.h"
#include "v9/hypercore/feed.h"
#include "v9/hypercore/verify.h"
#include "testutil/fault_storage.h"
#include "testutil/feed_pair.h"

namespace hs::hypercore {
namespace {

using testutil::FaultMode;
using testutil::FaultPlan;
using testutil::FaultStorage;

const char* const kFiles[] = {"data", "tree", "signatures", "bitfield"};
const FaultMode kModes[] = {FaultMode::Clean, FaultMode::Torn, FaultMode::Persistent};

const char* mode_name(FaultMode m) {
    return m == FaultMode::Clean ? "clean" : m == FaultMode::Torn ? "torn" : "persistent";
}

constexpr std::uint8_t kSeed = 9;  // of the key pair (testutil/feed_pair.h)
FeedOptions writer_options() { return testutil::seeded_writer_options(kSeed); }
FeedOptions reader_options() { return testutil::seeded_reader_options(kSeed); }

// Distinct content for every append attempt, so a retried append never matches what a failed
// one left behind by chance.
struct Content {
    std::mt19937 rng{5};
    Bytes next() {
        Bytes b(1 + rng() % 40);
        for (auto& c : b) c = static_cast<std::uint8_t>(rng());
        return b;
    }
};

std::string where(const char* file, std::uint64_t n, FaultMode mode) {
    return fmt::format("fault: write {} of {} fails ({})", n, file, mode_name(mode));
}

// Every block in [from, acked.size()) can be served to a fresh peer, which verifies it.
void expect_servable(Feed& feed, const std::vector<Bytes>& acked, std::uint64_t from,
                     const std::string& ctx) {
    for (std::uint64_t i = from; i < acked.size(); ++i) {
        MemoryStorage mem;
        auto peer = Feed::open(mem.provider("peer"), reader_options());
        ASSERT_TRUE(peer.ok()) << peer.error().message;
        SparseBitset remote;
        auto proof = feed.proof(i, (*peer)->digest(i), false, remote);
        ASSERT_TRUE(proof.ok()) << ctx << ": proof for block " << i << ": " << proof.error().message;
        auto put = (*peer)->put(i, ByteView(acked[i]), *proof);
        ASSERT_TRUE(put.ok()) << ctx << ": a peer rejects block " << i << ": " << put.error().message;
    }
}

// length, byte_length, has, get agree with the acknowledged blocks.
void expect_consistent(Feed& feed, const std::vector<Bytes>& acked, std::uint64_t from,
                       const std::string& ctx) {
    ASSERT_EQ(feed.length(), acked.size()) << ctx;
    std::uint64_t bytes = 0;
    for (const auto& b : acked) bytes += b.size();
    EXPECT_EQ(feed.byte_length(), bytes) << ctx;
    for (std::uint64_t i = from; i < acked.size(); ++i) {
        EXPECT_TRUE(feed.has(i)) << ctx << ": block " << i;
        auto got = feed.get(i);
        ASSERT_TRUE(got.ok()) << ctx << ": get(" << i << "): " << got.error().message;
        EXPECT_EQ(*got, acked[i]) << ctx << ": block " << i;
    }
    for (std::uint64_t i = acked.size(); i < acked.size() + 40; ++i) {
        EXPECT_FALSE(feed.has(i)) << ctx << ": has(" << i << ") past the length " << acked.size();
        EXPECT_EQ(feed.get(i).error().code, Errc::NotFound) << ctx << ": get(" << i << ")";
    }
    EXPECT_TRUE(feed.has(0, acked.size())) << ctx;
}

void expect_verifies(Feed& feed, const std::string& ctx) {
    auto report = verify_feed(feed);
    EXPECT_TRUE(report.ok()) << ctx << ": verify: " << report.problems.size() << " problem(s), first: "
                             << (report.problems.empty() ? "" : report.problems[0].file + ": " +
                                                                    report.problems[0].message);
}

struct Scenario {
    const char* name;
    std::size_t prefill;               // blocks appended before faults are armed
    std::vector<std::size_t> batches;  // the appends run under faults
    std::vector<const char*> files;    // the files whose writes are failed in turn
};

struct Figures {
    std::uint64_t runs = 0, faults = 0, failed_ops = 0;
};

// One run of `sc` with the n-th write of `file` failing in `mode` (n = 0: a dry run that only
// counts writes). Returns the writes per file the run made.
std::map<std::string, std::uint64_t, std::less<>> run_appends(const Scenario& sc, const char* file,
                                                              std::uint64_t n, FaultMode mode,
                                                              Figures& fig) {
    const std::string ctx = fmt::format("{}: {}", sc.name, where(file, n, mode));
    MemoryStorage mem;
    auto plan = std::make_shared<FaultPlan>();
    plan->armed = false;
    auto opened = Feed::open(std::make_unique<FaultStorage>(mem.provider("c"), plan), writer_options());
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    if (!opened.ok()) return {};
    auto feed = std::move(opened).value();
    Content content;
    std::vector<Bytes> acked;
    if (sc.prefill) {
        for (std::size_t i = 0; i < sc.prefill; ++i) acked.push_back(content.next());
        std::vector<ByteView> v(acked.begin(), acked.end());
        EXPECT_TRUE(feed->append(v).ok());
    }
    // Blocks checked one by one (get, peer proofs) start a little before the faults.
    const std::uint64_t from = sc.prefill > 8 ? sc.prefill - 8 : 0;
    plan->writes.clear();
    plan->file = file;
    plan->fail_at = n;
    plan->mode = mode;
    plan->armed = n > 0;

    for (std::size_t k = 0; k < sc.batches.size(); ++k) {
        std::vector<Bytes> blocks;
        for (std::size_t i = 0; i < sc.batches[k]; ++i) blocks.push_back(content.next());
        std::vector<ByteView> v(blocks.begin(), blocks.end());
        const auto before = feed->length();
        auto r = feed->append(v);
        const std::string op = fmt::format("{}: append {} of a batch of {}", ctx, k, blocks.size());
        if (r) {
            EXPECT_EQ(*r, before) << op;
            acked.insert(acked.end(), blocks.begin(), blocks.end());
        } else {
            ++fig.failed_ops;
            EXPECT_NE(r.error().message.find("nothing was appended"), std::string::npos)
                << op << ": " << r.error().message;
        }
        expect_consistent(*feed, acked, from, op);
        if (!r) expect_servable(*feed, acked, from, op);
        if (::testing::Test::HasFailure()) return plan->writes;
    }
    fig.faults += plan->injected;
    auto writes = plan->writes;

    if (mode != FaultMode::Persistent) {
        // The next append repairs whatever the failure left.
        plan->armed = false;
        acked.push_back(content.next());
        auto r = feed->append(ByteView(acked.back()));
        EXPECT_TRUE(r.ok()) << ctx << ": append after the fault: " << r.error().message;
        expect_consistent(*feed, acked, from, ctx + ", next append");
        expect_verifies(*feed, ctx + ", next append");
        expect_servable(*feed, acked, from, ctx + ", next append");
    }
    // Restart (for Persistent: a crash while the file still fails, with nothing repaired).
    feed.reset();
    plan->armed = false;
    auto again = Feed::open(std::make_unique<FaultStorage>(mem.provider("c"), plan), writer_options());
    EXPECT_TRUE(again.ok()) << ctx << ": reopen: " << again.error().message;
    if (!again.ok()) return writes;
    expect_consistent(**again, acked, from, ctx + ", reopened");
    expect_verifies(**again, ctx + ", reopened");
    expect_servable(**again, acked, from, ctx + ", reopened");
    acked.push_back(content.next());
    EXPECT_TRUE((*again)->append(ByteView(acked.back())).ok()) << ctx;
    expect_consistent(**again, acked, from, ctx + ", reopened + append");
    expect_verifies(**again, ctx + ", reopened + append");
    ++fig.runs;
    return writes;
}

void run_scenario(const Scenario& sc, Figures& fig) {
    Figures dry;
    const auto counts = run_appends(sc, "", 0, FaultMode::Clean, dry);
    ASSERT_FALSE(::testing::Test::HasFailure()) << sc.name << ": the run without faults fails";
    for (const char* file : sc.files) {
        const auto it = counts.find(file);
        ASSERT_TRUE(it != counts.end() && it->second > 0) << sc.name << " never writes " << file;
        for (FaultMode mode : kModes) {
            for (std::uint64_t n = 1; n <= it->second; ++n) {
                run_appends(sc, file, n, mode, fig);
                if (::testing::Test::HasFailure()) return;
            }
        }
    }
}

TEST(FailedWrites, AppendsLeaveNoTrace) {
    const auto start = std::chrono::steady_clock::now();
    Figures fig;
    // A failed batch followed by appends that skip its signature slot, batches of every shape.
    run_scenario({"small", 0, {1, 4, 1, 1, 5, 3, 2, 7, 1, 16, 1, 2}, {std::begin(kFiles), std::end(kFiles)}},
                 fig);
    // Bitfield flushes that span two pages (8192 blocks per page); the other files behave as above.
    run_scenario({"page boundary", 8188, {1, 5, 1, 3, 9, 1}, {"bitfield"}}, fig);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("fault points: %llu runs, %llu injected faults, %llu failed appends, %.2f s\n",
                static_cast<unsigned long long>(fig.runs), static_cast<unsigned long long>(fig.faults),
                static_cast<unsigned long long>(fig.failed_ops), secs);
    EXPECT_GT(fig.failed_ops, 0u);
}

// ---- puts (replicated blocks) ----

struct Source {
    MemoryStorage mem;
    std::unique_ptr<Feed> writer;
    std::vector<Bytes> blocks;
    Source() {
        writer = std::move(Feed::open(mem.provider("w"), writer_options()).value());
        Content content;
        const std::size_t batches[] = {1, 3, 1, 8, 2, 1, 5, 1};
        for (auto b : batches) {
            std::vector<Bytes> batch;
            for (std::size_t i = 0; i < b; ++i) batch.push_back(content.next());
            std::vector<ByteView> v(batch.begin(), batch.end());
            EXPECT_TRUE(writer->append(v).ok());
            blocks.insert(blocks.end(), batch.begin(), batch.end());
        }
    }
};

// The order a sparse peer downloads in: not sequential, so proofs carry roots and signatures.
std::vector<std::uint64_t> download_order(std::size_t n) {
    std::vector<std::uint64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937 rng(3);
    std::shuffle(order.begin(), order.end(), rng);
    return order;
}

std::map<std::string, std::uint64_t, std::less<>> run_puts(Source& src, const char* file,
                                                           std::uint64_t n, FaultMode mode,
                                                           Figures& fig) {
    const std::string ctx = fmt::format("puts: {}", where(file, n, mode));
    MemoryStorage mem;
    auto plan = std::make_shared<FaultPlan>();
    plan->armed = false;
    auto feed = std::move(
        Feed::open(std::make_unique<FaultStorage>(mem.provider("r"), plan), reader_options()).value());
    plan->writes.clear();
    plan->file = file;
    plan->fail_at = n;
    plan->mode = mode;
    plan->armed = n > 0;
    std::vector<bool> stored(src.blocks.size());
    auto check = [&](Feed& f, const std::string& op) {
        for (std::uint64_t i = 0; i < src.blocks.size(); ++i) {
            EXPECT_EQ(f.has(i), stored[i]) << op << ": has(" << i << ")";
            auto got = f.get(i);
            if (stored[i]) {
                ASSERT_TRUE(got.ok()) << op << ": get(" << i << "): " << got.error().message;
                EXPECT_EQ(*got, src.blocks[i]) << op;
            } else {
                EXPECT_EQ(got.error().code, Errc::NotFound) << op << ": get(" << i << ")";
            }
        }
        // Every tree node marked stored is one the source has, with the same bytes.
        for (flat::Index t = 0; t < 2 * src.blocks.size(); ++t) {
            if (!f.bitfield().tree_get(t)) continue;
            auto mine = f.node(t);
            auto theirs = src.writer->node(t);
            ASSERT_TRUE(mine.ok()) << op << ": node " << t << " is marked stored but is missing";
            ASSERT_TRUE(theirs.ok()) << op << ": node " << t << " is marked but not in the tree";
            EXPECT_EQ(mine->hash, theirs->hash) << op << ": node " << t;
        }
    };
    auto put = [&](Feed& f, std::uint64_t i) {
        SparseBitset remote;
        auto proof = src.writer->proof(i, f.digest(i), false, remote);
        EXPECT_TRUE(proof.ok());
        return f.put(i, ByteView(src.blocks[i]), *proof);
    };
    for (auto i : download_order(src.blocks.size())) {
        const auto before = feed->length();
        auto r = put(*feed, i);
        const std::string op = fmt::format("{}: put({})", ctx, i);
        if (r) {
            stored[i] = true;
        } else {
            ++fig.failed_ops;
            EXPECT_EQ(feed->length(), before) << op;
        }
        check(*feed, op);
        if (::testing::Test::HasFailure()) return plan->writes;
    }
    fig.faults += plan->injected;
    auto writes = plan->writes;
    plan->armed = false;
    // A later put of each missing block succeeds; a restart keeps everything stored.
    for (std::uint64_t i = 0; i < src.blocks.size(); ++i) {
        if (stored[i]) continue;
        auto r = put(*feed, i);
        EXPECT_TRUE(r.ok()) << ctx << ": retry put(" << i << "): " << r.error().message;
        stored[i] = true;
    }
    check(*feed, ctx + ", retried");
    expect_verifies(*feed, ctx + ", retried");
    feed.reset();
    auto again = Feed::open(std::make_unique<FaultStorage>(mem.provider("r"), plan), reader_options());
    EXPECT_TRUE(again.ok()) << ctx << ": reopen: " << again.error().message;
    if (!again.ok()) return writes;
    EXPECT_EQ((*again)->length(), src.blocks.size()) << ctx;
    check(**again, ctx + ", reopened");
    expect_verifies(**again, ctx + ", reopened");
    ++fig.runs;
    return writes;
}

TEST(FailedWrites, PutsLeaveNoTrace) {
    const auto start = std::chrono::steady_clock::now();
    Source src;
    Figures fig, dry;
    const auto counts = run_puts(src, "", 0, FaultMode::Clean, dry);
    ASSERT_FALSE(HasFailure());
    for (const char* file : kFiles) {
        const auto it = counts.find(file);
        ASSERT_TRUE(it != counts.end() && it->second > 0) << "puts never write " << file;
        for (FaultMode mode : kModes) {
            for (std::uint64_t n = 1; n <= it->second; ++n) {
                run_puts(src, file, n, mode, fig);
                if (HasFailure()) return;
            }
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("fault points: %llu runs, %llu injected faults, %llu failed puts, %.2f s\n",
                static_cast<unsigned long long>(fig.runs), static_cast<unsigned long long>(fig.faults),
                static_cast<unsigned long long>(fig.failed_ops), secs);
    EXPECT_GT(fig.failed_ops, 0u);
}

}  // namespace
}  // namespace hs::hypercore
