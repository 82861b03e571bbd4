// The crash-safe files of a second-generation core (src/v11/storage, docs/formats/storage-v11.md):
// round trips through reopen and checkpoints, truncation, sparse blocks, every failed write
// leaving the state before, and damaged files reported by name.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "testutil/temp_dir.h"
#include "unit/v11/storage_model.h"
#include "v11/storage/file_storage.h"

namespace hs::v11::storage {
namespace {

using hypercore::Batch;
using hypercore::BitRange;
using testing::CoreModel;
namespace fs = std::filesystem;

struct Fixture {
    testutil::TempDir tmp;
    FileCache cache{64};
    fs::path dir = tmp.path() / "core";
    FileStorageOptions options(std::size_t checkpoint_bytes = 256 * 1024) {
        FileStorageOptions o;
        o.cache = &cache;
        o.checkpoint_bytes = checkpoint_bytes;
        return o;
    }
    std::unique_ptr<FileStorage> create(const CoreModel& m, std::size_t checkpoint_bytes = 256 * 1024) {
        auto s = FileStorage::create(dir, m.header(), options(checkpoint_bytes));
        EXPECT_TRUE(s.ok()) << s.error().message;
        return std::move(s).value();
    }
    std::unique_ptr<FileStorage> reopen(std::size_t checkpoint_bytes = 256 * 1024) {
        auto s = FileStorage::open(dir, options(checkpoint_bytes));
        EXPECT_TRUE(s.ok()) << s.error().message;
        return s.ok() ? std::move(s).value() : nullptr;
    }
};

void flip_byte(const fs::path& file, std::uint64_t offset) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
}

TEST(V11Storage, CommitsSurviveReopenAndCheckpoints) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    ASSERT_TRUE(model.matches(*s));
    for (int i = 0; i < 60; ++i) ASSERT_TRUE(s->commit(model.append(1 + i % 3)).ok());
    ASSERT_TRUE(model.matches(*s));
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stats().replayed, 60u);
    ASSERT_TRUE(model.matches(*s));
    ASSERT_TRUE(s->checkpoint().ok());
    EXPECT_EQ(s->stats().log_bytes, 0u);
    ASSERT_TRUE(model.matches(*s));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->commit(model.append(2)).ok());
    ASSERT_TRUE(s->flush().ok());
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stats().checkpoint, 1u);
    EXPECT_EQ(s->stats().replayed, 5u);
    ASSERT_TRUE(model.matches(*s));
    EXPECT_TRUE(fs::exists(fx.dir / "tree"));
    EXPECT_TRUE(fs::exists(fx.dir / "bitfield"));
}

TEST(V11Storage, CreateRefusesAnExistingCoreAndOpenNamesAMissingOne) {
    Fixture fx;
    CoreModel model;
    auto missing = FileStorage::open(fx.dir, fx.options());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, Errc::NotFound);
    EXPECT_NE(missing.error().message.find("oplog"), std::string::npos);
    auto s = fx.create(model);
    auto again = FileStorage::create(fx.dir, model.header(), fx.options());
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::Exists);
}

// Seeded random appends and forks, reopening and checkpointing at random, against the model;
// small checkpoint_bytes makes the automatic checkpoints frequent.
TEST(V11Storage, RandomAppendsForksReopensAgainstAModel) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        Fixture fx;
        CoreModel model(seed);
        std::mt19937_64 rng(seed * 1000);
        auto s = fx.create(model, 2048);
        for (int step = 0; step < 150; ++step) {
            ASSERT_TRUE(s->commit(model.random_step()).ok());
            const auto r = rng() % 20;
            if (r == 0) {
                s = fx.reopen(2048);
                ASSERT_TRUE(s);
                ASSERT_TRUE(model.matches(*s)) << "seed " << seed << " step " << step;
            } else if (r == 1) {
                ASSERT_TRUE(s->checkpoint().ok());
            }
        }
        ASSERT_TRUE(model.matches(*s)) << "seed " << seed;
        EXPECT_GT(s->stats().checkpoint, 0u);
        s = fx.reopen(2048);
        ASSERT_TRUE(s);
        ASSERT_TRUE(model.matches(*s)) << "seed " << seed;
    }
}

