// Issue 9: one client holding 10,000 open cores must not starve the daemon of file descriptors.
// Runs our `hyperspace` daemon (HS_HYPERSPACE_BIN) under RLIMIT_NOFILE soft 1024 / hard 11000:
// without the file-handle cache (four descriptors per core, soft limit left alone) it could not
// hold even 300 cores; with it the daemon raises its soft limit and holds one descriptor per
// core plus a bounded cache, and a second client still connects, opens a core and appends.
// Storage goes to /dev/shm when there is one: this test is about descriptors, not disk speed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "rpc/blocking_client.h"
#include "rpc/messages.h"
#include "rpc/methods.h"

namespace hs::rpc {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t kCores = 10'000;
constexpr rlim_t kHardLimit = 11'000;

class ScratchDir {
public:
    ScratchDir() {
        std::error_code ec;
        const fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                                  ? fs::path("/dev/shm")
                                  : fs::temp_directory_path();
        std::string tmpl = (base / "hs-fds-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) std::abort();
        m_path = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

std::size_t count_fds(pid_t pid) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

template <typename Response, typename Request>
Result<Response> call(BlockingClient& client, Method method, const Request& request) {
    Bytes payload;
    request.encode_to(payload);
    const auto& info = method_info(method);
    HS_ASSIGN_OR_RETURN(Bytes reply, client.call(static_cast<std::uint64_t>(info.service), info.id,
                                                 payload, 30s));
    ByteView in = reply;
    return Response::decode(in);
}

Result<OpenResponse> open_core(BlockingClient& client, std::uint64_t id, const std::string& name) {
    OpenRequest request;
    request.id = id;
    request.name = name;
    return call<OpenResponse>(client, Method::CorestoreOpen, request);
}

TEST(DaemonOpenFiles, TenThousandCoresOnOneClientWhileAnotherConnects) {
    ScratchDir dir;
    const fs::path storage = dir.path() / "storage";
    const Endpoint endpoint{false, dir.path() / "d.sock", {}, 0};
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        struct rlimit rl{1024, kHardLimit};
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(120);
        ::setenv("TMPDIR", dir.path().c_str(), 1);
        ::execl(HS_HYPERSPACE_BIN, HS_HYPERSPACE_BIN, "--storage", storage.c_str(), "--host", "d",
                "--network-port", "0", "--no-local-discovery", "--bootstrap", "127.0.0.1:9",
                "--log-level", "warn", static_cast<char*>(nullptr));
        ::_exit(121);
    }
    struct Reaper {
        pid_t pid;
        ~Reaper() {
            if (pid <= 0) return;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    } reaper{pid};

    std::optional<BlockingClient> first;
    for (int i = 0; i < 200 && !first; ++i) {
        if (auto c = BlockingClient::connect(endpoint, 1s)) first.emplace(std::move(c).value());
        else std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(first) << "the daemon did not come up on " << endpoint.describe();
    const std::size_t fds_idle = count_fds(pid);

    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < kCores; ++i) {
        auto opened = open_core(*first, i + 1, "core-" + std::to_string(i));
        ASSERT_TRUE(opened.ok()) << "core " << i << ": " << opened.error().message;
        ASSERT_TRUE(opened->writable);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::size_t fds_full = count_fds(pid);
    std::printf("opened %zu cores in %.1f s; daemon descriptors: %zu idle, %zu with the cores open\n",
                kCores, seconds, fds_idle, fds_full);
    // One pinned bitfield per core plus at most the cache bound (512) and what the daemon had.
    EXPECT_LE(fds_full, fds_idle + kCores + 512 + 16);

    // A core of the first client still works: append to the first and the last one.
    for (std::uint64_t id : {std::uint64_t{1}, std::uint64_t{kCores}}) {
        AppendRequest append;
        append.id = id;
        const Bytes block = to_bytes("block of session " + std::to_string(id));
        append.blocks = {BytesRef(Bytes(block))};
        auto appended = call<AppendResponse>(*first, Method::HypercoreAppend, append);
        ASSERT_TRUE(appended.ok()) << appended.error().message;
        EXPECT_EQ(appended->length, 1u);
    }

    // Another client connects, asks for the status, opens a new core and one of the first
    // client's cores.
    auto second = BlockingClient::connect(endpoint, 5s);
    ASSERT_TRUE(second.ok()) << second.error().message;
    auto status = second->status(10s);
    ASSERT_TRUE(status.ok()) << status.error().message;
    ASSERT_TRUE(status->info);
    EXPECT_GE(status->info->cores, kCores);
    EXPECT_EQ(status->info->clients, 2u);
    auto fresh = open_core(*second, 1, "second-client");
    ASSERT_TRUE(fresh.ok()) << fresh.error().message;
    auto shared = open_core(*second, 2, "core-0");
    ASSERT_TRUE(shared.ok()) << shared.error().message;
    EXPECT_EQ(shared->length, 1u);
    AppendRequest append;
    append.id = 1;
    const Bytes block = to_bytes("from the second client");
    append.blocks = {BytesRef(Bytes(block))};
    auto appended = call<AppendResponse>(*second, Method::HypercoreAppend, append);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
    EXPECT_LE(count_fds(pid), fds_idle + kCores + 512 + 16);

    // The daemon stops cleanly with everything open.
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    int wstatus = 0;
    bool exited = false;
    for (int i = 0; i < 600 && !exited; ++i) {
        exited = ::waitpid(pid, &wstatus, WNOHANG) == pid;
        if (!exited) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(exited) << "the daemon did not stop within 30 s of SIGTERM";
    reaper.pid = 0;
    ASSERT_TRUE(WIFEXITED(wstatus)) << "status " << wstatus;
    EXPECT_EQ(WEXITSTATUS(wstatus), 0);
}

}  // namespace
}  // namespace hs::rpc
