// The Asio pump of a v11::SecretStream over a connected TCP socket (the sans-IO stream's thin
// edge, as protocol/stream_io is for the first generation). Runs on the socket's executor; not
// thread-safe.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "common/async/event.h"
#include "v11/secretstream/secret_stream.h"

namespace hs::v11 {

template <class Socket>
struct BasicSecretStreamIo {
    Socket& socket;
    SecretStream& stream;
    // Notified whenever output drains below the stream's limit, or the stream closes or ends
    // (writers that respect back-pressure wait on it). Optional.
    async::Event* writable = nullptr;
};
using SecretStreamIo = BasicSecretStreamIo<asio::ip::tcp::socket>;

// Pumps until the stream closes (its reason is returned) or both directions have ended (the
// peer's end arrived and our end() was written and the socket's send side shut down: returns
// Errc::Closed "ended"). Reads feed receive() (a transport end-of-file calls receive_end());
// pending output is written; tick() runs at the times it asks for. A socket error closes the
// stream with Errc::Io. The socket is closed on return.
asio::awaitable<Error> run_secret_stream(SecretStreamIo io);
// The same over another duplex with the TCP socket's interface: secret_stream_pump.h.
template <class Socket>
asio::awaitable<Error> run_secret_stream_on(BasicSecretStreamIo<Socket> io);

}  // namespace hs::v11
