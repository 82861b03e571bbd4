// Test peer for tests/interop/udx.test.js: one UDX stream (src/v11/udx_io) on its own UDP socket
// on 127.0.0.1 against udx-native. Prints {"event":"listening","port":P}, waits for one line on
// stdin (the JS side has connected its stream to us), then writes --send bytes of the shared
// pattern and ends, reads and checks the other side's bytes until its END, and prints
// {"event":"done", sent, received, ok, fnv, reason}. With --echo-messages every MESSAGE received is
// sent back; with --destroy-after N the stream is destroyed once N bytes arrived.
//   udx_peer --local-id L --remote-id R --remote-port P [--send N] [--echo-messages]
//            [--destroy-after N]
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include <asio/this_coro.hpp>

#include "common/async/task_group.h"
#include "testutil/json_peer.h"
#include "v11/udx_io/socket.h"

namespace {

using namespace hs;
namespace io = hs::v11::udx_io;

// Byte i of every test payload (the JS side computes the same).
std::uint8_t pattern(std::uint64_t i) { return static_cast<std::uint8_t>((i * 31 + (i >> 11)) & 0xff); }

struct Options {
    std::uint32_t local_id = 0;
    std::uint32_t remote_id = 0;
    std::uint16_t remote_port = 0;
    std::uint64_t send = 0;
    bool echo = false;
    std::int64_t destroy_after = -1;
};

asio::awaitable<void> write_all(std::shared_ptr<io::Stream> s, std::uint64_t total, bool* failed) {
    Bytes chunk;
    std::uint64_t done = 0;
    while (done < total) {
        const std::uint64_t n = std::min<std::uint64_t>(64 * 1024, total - done);
        chunk.resize(n);
        for (std::uint64_t i = 0; i < n; ++i) chunk[i] = pattern(done + i);
        const Status st = co_await s->write(chunk);
        if (!st) {
            *failed = true;
            co_return;
        }
        done += n;
    }
    s->end();
}

asio::awaitable<void> echo_messages(std::shared_ptr<io::Stream> s) {
    while (auto m = co_await s->read_message()) s->send_message(*m);
}

asio::awaitable<int> run(Options o) {
    auto ex = co_await asio::this_coro::executor;
    io::Socket sock(ex);
    if (auto st = sock.bind(io::Endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)); !st) {
        testutil::emit({{"event", "error"}, {"message", st.error().message}});
        co_return 1;
    }
    testutil::emit({{"event", "listening"}, {"port", sock.local_endpoint().port()}});
    std::string go;
    std::getline(std::cin, go);  // nothing else runs yet: the JS side connected its stream
    sock.start();
    auto r = sock.connect({o.local_id, o.remote_id},
                          io::Endpoint(asio::ip::make_address_v4("127.0.0.1"), o.remote_port));
    if (!r) {
        testutil::emit({{"event", "error"}, {"message", r.error().message}});
        co_await sock.close();
        co_return 1;
    }
    std::shared_ptr<io::Stream> s = *r;
    async::TaskGroup tasks(ex, "udx_peer");
    bool write_failed = false;
    tasks.spawn("write", write_all(s, o.send, &write_failed));
    if (o.echo) tasks.spawn("echo", echo_messages(s));
    std::uint64_t received = 0;
    std::uint64_t fnv = 0xcbf29ce484222325ull;
    bool ok = true;
    Bytes buf(64 * 1024);
    for (;;) {
        auto n = co_await s->read_some(buf);
        if (!n || *n == 0) break;
        for (std::size_t i = 0; i < *n; ++i) {
            if (buf[i] != pattern(received + i)) ok = false;
            fnv = (fnv ^ buf[i]) * 0x100000001b3ull;
        }
        received += *n;
        if (o.destroy_after >= 0 && received >= static_cast<std::uint64_t>(o.destroy_after)) {
            s->destroy();
            break;
        }
    }
    co_await s->wait_closed();
    co_await tasks.join();
    testutil::emit({{"event", "done"},
                    {"sent", o.send},
                    {"received", received},
                    {"ok", ok && !write_failed},
                    {"fnv", std::to_string(fnv)},
                    {"reason", std::string(v11::udx::to_string(s->close_reason()))},
                    {"retransmits", s->core().stats().retransmits},
                    {"timeouts", s->core().stats().timeouts}});
    co_await sock.close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--local-id") o.local_id = static_cast<std::uint32_t>(std::stoul(next()));
        else if (a == "--remote-id") o.remote_id = static_cast<std::uint32_t>(std::stoul(next()));
        else if (a == "--remote-port") o.remote_port = static_cast<std::uint16_t>(std::stoul(next()));
        else if (a == "--send") o.send = std::stoull(next());
        else if (a == "--echo-messages") o.echo = true;
        else if (a == "--destroy-after") o.destroy_after = std::stoll(next());
        else {
            std::cerr << "udx_peer: unknown argument " << a << '\n';
            return 2;
        }
    }
    return testutil::run_json_peer(run(o));
}
