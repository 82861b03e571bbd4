// `hyp dht`: run one persistent DHT node (dht-rpc 4 / @hyperswarm/dht 4), e.g. as a bootstrap
// node for a private network, until SIGINT or SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace hs::cli {

void add_dht_command(CLI::App& app, int* exit_code);

}  // namespace hs::cli
