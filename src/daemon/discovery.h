// The daemon's swarm options from its flags: bind address, network port, the DHT (ephemeral,
// bootstrap nodes, node id derived from the master key as the reference's swarm id) and LAN
// discovery (off with --no-local-discovery).
#pragma once

#include "daemon/log.h"
#include "daemon/options.h"
#include "v9/swarm/swarm.h"
#include "common/util/bytes.h"

namespace hs::daemon {

// The DHT and LAN discovery run on `executor` (the network thread).
Result<swarm::SwarmOptions> swarm_options_for(const DaemonOptions& options,
                                              asio::any_io_executor executor,
                                              ByteView master_key, const Loggers& log);

}  // namespace hs::daemon
