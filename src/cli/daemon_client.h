// How hyp's daemon commands reach a daemon (docs/hyp.md "Which daemon"): --host NAME (UNIX socket
// <tmpdir>/NAME.sock, default $HYPERSPACE_SOCKET or "hyperspace") or --port P (TCP, --host the
// address), and, unless --no-spawn, starting our `hyperspace` in the background when none
// answers, then waiting until it does.
#pragma once

#include <CLI/CLI.hpp>
#include <hyperspace/client.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/util/error.h"

namespace hs::cli {

struct DaemonTarget {
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    bool no_spawn = false;
};

// --host, -p/--port and (when `spawn_flag`) --no-spawn.
void add_daemon_target_flags(CLI::App& cmd, DaemonTarget& target, bool spawn_flag = true);

hyperspace::Endpoint endpoint_of(const DaemonTarget& target);

// The hyperspace program to start: the one next to this hyp, else `hyperspace` on $PATH.
std::string hyperspace_program();

// Starts `hyperspace` for `target` in the background (its own session, output appended to
// `log_path()`), with `extra` arguments and those of $HYP_DAEMON_ARGS (split on spaces), and
// waits until it answers, at most `timeout`. Errc::Io saying why (it exited: see the log).
Result<int> spawn_daemon(const DaemonTarget& target, const std::vector<std::string>& extra,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));
// ~/.hyperspace/daemon.log
std::string log_path();

// Connects; when nothing answers and spawning is allowed, starts a daemon first. On failure
// prints what failed and where it looked on stderr and sets `exit_code` (2: no daemon, as
// --no-spawn asked; 1: a daemon could not be started); returns null then.
std::unique_ptr<hyperspace::Client> connect_daemon(const DaemonTarget& target, int& exit_code);

}  // namespace hs::cli
