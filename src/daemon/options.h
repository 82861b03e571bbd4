// The `hyperspace` daemon's options (docs/behaviour/daemon.md plus ours): one struct, defaults in
// code, filled from CLI11 flags, validated once, then passed by value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/common.h>
#include <CLI/CLI.hpp>

#include "rpc/endpoint.h"
#include "common/util/error.h"

namespace hs::daemon {

struct DaemonOptions {
    // RPC endpoint. Without `port`: the UNIX socket named `host` (else $HYPERSPACE_SOCKET, else
    // "hyperspace"). With `port`: TCP on `host` as an IP address; when not given (or
    // "localhost"), on 127.0.0.1 and ::1.
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    // Storage folder; empty = the default (~/.hyperspace/storage, or the old
    // ~/.hyperdrive/storage/cores if it exists). Ignored with memory_only.
    std::filesystem::path storage;
    bool memory_only = false;
    std::size_t cache_size = 1000;  // unreferenced cores kept open (LRU)
    // Descriptors core files may hold at once besides each open core's locked bitfield
    // (hypercore/file_cache.h); 0: 512, or a quarter of RLIMIT_NOFILE if that is smaller.
    std::size_t max_open_files = 0;
    // Networking (src/daemon/discovery.cpp turns these into the swarm options).
    std::vector<std::string> bootstrap;         // HOST:PORT
    std::optional<std::uint16_t> network_port;  // 0 = any free port
    std::optional<std::string> bind_address;
    bool no_announce = false;
    bool no_local_discovery = false;
    bool no_migrate = false;  // accepted; nothing is migrated
    std::string log_level = "info";
};

// Registers every flag of the `hyperspace` program on `app`, writing into `options`.
void add_daemon_flags(CLI::App& app, DaemonOptions& options);

// Checks the values and fills in defaults (storage). Errc::InvalidArgument with a message naming
// the flag.
Status validate(DaemonOptions& options);

spdlog::level::level_enum log_level(const DaemonOptions& options);
// The RPC endpoint these options name.
rpc::Endpoint endpoint(const DaemonOptions& options);

}  // namespace hs::daemon