TEST(V11Storage, TruncationDropsBlocksNodesAndBitsAndReusesTheirPlace) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    ASSERT_TRUE(s->commit(model.append(20)).ok());
    ASSERT_TRUE(s->checkpoint().ok());  // the old fork is in the tree and bitfield files
    ASSERT_TRUE(s->commit(model.truncate_and_append(7, 0)).ok());
    ASSERT_TRUE(model.matches(*s));
    // Every node at or past leaf 14 (block 7) is gone, and so are the parents spanning it: 13
    // (blocks 6-7), 11 (4-7), 7 (0-7); 9 (blocks 4-5) and 3 (0-3) stay.
    for (std::uint64_t gone : {7u, 11u, 13u, 14u, 15u, 16u, 23u, 31u}) EXPECT_FALSE(s->node(gone)->has_value()) << gone;
    EXPECT_TRUE(s->node(9)->has_value());
    EXPECT_TRUE(s->node(3)->has_value());
    ASSERT_TRUE(s->commit(model.append(4)).ok());  // the new fork overwrites the old blocks' bytes
    ASSERT_TRUE(model.matches(*s));
    s = fx.reopen();
    ASSERT_TRUE(model.matches(*s));
    ASSERT_TRUE(s->checkpoint().ok());
    s = fx.reopen();
    ASSERT_TRUE(model.matches(*s));
    // A fork whose new blocks overwrite bytes the old fork shows keeps them in the log until
    // the checkpoint; the old blocks stay readable up to the commit.
    ASSERT_TRUE(s->commit(model.truncate_and_append(3, 5)).ok());
    ASSERT_TRUE(model.matches(*s));
    s = fx.reopen();
    ASSERT_TRUE(model.matches(*s));
    ASSERT_TRUE(s->checkpoint().ok());
    s = fx.reopen();
    ASSERT_TRUE(model.matches(*s));
}

TEST(V11Storage, SparseBlocksAtTheirByteOffsets) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    Batch b;
    const std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks = {
        {5, 5000}, {1000, 1'000'000}, {40000, 40'000'000}, {40001, 40'000'010}};
    for (auto [index, offset] : blocks) {
        b.blocks.push_back({index, offset, Bytes(10, static_cast<std::uint8_t>(index))});
        b.bits.push_back({index, 1, true});
    }
    ASSERT_TRUE(s->commit(b).ok());
    const std::vector<BitRange> want = {{5, 1, true}, {1000, 1, true}, {40000, 2, true}};
    auto check = [&](FileStorage& st) {
        EXPECT_TRUE(testing::same_ranges(*st.present(), want));
        for (auto [index, offset] : blocks) {
            auto got = st.block(index, offset, 10);
            ASSERT_TRUE(got.ok());
            ASSERT_TRUE(got->has_value()) << index;
            EXPECT_EQ(**got, Bytes(10, static_cast<std::uint8_t>(index)));
        }
        EXPECT_FALSE(st.block(6, 5010, 10)->has_value());
    };
    check(*s);
    s = fx.reopen();
    check(*s);
    ASSERT_TRUE(s->checkpoint().ok());
    s = fx.reopen();
    check(*s);
    // Clearing bits hides blocks (and a clear reaching past the last page is harmless).
    Batch clear;
    clear.bits.push_back({1000, 100000, false});
    ASSERT_TRUE(s->commit(clear).ok());
    EXPECT_TRUE(testing::same_ranges(*s->present(), {{5, 1, true}}));
    s = fx.reopen();
    EXPECT_TRUE(testing::same_ranges(*s->present(), {{5, 1, true}}));
    // The data file is sparse: about 40 MB long, a few blocks on disk.
    EXPECT_GT(fs::file_size(fx.dir / "data"), 40'000'000u);
}

TEST(V11Storage, AHeaderThatOutgrowsItsSlotsMovesToALargerOplog) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    ASSERT_TRUE(s->commit(model.append(3)).ok());
    Batch b;
    b.header = model.header();
    b.header->manifest->user_data = Bytes(20000, 0xab);
    ASSERT_TRUE(s->commit(b).ok());
    ASSERT_TRUE(s->checkpoint().ok());
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->header(), *b.header);
    EXPECT_GT(fs::file_size(fx.dir / "oplog"), 40000u);
    ASSERT_TRUE(s->checkpoint().ok());
    s = fx.reopen();
    EXPECT_EQ(s->header(), *b.header);
}

