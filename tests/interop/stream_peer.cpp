// A minimal replication peer for tests/interop/stream.test.js: one TCP connection, one Stream
// (Noise handshake, transport cipher, frames, channels) and at most one channel, and a JSON line on
// stdout for everything that happens. No replication logic: it proves the stream layer against the
// JS stack in both roles.
//
//   stream_peer (--connect HOST:PORT [--bind ADDR] | --listen HOST:PORT) [--key HEX] [--want]
//               [--request INDEX] [--quit-after have|data] [--timeout-ms N]
//               [--max-output BYTES] [--initiator | --responder]
//
// --key opens a channel for that core key right away (before the handshake: the Open is held and
// sent right after it). Once the remote opened the channel, --want sends Want{0, 1048576} and
// --request sends Request{INDEX}. --quit-after closes the channel and the connection once a Have
// of length 1048576 (the answer to the Want) or a Data (the answer to the Request) arrives.
// --max-output sets the stream's write high-water mark (0: stop reading whenever anything is
// unwritten, to exercise run_stream's read pausing). The role defaults to initiator when connecting
// and responder when listening. Exit status: 0 once the stream has closed (whatever the reason,
// which is printed), 2 for bad arguments or a failed connect/accept.
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/derive.h"
#include "v9/protocol/stream_io.h"
#include "testutil/json_peer.h"
#include "common/util/hex.h"

namespace {

using namespace hs;
using namespace hs::protocol;
using nlohmann::json;

struct Args {
    std::optional<HostPort> connect;
    std::optional<HostPort> listen;
    std::optional<asio::ip::address> bind;
    std::optional<crypto::PublicKey> key;
    bool want = false;
    std::optional<std::uint64_t> request;
    std::string quit_after;  // "", "have" or "data"
    std::optional<bool> initiator;
    std::chrono::milliseconds timeout{30000};
    std::optional<std::size_t> max_output;
};

using testutil::emit;

std::string hex(ByteView b) { return to_hex(b); }

json describe(const msg::Message& message) {
    json j;
    std::visit(
        [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, msg::Ignored>) {
                j["type"] = "Ignored";
            } else {
                j["type"] = std::string(message_type_name(static_cast<std::uint8_t>(M::kType)));
            }
            if constexpr (std::is_same_v<M, msg::Options>) {
                j["extensions"] = m.extensions;
                if (m.ack) j["ack"] = *m.ack;
            } else if constexpr (std::is_same_v<M, msg::PeerStatus>) {
                if (m.uploading) j["uploading"] = *m.uploading;
                if (m.downloading) j["downloading"] = *m.downloading;
            } else if constexpr (std::is_same_v<M, msg::Have>) {
                j["start"] = m.start;
                if (m.length) j["length"] = *m.length;
                if (m.bitfield) j["bitfield"] = hex(*m.bitfield);
                if (m.ack) j["ack"] = *m.ack;
            } else if constexpr (std::is_same_v<M, msg::Unhave> || std::is_same_v<M, msg::Want> ||
                                 std::is_same_v<M, msg::Unwant>) {
                j["start"] = m.start;
                if (m.length) j["length"] = *m.length;
            } else if constexpr (std::is_same_v<M, msg::Request> ||
                                 std::is_same_v<M, msg::Cancel>) {
                j["index"] = m.index;
            } else if constexpr (std::is_same_v<M, msg::Data>) {
                j["index"] = m.index;
                if (m.value) j["value"] = hex(*m.value);
                j["nodes"] = m.nodes.size();
                j["signature"] = m.signature.has_value();
            } else if constexpr (std::is_same_v<M, msg::Extension>) {
                j["id"] = m.id;
                j["payload"] = hex(m.payload);
            }
        },
        message);
    return j;
}

class Peer : public StreamEvents, public ChannelHandler {
public:
    explicit Peer(const Args& args) : m_args(args) {}

    void on_handshake(Stream& s) override {
        emit({{"event", "handshake"},
              {"initiator", s.is_initiator()},
              {"publicKey", hex(s.local_public_key())},
              {"remotePublicKey", hex(*s.remote_public_key())}});
    }
    void on_discovery_key(Stream&, const crypto::Hash32& dk) override {
        emit({{"event", "discovery-key"}, {"discoveryKey", hex(dk)}});  // not opened: refused
    }
    void on_stream_extension(Stream&, std::uint64_t id, ByteView payload) override {
        emit({{"event", "stream-extension"}, {"id", id}, {"payload", hex(payload)}});
    }
    void on_stream_options(Stream&, const msg::Options& options) override {
        emit({{"event", "stream-options"}, {"extensions", options.extensions}});
    }
    void on_close(Stream& s, const Error& reason) override {
        emit({{"event", "close"},
              {"code", std::string(errc_name(reason.code))},
              {"message", reason.message},
              {"bytesSent", s.bytes_sent()},
              {"bytesReceived", s.bytes_received()}});
    }

