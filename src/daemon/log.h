// Log setup: one spdlog logger per subsystem, all writing to stderr. Created once at startup
// and handed to each subsystem through its constructor (no global registry lookups).
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace hs::daemon {

struct Loggers {
    std::shared_ptr<spdlog::logger> daemon;  // startup, shutdown, signals
    std::shared_ptr<spdlog::logger> rpc;     // clients and their requests
    std::shared_ptr<spdlog::logger> core;    // loading and closing cores, network configurations
    std::shared_ptr<spdlog::logger> swarm;   // peers, connections, replication
    std::shared_ptr<spdlog::logger> dht;     // the DHT node
    std::shared_ptr<spdlog::logger> mdns;    // LAN discovery
};

Loggers make_loggers(spdlog::level::level_enum level);

}  // namespace hs::daemon