// ---- Failed writes ------------------------------------------------------------------------------

struct FaultPlan {
    int fail_at = -1;  // the n-th write/truncate/sync/rename fails
    int seen = 0;
    int error = ENOSPC;
    std::size_t partial = 0;
    std::string failed_file;
};

void arm(FileCache& cache, FaultPlan& plan) {
    cache.fault_hook = [&plan](const std::string& path, IoOp) -> std::optional<Fault> {
        if (plan.seen++ != plan.fail_at) return std::nullopt;
        plan.failed_file = path;
        return Fault{plan.error, plan.partial};
    };
}

// Every write of a commit failing in turn (ENOSPC before any byte, EIO after some) leaves the
// storage as before, in memory and on reopen, and the retried commit then succeeds.
TEST(V11Storage, EveryFailedWriteOfACommitLeavesTheStateBefore) {
    struct Kind {
        const char* name;
        std::function<Batch(CoreModel&)> make;
    };
    const std::vector<Kind> kinds = {
        {"append", [](CoreModel& m) { return m.append(3); }},
        {"fork", [](CoreModel& m) { return m.truncate_and_append(4, 2); }},
        {"fork-keeping-bytes", [](CoreModel& m) { return m.truncate_and_append(9, 0); }},
    };
    for (const auto& kind : kinds) {
        for (int variant = 0; variant < 3; ++variant) {
            for (int k = 0;; ++k) {
                Fixture fx;
                CoreModel model;
                auto s = fx.create(model);
                ASSERT_TRUE(s->commit(model.append(12)).ok());
                if (variant == 2) {
                    ASSERT_TRUE(s->checkpoint().ok());
                }
                const CoreModel before = model;
                const Batch batch = kind.make(model);
                FaultPlan plan;
                plan.fail_at = k;
                plan.error = variant == 1 ? EIO : ENOSPC;
                plan.partial = variant == 1 ? 5 : 0;
                arm(fx.cache, plan);
                auto r = s->commit(batch);
                fx.cache.fault_hook = nullptr;
                if (r.ok()) {
                    EXPECT_GT(k, 0) << kind.name;
                    ASSERT_TRUE(model.matches(*s)) << kind.name;
                    break;  // no write left to fail
                }
                SCOPED_TRACE(std::string(kind.name) + " write " + std::to_string(k) + " of " + plan.failed_file);
                EXPECT_EQ(r.error().code, Errc::Io);
                EXPECT_NE(r.error().message.find(plan.failed_file), std::string::npos) << r.error().message;
                ASSERT_TRUE(before.matches(*s));
                auto reopened = fx.reopen();
                ASSERT_TRUE(reopened);
                ASSERT_TRUE(before.matches(*reopened));
                reopened.reset();
                ASSERT_TRUE(s->commit(batch).ok());
                ASSERT_TRUE(model.matches(*s));
                s = fx.reopen();
                ASSERT_TRUE(model.matches(*s));
                ASSERT_TRUE(s->checkpoint().ok());
                s = fx.reopen();
                ASSERT_TRUE(model.matches(*s));
            }
        }
    }
}

// A checkpoint that fails at any of its writes or syncs changes nothing the storage shows; the
// commit that triggered it still succeeds, and a later checkpoint completes.
TEST(V11Storage, EveryFailedWriteOfACheckpointKeepsTheCommits) {
    for (int variant = 0; variant < 2; ++variant) {
        for (int k = 0;; ++k) {
            Fixture fx;
            CoreModel model;
            auto s = fx.create(model);
            ASSERT_TRUE(s->commit(model.append(10)).ok());
            ASSERT_TRUE(s->checkpoint().ok());
            ASSERT_TRUE(s->commit(model.truncate_and_append(6, 3)).ok());
            ASSERT_TRUE(s->commit(model.append(2)).ok());
            FaultPlan plan;
            plan.fail_at = k;
            plan.error = variant ? EIO : ENOSPC;
            plan.partial = variant ? 7 : 0;
            arm(fx.cache, plan);
            auto r = s->checkpoint();
            fx.cache.fault_hook = nullptr;
            SCOPED_TRACE("checkpoint write " + std::to_string(k));
            ASSERT_TRUE(model.matches(*s));
            if (r.ok()) break;
            EXPECT_NE(r.error().message.find(plan.failed_file), std::string::npos) << r.error().message;
            {
                auto reopened = fx.reopen();
                ASSERT_TRUE(reopened);
                ASSERT_TRUE(model.matches(*reopened));
            }
            ASSERT_TRUE(s->commit(model.append(1)).ok());
            ASSERT_TRUE(s->checkpoint().ok());
            ASSERT_TRUE(model.matches(*s));
            s = fx.reopen();
            ASSERT_TRUE(model.matches(*s));
        }
    }
}

