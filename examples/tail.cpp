// Tails a core live: prints every block from --start on, as it arrives from the network, one per
// line (like `tail -f`).
//
//     tail [--host NAME | --port PORT] [--start N] [--count N] KEY
//
// With --count, exits after printing that many blocks; otherwise runs until interrupted.
#include <hyperspace/client.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

int main(int argc, char** argv) {
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    std::uint64_t start = 0;
    std::optional<std::uint64_t> count;
    std::string key_text;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--host" && i + 1 < argc) host = argv[++i];
        else if (a == "--port" && i + 1 < argc) port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        else if (a == "--start" && i + 1 < argc) start = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--count" && i + 1 < argc) count = std::strtoull(argv[++i], nullptr, 10);
        else key_text = a;
    }
    if (key_text.empty()) {
        std::cerr << "usage: tail [--host NAME | --port PORT] [--start N] [--count N] KEY\n";
        return 2;
    }
    try {
        hyperspace::Client client(hyperspace::Endpoint::from_options(host, port));
        auto core = client.corestore().get(hyperspace::parse_key(key_text));
        client.replicate(core);  // announce and look up the core on the swarm
        std::cerr << "tailing " << key_text << " from block " << start << std::endl;
        std::uint64_t next = start, printed = 0;
        for (;;) {
            while (next < core.length()) {
                // The block may still be on its way from a peer: wait for it.
                const auto block = core.get(next, {.if_available = false});
                std::cout.write(reinterpret_cast<const char*>(block.data()),
                                static_cast<std::streamsize>(block.size()));
                std::cout << std::endl;
                ++next;
                if (count && ++printed == *count) return 0;
            }
            // Wait until a peer has a longer core (only its proof is fetched; get() fetches the
            // block).
            core.update({.min_length = next + 1, .if_available = false});
        }
    } catch (const hyperspace::Error& e) {
        std::cerr << "tail: " << e.what() << "\n";
        return 1;
    }
}
