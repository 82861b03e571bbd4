// Our secret-stream over our UDX for tests/interop/udx_secret_stream.test.js: one UDX stream
// (src/v11/udx_io) as a duplex (udx_io/duplex.h) under the unchanged secret-stream pump
// (v11/secretstream/secret_stream_pump.h), against JS @hyperswarm/secret-stream over udx-native.
// JSON lines on stdout:
//   {"event":"listening","port":P}   then waits for one line on stdin (the JS stream connected)
//   {"event":"open","publicKey":HEX,"remotePublicKey":HEX}
//   {"event":"message","index":i,"size":n,"sha256":HEX}   each message received
//   {"event":"end"}                                       the peer half-closed
//   {"event":"closed","code":"...","message":"...","udx":"..."}  the pump returned
// Usage: udx_secret_stream_peer --local-id L --remote-id R --remote-port P [--initiator]
//        [--seed N] [--repeat SIZE:COUNT] [--end]
// Message i of size n is n bytes of (i * 7 + k) & 0xff (the JS side checks the same).
#include <sodium.h>

#include <iostream>
#include <string>
#include <vector>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/util/hex.h"
#include "testutil/json_peer.h"
#include "v11/secretstream/secret_stream_pump.h"
#include "v11/udx_io/duplex.h"

namespace {

using namespace hs;
namespace io = hs::v11::udx_io;

struct Args {
    std::uint32_t local_id = 0, remote_id = 0;
    std::uint16_t remote_port = 0;
    bool initiator = false;
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
    for (std::size_t k = 0; k < size; ++k) out[k] = static_cast<std::uint8_t>((index * 7 + k) & 0xff);
    return out;
}

asio::awaitable<void> send_all(v11::SecretStream& stream, async::Event& writable, const Args& args) {
    while (!stream.handshake_done() && !stream.closed()) co_await writable.wait();
    for (std::size_t i = 0; i < args.sizes.size() && !stream.closed(); ++i) {
        while (stream.output_over_limit() && !stream.closed()) co_await writable.wait();
        if (auto st = stream.write(message_content(i, args.sizes[i]), v11::Clock::now()); !st) {
            testutil::emit({{"event", "write-failed"}, {"message", st.error().message}});
            co_return;
        }
    }
    if (args.end) stream.end();
}

asio::awaitable<int> run(Args args) {
    auto ex = co_await asio::this_coro::executor;
    io::Socket sock(ex);
    if (auto st = sock.bind(io::Endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)); !st) {
        testutil::emit({{"event", "error"}, {"message", st.error().message}});
        co_return 1;
    }
    testutil::emit({{"event", "listening"}, {"port", sock.local_endpoint().port()}});
    std::string go;
    std::getline(std::cin, go);
    sock.start();
    auto r = sock.connect({args.local_id, args.remote_id},
                          io::Endpoint(asio::ip::make_address_v4("127.0.0.1"), args.remote_port));
    if (!r) {
        testutil::emit({{"event", "error"}, {"message", r.error().message}});
        co_await sock.close();
        co_return 1;
    }
    std::shared_ptr<io::Stream> udx_stream = *r;
    io::Duplex duplex(ex, udx_stream);
    v11::SecretStreamOptions options;
    options.initiator = args.initiator;
    options.static_keys = crypto::keypair_from_seed(Bytes(32, args.seed));
    v11::SecretStream stream(options, v11::Clock::now());
    async::Event writable(ex);
    std::size_t received = 0;
    bool announced = false;
    stream.on_output = [&] {
        if (announced || !stream.handshake_done()) return;
        announced = true;
        testutil::emit({{"event", "open"},
                        {"publicKey", to_hex(stream.local_public_key())},
                        {"remotePublicKey", to_hex(*stream.remote_public_key())}});
        writable.notify();
    };
    stream.on_message = [&](ByteView m) {
        testutil::emit({{"event", "message"}, {"index", received++}, {"size", m.size()}, {"sha256", sha256_hex(m)}});
    };
    stream.on_end = [] { testutil::emit({{"event", "end"}}); };
    async::TaskGroup tasks(ex, "udx secret-stream peer");
    tasks.spawn("send", send_all(stream, writable, args));
    const Error reason = co_await v11::run_secret_stream_on<io::Duplex>({duplex, stream, &writable});
    writable.notify();
    tasks.cancel();
    co_await tasks.join();
    co_await udx_stream->wait_closed();
    testutil::emit({{"event", "closed"},
                    {"code", std::string(errc_name(reason.code))},
                    {"message", reason.message},
                    {"udx", std::string(v11::udx::to_string(udx_stream->close_reason()))}});
    co_await sock.close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--local-id") args.local_id = static_cast<std::uint32_t>(std::stoul(value()));
        else if (a == "--remote-id") args.remote_id = static_cast<std::uint32_t>(std::stoul(value()));
        else if (a == "--remote-port") args.remote_port = static_cast<std::uint16_t>(std::stoul(value()));
        else if (a == "--initiator") args.initiator = true;
        else if (a == "--seed") args.seed = static_cast<std::uint8_t>(std::stoi(value()));
        else if (a == "--repeat") {
            const std::string spec = value();
            const auto colon = spec.find(':');
            const std::size_t size = std::stoull(spec.substr(0, colon));
            const std::size_t count = std::stoull(spec.substr(colon + 1));
            for (std::size_t k = 0; k < count; ++k) args.sizes.push_back(size);
        } else if (a == "--end") args.end = true;
        else {
            std::cerr << "udx_secret_stream_peer: unknown argument " << a << '\n';
            return 2;
        }
    }
    if (sodium_init() < 0) return 1;
    return hs::testutil::run_json_peer(run(std::move(args)));
}
