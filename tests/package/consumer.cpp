// A client program built out of the tree against the installed libhyperspace-client
// (tests/package/install_test.sh). It uses the library's free functions, catches an Error thrown
// inside the shared library (so its type information is shared across the boundary), and
// connects to the socket name given as argv[1], where no daemon runs: it prints the client's
// error and exits 1, or exits 3 when anything else happens.
#include <hyperspace/client.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: consumer SOCKET_NAME\n";
        return 2;
    }
    const std::string hex(64, 'a');
    if (hyperspace::to_hex(hyperspace::parse_key("hyper://" + hex)) != hex) {
        std::cerr << "consumer: parse_key/to_hex do not round-trip\n";
        return 3;
    }
    try {
        hyperspace::parse_key("not a key");
        std::cerr << "consumer: parse_key accepted a bad key\n";
        return 3;
    } catch (const hyperspace::Error&) {
    }
    try {
        hyperspace::Client client(hyperspace::Endpoint::unix_socket(argv[1]));
        std::cerr << "consumer: a daemon answered at " << argv[1] << "\n";
        return 3;
    } catch (const hyperspace::Error& e) {
        std::cout << "consumer: " << e.what() << "\n";
        return 1;
    }
}
