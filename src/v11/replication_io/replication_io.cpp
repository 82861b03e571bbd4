#include "v11/replication_io/replication_io.h"

#include <optional>

#include "common/async/task_group.h"
#include "v11/protomux/protomux.h"
#include "v11/secretstream/secret_stream_io.h"

namespace hs::v11::replication {
namespace {

struct Link {
    SecretStream stream;
    protomux::Mux mux;
    std::optional<PeerId> peer;
    async::Event changed;

    Link(SecretStreamOptions options, asio::any_io_executor executor)
        : stream(options, v11::Clock::now()),
          mux([this](Bytes m) { (void)stream.write(m, v11::Clock::now()); }),
          changed(executor) {}
};

// The pump (run_secret_stream) waits for output; end() and destroy() make none, so tell it
// through the output hook it installed.
void wake_pump(Link& link) {
    if (link.stream.on_output) link.stream.on_output();
}

asio::awaitable<void> ticker(Link& link, Replicator& replicator, ConnectionOptions options,
                             async::Event* stop, const bool* stopping) {
    bool ended = false;
    auto end_at = v11::Clock::time_point::max();
    while (!link.stream.closed()) {
        if (stop) {
            (void)co_await stop->wait_for(options.tick);
        } else {
            (void)co_await link.changed.wait_for(options.tick);
        }
        if (link.stream.closed()) break;
        replicator.tick(Clock::now());
        if (!ended && stopping && *stopping) {
            ended = true;
            link.stream.end();
            wake_pump(link);
            end_at = v11::Clock::now() + std::chrono::seconds(2);
        }
        if (ended && v11::Clock::now() >= end_at) {
            link.stream.destroy(make_error(Errc::Closed, "ended (the peer did not end its side in time)"));
            wake_pump(link);
            break;
        }
    }
}

}  // namespace

asio::awaitable<Error> run_connection(asio::ip::tcp::socket socket, Replicator& replicator,
                                      ConnectionOptions options, async::Event* stop, const bool* stopping) {
    auto executor = socket.get_executor();
    SecretStreamOptions so;
    so.initiator = options.initiator;
    so.static_keys = options.keys;
    so.keep_alive = options.keep_alive;
    Link link(so, executor);
    link.stream.on_message = [&](ByteView m) {
        if (auto st = link.mux.receive(m); !st) link.stream.destroy(st.error());
    };
    link.stream.on_open = [&] {
        if (link.peer) return;
        const auto& hash = link.stream.handshake_hash();
        link.peer = replicator.attach(link.mux, options.initiator, ByteView(hash.data(), hash.size()), options.name);
        if (options.on_attached) options.on_attached(*link.peer);
    };
    link.stream.on_close = [&](const Error&) { link.changed.notify(); };
    link.stream.on_end = [&] { link.stream.end(); };  // the peer ended: so do we
    async::TaskGroup tasks(executor, "replication connection");
    tasks.spawn("tick", ticker(link, replicator, options, stop, stopping));
    Error reason = co_await v11::run_secret_stream({socket, link.stream, nullptr});
    if (link.peer) replicator.detach(*link.peer);
    link.peer.reset();
    link.mux.shutdown();
    link.changed.notify();
    tasks.cancel();
    co_await tasks.join();
    co_return reason;
}

}  // namespace hs::v11::replication
