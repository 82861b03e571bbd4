// `hyp storage ...`: offline commands on a storage folder (ls, cat, append, verify, rm).
#pragma once

#include <CLI/CLI.hpp>

namespace hs::cli {

// Adds the `storage` subcommand tree to `app`. After parsing, the selected command runs from
// the callback and stores its exit code in `*exit_code`.
void add_storage_commands(CLI::App& app, int* exit_code);

}  // namespace hs::cli
