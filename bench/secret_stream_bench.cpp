// secret-stream throughput, our side (bench/README.md "secret-stream"): `--mode tcp` sends
// --total bytes in --size messages from one v11::SecretStream to another over a loopback TCP
// connection (two threads, one io_context each) and reports MB/s and the process CPU per MB
// (both ends); `--mode floor` measures what one core's XChaCha20-Poly1305 secretstream push +
// pull of the same messages costs, with no framing, sockets or copies (the hardware limit for
// one connection, since each end encrypts or decrypts every byte once). One JSON line on stdout;
// bench/secret_stream_bench.js runs it next to the JS stack.
#include <sodium.h>
#include <sys/resource.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "v11/secretstream/secret_stream_io.h"

namespace {

using namespace hs;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

v11::SecretStreamOptions options(bool initiator) {
    v11::SecretStreamOptions o;
    o.initiator = initiator;
    o.static_keys = crypto::keypair_from_seed(Bytes(32, initiator ? 1 : 2));
    return o;
}

asio::awaitable<void> sender(tcp::socket socket, std::size_t size, std::size_t total) {
    v11::SecretStream stream(options(true), v11::Clock::now());
    async::Event writable(co_await asio::this_coro::executor);
    async::TaskGroup tasks(co_await asio::this_coro::executor, "bench sender");
    struct Send {
        static asio::awaitable<void> run(v11::SecretStream& s, async::Event& w, std::size_t size,
                                         std::size_t total) {
            const Bytes message(size, 0x5a);
            for (std::size_t sent = 0; sent < total && !s.closed(); sent += size) {
                while (s.output_over_limit(1u << 20) && !s.closed()) co_await w.wait();
                (void)s.write(message, v11::Clock::now());
            }
            s.end();
            w.notify();
        }
    };
    tasks.spawn("send", Send::run(stream, writable, size, total));
    (void)co_await v11::run_secret_stream({socket, stream, &writable});
    writable.notify();
    tasks.cancel();
    co_await tasks.join();
}

asio::awaitable<void> receiver(tcp::acceptor& acceptor, std::size_t& received) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    v11::SecretStream stream(options(false), v11::Clock::now());
    stream.on_message = [&](ByteView m) { received += m.size(); };
    stream.on_end = [&] { stream.end(); };
    (void)co_await v11::run_secret_stream({socket, stream, nullptr});
}

nlohmann::json run_tcp(std::size_t size, std::size_t total) {
    asio::io_context recv_io;
    tcp::acceptor acceptor(recv_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    std::size_t received = 0;
    async::TaskGroup recv_tasks(recv_io.get_executor(), "bench");
    recv_tasks.spawn("recv", receiver(acceptor, received));
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    std::thread recv_thread([&] { recv_io.run(); });
    asio::io_context send_io;
    tcp::socket socket(send_io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    async::TaskGroup send_tasks(send_io.get_executor(), "bench");
    send_tasks.spawn("send", sender(std::move(socket), size, total));
    send_io.run();
    recv_thread.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const double mb = static_cast<double>(received) / 1e6;
    return {{"mode", "tcp"}, {"size", size}, {"bytes", received}, {"ok", received == (total + size - 1) / size * size},
            {"seconds", secs}, {"mb_per_s", mb / secs}, {"cpu_ms_per_mb", 1000.0 * cpu / mb}};
}

nlohmann::json run_floor(std::size_t size, std::size_t total) {
    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_keygen(key);
    crypto_secretstream_xchacha20poly1305_state push, pull;
    crypto_secretstream_xchacha20poly1305_init_push(&push, header, key);
    crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key);
    const Bytes message(size, 0x5a);
    Bytes cipher(size + crypto_secretstream_xchacha20poly1305_ABYTES), plain(size);
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    std::size_t done = 0;
    bool ok = true;
    for (; done + size <= total; done += size) {
        crypto_secretstream_xchacha20poly1305_push(&push, cipher.data(), nullptr, message.data(), size,
                                                   nullptr, 0, 0);
        unsigned char tag;
        ok &= crypto_secretstream_xchacha20poly1305_pull(&pull, plain.data(), nullptr, &tag,
                                                         cipher.data(), cipher.size(), nullptr, 0) == 0;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const double mb = static_cast<double>(done) / 1e6;
    return {{"mode", "floor"}, {"size", size}, {"bytes", done}, {"ok", ok}, {"seconds", secs},
            {"mb_per_s", mb / secs}, {"cpu_ms_per_mb", 1000.0 * cpu / mb}};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"secret-stream throughput of our implementation (bench/README.md)"};
    std::string mode = "tcp";
    std::size_t size = 65536, total = 256u << 20;
    app.add_option("--mode", mode, "tcp (two of our streams over loopback) or floor (crypto only)")
        ->check(CLI::IsMember({"tcp", "floor"}));
    app.add_option("--size", size, "Message size in bytes")->check(CLI::Range(1, 16 << 20));
    app.add_option("--total", total, "Bytes to send");
    CLI11_PARSE(app, argc, argv);
    if (sodium_init() < 0) return 1;
    std::cout << (mode == "tcp" ? run_tcp(size, total) : run_floor(size, total)).dump() << std::endl;
    return 0;
}
