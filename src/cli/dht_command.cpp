#include "cli/dht_command.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/async/task_group.h"
#include "cli/args.h"
#include "v9/swarm/dht/node.h"

namespace hs::cli {
namespace {

struct DhtArgs {
    std::string host = "0.0.0.0";
    std::uint16_t port = 49737;
    std::vector<std::string> bootstrap;
    std::string log_level = "warn";
};

// Prints once the first bootstrap finished (unless we are already stopping).
asio::awaitable<void> report_ready(swarm::dht::Node& node, const bool& stopping) {
    co_await node.ready();
    if (!stopping)
        std::cout << "DHT node bootstrapped: " << node.routing_table_size() << " nodes known"
                  << std::endl;
}

// Closes the node, then stops listening for signals so io.run() can return.
asio::awaitable<void> stop(swarm::dht::Node& node, asio::signal_set& signals) {
    co_await node.close();
    signals.cancel();
}

int run_dht(const DhtArgs& args) {
    const auto level = spdlog::level::from_str(args.log_level);
    if (level == spdlog::level::off && args.log_level != "off") {
        std::cerr << "hyp dht: --log-level " << args.log_level
                  << ": expected trace, debug, info, warn, error or off" << std::endl;
        return kExitUsage;
    }
    std::error_code ec;
    const auto host = asio::ip::make_address_v4(args.host, ec);
    if (ec) {
        std::cerr << "hyp dht: --host " << args.host << ": not an IPv4 address" << std::endl;
        return kExitUsage;
    }
    auto log = std::make_shared<spdlog::logger>(
        "dht", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    log->set_level(level);

    asio::io_context io;
    swarm::dht::NodeOptions options;
    options.ephemeral = false;
    options.bootstrap = args.bootstrap;
    options.bind = asio::ip::udp::endpoint(host, args.port);
    options.log = log;
    swarm::dht::Node node(io.get_executor(), options);
    if (auto st = node.listen(); !st) {
        std::cerr << "hyp dht: " << st.error().message << std::endl;
        return st.error().code == Errc::InvalidArgument ? kExitUsage : kExitFailure;
    }
    bool stopping = false;
    const auto ep = node.local_endpoint();
    std::cout << "DHT node listening on " << ep.address().to_string() << ":" << ep.port()
              << std::endl;
    async::TaskGroup tasks(io.get_executor(), "hyp dht", log);
    node.start();
    if (!args.bootstrap.empty()) tasks.spawn("report-ready", report_ready(node, stopping));

    // First SIGINT/SIGTERM: close the node (awaiting its loops); a second one exits at once.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    std::function<void(std::error_code, int)> on_signal = [&](std::error_code e, int) {
        if (e) return;
        if (stopping) std::_Exit(kExitFailure);
        stopping = true;
        signals.async_wait(on_signal);
        tasks.spawn("close", stop(node, signals));
    };
    signals.async_wait(on_signal);
    io.run();
    log->info("dht node stopped ({} nodes known)", node.routing_table_size());
    return kExitOk;
}

}  // namespace

void add_dht_command(CLI::App& app, int* exit_code) {
    auto args = std::make_shared<DhtArgs>();
    auto* cmd = app.add_subcommand(
        "dht", "Run a persistent DHT node (e.g. a bootstrap node) until interrupted");
    cmd->add_option("--host", args->host, "IPv4 address to bind the UDP socket to")
        ->capture_default_str();
    cmd->add_option("--port", args->port, "UDP port (0: any free port)")->capture_default_str();
    cmd->add_option("--bootstrap", args->bootstrap,
                    "Bootstrap node HOST:PORT or :PORT (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error or off")
        ->capture_default_str();
    cmd->callback([args, exit_code] { *exit_code = run_dht(*args); });
}

}  // namespace hs::cli
