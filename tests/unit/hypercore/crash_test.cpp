// SIGKILL during a stream of appends loses at most the unacknowledged appends.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "v9/corestore/corestore.h"
#include "v9/hypercore/verify.h"
#include "testutil/temp_dir.h"

namespace hs {
namespace {

// The append_child helper process: appends to core "crash" in `dir` and prints the acknowledged
// length after every append.
struct Appender {
    pid_t pid = -1;
    FILE* out = nullptr;
    explicit Appender(const std::filesystem::path& dir) {
        int fds[2];
        if (pipe(fds) != 0) std::abort();
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            execl(HS_APPEND_CHILD, HS_APPEND_CHILD, dir.c_str(), nullptr);
            _exit(127);
        }
        close(fds[1]);
        out = fdopen(fds[0], "r");
    }
    void kill() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            int status = 0;
            waitpid(pid, &status, 0);
            pid = -1;
        }
        if (out) fclose(out);
        out = nullptr;
    }
    ~Appender() { kill(); }
};

TEST(Crash, SigkillDuringAppendsKeepsAcknowledgedBlocks) {
    for (int round = 0; round < 5; ++round) {
        testutil::TempDir dir;
        Appender child(dir.path());
        FILE* in = child.out;
        unsigned long long acked = 0, v = 0;
        const unsigned long long target = 200 + 137 * round;
        while (acked < target && std::fscanf(in, "%llu", &v) == 1) acked = v;
        child.kill();
        ASSERT_GE(acked, target) << "the child stopped early";

        auto store = corestore::Corestore::open(dir.path());
        ASSERT_TRUE(store.ok()) << store.error().message;
        auto core = (*store)->get_by_name(as_bytes("crash"));
        ASSERT_TRUE(core.ok()) << core.error().message;
        EXPECT_GE((*core)->length(), acked);
        auto report = hypercore::verify_feed(**core);
        EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0].message);
        // The log stays appendable after the crash.
        EXPECT_TRUE((*core)->append(as_bytes("after")).ok());
        EXPECT_TRUE(hypercore::verify_feed(**core).ok());
    }
}

// Read-only openers (hyp storage ls/cat/verify while a daemon writes) see a consistent, signed
// prefix of a log that another process is appending to.
TEST(Crash, ReadersSeeASignedPrefixWhileAWriterAppends) {
    testutil::TempDir dir;
    Appender child(dir.path());
    FILE* in = child.out;
    unsigned long long acked = 0, v = 0;
    std::uint64_t last_length = 0;
    int opened = 0;
    unsigned long long next_check = 0;
    while (acked < 2000 && std::fscanf(in, "%llu", &v) == 1) {
        acked = v;
        if (acked < next_check) continue;
        next_check = acked + 300;
        corestore::CorestoreOptions ro;
        ro.read_only = true;
        auto store = corestore::Corestore::open(dir.path(), ro);
        if (!store) continue;  // master_key not written yet
        auto core = (*store)->get_by_name(as_bytes("crash"));
        if (!core) continue;  // the core is not created yet
        ++opened;
        EXPECT_GE((*core)->length(), last_length);
        last_length = (*core)->length();
        auto report = hypercore::verify_feed(**core);
        EXPECT_TRUE(report.ok()) << "at length " << last_length << ": " << report.problems[0].message;
        if (last_length) EXPECT_TRUE((*core)->get(last_length - 1).ok());
    }
    child.kill();
    EXPECT_GE(opened, 4);
}

}  // namespace
}  // namespace hs
