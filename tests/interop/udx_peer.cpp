// Test peer for tests/interop/udx*.test.js and bench/run-udx.sh: --streams UDX streams
// (src/v11/udx_io) on one UDP socket on 127.0.0.1 against udx-native (or another udx_peer).
// Prints {"event":"listening","port":P}, waits for one line on stdin (the other side has connected
// its streams to us), then on every stream writes --send bytes of the shared pattern and ends,
// reads and checks the other side's bytes until its END, and prints per stream
// {"event":"done", index, sent, received, ok, sha256, reason, retransmits, timeouts}, then
// {"event":"all-done", ms, cpu_ms}. Stream i has local id L+i and remote id R+i.
// With --echo-messages every MESSAGE received is sent back; with --destroy-after N the stream is
// destroyed once N bytes arrived.
//   udx_peer --local-id L --remote-id R --remote-port P [--remote-host H] [--streams N]
//            [--send N] [--echo-messages] [--destroy-after N] [--port P]
#include <sodium.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <asio/this_coro.hpp>

#include "common/async/task_group.h"
#include "common/util/hex.h"
#include "testutil/json_peer.h"
#include "v11/udx_io/socket.h"

namespace {

using namespace hs;
namespace io = hs::v11::udx_io;

// Byte i of every test payload (the JS side computes the same); its period is 512 KiB.
std::uint8_t pattern(std::uint64_t i) { return static_cast<std::uint8_t>((i * 31 + (i >> 11)) & 0xff); }
constexpr std::size_t kPeriod = 2048 * 256;

struct Options {
    std::uint32_t local_id = 0;
    std::uint32_t remote_id = 0;
    std::string remote_host = "127.0.0.1";
    std::uint16_t remote_port = 0;
    std::uint16_t port = 0;
    std::uint32_t streams = 1;
    std::uint64_t send = 0;
    bool echo = false;
    std::int64_t destroy_after = -1;
};

struct Result_ {
    std::uint64_t received = 0;
    bool ok = true;
    bool write_failed = false;
    std::string sha256;
};

double cpu_ms() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

asio::awaitable<void> write_all(std::shared_ptr<io::Stream> s, const Bytes* period, std::uint64_t total,
                                Result_* r) {
    std::uint64_t done = 0;
    while (done < total) {
        const std::size_t off = done % kPeriod;
        const std::uint64_t n = std::min<std::uint64_t>({64 * 1024, total - done, kPeriod});
        const Status st = co_await s->write(ByteView(period->data() + off, n));
        if (!st) {
            r->write_failed = true;
            co_return;
        }
        done += n;
    }
    s->end();
}

asio::awaitable<void> echo_messages(std::shared_ptr<io::Stream> s) {
    while (auto m = co_await s->read_message()) s->send_message(*m);
}

asio::awaitable<void> read_all(std::shared_ptr<io::Stream> s, const Bytes* period, std::int64_t destroy_after,
                               Result_* r) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    Bytes buf(256 * 1024);
    for (;;) {
        auto n = co_await s->read_some(buf);
        if (!n || *n == 0) break;
        const std::size_t off = r->received % kPeriod;
        if (std::memcmp(buf.data(), period->data() + off, *n) != 0) r->ok = false;
        crypto_hash_sha256_update(&h, buf.data(), *n);
        r->received += *n;
        if (destroy_after >= 0 && r->received >= static_cast<std::uint64_t>(destroy_after)) {
            s->destroy();
            break;
        }
    }
    std::uint8_t out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, out);
    r->sha256 = to_hex(ByteView(out, sizeof out));
    co_await s->wait_closed();
}

asio::awaitable<int> run(Options o) {
    auto ex = co_await asio::this_coro::executor;
    // Two periods, so that any read of up to one period is one contiguous slice.
    Bytes period(2 * kPeriod + 256 * 1024);
    for (std::size_t i = 0; i < period.size(); ++i) period[i] = pattern(i);
    io::Socket sock(ex);
    if (auto st = sock.bind(io::Endpoint(asio::ip::make_address_v4("127.0.0.1"), o.port)); !st) {
        testutil::emit({{"event", "error"}, {"message", st.error().message}});
        co_return 1;
    }
    testutil::emit({{"event", "listening"}, {"port", sock.local_endpoint().port()}});
    std::string go;
    std::getline(std::cin, go);  // nothing else runs yet: the other side connected its streams
    const auto started = std::chrono::steady_clock::now();
    const double cpu_started = cpu_ms();
    sock.start();
    const io::Endpoint remote(asio::ip::make_address_v4(o.remote_host), o.remote_port);
    std::vector<std::shared_ptr<io::Stream>> streams;
    for (std::uint32_t i = 0; i < o.streams; ++i) {
        auto r = sock.connect({o.local_id + i, o.remote_id + i}, remote);
        if (!r) {
            testutil::emit({{"event", "error"}, {"message", r.error().message}});
            co_await sock.close();
            co_return 1;
        }
        streams.push_back(*r);
    }
    std::vector<Result_> results(o.streams);
    async::TaskGroup tasks(ex, "udx_peer");
    for (std::uint32_t i = 0; i < o.streams; ++i) {
        tasks.spawn("write", write_all(streams[i], &period, o.send, &results[i]));
        tasks.spawn("read", read_all(streams[i], &period, o.destroy_after, &results[i]));
        if (o.echo) tasks.spawn("echo", echo_messages(streams[i]));
    }
    co_await tasks.join();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    for (std::uint32_t i = 0; i < o.streams; ++i) {
        const Result_& r = results[i];
        const auto& st = streams[i]->core().stats();
        testutil::emit({{"event", "done"},
                        {"index", i},
                        {"sent", o.send},
                        {"received", r.received},
                        {"ok", r.ok && !r.write_failed},
                        {"sha256", r.sha256},
                        {"reason", std::string(v11::udx::to_string(streams[i]->close_reason()))},
                        {"retransmits", st.retransmits},
                        {"timeouts", st.timeouts},
                        {"fast_losses", st.fast_losses},
                        {"tail_probes", st.tail_probes},
                        {"final_acks", st.final_acks},
                        {"duplicate_data", st.duplicate_data},
                        {"dropped_data", st.dropped_data},
                        {"packets_sent", st.packets_sent}});
    }
    testutil::emit({{"event", "all-done"}, {"ms", ms}, {"cpu_ms", cpu_ms() - cpu_started},
                    {"socket_dropped", sock.dropped()}});
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
        else if (a == "--remote-host") o.remote_host = next();
        else if (a == "--port") o.port = static_cast<std::uint16_t>(std::stoul(next()));
        else if (a == "--streams") o.streams = static_cast<std::uint32_t>(std::stoul(next()));
        else if (a == "--send") o.send = std::stoull(next());
        else if (a == "--echo-messages") o.echo = true;
        else if (a == "--destroy-after") o.destroy_after = std::stoll(next());
        else {
            std::cerr << "udx_peer: unknown argument " << a << '\n';
            return 2;
        }
    }
    if (sodium_init() < 0) return 1;
    if (o.streams == 0) o.streams = 1;
    return testutil::run_json_peer(run(o));
}