    void on_remote_open(Channel& ch) override {
        emit({{"event", "remote-open"},
              {"discoveryKey", hex(ch.discovery_key())},
              {"localId", ch.local_id()},
              {"remoteId", *ch.remote_id()}});
        if (m_args.want) ch.send(msg::Want{0, 1048576});
        if (m_args.request)
            ch.send(msg::Request{*m_args.request, std::nullopt, std::nullopt, std::nullopt});
    }
    Status on_message(Channel& ch, const msg::Message& message) override {
        json j = describe(message);
        j["event"] = "message";
        j["channel"] = ch.local_id();
        emit(j);
        const auto* have = std::get_if<msg::Have>(&message);
        const bool answered =
            (m_args.quit_after == "have" && have != nullptr &&
             have->length_or_default() == 1048576) ||
            (m_args.quit_after == "data" && std::holds_alternative<msg::Data>(message));
        if (answered) {
            ch.close();
            ch.stream().close(make_error(Errc::Closed, "done: got the {}", m_args.quit_after));
        }
        return {};
    }
    void on_close(Channel& ch) override {
        emit({{"event", "channel-close"}, {"discoveryKey", hex(ch.discovery_key())}});
    }

private:
    const Args& m_args;
};

// Closes the stream once `timeout` passes, then waits to be cancelled (run_stream finishing).
asio::awaitable<void> watchdog(Stream& stream, std::chrono::milliseconds timeout) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(timeout);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    stream.close(make_error(Errc::Closed, "stream_peer: --timeout-ms passed"));
    timer.expires_at(Clock::time_point::max());
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<int> run(Args args) {
    using asio::experimental::awaitable_operators::operator||;
    const auto executor = co_await asio::this_coro::executor;
    constexpr std::chrono::milliseconds kConnectTimeout{10000};

    std::optional<asio::ip::tcp::socket> socket;
    if (args.connect) {
        auto s = co_await connect_tcp(*args.connect, args.bind, kConnectTimeout);
        if (!s) {
            emit({{"event", "error"}, {"message", s.error().message}});
            co_return 2;
        }
        socket.emplace(std::move(s).value());
    } else {
        const auto address = asio::ip::make_address(args.listen->host);
        auto acceptor = listen_tcp(executor, {address, args.listen->port});
        if (!acceptor) {
            emit({{"event", "error"}, {"message", acceptor.error().message}});
            co_return 2;
        }
        const auto local = acceptor->local_endpoint();
        emit({{"event", "listening"},
              {"host", local.address().to_string()},
              {"port", local.port()}});
        auto s = co_await accept_tcp(*acceptor, args.timeout);
        if (!s) {
            emit({{"event", "error"}, {"message", s.error().message}});
            co_return 2;
        }
        socket.emplace(std::move(s).value());
    }
    const auto local = socket->local_endpoint();
    const auto remote = socket->remote_endpoint();
    emit({{"event", "connected"},
          {"localAddress", local.address().to_string()},
          {"localPort", local.port()},
          {"remoteAddress", remote.address().to_string()},
          {"remotePort", remote.port()}});

    Peer peer(args);
    StreamOptions options;
    options.initiator = args.initiator.value_or(args.connect.has_value());
    options.static_keys = random_noise_keypair();
    if (args.max_output) options.max_output_bytes = *args.max_output;
    Stream stream(options, peer, Clock::now());
    if (args.key) {
        Channel* ch = stream.open(*args.key, peer);
        emit({{"event", "open"},
              {"discoveryKey", hex(ch->discovery_key())},
              {"localId", ch->local_id()}});
    }
    co_await (run_stream(*socket, stream) || watchdog(stream, args.timeout));
    co_return 0;
}

[[noreturn]] void usage(const std::string& problem) {
    std::cerr << "stream_peer: " << problem
              << "\nusage: stream_peer (--connect HOST:PORT [--bind ADDR] | --listen HOST:PORT)"
                 " [--key HEX] [--want] [--request INDEX] [--quit-after have|data] [--timeout-ms N]"
                 " [--max-output BYTES]"
                 " [--initiator | --responder]\n";
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    const std::vector<std::string> v(argv + 1, argv + argc);
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto value = [&]() -> const std::string& {
            if (i + 1 >= v.size()) usage(v[i] + " needs a value");
            return v[++i];
        };
        if (v[i] == "--connect" || v[i] == "--listen") {
            const std::string& flag = v[i];
            auto hp = parse_host_port(value());
            if (!hp) usage(hp.error().message);
            (flag == "--connect" ? a.connect : a.listen) = *hp;
        } else if (v[i] == "--bind") {
            std::error_code ec;
            a.bind = asio::ip::make_address(value(), ec);
            if (ec) usage("bad --bind address");
        } else if (v[i] == "--key") {
            auto key = parse_key(value());
            if (!key) usage("--key needs 64 hex digits");
            a.key = *key;
        } else if (v[i] == "--want") {
            a.want = true;
        } else if (v[i] == "--request") {
            a.request = std::strtoull(value().c_str(), nullptr, 10);
        } else if (v[i] == "--quit-after") {
            a.quit_after = value();
            if (a.quit_after != "have" && a.quit_after != "data") usage("--quit-after have|data");
        } else if (v[i] == "--timeout-ms") {
            a.timeout = std::chrono::milliseconds(std::atoll(value().c_str()));
        } else if (v[i] == "--max-output") {
            a.max_output = std::strtoull(value().c_str(), nullptr, 10);
        } else if (v[i] == "--initiator") {
            a.initiator = true;
        } else if (v[i] == "--responder") {
            a.initiator = false;
        } else {
            usage("unknown argument " + v[i]);
        }
    }
    if (a.connect.has_value() == a.listen.has_value())
        usage("give exactly one of --connect, --listen");
    if (a.listen) {
        std::error_code ec;
        (void)asio::ip::make_address(a.listen->host, ec);
        if (ec) usage("--listen needs an IP address");
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    crypto::ensure_sodium();
    return testutil::run_json_peer(run(args));
}
