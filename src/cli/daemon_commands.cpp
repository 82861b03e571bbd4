#include "cli/daemon_commands.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/daemon_client.h"
#include "rpc/blocking_client.h"

namespace hs::cli {
namespace {

using namespace std::chrono_literals;

struct Target {
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    bool json = false;
};

void add_target_flags(CLI::App& cmd, Target& t) {
    cmd.add_option("--host", t.host,
                   "Socket name of the daemon (default $HYPERSPACE_SOCKET or hyperspace); with "
                   "--port, its IP address (default 127.0.0.1, then ::1)");
    cmd.add_option("-p,--port", t.port, "Talk to a daemon listening on TCP");
}

int not_running(const rpc::Endpoint& endpoint, const Error& error) {
    std::cerr << "The daemon is not active: nothing answers on " << endpoint.describe() << " ("
              << error.message << ").\nStart it with: hyperspace"
              << (endpoint.tcp ? " --port " + std::to_string(endpoint.port) : std::string())
              << "\n";
    return kExitUsage;
}

// Connects to the daemon `t` names. With --port and no --host, 127.0.0.1 first, then ::1 (a
// daemon may listen on either loopback address). `endpoint` becomes the one that answered.
Result<rpc::BlockingClient> connect_daemon(const Target& t, rpc::Endpoint& endpoint) {
    endpoint = rpc::client_endpoint(t.host, t.port);
    auto client = rpc::BlockingClient::connect(endpoint, 2s);
    if (client || !endpoint.tcp || t.host || client.error().code != Errc::NotFound) return client;
    rpc::Endpoint v6 = endpoint;
    v6.host = "::1";
    auto other = rpc::BlockingClient::connect(v6, 2s);
    if (!other) return client;  // report the 127.0.0.1 failure
    endpoint = v6;
    return other;
}

int run_status(const Target& t) {
    rpc::Endpoint endpoint;
    auto client = connect_daemon(t, endpoint);
    if (!client) return not_running(endpoint, client.error());
    auto reply = client->status(5s);
    if (!reply) {
        std::cerr << "Error: " << reply.error().message << "\n";
        return kExitFailure;
    }
    const auto* status = &reply->status;
    const auto& info = reply->info;  // only our daemon sends these
    const bool holepunchable = status->holepunchable.value_or(false);
    const std::string remote = status->remote_address.value_or("");
    if (t.json) {
        nlohmann::json out = {
            {"version", status->version.value_or("")},
            {"apiVersion", status->api_version},
            {"holepunchable", holepunchable},
            {"remoteAddress", remote},
            {"storage",
             info && !info->memory_only ? nlohmann::json(info->storage) : nlohmann::json(nullptr)},
            {"socket", endpoint.describe()},
            {"cores", info ? nlohmann::json(info->cores) : nlohmann::json(nullptr)},
            {"peers", info ? nlohmann::json(info->peers) : nlohmann::json(nullptr)},
        };
        std::cout << out.dump() << "\n";
        return kExitOk;
    }
    std::cout << "Hyperspace v" << status->version.value_or("") << "\n"
              << "Hyperspace API v" << status->api_version << "\n"
              << "Your address: " << remote << " ("
              << (holepunchable ? "Hole-punchable" : "Not Hole-punchable") << ")\n"
              << "Socket: " << endpoint.describe() << "\n";
    if (info) {
        std::cout << "Storage: " << (info->memory_only ? std::string("in memory") : info->storage)
                  << "\n"
                  << "Cores loaded: " << info->cores << "\n"
                  << "Peers: " << info->peers << "\n"
                  << "Clients: " << info->clients << "\n"
                  << "Daemon: hyperspace (C++) " << info->version << ", pid " << info->pid << "\n";
    }
    return kExitOk;
}

bool process_alive(std::uint64_t pid) {
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

int run_stop(const Target& t) {
    rpc::Endpoint endpoint;
    auto client = connect_daemon(t, endpoint);
    if (!client) return not_running(endpoint, client.error());
    // Our daemon tells its pid: on a UNIX socket, wait for the process itself to end (its storage
    // lock is released then). Otherwise wait until the endpoint stops answering.
    std::optional<std::uint64_t> pid;
    if (!endpoint.tcp) {
        if (auto reply = client->status(5s); reply && reply->info && reply->info->pid)
            pid = reply->info->pid;
    }
    if (auto st = client->stop(5s); !st) {
        std::cerr << "Error: " << st.error().message << "\n";
        return kExitFailure;
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        if (pid) {
            if (!process_alive(*pid)) {
                std::cout << "The daemon stopped.\n";
                return kExitOk;
            }
            continue;
        }
        auto probe = rpc::BlockingClient::connect(endpoint, 1s);
        if (!probe && probe.error().code == Errc::NotFound) {
            std::cout << "The daemon stopped.\n";
            return kExitOk;
        }
    }
    std::cerr << "Error: the daemon on " << endpoint.describe() << " did not stop within 10 s\n";
    return kExitFailure;
}

int run_start(const DaemonTarget& t, const std::vector<std::string>& extra) {
    const auto endpoint = endpoint_of(t);
    try {
        hyperspace::Client probe(endpoint, {.connect_timeout = 2000ms});
        probe.status();
        std::cout << "A daemon is already running at " << endpoint.describe() << ".\n";
        return kExitOk;
    } catch (const hyperspace::Error&) {
        // None answers: start one.
    }
    auto pid = spawn_daemon(t, extra);
    if (!pid) {
        std::cerr << "hyp: error: " << pid.error().message << "\n";
        return kExitFailure;
    }
    std::cout << "The daemon is running (pid " << *pid << ") at " << endpoint.describe()
              << "; its log is " << log_path() << ".\n";
    return kExitOk;
}

void add_status_command(CLI::App& parent, int* exit_code) {
    auto target = std::make_shared<Target>();
    auto* status = parent.add_subcommand("status", "Show the running daemon's status");
    add_target_flags(*status, *target);
    status->add_flag("--json", target->json,
                     "One JSON object: version, apiVersion, holepunchable, remoteAddress, storage, "
                     "socket, cores, peers");
    status->callback([target, exit_code] { *exit_code = run_status(*target); });
}

void add_stop_command(CLI::App& parent, int* exit_code) {
    auto target = std::make_shared<Target>();
    auto* stop = parent.add_subcommand("stop", "Stop the running daemon and wait until it has exited");
    add_target_flags(*stop, *target);
    stop->callback([target, exit_code] { *exit_code = run_stop(*target); });
}

}  // namespace

void add_daemon_commands(CLI::App& app, int* exit_code) {
    add_status_command(app, exit_code);
    add_stop_command(app, exit_code);

    auto* daemon = app.add_subcommand("daemon", "Start, stop or show the daemon");
    daemon->require_subcommand(1);
    auto start_target = std::make_shared<DaemonTarget>();
    auto* start = daemon->add_subcommand(
        "start", "Start the daemon in the background unless one answers, and wait until it answers "
                 "(arguments after -- go to hyperspace)");
    add_daemon_target_flags(*start, *start_target, false);
    auto start_args = std::make_shared<std::vector<std::string>>();
    start->add_option("ARGS", *start_args, "Arguments for hyperspace, after -- (e.g. -- --storage DIR)");
    start->callback([start_target, start_args, exit_code] {
        *exit_code = run_start(*start_target, *start_args);
    });
    add_status_command(*daemon, exit_code);
    add_stop_command(*daemon, exit_code);
}

}  // namespace hs::cli
