// What the test peers of tests/interop (stream_peer.cpp, mdns_peer.cpp) share: they report to the
// JS test as one JSON object per stdout line, and their main() runs one coroutine to its end.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>

namespace hs::testutil {

// Prints j as one line on stdout, flushed at once (the JS side reads line by line).
inline void emit(const nlohmann::json& j) { std::cout << j.dump() << '\n' << std::flush; }

// Runs peer on a new io_context until nothing is left to run; returns the exit status it
// returned, or 1 after printing {"event": "error", "message": ...} when it threw.
inline int run_json_peer(asio::awaitable<int> peer) {
    asio::io_context io;
    int status = 1;
    asio::co_spawn(io, std::move(peer), [&](std::exception_ptr e, int result) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                emit({{"event", "error"}, {"message", ex.what()}});
            }
            status = 1;
            return;
        }
        status = result;
    });
    io.run();
    return status;
}

}  // namespace hs::testutil