// ---- Damage -------------------------------------------------------------------------------------

TEST(V11Storage, DamagedFilesAreNamedWithWhatToDo) {
    auto expect_corrupt = [](Fixture& fx, const std::string& file, const std::string& what) {
        auto s = FileStorage::open(fx.dir, fx.options());
        ASSERT_FALSE(s.ok()) << what;
        EXPECT_EQ(s.error().code, Errc::Corrupt);
        EXPECT_NE(s.error().message.find((fx.dir / file).string()), std::string::npos) << s.error().message;
        EXPECT_NE(s.error().message.find(what), std::string::npos) << s.error().message;
        EXPECT_NE(s.error().message.find("delete the folder"), std::string::npos) << s.error().message;
    };
    {  // not an oplog
        Fixture fx;
        CoreModel model;
        fx.create(model);
        flip_byte(fx.dir / "oplog", 2);
        expect_corrupt(fx, "oplog", "prologue");
    }
    {  // both slots damaged
        Fixture fx;
        CoreModel model;
        fx.create(model);
        flip_byte(fx.dir / "oplog", kPrologueBytes + 20);
        expect_corrupt(fx, "oplog", "neither of its two header slots");
    }
    {  // the newest slot damaged after the log moved on
        Fixture fx;
        CoreModel model;
        auto s = fx.create(model);
        ASSERT_TRUE(s->commit(model.append(3)).ok());
        ASSERT_TRUE(s->checkpoint().ok());  // slot 1
        ASSERT_TRUE(s->commit(model.append(3)).ok());
        s.reset();
        std::ifstream in(fx.dir / "oplog", std::ios::binary);
        std::uint8_t pro[kPrologueBytes];
        in.read(reinterpret_cast<char*>(pro), kPrologueBytes);
        const auto slot_bytes = decode_prologue(ByteView(pro, kPrologueBytes))->slot_bytes;
        flip_byte(fx.dir / "oplog", kPrologueBytes + slot_bytes + 20);
        expect_corrupt(fx, "oplog", "newest header slot");
    }
    {  // an entry in the middle of the log
        Fixture fx;
        CoreModel model;
        auto s = fx.create(model);
        ASSERT_TRUE(s->commit(model.append(1)).ok());
        const auto first_end = fs::file_size(fx.dir / "oplog");
        ASSERT_TRUE(s->commit(model.append(1)).ok());
        ASSERT_TRUE(s->commit(model.append(1)).ok());
        s.reset();
        flip_byte(fx.dir / "oplog", first_end + 12);
        expect_corrupt(fx, "oplog", "entries after it are intact");
    }
    {  // a data file cut short
        Fixture fx;
        CoreModel model;
        auto s = fx.create(model);
        ASSERT_TRUE(s->commit(model.append(5)).ok());
        s.reset();
        fs::resize_file(fx.dir / "data", 10);
        s = fx.reopen();
        ASSERT_TRUE(s);
        auto b = s->block(3, 0, 0);  // offsets do not matter for the message
        auto got = s->block(4, 1000, 50);
        ASSERT_FALSE(got.ok());
        EXPECT_EQ(got.error().code, Errc::Corrupt);
        EXPECT_NE(got.error().message.find((fx.dir / "data").string()), std::string::npos);
        (void)b;
    }
}

// A torn last entry (a crash in the middle of its write) is dropped and the log goes on from there.
TEST(V11Storage, ATornLastEntryIsDroppedAndTheLogGoesOn) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    ASSERT_TRUE(s->commit(model.append(2)).ok());
    const CoreModel before = model;
    const auto good_end = fs::file_size(fx.dir / "oplog");
    ASSERT_TRUE(s->commit(model.append(2)).ok());
    s.reset();
    fs::resize_file(fx.dir / "oplog", good_end + 20);
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stats().discarded_bytes, 20u);
    CoreModel again = before;
    ASSERT_TRUE(again.matches(*s));
    ASSERT_TRUE(s->commit(again.append(3)).ok());
    s = fx.reopen();
    ASSERT_TRUE(again.matches(*s));
}

