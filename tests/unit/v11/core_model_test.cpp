// The model test of the v11 Core: seeded random appends, truncates, reads, seeks, byte offsets
// and failed commits on a writer, and a reader that syncs heads and downloads random blocks
// through proofs, all checked against a trivial model (a vector of blocks and a fork number).
#include <gtest/gtest.h>

#include <random>

#include "unit/v11/core_helpers.h"

namespace hs::v11::hypercore {
namespace {

using namespace testing;

struct Model {
    std::vector<Bytes> blocks;
    std::uint64_t fork = 0;
    std::uint64_t prefix(std::uint64_t i) const {
        std::uint64_t s = 0;
        for (std::uint64_t k = 0; k < i; ++k) s += blocks[k].size();
        return s;
    }
};

void run_model(std::uint64_t seed, int ops) {
    std::mt19937_64 rng(seed);
    auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
    auto w = make_writer(static_cast<std::uint8_t>(seed));
    auto r = make_reader(w.core->key());
    Model m;
    std::uint64_t salt = 0;
    std::uint64_t appends = 0, truncates = 0, syncs = 0, downloads = 0, failures = 0;

    for (int op = 0; op < ops; ++op) {
        const auto choice = pick(100);
        const std::uint64_t len = m.blocks.size();
        if (choice < 35) {
            std::vector<Bytes> add;
            const auto n = 1 + pick(4);
            for (std::uint64_t k = 0; k < n; ++k) {
                const std::size_t size = pick(8) == 0 ? 0 : pick(300);
                add.push_back(block_value(len + k, size, static_cast<std::uint8_t>(++salt)));
            }
            const bool fail = pick(20) == 0;
            if (fail) w.mem->fail_commit(1);
            auto res = append(*w.core, add);
            if (fail) {
                ASSERT_FALSE(res.ok());
                ++failures;
            } else {
                ASSERT_TRUE(res.ok()) << res.error().message;
                for (auto& b : add) m.blocks.push_back(std::move(b));
                ++appends;
            }
        } else if (choice < 41) {
            const auto to = len == 0 ? 0 : len - pick(std::min<std::uint64_t>(len, 6) + 1);
            ASSERT_TRUE(w.core->truncate(to).ok());
            m.blocks.resize(to);
            ++m.fork;
            ++truncates;
        } else if (choice < 52) {
            if (len == 0) continue;
            const auto i = pick(len);
            auto got = w.core->get(i);
            ASSERT_TRUE(got.ok()) << got.error().message;
            ASSERT_EQ(*got, m.blocks[i]);
            ASSERT_EQ(*w.core->byte_offset(i), m.prefix(i));
        } else if (choice < 60) {
            const auto total = m.prefix(len);
            const auto bytes = pick(total + 2);
            auto s = w.core->seek(bytes);
            if (bytes > total) {
                ASSERT_FALSE(s.ok());
                continue;
            }
            ASSERT_TRUE(s.ok()) << s.error().message;
            ASSERT_LE(s->index, len);
            ASSERT_EQ(m.prefix(s->index) + s->offset, bytes);
            if (s->index < len) {
                ASSERT_TRUE(s->offset < m.blocks[s->index].size() || s->offset == 0);
            }
        } else if (choice < 75) {
            if (r.core->length() == w.core->length() && r.core->fork() == w.core->fork()) continue;
            if (w.core->length() == 0) continue;
            const bool fail = pick(15) == 0;
            if (fail) r.mem->fail_commit(1);
            auto p = w.core->proof(upgrade_request(*r.core, *w.core));
            ASSERT_TRUE(p.ok()) << p.error().message;
            const auto before = r.core->head();
            auto a = r.core->verify_and_apply(*p);
            if (fail) {
                ASSERT_FALSE(a.ok());
                ASSERT_EQ(r.core->head(), before);
                ++failures;
                continue;
            }
            ASSERT_TRUE(a.ok()) << a.error().message;
            ASSERT_EQ(r.core->head(), w.core->head());
            ++syncs;
        } else {
            if (len == 0) continue;
            const auto i = pick(len);
            if (r.core->fork() == w.core->fork() && r.core->has(i)) {
                ASSERT_EQ(*r.core->get(i), m.blocks[i]);
                continue;
            }
            auto p = w.core->proof(block_request(*r.core, *w.core, i));
            ASSERT_TRUE(p.ok()) << p.error().message;
            auto a = r.core->verify_and_apply(*p);
            ASSERT_TRUE(a.ok()) << "block " << i << ": " << a.error().message;
            ASSERT_TRUE(r.core->has(i));
            ASSERT_EQ(*r.core->get(i), m.blocks[i]);
            ++downloads;
        }
        // The writer matches the model; the reader never holds a block the writer's current
        // tree disagrees with once it is on the same fork.
        ASSERT_EQ(w.core->length(), m.blocks.size());
        ASSERT_EQ(w.core->fork(), m.fork);
        if (r.core->fork() == w.core->fork()) {
            for (const auto& range : r.core->present_ranges())
                for (std::uint64_t i = range.start; i < range.start + range.length; ++i) {
                    ASSERT_LT(i, m.blocks.size());
                    ASSERT_EQ(*r.core->get(i), m.blocks[i]) << "seed " << seed << " op " << op << " block " << i;
                }
        }
    }
    EXPECT_GT(appends, 100u);
    EXPECT_GT(truncates, 10u);
    EXPECT_GT(syncs, 50u);
    EXPECT_GT(downloads, 100u);
    EXPECT_GT(failures, 5u);
    // Both reopen from their storage to the same heads.
    const auto wh = w.core->head();
    const auto rh = r.core->head();
    w.core.reset();
    r.core.reset();
    auto w2 = Core::open(std::make_unique<SharedStorage>(w.mem));
    auto r2 = Core::open(std::make_unique<SharedStorage>(r.mem));
    ASSERT_TRUE(w2.ok()) << w2.error().message;
    ASSERT_TRUE(r2.ok()) << r2.error().message;
    EXPECT_EQ((*w2)->head(), wh);
    EXPECT_EQ((*r2)->head(), rh);
}

TEST(V11CoreModel, Seed1) { run_model(1, 2000); }
TEST(V11CoreModel, Seed2) { run_model(2, 2000); }
TEST(V11CoreModel, Seed3) { run_model(3, 2000); }
TEST(V11CoreModel, Seed4) { run_model(4, 2000); }
TEST(V11CoreModel, Seed5) { run_model(5, 2000); }

}  // namespace
}  // namespace hs::v11::hypercore
