#include "daemon/lifecycle.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/crypto/derive.h"
#include "daemon/context.h"
#include "v9/protocol/noise.h"
#include "rpc/blocking_client.h"
#include "daemon/discovery.h"

namespace hs::daemon {
namespace fs = std::filesystem;

namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kProbeTimeout{2000};
constexpr std::chrono::milliseconds kDrainTimeout{2000};
// hyperspace server.js: NAMESPACE, and corestore's _deriveSecret(NAMESPACE, 'replication-keypair').
constexpr const char* kKeyNamespace = "@hypercore-protocol/hyperspace";

class Control final : public server::DaemonControl {
public:
    Control(DaemonContext& ctx, async::Event& stop, bool& stop_requested)
        : m_ctx(ctx), m_stop(stop), m_stop_requested(stop_requested) {}

    void request_stop() override {
        m_stop_requested = true;
        m_stop.notify();
    }

    bool holepunchable() const override {
        const auto* dht = m_ctx.networker ? m_ctx.networker->swarm().dht() : nullptr;
        return dht && dht->holepunchable();
    }
    std::string remote_address() const override {
        const auto* dht = m_ctx.networker ? m_ctx.networker->swarm().dht() : nullptr;
        if (!dht) return {};
        auto ep = dht->remote_address();
        if (!ep) return {};
        return ep->address().to_string() + ":" + std::to_string(ep->port());
    }

    rpc::DaemonInfoResponse daemon_info() const override {
        rpc::DaemonInfoResponse info;
        info.storage = m_ctx.options.memory_only ? std::string() : m_ctx.options.storage.string();
        info.endpoint = m_ctx.server ? m_ctx.server->endpoint() : std::string();
        info.cores = m_ctx.registry ? m_ctx.registry->loaded_count() : 0;
        info.peers = m_ctx.networker ? m_ctx.networker->peer_count() : 0;
        info.version = HS_VERSION;
        info.clients = m_ctx.server ? m_ctx.server->client_count() : 0;
        info.memory_only = m_ctx.options.memory_only;
        info.pid = static_cast<std::uint64_t>(::getpid());
        return info;
    }

private:
    DaemonContext& m_ctx;
    async::Event& m_stop;
    bool& m_stop_requested;
};

int print_already_running(const rpc::HyperspaceStatusResponse& status) {
    std::cout << "Server is already running with the following status\n\n"
              << "API Version   : " << status.api_version << "\n"
              << "Holepunchable : " << (status.holepunchable.value_or(false) ? "true" : "false")
              << "\n"
              << "Remote address: " << status.remote_address.value_or("") << "\n"
              << std::flush;
    return 1;
}

// Before listening on a UNIX socket (quirks #22): a daemon that answers there keeps it; a stale
// socket file is removed. Returns an exit code to stop with, or nothing to go on.
std::optional<int> probe_unix_socket(const fs::path& path, spdlog::logger& log) {
    rpc::Endpoint endpoint;
    endpoint.unix_path = path;
    auto client = rpc::BlockingClient::connect(endpoint, kProbeTimeout);
    if (client) {
        auto status = client->status(kProbeTimeout);
        if (status) return print_already_running(status->status);
        log.error(
            "{} is in use by a process that does not answer as a hyperspace daemon ({}); "
            "not replacing it (use another --host name)",
            path.string(), status.error().message);
        return 1;
    }
    if (client.error().code != Errc::NotFound) {
        log.error("cannot check {}: {}", path.string(), client.error().message);
        return 1;
    }
    std::error_code ec;
    const auto st = fs::symlink_status(path, ec);
    if (ec || !fs::exists(st)) return std::nullopt;
    if (!fs::is_socket(st)) {
        log.error("{} exists and is not a socket; not replacing it", path.string());
        return 1;
    }
    fs::remove(path, ec);
    if (ec) {
        log.error("cannot remove the stale socket file {}: {}", path.string(), ec.message());
        return 1;
    }
    log.info("removed the stale socket file {}", path.string());
    return std::nullopt;
}

// --port on loopback by default: 127.0.0.1 and ::1 on the same port, since clients resolve
// "localhost" to either (Node 18 tries only the first address, often ::1). Without IPv6 (or with
// ::1 taken by something else on a fixed port) it serves on 127.0.0.1 alone and says so.
Result<std::uint16_t> listen_loopback(server::RpcServer& server, std::uint16_t port,
                                      spdlog::logger& log) {
    for (int attempt = 1;; ++attempt) {
        auto v4 = server.listen_tcp("127.0.0.1", port);
        if (!v4) return v4;
        auto v6 = server.listen_tcp("::1", *v4);
        if (v6) return v4;
        if (v6.error().code == Errc::Exists && port == 0 && attempt < 5) {
            // The free port picked on 127.0.0.1 is taken on ::1: pick another.
            server.unlisten_last_tcp();
            continue;
        }
        log.warn("{}; serving on {} only (clients that resolve localhost to ::1 cannot connect)",
                 v6.error().message, server.endpoint());
        return v4;
    }
}

// Serves until a stop is requested, then shuts down in order (docs/architecture.md "Shutdown").
// Sets `served` once everything stopped.
asio::awaitable<void> serve(DaemonContext& ctx, async::Event& stop, const bool& stop_requested,
                            asio::signal_set& signals, int& exit_code, bool& served) {
    auto& log = *ctx.log.daemon;
    while (!stop_requested) co_await stop.wait();
    std::cout << "Shutting down..." << std::endl;
    ctx.server->close();
    asio::steady_timer drain(ctx.io, kDrainTimeout);
    drain.async_wait([&ctx](const std::error_code& ec) {
        if (!ec) ctx.server->abort();
    });
    co_await ctx.server->join();
    drain.cancel();
    co_await ctx.replication->close();  // the ifAvailable gates still waiting
    co_await ctx.networker->close();    // unannounces, closes peer connections
    if (auto st = ctx.registry->sync_all(); !st) {
        log.error("flushing the storage failed: {}. Every append the daemon acknowledged was "
                  "written before it answered; what failed is the final flush to stable storage. "
                  "Free space (or fix the disk), then start the daemon again: it checks and "
                  "repairs its cores when it opens them",
                  st.error().message);
        exit_code = 1;
    }
    ctx.server->remove_socket_file();
    std::error_code ignored;
    signals.cancel(ignored);
    log.info("stopped");
    served = true;
}

bool is_loopback(const std::string& address) {
    std::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    return !ec && ip.is_loopback();
}

}  // namespace

