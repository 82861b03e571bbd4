// What both generations' `hyp replicate` share: the arguments and the listening socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

#include "common/util/error.h"

namespace hs::cli {

struct ReplicateArgs {
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
    int generation = 9;
};

// Listens on --listen HOST:PORT (an IP address; port 0 picks one) and prints "listening IP:PORT"
// to stderr, the line tests and scripts wait for.
Result<asio::ip::tcp::acceptor> open_listener(const asio::any_io_executor& executor, const std::string& listen);

}  // namespace hs::cli
