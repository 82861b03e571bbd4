// The seed walkthrough in C++: create a core, append to it, and seed it on the network, with the
// daemon (ours or the JS hyperspace) doing the storage and the networking.
//
//     seed [--host NAME | --port PORT] [--name CORE] BLOCK...
//
// Prints the core's key (64 hex digits) and its length, then keeps seeding until stdin closes
// or the process gets SIGINT/SIGTERM. Read it elsewhere with `tail KEY`.
#include <hyperspace/client.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    std::string name = "seed-example";
    std::vector<std::string> blocks;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--host" && i + 1 < argc) host = argv[++i];
        else if (a == "--port" && i + 1 < argc) port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        else if (a == "--name" && i + 1 < argc) name = argv[++i];
        else blocks.push_back(a);
    }
    try {
        hyperspace::Client client(hyperspace::Endpoint::from_options(host, port));
        auto core = client.corestore().get({.name = name});
        if (!blocks.empty()) core.append(blocks);
        // Announce the core and look for peers that have it; `flush` waits for the first round.
        client.network().configure(core, {.announce = true, .lookup = true, .flush = true});
        std::cout << hyperspace::to_hex(core.key()) << " " << core.length() << std::endl;
        // Seed until told to stop.
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty()) std::cout << "appended " << core.append(line) << std::endl;
        }
    } catch (const hyperspace::Error& e) {
        std::cerr << "seed: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
