#include "cli/daemon_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "rpc/endpoint.h"

namespace hs::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void add_daemon_target_flags(CLI::App& cmd, DaemonTarget& t, bool spawn_flag) {
    cmd.add_option("--host", t.host,
                   "Socket name of the daemon (default $HYPERSPACE_SOCKET or hyperspace); with "
                   "--port, its IP address (default 127.0.0.1)");
    cmd.add_option("-p,--port", t.port, "Talk to a daemon listening on TCP");
    if (spawn_flag)
        cmd.add_flag("--no-spawn", t.no_spawn,
                     "Do not start a daemon when none answers (exit 2 instead)");
}

hyperspace::Endpoint endpoint_of(const DaemonTarget& t) {
    const rpc::Endpoint e = rpc::client_endpoint(t.host, t.port);
    return e.tcp ? hyperspace::Endpoint::tcp(e.host, e.port)
                 : hyperspace::Endpoint::unix_path(e.unix_path);
}

std::string hyperspace_program() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path sibling = self.parent_path() / "hyperspace";
        if (::access(sibling.c_str(), X_OK) == 0) return sibling.string();
    }
    return "hyperspace";
}

std::string log_path() {
    const char* home = std::getenv("HOME");
    return (fs::path(home && *home ? home : "/tmp") / ".hyperspace" / "daemon.log").string();
}

Result<int> spawn_daemon(const DaemonTarget& t, const std::vector<std::string>& extra,
                         std::chrono::milliseconds timeout) {
    std::vector<std::string> args = {hyperspace_program()};
    if (t.port) {
        args.insert(args.end(), {"--port", std::to_string(*t.port)});
        if (t.host) args.insert(args.end(), {"--host", *t.host});
    } else if (t.host) {
        args.insert(args.end(), {"--host", *t.host});
    }
    if (const char* more = std::getenv("HYP_DAEMON_ARGS")) {
        std::istringstream words(more);
        for (std::string w; words >> w;) args.push_back(w);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string log = log_path();
    std::error_code ec;
    fs::create_directories(fs::path(log).parent_path(), ec);

    const pid_t pid = ::fork();
    if (pid < 0) return make_error(Errc::Io, "cannot start {}: fork failed", args[0]);
    if (pid == 0) {
        ::setsid();  // not killed with hyp's terminal
        const int null_fd = ::open("/dev/null", O_RDONLY);
        const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (null_fd >= 0) ::dup2(null_fd, 0);
        if (log_fd >= 0) {
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    const auto endpoint = endpoint_of(t);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return make_error(Errc::Io, "{} exited with status {} before it answered{}; see {}",
                              args[0], code, code == 127 ? " (not found?)" : "", log);
        }
        try {
            hyperspace::Client probe(endpoint, {.connect_timeout = 1000ms});
            probe.status();
            return static_cast<int>(pid);
        } catch (const hyperspace::Error&) {
            std::this_thread::sleep_for(50ms);
        }
    }
    return make_error(Errc::Io, "the daemon started by hyp (pid {}) did not answer at {} within {} ms; see {}",
                      pid, endpoint.describe(), timeout.count(), log);
}

std::unique_ptr<hyperspace::Client> connect_daemon(const DaemonTarget& t, int& exit_code) {
    const auto endpoint = endpoint_of(t);
    try {
        return std::make_unique<hyperspace::Client>(endpoint);
    } catch (const hyperspace::Error& e) {
        if (t.no_spawn) {
            std::cerr << "hyp: " << e.what() << "\n(--no-spawn: hyp did not start one; "
                      << "`hyp daemon start` does)\n";
            exit_code = kExitUsage;
            return nullptr;
        }
    }
    std::cerr << "hyp: no daemon answers at " << endpoint.describe() << "; starting one\n";
    auto started = spawn_daemon(t, {});
    if (!started) {
        std::cerr << "hyp: error: " << started.error().message << "\n";
        exit_code = kExitFailure;
        return nullptr;
    }
    try {
        return std::make_unique<hyperspace::Client>(endpoint);
    } catch (const hyperspace::Error& e) {
        std::cerr << "hyp: error: " << e.what() << "\n";
        exit_code = kExitFailure;
        return nullptr;
    }
}

}  // namespace hs::cli
