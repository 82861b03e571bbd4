// Our protomux (src/v11/protomux) over our secret-stream, for tests/interop/protomux.test.js.
// Connects or listens on TCP, then on the protocol "test/proto" (three message types, string
// payloads, raw handshake "cpp"):
//   - opens --channels N channels with ids "c-0" .. "c-<N-1>" and accepts every channel the
//     peer opens (a pair handler);
//   - on each open channel sends "t0:<id>", "t1:<id>", "t2:<id>" as types 0, 1, 2;
//   - opens one channel of the protocol "nobody/speaks-this" (the peer rejects it);
//   - closes channel "c-0" once its three messages arrived;
//   - a message "echo:<x>" of type 0 is answered with "<x>" as type 1 on the same channel.
// JSON lines: {"event":"open","id","handshake"}, {"event":"message","id","type","payload"},
// {"event":"closed","id","remote"}, {"event":"rejected","protocol"}, {"event":"listening","port"},
// {"event":"done","code","message"} when the stream ended. Ends the stream when stdin closes.
#include <asio/ip/tcp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <string>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "testutil/json_peer.h"
#include "testutil/tcp_peer.h"
#include "common/util/host_port.h"
#include "v11/compact/compact.h"
#include "v11/protomux/protomux.h"
#include "v11/secretstream/secret_stream_io.h"

namespace {

using namespace hs;
using asio::ip::tcp;
namespace pm = v11::protomux;

Bytes encode_string(const std::string& s) { return v11::compact::encode<v11::compact::String>(s); }

struct Peer {
    v11::SecretStream& stream;
    pm::Mux mux;
    std::map<std::string, std::shared_ptr<pm::Channel>> channels;
    std::map<std::string, int> received;
    std::shared_ptr<pm::Channel> stranger;

    explicit Peer(v11::SecretStream& s)
        : stream(s), mux([this](Bytes m) { (void)stream.write(m, v11::Clock::now()); }) {}

    std::shared_ptr<pm::Channel> channel(const std::string& id) {
        pm::ChannelOptions o;
        o.protocol = "test/proto";
        o.id = to_bytes(id);
        o.handshake = to_bytes("cpp");
        o.message_types = 3;
        o.on_open = [this, id](ByteView hs) {
            testutil::emit({{"event", "open"}, {"id", id}, {"handshake", std::string(hs.begin(), hs.end())}});
            auto ch = channels[id];
            for (int t = 0; t < 3; ++t)
                ch->send(t, encode_string("t" + std::to_string(t) + ":" + id));
        };
        o.on_message = [this, id](std::size_t type, ByteView payload) {
            auto text = v11::compact::decode<v11::compact::String>(payload);
            const std::string s = text ? *text : std::string("<undecodable>");
            testutil::emit({{"event", "message"}, {"id", id}, {"type", type}, {"payload", s}});
            auto ch = channels[id];
            if (type == 0 && s.rfind("echo:", 0) == 0) ch->send(1, encode_string(s.substr(5)));
            if (++received[id] == 3 && id == "c-0") ch->close();
        };
        o.on_close = [id](bool remote) {
            testutil::emit({{"event", "closed"}, {"id", id}, {"remote", remote}});
        };
        auto ch = mux.create_channel(std::move(o));
        channels[id] = ch;
        return ch;
    }

    void start(int count) {
        mux.pair("test/proto", std::nullopt, [this](const std::optional<Bytes>& id) {
            const std::string name = id ? std::string(id->begin(), id->end()) : "";
            if (auto ch = channel(name)) ch->open();
        });
        mux.cork();
        for (int i = 0; i < count; ++i) channel("c-" + std::to_string(i))->open();
        mux.uncork();
        pm::ChannelOptions o;
        o.protocol = "nobody/speaks-this";
        o.on_close = [this](bool remote) {
            if (remote && !stranger->opened())
                testutil::emit({{"event", "rejected"}, {"protocol", "nobody/speaks-this"}});
        };
        stranger = mux.create_channel(std::move(o));
        stranger->open();
    }
};

asio::awaitable<void> watch_stdin(v11::SecretStream& stream, async::Event& changed) {
    asio::posix::stream_descriptor in(co_await asio::this_coro::executor, ::dup(0));
    char buf[256];
    for (;;) {
        auto [ec, n] = co_await in.async_read_some(asio::buffer(buf),
                                                   asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) break;
    }
    stream.end();
    changed.notify();
}

asio::awaitable<int> run(std::string listen, std::string connect, int count) {
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket = co_await testutil::listen_or_connect(listen, connect);
    v11::SecretStreamOptions options;
    options.initiator = listen.empty();
    options.static_keys = crypto::keypair_from_seed(Bytes(32, 5));
    v11::SecretStream stream(options, v11::Clock::now());
    Peer peer(stream);
    bool started = false;
    stream.on_message = [&](ByteView m) {
        if (auto st = peer.mux.receive(m); !st)
            stream.destroy(st.error());
    };
    stream.on_open = [&] {
        if (started) return;
        started = true;
        peer.start(count);
    };
    stream.on_close = [&](const Error&) { peer.mux.shutdown(); };
    stream.on_end = [&] { stream.end(); };  // the peer ended: so do we
    async::Event changed(executor);
    async::TaskGroup tasks(executor, "protomux peer");
    tasks.spawn("stdin", watch_stdin(stream, changed));
    const Error reason = co_await v11::run_secret_stream({socket, stream, &changed});
    peer.mux.shutdown();
    tasks.cancel();
    co_await tasks.join();
    testutil::emit({{"event", "done"}, {"code", std::string(errc_name(reason.code))},
                    {"message", reason.message}});
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen, connect;
    int count = 50;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--listen") listen = argv[i + 1];
        else if (a == "--connect") connect = argv[i + 1];
        else if (a == "--channels") count = std::stoi(argv[i + 1]);
    }
    if (sodium_init() < 0) return 1;
    return hs::testutil::run_json_peer(run(listen, connect, count));
}
