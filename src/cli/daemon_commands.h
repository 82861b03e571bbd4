// `hyp status` and `hyp stop`: ask a running daemon (ours or the JS one) over its RPC socket.
// Exit codes: 0 success, 1 failure, 2 no daemon answers (or bad arguments).
#pragma once

#include <CLI/CLI.hpp>

namespace hs::cli {

// Adds the `status` and `stop` subcommands to `app`. The selected command runs from the
// callback and stores its exit code in `*exit_code`.
void add_daemon_commands(CLI::App& app, int* exit_code);

}  // namespace hs::cli
