// Our second-generation replication (src/v11/replication + replication_io) as a test peer for
// tests/interop/replicate_v11.test.js: one core in memory, one TCP connection (--listen HOST:PORT
// takes one, --connect HOST:PORT dials), secret-stream + protomux + the Replicator.
//
//   --write N [--max-size S] [--seed K]   a writer: N blocks made by block(i) below, signed by a
//                                         key pair from seed K; prints {"event":"key",...}
//   --key HEX                             a reader of that core
//   --start A --end B | --live            what a reader downloads (default: everything the peer
//                                         has once synced; --live: follow appends)
//   --extension NAME                      register NAME; messages print as {"event":"extension"}
//
// JSON lines on stdout: listening {port}, key {key, discoveryKey}, open {peer}, peer-error
// {message}, peer-close, synced {length} (a bounded download is complete), extension {name,
// message (utf-8)}, state {length, fork, blocks, digest} (on "state" and at the end), done {code,
// message, downloaded, uploaded}. Commands on stdin, one per line: "append N" (writer: N more
// blocks), "append-text TEXT", "truncate LEN", "ext NAME TEXT" (broadcast), "get I" (reader),
// "state", "end" (end the stream). The digest is BLAKE2b-256 over u64be(index) || u64be(size) ||
// value for every stored block in order, which the JS side recomputes over its own blocks.
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <istream>
#include <memory>
#include <optional>
#include <string>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "common/util/hex.h"
#include "testutil/json_peer.h"
#include "testutil/tcp_peer.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/memory_storage.h"
#include "v11/replication/replicator.h"
#include "v11/replication_io/replication_io.h"

namespace {

using namespace hs;
namespace hc = v11::hypercore;
namespace rp = v11::replication;
using testutil::emit;

struct Args {
    std::string listen, connect, key;
    std::optional<std::uint64_t> write, start, end;
    std::uint64_t max_size = 2048;
    std::uint64_t seed = 1;
    bool live = false;
    std::vector<std::string> extensions;
};

// Block i of a writer: (i * 2654435761) mod (max_size + 1) bytes, byte j = (i * 131 + j * 7) & 255.
Bytes block(std::uint64_t i, std::uint64_t max_size) {
    const std::uint64_t size = (i * 2654435761ull) % (max_size + 1);
    Bytes b(size);
    for (std::uint64_t j = 0; j < size; ++j) b[j] = static_cast<std::uint8_t>((i * 131 + j * 7) & 255);
    return b;
}

nlohmann::json state_of(hc::Core& core) {
    crypto::Blake2b h(32);
    std::uint64_t blocks = 0;
    for (const auto& r : core.present_ranges()) {
        for (std::uint64_t i = r.start; i < r.start + r.length; ++i) {
            auto v = core.get(i);
            if (!v) continue;
            h.update_u64be(i).update_u64be(v->size()).update(*v);
            ++blocks;
        }
    }
    const auto d = h.final32();
    return {{"event", "state"}, {"length", core.length()}, {"fork", core.fork()}, {"blocks", blocks},
            {"contiguous", core.contiguous_length()}, {"digest", to_hex(ByteView(d.data(), d.size()))}};
}

struct Peer {
    Args args;
    std::unique_ptr<hc::Core> core;
    std::unique_ptr<rp::Replicator> rep;
    std::uint64_t downloaded = 0, uploaded = 0;
    bool stopping = false;
    std::optional<rp::PeerId> peer;
    async::Event* stop = nullptr;

    void append(std::uint64_t n) {
        std::vector<Bytes> values;
        for (std::uint64_t i = 0; i < n; ++i) values.push_back(block(core->length() + i, args.max_size));
        std::vector<ByteView> views(values.begin(), values.end());
        if (auto r = core->append(views); !r) emit({{"event", "error"}, {"message", r.error().message}});
    }

    void command(const std::string& line) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        if (cmd == "append") {
            std::uint64_t n = 0;
            in >> n;
            append(n);
        } else if (cmd == "append-text") {
            std::string text;
            std::getline(in >> std::ws, text);
            const Bytes b(text.begin(), text.end());
            const ByteView v(b);
            if (auto r = core->append(std::span<const ByteView>(&v, 1)); !r)
                emit({{"event", "error"}, {"message", r.error().message}});
        } else if (cmd == "truncate") {
            std::uint64_t n = 0;
            in >> n;
            if (auto r = core->truncate(n); !r) emit({{"event", "error"}, {"message", r.error().message}});
        } else if (cmd == "ext") {
            std::string name, text;
            in >> name;
            std::getline(in >> std::ws, text);
            rep->broadcast_extension(name, as_bytes(text));
        } else if (cmd == "get") {
            std::uint64_t i = 0;
            in >> i;
            rep->get(i, [i](Result<Bytes> v) {
                if (v) emit({{"event", "got"}, {"index", i}, {"size", v->size()}});
                else emit({{"event", "got"}, {"index", i}, {"error", v.error().message}});
            });
        } else if (cmd == "state") {
            emit(state_of(*core));
        } else if (cmd == "end") {
            finish();
        }
    }

