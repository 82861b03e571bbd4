// `hyp replicate --generation 11`: replicate one second-generation core (hypercore 10/11) with
// peers over TCP (secret-stream + protomux + hypercore/alpha), without the DHT. Same contract
// as the first generation's `hyp replicate` (src/cli/replicate_command.cpp): exit 0 when done or
// interrupted, 1 on failure, 2 on bad arguments; --json prints {key, length, downloaded,
// uploaded, peer}. Storage: the v11 corestore under the storage folder (created if missing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

struct ReplicateV11Args {
    std::string storage;
    std::string key;
    std::string listen;
    std::string connect;
    std::string bind;
    bool live = false;
    bool json = false;
    std::vector<std::string> extensions;       // names to register
    std::vector<std::string> send_extensions;  // NAME=TEXT, sent to each peer on open
    std::optional<std::uint64_t> start, end;
};

int run_replicate_v11(const ReplicateV11Args& args);

}  // namespace hs::cli
