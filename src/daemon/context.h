// The daemon's composition root (STYLE §7): every long-lived object, in construction order, so
// that destruction runs in reverse. No logic here; src/daemon/lifecycle.cpp builds and runs it.
#pragma once

#include <memory>

#include <asio.hpp>

#include "v9/corestore/corestore.h"
#include "daemon/log.h"
#include "daemon/options.h"
#include "service/core_registry.h"
#include "server/handlers.h"
#include "service/network_configs.h"
#include "service/replication.h"
#include "service/seeding.h"
#include "server/server.h"
#include "v9/swarm/networker.h"

namespace hs::daemon {

struct DaemonContext {
    DaemonOptions options;
    Loggers log;
    asio::io_context io{1};  // the network thread's loop (run by the main thread)
    std::unique_ptr<corestore::Corestore> store;   // holds the storage folder lock
    std::unique_ptr<service::NetworkConfigs> network;  // remembered + joined configurations
    std::unique_ptr<service::CoreRegistry> registry;   // loaded cores, GC, waiters, locks
    std::unique_ptr<service::Replication> replication; // registry <-> networker glue
    std::unique_ptr<service::Seeder> seeder;           // remembered announce+lookup: kept downloaded
    std::unique_ptr<swarm::Networker> networker;   // swarm, peer streams, replication
    std::unique_ptr<server::DaemonControl> control;   // Status/Stop glue (lifecycle)
    std::unique_ptr<server::Handlers> handlers;
    std::unique_ptr<server::RpcServer> server;
};

}  // namespace hs::daemon