int run_daemon(DaemonOptions options) {
    DaemonContext ctx;
    ctx.options = std::move(options);
    ctx.log = make_loggers(log_level(ctx.options));
    auto& log = *ctx.log.daemon;
    const DaemonOptions& opts = ctx.options;
    std::cout << "Running hyperspace (C++) " << HS_VERSION << std::endl;

    const rpc::Endpoint endpoint = daemon::endpoint(opts);
    if (!endpoint.tcp) {
        if (auto code = probe_unix_socket(endpoint.unix_path, log)) return *code;
    }

    // Storage. The registry keeps the LRU of unreferenced cores itself (it must send OnClose),
    // so the corestore closes a core as soon as the registry lets go of it.
    corestore::CorestoreOptions store_options;
    store_options.cache_size = 0;
    store_options.max_open_files = opts.max_open_files;
    auto store = opts.memory_only ? corestore::Corestore::open_memory(store_options)
                                  : corestore::Corestore::open(opts.storage, store_options);
    if (!store) {
        log.error("cannot open the storage: {}", store.error().message);
        return 1;
    }
    ctx.store = std::move(store).value();
    log.info("storage: {}", opts.memory_only ? std::string("in memory") : opts.storage.string());

    service::NetworkConfigsOptions network_options;
    if (!opts.memory_only) network_options.file = opts.storage / service::kNetworkConfigFile;
    network_options.no_announce = opts.no_announce;
    auto network = service::NetworkConfigs::open(network_options, ctx.log.core);
    if (!network) {
        log.error("{}", network.error().message);
        return 1;
    }
    ctx.network = std::move(network).value();
    ctx.registry = std::make_unique<service::CoreRegistry>(
        *ctx.store, service::CoreRegistryOptions{opts.cache_size}, ctx.log.core);
    const auto seed = crypto::derive_key(kKeyNamespace, ctx.store->master_key(),
                                         as_bytes(std::string_view("replication-keypair")));
    const auto noise = protocol::noise_keypair_from_seed(seed);

    // Networking: the swarm listens before anything joins (docs/architecture.md "Startup").
    ctx.replication =
        std::make_unique<service::Replication>(ctx.io.get_executor(), *ctx.registry, ctx.log.swarm);
    auto swarm_options = swarm_options_for(opts, ctx.io.get_executor(), ctx.store->master_key(), ctx.log);
    if (!swarm_options) {
        log.error("{}", swarm_options.error().message);
        return 1;
    }
    ctx.networker = std::make_unique<swarm::Networker>(
        ctx.io.get_executor(), std::move(swarm_options).value(), noise, *ctx.replication,
        ctx.replication->networker_events(), ctx.log.swarm);
    ctx.replication->attach(*ctx.networker);
    ctx.seeder = std::make_unique<service::Seeder>(*ctx.registry, *ctx.replication, ctx.log.swarm);
    ctx.registry->observe_load([&ctx](service::LoadedCore& core) { ctx.seeder->on_load(core); });
    ctx.registry->observe_close([&ctx](service::LoadedCore& core) { ctx.seeder->on_close(core); });
    if (auto st = ctx.networker->listen(); !st) {
        log.error("{}", st.error().message);
        return 1;
    }
    std::cout << "Listening for peers on " << ctx.networker->swarm().local_endpoint().address().to_string()
              << ":" << ctx.networker->swarm().port() << std::endl;

    ctx.network->on_change = [&ctx](const crypto::Hash32& dk, const rpc::NetworkStatus* status,
                                    bool) {
        ctx.registry->set_joined(dk, status != nullptr);
        const bool announce = status && status->announce.value_or(false);
        const bool lookup = status && status->lookup.value_or(false);
        ctx.networker->configure(dk, announce, lookup);
        // Remembered with announce and lookup (`hyp seed`): kept downloaded (service/seeding.h).
        const auto& remembered = ctx.network->remembered();
        const auto it = remembered.find(dk);
        ctx.seeder->set_seeded(dk, status && it != remembered.end() && it->second.announce &&
                                       it->second.lookup);
    };
    ctx.network->rejoin_remembered();
    if (ctx.network->joined_count())
        log.info("rejoined {} remembered network configurations", ctx.network->joined_count());

    bool stop_requested = false;
    async::Event stop_signal(ctx.io.get_executor());
    ctx.control = std::make_unique<Control>(ctx, stop_signal, stop_requested);
    ctx.handlers = std::make_unique<server::Handlers>(
        server::HandlerContext{*ctx.registry, *ctx.network, *ctx.control,
                               Bytes(noise.public_key.begin(), noise.public_key.end()), ctx.log.rpc,
                               ctx.replication.get()});
    ctx.server = std::make_unique<server::RpcServer>(ctx.io, *ctx.handlers, server::SessionLimits{},
                                                     ctx.log.rpc);
    ctx.registry->observe_load(
        [&ctx](service::LoadedCore& core) { ctx.server->broadcast_feed(core.feed().key()); });
    ctx.replication->for_each_client =
        [&ctx](const std::function<void(service::ClientState&)>& fn) {
            ctx.server->for_each_client(fn);
        };

    if (!endpoint.tcp) {
        if (auto st = ctx.server->listen_unix(endpoint.unix_path); !st) {
            log.error("{}", st.error().message);
            return 1;
        }
    } else {
        const bool loopback_pair = !opts.host || *opts.host == "localhost";
        auto port = loopback_pair ? listen_loopback(*ctx.server, endpoint.port, log)
                                  : ctx.server->listen_tcp(endpoint.host, endpoint.port);
        if (!port) {
            if (port.error().code == Errc::Exists) {
                auto client = rpc::BlockingClient::connect(endpoint, kProbeTimeout);
                if (client) {
                    if (auto status = client->status(kProbeTimeout))
                        return print_already_running(status->status);
                }
            }
            log.error("{}", port.error().message);
            return 1;
        }
        if (!is_loopback(endpoint.host))
            log.warn(
                "the RPC listens on {} without authentication: anyone who can reach it "
                "controls this daemon and its cores",
                ctx.server->endpoint());
    }
    ctx.server->start();
    ctx.networker->start();
    std::cout << "Listening on " << fmt::format("{}", fmt::join(ctx.server->endpoints(), " and "))
              << std::endl;

    // The first SIGINT/SIGTERM stops gracefully, the second exits at once.
    asio::signal_set signals(ctx.io, SIGINT, SIGTERM);
    int signal_count = 0;
    std::function<void()> arm_signals = [&] {
        signals.async_wait([&](const std::error_code& ec, int signo) {
            if (ec) return;
            if (++signal_count > 1) {
                log.warn("second signal: exiting now");
                std::_Exit(1);
            }
            log.info("received {}, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
            ctx.control->request_stop();
            arm_signals();
        });
    };
    arm_signals();

    int exit_code = 0;
    bool served = false;
    async::TaskGroup tasks(ctx.io.get_executor(), "daemon", ctx.log.daemon);
    tasks.spawn("serve", serve(ctx, stop_signal, stop_requested, signals, exit_code, served),
                [&] {
                    if (!served) {  // the failure was logged by the group
                        exit_code = 1;
                        ctx.server->remove_socket_file();
                    }
                    ctx.io.stop();
                });
    ctx.io.run();
    return exit_code;
}

}  // namespace hs::daemon
