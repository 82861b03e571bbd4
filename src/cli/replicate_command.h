// `hyp replicate`: replicate one core with one peer over TCP, without the DHT.
#pragma once

#include <CLI/CLI.hpp>

namespace hs::cli {

void add_replicate_command(CLI::App& app, int* exit_code);

}  // namespace hs::cli
