// Startup, serving and shutdown of the `hyperspace` daemon (STYLE §7, docs/architecture.md).
//
// Startup: log, endpoint probe (a live daemon there: print its status, exit 1; a stale socket
// file: replace it), storage (folder lock), remembered network configurations, RPC listen.
// Shutdown (SIGINT/SIGTERM or Hyperspace.Stop): stop accepting, let clients receive what is
// queued (2 s at most), release every client, flush the loaded cores, unlink the socket, exit 0.
// A second signal exits at once.
#pragma once

#include "daemon/options.h"

namespace hs::daemon {

// The exit code for bad flags or options (as `hyp`'s usage errors).
inline constexpr int kExitUsage = 2;

// Runs the daemon on the calling thread (the network thread) until it stops. Returns the process
// exit code: 0 after a clean shutdown, 1 when startup failed or a daemon already runs there.
// REQUIRES: validate(options) succeeded.
int run_daemon(DaemonOptions options);

}  // namespace hs::daemon