    void finish() {
        stopping = true;
        if (stop) stop->notify();
    }
};

asio::awaitable<void> watch_stdin(Peer& peer) {
    asio::posix::stream_descriptor in(co_await asio::this_coro::executor, ::dup(0));
    asio::streambuf buf;
    for (;;) {
        auto [ec, n] = co_await asio::async_read_until(in, buf, '\n',
                                                       asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) break;
        std::istream is(&buf);
        std::string line;
        std::getline(is, line);
        peer.command(line);
    }
    peer.finish();
}

asio::awaitable<int> run(Args args) {
    auto executor = co_await asio::this_coro::executor;
    Peer peer;
    peer.args = args;
    if (args.write) {
        const auto kp = crypto::keypair_from_seed(Bytes(32, static_cast<std::uint8_t>(args.seed)));
        const hc::KeyPair keys{kp.public_key, kp.secret_key};
        auto core = hc::Core::create(std::make_unique<hc::MemoryStorage>(), hc::default_manifest(keys.public_key), keys);
        if (!core) throw std::runtime_error(core.error().message);
        peer.core = std::move(core).value();
        peer.append(*args.write);
        emit({{"event", "key"}, {"key", to_hex(ByteView(peer.core->key()))},
              {"discoveryKey", to_hex(ByteView(peer.core->discovery_key()))}});
    } else {
        auto key = from_hex(args.key);
        if (!key || key->size() != 32) throw std::runtime_error("--key needs 64 hex digits");
        hc::Hash k{};
        std::copy(key->begin(), key->end(), k.begin());
        auto core = hc::Core::create_by_key(std::make_unique<hc::MemoryStorage>(), k);
        if (!core) throw std::runtime_error(core.error().message);
        peer.core = std::move(core).value();
    }
    rp::ReplicatorEvents ev;
    ev.on_peer_open = [](rp::PeerId) { emit({{"event", "open"}}); };
    ev.on_peer_close = [](rp::PeerId, const Error&) { emit({{"event", "peer-close"}}); };
    ev.on_peer_error = [](rp::PeerId, const Error& e) { emit({{"event", "peer-error"}, {"message", e.message}}); };
    ev.on_download = [&](std::uint64_t, std::uint64_t, rp::PeerId) { ++peer.downloaded; };
    ev.on_upload = [&](std::uint64_t, std::uint64_t, rp::PeerId) { ++peer.uploaded; };
    peer.rep = std::make_unique<rp::Replicator>(*peer.core, rp::ReplicatorOptions{}, std::move(ev));
    for (const auto& name : args.extensions) {
        peer.rep->register_extension(name, [name](rp::PeerId, ByteView m) {
            emit({{"event", "extension"}, {"name", name}, {"message", std::string(m.begin(), m.end())}});
        });
    }
    if (!args.write) {
        if (args.live) {
            peer.rep->download(args.start.value_or(0), std::nullopt);
        } else if (args.end) {
            peer.rep->download(args.start.value_or(0), *args.end, [&](Status s) {
                if (s) emit({{"event", "synced"}, {"length", peer.core->length()}});
            });
        } else {
            // Everything the peer has: update first, then the whole length.
            peer.rep->update([&](bool) {
                peer.rep->download(args.start.value_or(0), peer.core->length(), [&](Status s) {
                    if (s) emit({{"event", "synced"}, {"length", peer.core->length()}});
                });
            });
        }
    }
    async::Event stop(executor);
    peer.stop = &stop;
    async::TaskGroup tasks(executor, "replicate_v11 peer");
    tasks.spawn("stdin", watch_stdin(peer));
    asio::ip::tcp::socket socket = co_await testutil::listen_or_connect(args.listen, args.connect);
    rp::ConnectionOptions co;
    co.initiator = args.listen.empty();
    co.keys = crypto::keypair_from_seed(Bytes(32, static_cast<std::uint8_t>(100 + args.seed)));
    co.name = args.listen.empty() ? args.connect : "accepted";
    const Error reason = co_await rp::run_connection(std::move(socket), *peer.rep, co, &stop, &peer.stopping);
    emit(state_of(*peer.core));
    emit({{"event", "done"}, {"code", std::string(errc_name(reason.code))}, {"message", reason.message},
          {"downloaded", peer.downloaded}, {"uploaded", peer.uploaded}});
    tasks.cancel();
    co_await tasks.join();
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
        else if (a == "--key") args.key = value();
        else if (a == "--write") args.write = std::stoull(value());
        else if (a == "--max-size") args.max_size = std::stoull(value());
        else if (a == "--seed") args.seed = std::stoull(value());
        else if (a == "--start") args.start = std::stoull(value());
        else if (a == "--end") args.end = std::stoull(value());
        else if (a == "--live") args.live = true;
        else if (a == "--extension") args.extensions.push_back(value());
    }
    crypto::ensure_sodium();
    return hs::testutil::run_json_peer(run(args));
}
