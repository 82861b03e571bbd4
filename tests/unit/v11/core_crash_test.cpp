// SIGKILL during appends through the whole second-generation stack (Corestore 7 -> Core ->
// FileStorage), 5 rounds: a child appends batches of 1-20 blocks to a named core and reports each
// acknowledged length; the parent kills it at a random moment, reopens the folder and checks that
// every acknowledged block is there with its content, that the stored tree and signed head audit
// clean, that a fresh reader verifies every block through proofs, and that appending goes on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "testutil/temp_dir.h"
#include "v11/corestore/corestore.h"
#include "v11/hypercore/audit.h"
#include "v11/hypercore/memory_storage.h"

namespace hs::v11::corestore {
namespace {

using hypercore::Core;

// Block i: 0-300 bytes derived from i, so the parent can recompute every acknowledged block.
Bytes block_value(std::uint64_t i) {
    Bytes b((i * 37) % 301);
    for (std::size_t k = 0; k < b.size(); ++k) b[k] = static_cast<std::uint8_t>(i * 131 + k * 7);
    return b;
}

CorestoreOptions options() {
    CorestoreOptions o;
    o.checkpoint_bytes = 8192;  // frequent checkpoints: kills land in them too
    Hash pk{};
    pk.fill(7);
    o.primary_key = pk;
    return o;
}

[[noreturn]] void child(const std::filesystem::path& dir, std::uint64_t seed, int out) {
    auto store = Corestore::open(dir, options());
    if (!store) _exit(2);
    auto h = (*store)->open_by_name(as_bytes("crash"));
    if (!h) _exit(3);
    auto core = h->core();
    if (!core) _exit(4);
    std::mt19937_64 rng(seed);
    for (;;) {
        const std::uint64_t start = (*core)->length();
        const std::uint64_t n = 1 + rng() % 20;
        std::vector<Bytes> blocks;
        for (std::uint64_t i = start; i < start + n; ++i) blocks.push_back(block_value(i));
        std::vector<ByteView> views(blocks.begin(), blocks.end());
        auto r = (*core)->append(views);
        if (!r) _exit(5);
        char line[32];
        const int len = std::snprintf(line, sizeof line, "%llu\n", static_cast<unsigned long long>(*r));
        if (::write(out, line, static_cast<std::size_t>(len)) != len) _exit(6);
    }
}

TEST(V11CoreCrash, SigkillDuringAppendsKeepsEveryAcknowledgedBlock) {
    std::mt19937_64 rng(std::random_device{}());
    for (int round = 0; round < 5; ++round) {
        testutil::TempDir tmp;
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(fds[0]);
            child(tmp.path(), 1000 + round, fds[1]);
        }
        ::close(fds[1]);
        FILE* in = ::fdopen(fds[0], "r");
        const unsigned long long target = 300 + rng() % 2000;
        unsigned long long acked = 0, v = 0;
        while (acked < target && std::fscanf(in, "%llu", &v) == 1) acked = v;
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 500);
        while (std::chrono::steady_clock::now() < until) {
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        while (std::fscanf(in, "%llu", &v) == 1) acked = v;
        std::fclose(in);
        ASSERT_GE(acked, target) << "the child stopped early (status " << status << ")";

        auto store = Corestore::open(tmp.path(), options());
        ASSERT_TRUE(store.ok()) << store.error().message;
        auto h = (*store)->open_by_name(as_bytes("crash"));
        ASSERT_TRUE(h.ok()) << h.error().message;
        auto core = h->core();
        ASSERT_TRUE(core.ok()) << core.error().message;
        Core& c = **core;
        ASSERT_GE(c.length(), acked) << "round " << round;
        for (std::uint64_t i = 0; i < c.length(); ++i) {
            auto b = c.get(i);
            ASSERT_TRUE(b.ok()) << "round " << round << " block " << i << ": " << b.error().message;
            ASSERT_EQ(*b, block_value(i)) << "round " << round << " block " << i;
        }
        const auto report = hypercore::audit(c, h->storage());
        ASSERT_TRUE(report.ok()) << report.problems.front();
        EXPECT_TRUE(report.head_checked);
        EXPECT_EQ(report.blocks_checked, c.length());

        // A reader that knows only the key verifies everything through proofs.
        auto reader = Core::create_by_key(std::make_unique<hypercore::MemoryStorage>(), c.key());
        ASSERT_TRUE(reader.ok());
        hypercore::ProofRequest up;
        up.upgrade = hypercore::RequestUpgrade{0, c.length()};
        up.manifest = true;
        auto p = c.proof(up);
        ASSERT_TRUE(p.ok()) << p.error().message;
        ASSERT_TRUE((*reader)->verify_and_apply(*p).ok());
        for (std::uint64_t i = 0; i < c.length(); i += 7) {
            hypercore::ProofRequest req;
            req.fork = c.fork();
            auto missing = (*reader)->missing_nodes(2 * i);
            ASSERT_TRUE(missing.ok());
            req.block = hypercore::RequestBlock{i, *missing};
            auto bp = c.proof(req);
            ASSERT_TRUE(bp.ok()) << bp.error().message;
            auto a = (*reader)->verify_and_apply(*bp);
            ASSERT_TRUE(a.ok()) << "block " << i << ": " << a.error().message;
            EXPECT_EQ(*(*reader)->get(i), block_value(i));
        }
        std::printf("[figures] round %d: killed after %llu acknowledged blocks, found %llu\n", round, acked,
                    static_cast<unsigned long long>(c.length()));
        // And appending goes on from there.
        const Bytes next = block_value(c.length());
        const ByteView one[] = {ByteView(next)};
        ASSERT_TRUE(c.append(one).ok());
    }
}

}  // namespace
}  // namespace hs::v11::corestore
