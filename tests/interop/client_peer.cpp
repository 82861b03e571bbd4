// A C++ client program for tests/interop/client.test.js's extension test: opens a core by key on
// a daemon, registers a core extension NAME and a network extension NAME-net, replicates, then
//   stdin "core TEXT" / "net TEXT"  -> broadcasts TEXT on that extension
//   received messages              -> stdout "core <from key hex> TEXT" / "net <from> TEXT"
// and prints "ready" once set up. Exits when stdin closes.
#include <hyperspace/client.h>

#include <iostream>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: client_peer HOST KEY NAME\n";
        return 2;
    }
    std::mutex out;
    auto print = [&](const std::string& kind, const std::vector<std::uint8_t>& m,
                     const hyperspace::Peer& from) {
        std::lock_guard lock(out);
        std::cout << kind << " " << hyperspace::to_hex(from.remote_public_key) << " "
                  << std::string(m.begin(), m.end()) << std::endl;
    };
    try {
        hyperspace::Client client(hyperspace::Endpoint::unix_socket(argv[1]));
        auto core = client.corestore().get(hyperspace::parse_key(argv[2]));
        const std::string name = argv[3];
        auto ext = core.register_extension(name, [&](const auto& m, const auto& from) { print("core", m, from); });
        auto net = client.network().register_extension(
            name + "-net", [&](const auto& m, const auto& from) { print("net", m, from); });
        client.network().configure(core, {.announce = true, .lookup = true, .flush = true});
        {
            std::lock_guard lock(out);
            std::cout << "ready " << hyperspace::to_hex(client.network().public_key()) << std::endl;
        }
        for (std::string line; std::getline(std::cin, line);) {
            const auto space = line.find(' ');
            const std::string kind = line.substr(0, space);
            const std::string text = space == std::string::npos ? "" : line.substr(space + 1);
            if (kind == "core") ext.broadcast(text);
            else if (kind == "net") net.broadcast(text);
            else if (kind == "peers") {
                std::lock_guard lock(out);
                std::cout << "peers " << core.peers().size() << std::endl;
            }
        }
        ext.destroy();
        net.destroy();
    } catch (const hyperspace::Error& e) {
        std::cerr << "client_peer: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
