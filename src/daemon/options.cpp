#include "daemon/options.h"

#include <asio/ip/address.hpp>

#include "v9/corestore/environment.h"
#include "common/util/host_port.h"

namespace hs::daemon {

void add_daemon_flags(CLI::App& app, DaemonOptions& o) {
    // `-h` is the socket name, as in the reference: help is --help only.
    app.set_help_flag("--help", "Print this help and exit");
    app.add_option("-h,--host", o.host,
                   "Socket name (UNIX socket $TMPDIR/<name>.sock); with --port, the IP address to "
                   "listen on");
    app.add_option("-p,--port", o.port,
                   "Listen on TCP (127.0.0.1 and ::1 unless --host) instead of a UNIX socket");
    app.add_option("-s,--storage", o.storage,
                   "Storage folder (default ~/.hyperspace/storage, or ~/.hyperdrive/storage/cores "
                   "if that exists)");
    app.add_option("-b,--bootstrap", o.bootstrap, "DHT bootstrap node HOST:PORT (repeatable)");
    app.add_option("-n,--network-port", o.network_port,
                   "Port for peer connections (0: any free port)");
    app.add_flag("--memory-only", o.memory_only,
                 "Keep every core in memory; nothing is written to disk");
    app.add_flag("--no-announce", o.no_announce, "Never announce cores on the network");
    app.add_flag("--no-migrate", o.no_migrate, "Accepted for compatibility (nothing is migrated)");
    app.add_option("--cache-size", o.cache_size, "Cores no client references kept open (LRU)")
        ->capture_default_str();
    app.add_option("--max-open-files", o.max_open_files,
                   "Core files kept open at once, besides one per open core (0: 512, or a quarter "
                   "of ulimit -n if smaller)")
        ->capture_default_str();
    app.add_option("--bind-address", o.bind_address, "Local address peer sockets bind to");
    app.add_flag("--no-local-discovery", o.no_local_discovery,
                 "Do not use mDNS on the local network");
    app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
        ->capture_default_str();
}

Status validate(DaemonOptions& o) {
    const auto level = spdlog::level::from_str(o.log_level);
    if (level == spdlog::level::off && o.log_level != "off")
        return make_error(Errc::InvalidArgument,
                          "--log-level {}: expected trace, debug, info, warn, error or off",
                          o.log_level);
    for (const auto& b : o.bootstrap) {
        if (auto parsed = parse_host_port(b); !parsed)
            return make_error(Errc::InvalidArgument, "--bootstrap: {}", parsed.error().message);
    }
    if (o.bind_address) {
        std::error_code ec;
        asio::ip::make_address(*o.bind_address, ec);
        if (ec)
            return make_error(Errc::InvalidArgument, "--bind-address {}: not an IP address",
                              *o.bind_address);
    }
    if (o.port) {
        if (o.host) {
            std::error_code ec;
            asio::ip::make_address(*o.host == "localhost" ? "127.0.0.1" : *o.host, ec);
            if (ec)
                return make_error(Errc::InvalidArgument,
                                  "--host {} with --port: expected the IP address to listen on",
                                  *o.host);
        }
    } else {
        const std::string name = o.host ? *o.host : rpc::default_socket_name();
        if (name.empty() || name.find('/') != std::string::npos)
            return make_error(Errc::InvalidArgument,
                              "--host '{}': a socket name is a plain name (no '/'), not a path",
                              name);
        const auto path = rpc::socket_path_for_name(name).string();
        if (path.size() > 107)
            return make_error(Errc::InvalidArgument,
                              "socket path {} is longer than a UNIX socket allows; use a shorter "
                              "TMPDIR or --host name",
                              path);
    }
    if (!o.memory_only && o.storage.empty()) o.storage = corestore::default_storage_path();
    return {};
}

spdlog::level::level_enum log_level(const DaemonOptions& o) {
    return spdlog::level::from_str(o.log_level);
}

rpc::Endpoint endpoint(const DaemonOptions& o) {
    rpc::Endpoint e = rpc::client_endpoint(o.host, o.port);
    return e;
}

}  // namespace hs::daemon
