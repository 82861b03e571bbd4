// Interop driver for our Mdns (src/v9/swarm/mdns.h): joins one topic and prints JSON lines on stdout.
//
//   mdns_peer --topic HEX64 [--announce] [--lookup] [--port TCP_PORT] [--interface IPV4]
//             [--mdns-port N] [--requery-ms N]
//
// Lines: {"event":"ready","id":HEX,"domain":NAME} once listening, then
// {"event":"peer","topic":HEX,"host":IP,"port":N} per reported peer, {"event":"error",...} on
// failure. Commands on stdin, one per line: "leave" (leave the topic), "join" (join it again with
// the same flags). EOF on stdin, SIGINT or SIGTERM close it and exit 0.
//
// Network: meant to run inside a loopback-only namespace with a multicast route on lo (see
// tests/interop/mdns.test.js); it sends multicast on the interface given by --interface.
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read_until.hpp>
#include <asio/signal_set.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "v9/swarm/mdns.h"
#include "testutil/json_peer.h"
#include "common/util/hex.h"

namespace {

using nlohmann::json;
using namespace hs;

using testutil::emit;

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "mdns_peer: " << why
              << "\nusage: mdns_peer --topic HEX64 [--announce] [--lookup] [--port N] "
                 "[--interface IPV4] [--mdns-port N] [--requery-ms N]\n";
    std::exit(2);
}

struct Args {
    std::array<std::uint8_t, 32> topic{};
    bool announce = false;
    bool lookup = false;
    std::uint16_t port = 0;
    std::string interface_address = "127.0.0.1";
    std::uint16_t mdns_port = 5353;
    std::optional<int> requery_ms;
};

Args parse(int argc, char** argv) {
    Args a;
    bool have_topic = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--topic") {
            const auto t = from_hex(value());
            if (!t || t->size() != 32) usage("--topic must be 64 hex digits");
            std::copy(t->begin(), t->end(), a.topic.begin());
            have_topic = true;
        } else if (arg == "--announce") {
            a.announce = true;
        } else if (arg == "--lookup") {
            a.lookup = true;
        } else if (arg == "--port") {
            a.port = static_cast<std::uint16_t>(std::stoi(value()));
        } else if (arg == "--interface") {
            a.interface_address = value();
        } else if (arg == "--mdns-port") {
            a.mdns_port = static_cast<std::uint16_t>(std::stoi(value()));
        } else if (arg == "--requery-ms") {
            a.requery_ms = std::stoi(value());
        } else {
            usage("unknown argument " + arg);
        }
    }
    if (!have_topic) usage("--topic is required");
    if (!a.announce && !a.lookup) usage("give --announce, --lookup or both");
    return a;
}

asio::awaitable<int> run(const Args& args) {
    auto executor = co_await asio::this_coro::executor;
    swarm::MdnsOptions options;
    options.interface_address = asio::ip::make_address_v4(args.interface_address);
    options.port = args.mdns_port;
    if (args.requery_ms) {
        options.requery_min = std::chrono::milliseconds(*args.requery_ms);
        options.requery_max = std::chrono::milliseconds(*args.requery_ms);
    }
    swarm::Mdns mdns(
        executor, options,
        [](const std::array<std::uint8_t, 32>& topic, const asio::ip::tcp::endpoint& p) {
            emit({{"event", "peer"},
                  {"topic", to_hex(topic)},
                  {"host", p.address().to_string()},
                  {"port", p.port()}});
        });
    if (auto s = mdns.start(); !s) {
        emit({{"event", "error"}, {"message", s.error().message}});
        co_return 1;
    }
    mdns.join(args.topic, args.announce, args.lookup, args.port);
    emit({{"event", "ready"},
          {"id", to_hex(mdns.id())},
          {"domain", swarm::mdns_domain(args.topic)}});

    // Commands until EOF on stdin or a signal.
    asio::posix::stream_descriptor input(executor, ::dup(STDIN_FILENO));
    asio::signal_set signals(executor, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec) input.cancel();  // ends the read below
    });
    asio::streambuf buffer(4096);
    constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);
    for (;;) {
        auto [ec, n] = co_await asio::async_read_until(input, buffer, '\n', kAwait);
        if (ec) break;
        std::string line(asio::buffers_begin(buffer.data()),
                         asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n) - 1);
        buffer.consume(n);
        if (line == "leave") {
            mdns.leave(args.topic);
            emit({{"event", "left"}});
        } else if (line == "join") {
            mdns.join(args.topic, args.announce, args.lookup, args.port);
            emit({{"event", "joined"}});
        }
    }
    signals.cancel();
    co_await mdns.close();
    emit({{"event", "closed"}});
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    return testutil::run_json_peer(run(args));
}
