// hyp's commands that work through a daemon (docs/hyp.md): create, append, cat, info, download,
// seed, unseed. Each reaches the daemon --host/--port/$HYPERSPACE_SOCKET name, starting one in
// the background when none answers (unless --no-spawn).
#pragma once

#include <CLI/CLI.hpp>

namespace hs::cli {

void add_client_commands(CLI::App& app, int* exit_code);

}  // namespace hs::cli
