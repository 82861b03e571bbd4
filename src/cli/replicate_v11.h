// `hyp replicate --generation 11`: replicate one second-generation core (hypercore 10/11) with
// peers over TCP (secret-stream + protomux + hypercore/alpha), without the DHT. Same contract
// as the first generation's `hyp replicate` (src/cli/replicate_command.cpp): exit 0 when done or
// interrupted, 1 on failure, 2 on bad arguments; --json prints {key, length, downloaded,
// uploaded, peer}. Storage: the v11 corestore under the storage folder (created if missing).
#pragma once

#include "cli/replicate_common.h"

namespace hs::cli {

int run_replicate_v11(const ReplicateArgs& args);

}  // namespace hs::cli