// The figure the issue asks for: a 64 KiB block commit against a bare 64 KiB pwrite.
TEST(V11Storage, CommitCostFigure) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    constexpr int kN = 400;
    Bytes block(64 * 1024, 0x5a);
    std::vector<Batch> batches;
    for (int i = 0; i < kN; ++i) {
        Batch b = model.append(1);
        b.blocks[0].value = block;
        b.nodes[0].size = block.size();
        batches.push_back(std::move(b));
    }
    // Byte offsets in these batches follow the model's sizes; only the cost matters here.
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& b : batches) ASSERT_TRUE(s->commit(b).ok());
    const auto t1 = std::chrono::steady_clock::now();
    const int fd = ::open((fx.tmp.path() / "raw").c_str(), O_RDWR | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < kN; ++i)
        ASSERT_EQ(::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 65536), 65536);
    const auto t2 = std::chrono::steady_clock::now();
    ::close(fd);
    const double commit_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / kN;
    const double pwrite_us = std::chrono::duration<double, std::micro>(t2 - t1).count() / kN;
    std::printf("[figures] 64 KiB block commit: %.1f us; bare 64 KiB pwrite: %.1f us; log %llu bytes/commit\n",
                commit_us, pwrite_us,
                static_cast<unsigned long long>(s->stats().log_bytes / kN));
    // Generous: a commit is one pwrite of the block and one small pwrite of the entry.
    EXPECT_LT(commit_us, 20 * pwrite_us + 200);
}

// A page keeps its words only up to the last one set: bits around word and page edges, clears
// past the stored words, and reads past them, through commits, a checkpoint and reopens.
TEST(V11Storage, PageBitsAtWordAndPageEdgesRoundTrip) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    auto commit_bits = [&](std::vector<BitRange> bits) {
        Batch b;
        b.bits = std::move(bits);
        ASSERT_TRUE(s->commit(b).ok());
    };
    commit_bits({{3, 1, true}, {63, 2, true}, {32767, 1, true}, {32768 + 5, 1, true}});
    std::vector<BitRange> want = {{3, 1, true}, {63, 2, true}, {32767, 1, true}, {32773, 1, true}};
    EXPECT_TRUE(testing::same_ranges(*s->present(), want));
    EXPECT_FALSE(s->has(65));
    EXPECT_FALSE(s->has(32768 + 4000));  // past the second page's stored words
    EXPECT_TRUE(s->has(32767));
    // A clear that runs past the words a page holds, then a set that crosses a page boundary.
    commit_bits({{64, 32000, false}});
    commit_bits({{32700, 200, true}});
    want = {{3, 1, true}, {63, 1, true}, {32700, 200, true}};
    EXPECT_TRUE(testing::same_ranges(*s->present(), want));
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_TRUE(testing::same_ranges(*s->present(), want));
    ASSERT_TRUE(s->checkpoint().ok());
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_TRUE(testing::same_ranges(*s->present(), want));
    EXPECT_FALSE(s->has(32900));
    EXPECT_TRUE(s->has(32899));
    commit_bits({{0, 32768 * 2, false}});
    EXPECT_TRUE(s->present()->empty());
    s = fx.reopen();
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->present()->empty());
}

