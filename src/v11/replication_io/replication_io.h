// One replication connection over TCP: our secret-stream (Noise XX, then the encrypted
// messages) carries a protomux, and the Replicator attaches a hypercore/alpha channel to it once
// the stream is open. The thin Asio edge of the sans-IO replicator: it feeds bytes, ticks the
// replicator's clock, and detaches before the mux goes away. Runs on the socket's executor; not
// thread-safe (the replicator must only be driven from that executor).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "common/async/event.h"
#include "common/crypto/sign.h"
#include "common/util/error.h"
#include "v11/replication/replicator.h"

namespace hs::v11::replication {

struct ConnectionOptions {
    bool initiator = false;
    crypto::KeyPair keys;   // our secret-stream identity
    std::string name;       // the peer's name in reports (e.g. its address)
    std::chrono::milliseconds tick{250};
    std::chrono::milliseconds keep_alive{5000};  // as JS hypercore sets on its streams
    // Called once the channel is attached (the stream opened); the id names the peer in the
    // replicator until the connection ends.
    std::function<void(PeerId)> on_attached;
};

// Runs until the stream closes or ends both ways (the reason is returned; Errc::Closed "ended"
// for a clean end) or `stop` is notified (then we end our side and wait for the peer's end for
// at most two seconds). The socket is closed on return and the peer detached.
asio::awaitable<Error> run_connection(asio::ip::tcp::socket socket, Replicator& replicator,
                                      ConnectionOptions options, async::Event* stop = nullptr,
                                      const bool* stopping = nullptr);

}  // namespace hs::v11::replication
