// The real files under a real failing disk: `hyp storage append` runs under strace, which fails
// its pwrite64/pwritev calls on one SLEEP file of the core with ENOSPC (once, or from then on).
// After every failed append and a restart, every acknowledged block must be there and
// `hyp storage verify` must be clean.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "testutil/temp_dir.h"

namespace hs {
namespace {

struct Run {
    int code = -1;
    std::string out;
};

// Runs a shell command line; stdout captured, stderr to a file shown on failure.
Run run(const std::string& cmd) {
    Run r;
    FILE* p = ::popen((cmd + " 2>>\"$HS_STRACE_TEST_ERR\"").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

TEST(StraceFaults, FailedAppendsOnRealFilesLeaveNoTrace) {
    testutil::TempDir dir;
    const std::string storage = (dir.path() / "storage").string();
    const std::string err = (dir.path() / "stderr.log").string();
    ::setenv("HS_STRACE_TEST_ERR", err.c_str(), 1);
    const std::string hyp = quote(HS_HYP_BIN);
    const std::string store = " --storage " + quote(storage);
    auto show_err = [&] {
        const Bytes e = testutil::read_file(err);
        return "stderr:\n" + std::string(e.begin(), e.end());
    };

    std::vector<std::string> acked;
    auto append = [&](const std::vector<std::string>& values, const std::string& prefix) {
        std::string cmd = prefix + hyp + " storage append" + store + " --name c";
        for (const auto& v : values) cmd += " " + quote(v);
        return run(cmd).code;
    };
    ASSERT_EQ(append({"first"}, ""), 0) << show_err();
    acked.push_back("first");
    auto ls = run(hyp + " storage ls --json" + store);
    ASSERT_EQ(ls.code, 0) << show_err();
    const auto entry = nlohmann::json::parse(ls.out).at(0);
    const std::string dk = entry.at("discoveryKey"), key = entry.at("key");
    const std::string core = storage + "/" + dk.substr(0, 2) + "/" + dk.substr(2, 2) + "/" + dk;

    int injected_runs = 0;
    for (const char* file : {"bitfield", "signatures", "tree", "data"}) {
        for (const char* when : {"1", "1+"}) {
            const std::string strace = quote(HS_STRACE) + " -f -qq -o /dev/null -P " + quote(core + "/" + file) +
                                       " -e trace=pwrite64,pwritev -e inject=pwrite64,pwritev:error=ENOSPC:when=" +
                                       when + " ";
            const std::string tag = std::string(file) + "@" + when;
            // A batch of four fails: nothing of it may show.
            EXPECT_NE(append({"lost1-" + tag, "lost2", "lost3", "lost4"}, strace), 0)
                << tag << ": the injected ENOSPC did not fail the append";
            ++injected_runs;
            // Then, without faults: a single block, and a batch that skips the failed batch's
            // signature slot.
            ASSERT_EQ(append({"one-" + tag}, ""), 0) << tag << ": " << show_err();
            acked.push_back("one-" + tag);
            std::vector<std::string> five;
            for (int i = 0; i < 5; ++i) five.push_back(tag + "-" + std::to_string(i));
            ASSERT_EQ(append(five, ""), 0) << tag << ": " << show_err();
            acked.insert(acked.end(), five.begin(), five.end());

            auto verify = run(hyp + " storage verify" + store);
            EXPECT_EQ(verify.code, 0) << tag << ": verify: " << verify.out << show_err();
            auto cat = run(hyp + " storage cat" + store + " " + key);
            ASSERT_EQ(cat.code, 0) << show_err();
            std::string want;
            for (const auto& a : acked) want += a;
            EXPECT_EQ(cat.out, want) << tag;
            auto after = run(hyp + " storage ls --json" + store);
            EXPECT_EQ(nlohmann::json::parse(after.out).at(0).at("length"), acked.size()) << tag;
        }
    }
    EXPECT_EQ(injected_runs, 8);
}

// A new storage folder's master key survives a crash right after `hyp` returns: the key is
// written to master_key.tmp, synced, renamed over master_key, and then the folder is synced so
// the rename itself is on disk (util/fs.h write_file_atomic).
TEST(StraceFaults, MasterKeyRenameIsFollowedByAFolderSync) {
    testutil::TempDir dir;
    const std::string storage = (dir.path() / "storage").string();
    const std::string err = (dir.path() / "stderr.log").string();
    const std::string trace = (dir.path() / "trace.log").string();
    ::setenv("HS_STRACE_TEST_ERR", err.c_str(), 1);
    const std::string cmd = quote(HS_STRACE) + " -f -qq -o " + quote(trace) +
                            " -e trace=openat,fsync,rename,renameat,renameat2 " + quote(HS_HYP_BIN) +
                            " storage append --storage " + quote(storage) + " --name c first";
    const hs::Run r = run(cmd);
    const Bytes stderr_bytes = testutil::read_file(err);
    ASSERT_EQ(r.code, 0) << "stderr: " << std::string(stderr_bytes.begin(), stderr_bytes.end());
    const Bytes raw = testutil::read_file(trace);
    std::istringstream lines(std::string(raw.begin(), raw.end()));
    const std::regex open_dir("openat\\(AT_FDCWD, \"" + storage +
                              "\", [^)]*O_DIRECTORY[^)]*\\) += ([0-9]+)");
    bool renamed = false;
    std::string dir_fd;
    bool synced = false;
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (!renamed) {
            renamed = line.find("rename") != std::string::npos &&
                      line.find(storage + "/master_key.tmp\"") != std::string::npos &&
                      line.find(storage + "/master_key\"") != std::string::npos;
        } else if (dir_fd.empty() && std::regex_search(line, m, open_dir)) {
            dir_fd = m[1];
        } else if (!dir_fd.empty() &&
                   std::regex_search(line, std::regex("fsync\\(" + dir_fd + "\\) += 0"))) {
            synced = true;
            break;
        }
    }
    EXPECT_TRUE(renamed) << "no rename of master_key.tmp over master_key in " << trace;
    EXPECT_FALSE(dir_fd.empty()) << "the folder was not opened after the rename";
    EXPECT_TRUE(synced) << "the folder was not fsynced after the rename";
}

}  // namespace
}  // namespace hs
