// Runs our `hyperspace` daemon as a child process for a test: its own storage and socket under a
// temporary folder, no LAN discovery, a DHT bootstrap nobody answers (tests run in a loopback-only
// namespace). Killed (SIGKILL) and reaped when the object dies.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "testutil/temp_dir.h"

namespace hs::testutil {

class DaemonProcess {
public:
    // `binary`: the hyperspace executable; `extra`: more command-line arguments.
    explicit DaemonProcess(std::string binary, std::vector<std::string> extra = {})
        : m_binary(std::move(binary)) {
        std::vector<std::string> args = {m_binary,         "--storage",
                                         storage().string(), "--host",
                                         "d",              "--network-port",
                                         "0",              "--no-local-discovery",
                                         "--bootstrap",    "127.0.0.1:9",
                                         "--log-level",    "warn"};
        args.insert(args.end(), extra.begin(), extra.end());
        m_pid = ::fork();
        if (m_pid == 0) {
            ::setenv("TMPDIR", m_dir.path().c_str(), 1);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(m_binary.c_str(), argv.data());
            ::_exit(121);
        }
    }
    ~DaemonProcess() { kill(); }
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    std::filesystem::path storage() const { return m_dir.path() / "storage"; }
    // The UNIX socket the daemon listens on (TMPDIR/d.sock).
    std::filesystem::path socket_path() const { return m_dir.path() / "d.sock"; }
    pid_t pid() const { return m_pid; }

    // Waits until the socket file exists (the daemon listens), at most `timeout`.
    bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            std::error_code ec;
            if (std::filesystem::exists(socket_path(), ec)) return true;
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) return false;  // it exited
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    // Waits for the daemon to exit on its own; its exit status, or -1 after `timeout`.
    int wait_exit(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return -1;
    }
    void kill() {
        if (m_pid <= 0) return;
        ::kill(m_pid, SIGKILL);
        ::waitpid(m_pid, nullptr, 0);
        m_pid = -1;
    }

private:
    TempDir m_dir;
    std::string m_binary;
    pid_t m_pid = -1;
};

}  // namespace hs::testutil
