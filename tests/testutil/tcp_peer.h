// The TCP end of the interop test peers (tests/interop/*_peer.cpp): listen on HOST:PORT and take
// one connection, announcing {"event":"listening","port":P} first, or connect to HOST:PORT.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <stdexcept>
#include <string>

#include "testutil/json_peer.h"
#include "common/util/host_port.h"

namespace hs::testutil {

inline asio::awaitable<asio::ip::tcp::socket> listen_or_connect(const std::string& listen,
                                                                const std::string& connect) {
    using asio::ip::tcp;
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket(executor);
    auto hp = parse_host_port(listen.empty() ? connect : listen);
    if (!hp) throw std::runtime_error(hp.error().message);
    const tcp::endpoint where(asio::ip::make_address(hp->host), hp->port);
    if (!listen.empty()) {
        tcp::acceptor acceptor(executor, where);
        emit({{"event", "listening"}, {"port", acceptor.local_endpoint().port()}});
        socket = co_await acceptor.async_accept(asio::use_awaitable);
    } else {
        co_await socket.async_connect(where, asio::use_awaitable);
    }
    co_return socket;
}

}  // namespace hs::testutil