// A file that is not there (a core's tree and bitfield files before its first checkpoint) is
// asked for once: later reads see it empty without an open(), until this File creates it.
TEST(V11Files, AMissingFileIsRememberedUntilItsFileCreatesIt) {
    testutil::TempDir tmp;
    FileCache cache(8);
    const fs::path path = tmp.path() / "later";
    File f(cache, path);
    std::uint8_t buf[4] = {1, 1, 1, 1};
    ASSERT_EQ(*f.read(0, buf), 0u);
    EXPECT_EQ(*f.size(), 0u);
    // Made behind its back: the File does not look again (proof that it does not open() per read).
    { std::ofstream(path, std::ios::binary) << "abcd"; }
    EXPECT_EQ(*f.read(0, buf), 0u);
    ASSERT_TRUE(f.read_zero_filled(0, buf).ok());
    EXPECT_EQ(buf[0], 0);
    EXPECT_EQ(cache.open_count(), 0u);
    // A write through the File opens (here: the existing file) and reads see the file again.
    const std::uint8_t x[1] = {'X'};
    ASSERT_TRUE(f.write(1, ByteView(x, 1)).ok());
    ASSERT_EQ(*f.read(0, buf), 4u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "aXcd");
    // reset() forgets what it knew: a missing file is looked up again.
    File g(cache, tmp.path() / "other");
    ASSERT_EQ(*g.read(0, buf), 0u);
    { std::ofstream(tmp.path() / "other", std::ios::binary) << "zz"; }
    g.reset();
    EXPECT_EQ(*g.read(0, buf), 2u);
}

// The page cache of a File: reads through it give the file's bytes (zeros past its end), and
// every write and truncate through the File drops what it changes.
TEST(V11Files, CachedPagesFollowWritesTruncatesAndCloses) {
    testutil::TempDir tmp;
    FileCache cache(8, 3 * FileCache::kPageBytes);
    auto f = std::make_unique<File>(cache, tmp.path() / "t");
    File other(cache, tmp.path() / "u");
    f->enable_page_cache();
    other.enable_page_cache();
    std::vector<std::uint8_t> want(3 * FileCache::kPageBytes + 100);
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = static_cast<std::uint8_t>(i * 7 + 1);
    ASSERT_TRUE(f->write(0, want).ok());
    ASSERT_TRUE(other.write(0, ByteView(want.data(), 10)).ok());
    auto check = [&](File& file, const std::vector<std::uint8_t>& bytes, std::uint64_t at, std::size_t n) {
        std::vector<std::uint8_t> got(n, 0xEE);
        ASSERT_TRUE(file.read_zero_filled(at, got).ok());
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(got[i], at + i < bytes.size() ? bytes[at + i] : 0) << "byte " << at + i;
    };
    // Reads that cross a page edge, the page read again (a hit), past the end (zeros).
    check(*f, want, FileCache::kPageBytes - 20, 40);
    const auto misses = cache.page_stats().misses;
    check(*f, want, FileCache::kPageBytes - 20, 40);
    EXPECT_EQ(cache.page_stats().misses, misses);
    EXPECT_GT(cache.page_stats().hits, 0u);
    check(*f, want, want.size() - 10, 40);
    check(*f, want, 10 * FileCache::kPageBytes, 40);
    EXPECT_LE(cache.page_stats().pages, 3u);  // the bound
    // A write inside a cached page, and one past the end (the hole between reads as zeros).
    check(*f, want, 0, 64);
    const std::uint8_t x[3] = {9, 9, 9};
    ASSERT_TRUE(f->write(30, ByteView(x, 3)).ok());
    std::copy(x, x + 3, want.begin() + 30);
    check(*f, want, 0, 64);
    const std::uint64_t far = 5 * FileCache::kPageBytes + 5;
    check(*f, want, far, 8);
    ASSERT_TRUE(f->write(far, ByteView(x, 3)).ok());
    want.resize(far + 3, 0);
    std::copy(x, x + 3, want.begin() + static_cast<std::ptrdiff_t>(far));
    check(*f, want, far - 8, 16);
    check(*f, want, want.size() - 5000, 5000);
    // Shrinking: what was past the new end reads as zeros, also after growing back by a write.
    check(*f, want, 100, 4000);
    ASSERT_TRUE(f->truncate(150).ok());
    want.resize(150);
    check(*f, want, 100, 4000);
    ASSERT_TRUE(f->write(2 * FileCache::kPageBytes, ByteView(x, 1)).ok());
    want.resize(2 * FileCache::kPageBytes + 1, 0);
    want.back() = 9;
    check(*f, want, 0, want.size());
    // Another file's pages are its own; a destroyed File's pages leave the cache.
    std::vector<std::uint8_t> other_bytes(want.begin(), want.begin() + 10);
    check(other, other_bytes, 0, 100);
    const auto before = cache.page_stats().pages;
    f.reset();
    EXPECT_LT(cache.page_stats().pages, before);
    check(other, other_bytes, 0, 100);
}

