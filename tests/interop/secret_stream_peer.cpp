// Our secret-stream end for tests/interop/secret_stream.test.js: one TCP connection, our
// v11::SecretStream over it (src/v11/secretstream), JSON lines on stdout:
//   {"event":"listening","port":P}                       (--listen)
//   {"event":"open","publicKey":HEX,"remotePublicKey":HEX}
//   {"event":"sent","index":i,"size":n,"sha256":HEX}      each message we sent
//   {"event":"message","index":i,"size":n,"sha256":HEX}   each message we received
//   {"event":"end"}                                       the peer half-closed
//   {"event":"closed","code":"...","message":"..."}       the pump returned (code "closed" + "ended":
//                                                          both sides ended cleanly)
// Usage: secret_stream_peer (--listen HOST:PORT | --connect HOST:PORT) [--seed N]
//        [--send SIZE,SIZE,...] [--repeat SIZE:COUNT] [--end]
// Message i has pseudo-random content from a fixed seed and its index.
#include <sodium.h>

#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "testutil/json_peer.h"
#include "testutil/tcp_peer.h"
#include "common/util/hex.h"
#include "common/util/host_port.h"
#include "v11/secretstream/secret_stream_io.h"

namespace {

using namespace hs;
using asio::ip::tcp;

struct Args {
    std::string listen, connect;
    std::uint8_t seed = 1;
    std::vector<std::size_t> sizes;
    bool end = false;
};

std::string sha256_hex(ByteView data) {
    std::uint8_t out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(out, data.data(), data.size());
    return to_hex(ByteView(out, sizeof out));
}

Bytes message_content(std::size_t index, std::size_t size) {
    Bytes out(size);
    std::mt19937 rng(static_cast<std::uint32_t>(index * 7919 + size));
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

asio::awaitable<void> send_all(v11::SecretStream& stream, async::Event& writable, const Args& args) {
    while (!stream.handshake_done() && !stream.closed()) co_await writable.wait();
    for (std::size_t i = 0; i < args.sizes.size() && !stream.closed(); ++i) {
        while (stream.output_over_limit() && !stream.closed()) co_await writable.wait();
        const Bytes m = message_content(i, args.sizes[i]);
        if (auto st = stream.write(m, v11::Clock::now()); !st) {
            testutil::emit({{"event", "write-failed"}, {"message", st.error().message}});
            co_return;
        }
        testutil::emit({{"event", "sent"}, {"index", i}, {"size", m.size()}, {"sha256", sha256_hex(m)}});
    }
    if (args.end) stream.end();
}

asio::awaitable<int> run(Args args) {
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket = co_await testutil::listen_or_connect(args.listen, args.connect);
    v11::SecretStreamOptions options;
    options.initiator = args.listen.empty();
    options.static_keys = crypto::keypair_from_seed(Bytes(32, args.seed));
    options.deliver_empty_messages = true;
    v11::SecretStream stream(options, v11::Clock::now());
    async::Event writable(executor);
    std::size_t received = 0;
    bool announced = false;
    auto announce_open = [&] {
        if (announced || !stream.handshake_done()) return;
        announced = true;
        testutil::emit({{"event", "open"},
                        {"publicKey", to_hex(stream.local_public_key())},
                        {"remotePublicKey", to_hex(*stream.remote_public_key())}});
        writable.notify();
    };
    stream.on_output = announce_open;  // the setup message goes out when the handshake is done
    stream.on_message = [&](ByteView m) {
        testutil::emit({{"event", "message"}, {"index", received++}, {"size", m.size()},
                        {"sha256", sha256_hex(m)}});
    };
    stream.on_end = [] { testutil::emit({{"event", "end"}}); };
    async::TaskGroup tasks(executor, "secret-stream peer");
    tasks.spawn("send", send_all(stream, writable, args));
    const Error reason = co_await v11::run_secret_stream({socket, stream, &writable});
    writable.notify();
    tasks.cancel();
    co_await tasks.join();
    testutil::emit({{"event", "closed"}, {"code", std::string(errc_name(reason.code))},
                    {"message", reason.message}});
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--listen") args.listen = value();
        else if (a == "--connect") args.connect = value();
        else if (a == "--seed") args.seed = static_cast<std::uint8_t>(std::stoi(value()));
        else if (a == "--send") {
            std::stringstream list(value());
            for (std::string n; std::getline(list, n, ',');) args.sizes.push_back(std::stoull(n));
        } else if (a == "--repeat") {
            const std::string spec = value();
            const auto colon = spec.find(':');
            const std::size_t size = std::stoull(spec.substr(0, colon));
            const std::size_t count = std::stoull(spec.substr(colon + 1));
            for (std::size_t k = 0; k < count; ++k) args.sizes.push_back(size);
        } else if (a == "--end") args.end = true;
    }
    if (sodium_init() < 0) return 1;
    return hs::testutil::run_json_peer(run(std::move(args)));
}
