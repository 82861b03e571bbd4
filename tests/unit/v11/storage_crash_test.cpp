// SIGKILL at random moments while a child process commits batches (appends and forks, with
// frequent checkpoints): after reopening, every batch the child acknowledged is there and the
// storage shows exactly the state after the last acknowledged batch or after the one in flight.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "testutil/temp_dir.h"
#include "unit/v11/storage_model.h"
#include "v11/storage/file_storage.h"

namespace hs::v11::storage {
namespace {

using testing::CoreModel;
constexpr std::size_t kCheckpointBytes = 4096;

[[noreturn]] void child(const std::filesystem::path& dir, std::uint64_t seed, int out) {
    FileCache cache(16);
    FileStorageOptions options;
    options.cache = &cache;
    options.checkpoint_bytes = kCheckpointBytes;
    CoreModel model(seed);
    auto s = FileStorage::create(dir, model.header(), options);
    if (!s) _exit(2);
    for (unsigned long k = 0;; ++k) {
        if (k > 0 && !(*s)->commit(model.random_step()).ok()) _exit(3);
        char line[32];
        const int n = std::snprintf(line, sizeof line, "%lu\n", k);
        if (::write(out, line, static_cast<std::size_t>(n)) != n) _exit(4);
    }
}

TEST(V11StorageCrash, SigkillAtRandomMomentsKeepsEveryAcknowledgedBatch) {
    std::mt19937_64 rng(std::random_device{}());
    for (int round = 0; round < 5; ++round) {
        testutil::TempDir tmp;
        const auto dir = tmp.path() / "core";
        const std::uint64_t seed = 100 + round;
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(fds[0]);
            child(dir, seed, fds[1]);
        }
        ::close(fds[1]);
        FILE* in = ::fdopen(fds[0], "r");
        const unsigned long target = 150 + rng() % 400;
        unsigned long acked = 0, v = 0;
        bool any = false;
        while ((!any || acked < target) && std::fscanf(in, "%lu", &v) == 1) {
            acked = v;
            any = true;
        }
        // A random moment within the next commits (a spin, not a sleep: no clock in the result).
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 400);
        while (std::chrono::steady_clock::now() < until) {
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        // Acknowledgements still in the pipe count too.
        while (std::fscanf(in, "%lu", &v) == 1) acked = v;
        std::fclose(in);
        ASSERT_TRUE(any) << "the child never created the core";
        ASSERT_GE(acked, target) << "the child stopped early (status " << status << ")";

        FileCache cache(16);
        FileStorageOptions options;
        options.cache = &cache;
        options.checkpoint_bytes = kCheckpointBytes;
        auto s = FileStorage::open(dir, options);
        ASSERT_TRUE(s.ok()) << s.error().message;
        CoreModel model(seed);
        for (unsigned long k = 0; k < acked; ++k) model.random_step();
        auto at_ack = model.matches(**s);
        if (!at_ack) {
            model.random_step();  // the batch in flight may have landed
            ASSERT_TRUE(model.matches(**s)) << "round " << round << ": neither the state after batch " << acked
                                            << " nor after the next: " << at_ack.message();
        }
        std::printf("[figures] round %d: killed after %lu acknowledged batches, checkpoint %llu, replayed %llu, "
                    "discarded %llu bytes\n",
                    round, acked, static_cast<unsigned long long>((*s)->stats().checkpoint),
                    static_cast<unsigned long long>((*s)->stats().replayed),
                    static_cast<unsigned long long>((*s)->stats().discarded_bytes));
        // And it goes on.
        ASSERT_TRUE((*s)->commit(model.random_step()).ok());
        ASSERT_TRUE((*s)->checkpoint().ok());
        s->reset();
        auto again = FileStorage::open(dir, options);
        ASSERT_TRUE(again.ok()) << again.error().message;
        ASSERT_TRUE(model.matches(**again));
    }
}

}  // namespace
}  // namespace hs::v11::storage