// The tree file's nodes come from the page cache; checkpoints, truncations (forks) and reopens
// keep what the storage shows equal to the model after every step, also with a cache of two
// pages (evictions all the time).
TEST(V11Storage, CachedTreeNodesFollowCommitsCheckpointsAndForks) {
    for (std::size_t cache_bytes : {2 * FileCache::kPageBytes, FileCache::kDefaultPageCacheBytes}) {
        for (std::uint64_t seed = 1; seed <= 3; ++seed) {
            testutil::TempDir tmp;
            FileCache cache(16, cache_bytes);
            FileStorageOptions o;
            o.cache = &cache;
            o.checkpoint_bytes = 4096;
            CoreModel model(seed);
            std::mt19937_64 rng(seed * 77);
            auto s = std::move(FileStorage::create(tmp.path() / "core", model.header(), o)).value();
            for (int step = 0; step < 120; ++step) {
                ASSERT_TRUE(s->commit(model.random_step()).ok());
                if (rng() % 4 == 0) ASSERT_TRUE(s->checkpoint().ok());
                if (rng() % 25 == 0) s = std::move(FileStorage::open(tmp.path() / "core", o)).value();
                ASSERT_TRUE(model.matches(*s)) << "cache " << cache_bytes << " seed " << seed << " step " << step;
            }
            EXPECT_GT(s->stats().checkpoint, 0u);
            EXPECT_GT(cache.page_stats().hits, 0u);
        }
    }
}

// A node read again comes from the cache, not from the file.
TEST(V11Storage, ANodeReadTwiceIsReadFromTheFileOnce) {
    Fixture fx;
    CoreModel model;
    auto s = fx.create(model);
    ASSERT_TRUE(s->commit(model.append(300)).ok());
    ASSERT_TRUE(s->checkpoint().ok());  // the nodes are in the tree file now
    const auto before = fx.cache.page_stats();
    std::vector<std::optional<hypercore::TreeNode>> first;
    for (std::uint64_t i = 0; i < 600; ++i) first.push_back(*s->node(i));
    const auto mid = fx.cache.page_stats();
    // 600 nodes of 40 bytes: 24,000 bytes, 6 pages read from the file, the rest from them.
    EXPECT_LE(mid.misses - before.misses, 6u);
    EXPECT_GE(mid.hits - before.hits, 590u);
    for (std::uint64_t i = 0; i < 600; ++i) ASSERT_EQ(*s->node(i), first[i]) << i;
    EXPECT_EQ(fx.cache.page_stats().misses, mid.misses);
    EXPECT_TRUE(model.matches(*s));
}

// 10,000 open cores must stay small (issue: a tenth of JS corestore 7's memory, about 5.6 KB
// per core in all): an open FileStorage holding one block costs a few words of bits and its
// four file names, not a 4 KiB page and parsed paths. Heap bytes from glibc (mallinfo2).
TEST(V11Storage, AnOpenCoreOfOneBlockHoldsLittleHeap) {
    testutil::TempDir tmp;
    FileCache cache(16);
    constexpr int kCores = 200;
    std::vector<CoreModel> models(kCores);
    std::vector<Batch> batches;
    for (auto& m : models) batches.push_back(m.append(1));
    std::vector<std::unique_ptr<FileStorage>> open;
    open.reserve(kCores);
    FileStorageOptions o;
    o.cache = &cache;
    const std::size_t before = ::mallinfo2().uordblks;
    for (int i = 0; i < kCores; ++i) {
        auto s = FileStorage::create(tmp.path() / "cores" / ("core-" + std::to_string(i)), models[i].header(), o);
        ASSERT_TRUE(s.ok()) << s.error().message;
        ASSERT_TRUE((*s)->commit(batches[i]).ok());
        open.push_back(std::move(s).value());
    }
    const std::size_t after = ::mallinfo2().uordblks;
    const double per_core = static_cast<double>(after - before) / kCores;
    std::printf("[figures] heap per open FileStorage with one block: %.0f bytes\n", per_core);
    for (int i = 0; i < kCores; ++i) ASSERT_TRUE(models[i].matches(*open[i]));
    EXPECT_LT(per_core, 3000.0);
}

}  // namespace
}  // namespace hs::v11::storage
