#include "cli/replicate_v11.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <iostream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "common/util/hex.h"
#include "common/util/host_port.h"
#include "v11/corestore/corestore.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/memory_storage.h"
#include "v11/replication/replicator.h"
#include "v11/replication_io/replication_io.h"
#include "v9/corestore/environment.h"
#include "v9/protocol/stream_io.h"

namespace hs::cli {
namespace {

using asio::awaitable;
namespace hc = v11::hypercore;
namespace rp = v11::replication;

// The corestore keeps the core's storage; the Core reaches it through this (non-owning) view.
class StorageView final : public hc::Storage {
public:
    explicit StorageView(hc::Storage& s) : m_s(s) {}
    const hc::CoreHeader& header() const override { return m_s.header(); }
    Result<std::optional<hc::TreeNode>> node(std::uint64_t i) override { return m_s.node(i); }
    Result<std::optional<Bytes>> block(std::uint64_t i, std::uint64_t off, std::uint64_t size) override {
        return m_s.block(i, off, size);
    }
    Result<std::vector<hc::BitRange>> present() override { return m_s.present(); }
    Result<void> commit(const hc::Batch& b) override { return m_s.commit(b); }
    Result<void> flush() override { return m_s.flush(); }

private:
    hc::Storage& m_s;
};

class Session {
public:
    Session(const ReplicateV11Args& args, hc::Core& core, crypto::KeyPair keys, asio::io_context& io)
        : m_args(args), m_core(core), m_keys(keys), m_io(io), m_stop(io.get_executor()),
          m_tasks(io.get_executor(), "hyp replicate") {
        rp::ReplicatorEvents ev;
        ev.on_download = [this](std::uint64_t, std::uint64_t, rp::PeerId) { ++m_downloaded; };
        ev.on_upload = [this](std::uint64_t, std::uint64_t, rp::PeerId) { ++m_uploaded; };
        ev.on_peer_open = [this](rp::PeerId id) { on_open(id); };
        ev.on_peer_error = [this](rp::PeerId id, const Error& e) {
            std::cerr << "hyp: peer " << name_of(id) << ": " << e.message << "\n";
            if (m_args.connect.empty()) return;
            // Our one peer misbehaved: nothing more to get from it.
            m_peer_failed = true;
            finish();
        };
        ev.on_peer_close = [this](rp::PeerId id, const Error&) {
            if (m_args.connect.empty() || m_finishing) return;
            std::cerr << "hyp: peer " << name_of(id) << " closed core " << to_hex(ByteView(m_core.key())) << "\n";
            finish();
        };
        m_replicator = std::make_unique<rp::Replicator>(core, rp::ReplicatorOptions{}, std::move(ev));
        m_replicator->tick(rp::Clock::now());
        std::vector<std::string> names = args.extensions;
        for (const auto& spec : args.send_extensions) names.push_back(spec.substr(0, spec.find('=')));
        for (const auto& name : names) {
            m_replicator->register_extension(name, [name](rp::PeerId, ByteView payload) {
                std::cerr << "extension " << name << " " << base64(payload) << std::endl;
            });
        }
        if (!core.writable()) start_download();
    }

    int exit_code = kExitOk;
    std::string last_peer;

    awaitable<void> run() {
        m_tasks.spawn("progress", progress());
        if (!m_args.connect.empty())
            m_tasks.spawn("connect", run_connect());
        else
            m_tasks.spawn("listen", run_listen());
        while (!m_finishing) co_await m_stop.wait();
        std::error_code ignored;
        if (m_acceptor) m_acceptor->close(ignored);
        m_stop.notify();
        co_await m_tasks.join();
    }

    void finish() {
        m_finishing = true;
        m_stop.notify();
    }
    // SIGINT/SIGTERM: stop with what we have (exit 0).
    void interrupt() {
        m_interrupted = true;
        finish();
    }

    void print_summary() const {
        if (m_args.json) {
            nlohmann::json j = {{"key", to_hex(ByteView(m_core.key()))},
                                {"length", m_core.length()},
                                {"downloaded", m_downloaded},
                                {"uploaded", m_uploaded},
                                {"peer", last_peer}};
            std::cout << j.dump() << std::endl;
        }
        std::cerr << "done: length " << m_core.length() << ", downloaded " << m_downloaded << " blocks, uploaded "
                  << m_uploaded << " blocks\n";
    }

    ~Session() { m_replicator.reset(); }

private:
    void start_download() {
        const std::uint64_t start = m_args.start.value_or(0);
        if (m_args.live) {
            m_replicator->download(start, m_args.end);
            return;
        }
        if (m_args.end) {
            m_replicator->download(start, *m_args.end, [this](Status s) { if (s) done(); });
            return;
        }
        // Everything the peer has: learn its length first.
        m_replicator->update([this, start](bool) {
            m_replicator->download(start, m_core.length(), [this](Status s) { if (s) done(); });
        });
    }

    void done() {
        m_done = true;
        if (!m_args.connect.empty()) finish();  // a --connect reader is finished
    }

    void on_open(rp::PeerId id) {
        for (const auto& spec : m_args.send_extensions) {
            const auto eq = spec.find('=');
            const std::string name = spec.substr(0, eq);
            const std::string text = eq == std::string::npos ? "" : spec.substr(eq + 1);
            (void)m_replicator->send_extension(name, id, as_bytes(text));
        }
    }

    std::string name_of(rp::PeerId id) const {
        auto it = m_names.find(id);
        return it == m_names.end() ? "?" : it->second;
    }

    awaitable<void> run_connect() {
        auto remote = parse_host_port(m_args.connect);
        if (!remote) co_return fail(remote.error());
        std::optional<asio::ip::address> bind;
        if (!m_args.bind.empty()) {
            std::error_code ec;
            bind = asio::ip::make_address(m_args.bind, ec);
            if (ec) co_return fail(make_error(Errc::InvalidArgument, "--bind {} is not an IP address", m_args.bind));
        }
        auto socket = co_await protocol::connect_tcp(*remote, bind, std::chrono::seconds(10));
        if (!socket) co_return fail(socket.error());
        const Error reason = co_await serve(std::move(*socket), true);
        if (m_interrupted && !m_done) {
            // interrupted: the exit code stands
        } else if (m_peer_failed && !m_done) {
            exit_code = kExitFailure;
            std::cerr << "hyp: error: the peer was cut off (see above); nothing it sent unverified was stored\n";
        } else if (!m_done && !m_core.writable() && !m_args.live) {
            exit_code = kExitFailure;
            std::cerr << "hyp: error: the connection ended before we held every block the peer has ("
                      << reason.message << ")\n";
        } else if (reason.code != Errc::Closed && !m_done) {
            exit_code = kExitFailure;
            std::cerr << "hyp: error: replication failed: " << reason.message << "\n";
        }
        finish();
    }

    awaitable<void> run_listen() {
        auto local = parse_host_port(m_args.listen);
        if (!local) co_return fail(local.error());
        std::error_code ec;
        auto addr = asio::ip::make_address(local->host, ec);
        if (ec) co_return fail(make_error(Errc::InvalidArgument, "--listen needs an IP address, not {}", local->host));
        auto acceptor = protocol::listen_tcp(m_io.get_executor(), {addr, local->port});
        if (!acceptor) co_return fail(acceptor.error());
        m_acceptor.emplace(std::move(*acceptor));
        const auto ep = m_acceptor->local_endpoint();
        std::cerr << "listening " << ep.address().to_string() << ":" << ep.port() << std::endl;
        while (!m_finishing) {
            auto socket = co_await protocol::accept_tcp(*m_acceptor, std::chrono::hours(24 * 365));
            if (m_finishing) break;
            if (!socket) {
                std::cerr << "hyp: accept failed: " << socket.error().message << "\n";
                continue;
            }
            m_tasks.spawn("peer", serve_accepted(std::move(*socket)));
        }
    }

    awaitable<void> serve_accepted(asio::ip::tcp::socket socket) {
        const Error reason = co_await serve(std::move(socket), false);
        if (reason.code != Errc::Closed) std::cerr << "hyp: peer: " << reason.message << "\n";
    }

    awaitable<Error> serve(asio::ip::tcp::socket socket, bool initiator) {
        std::error_code ec;
        auto ep = socket.remote_endpoint(ec);
        const std::string peer = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
        last_peer = peer;
        std::cerr << "peer " << peer << " connected\n";
        rp::ConnectionOptions o;
        o.initiator = initiator;
        o.keys = m_keys;
        o.name = peer;
        o.on_attached = [this, peer](rp::PeerId id) { m_names[id] = peer; };
        const Error reason = co_await rp::run_connection(std::move(socket), *m_replicator, o, &m_stop, &m_finishing);
        std::cerr << "peer " << peer << " disconnected: " << reason.message << "\n";
        co_return reason;
    }

    awaitable<void> progress() {
        std::uint64_t last = ~std::uint64_t{0};
        while (!m_finishing) {
            (void)co_await m_stop.wait_for(std::chrono::seconds(1));
            if (m_finishing) break;
            m_replicator->tick(rp::Clock::now());
            if (m_downloaded + m_uploaded != last) {
                last = m_downloaded + m_uploaded;
                std::cerr << "length " << m_core.length() << ", downloaded " << m_downloaded << ", uploaded "
                          << m_uploaded << ", peers " << m_replicator->opened_peers() << "\n";
            }
        }
    }

    void fail(const Error& e) {
        std::cerr << "hyp: error: " << e.message << "\n";
        exit_code = e.code == Errc::InvalidArgument ? kExitUsage : kExitFailure;
        finish();
    }

    const ReplicateV11Args& m_args;
    hc::Core& m_core;
    crypto::KeyPair m_keys;
    asio::io_context& m_io;
    std::unique_ptr<rp::Replicator> m_replicator;
    std::map<rp::PeerId, std::string> m_names;
    std::uint64_t m_downloaded = 0, m_uploaded = 0;
    bool m_done = false;
    bool m_finishing = false;
    bool m_interrupted = false;
    bool m_peer_failed = false;
    std::optional<asio::ip::tcp::acceptor> m_acceptor;
    async::Event m_stop;
    async::TaskGroup m_tasks;
};

awaitable<void> run_session(Session& session, asio::signal_set& signals) {
    co_await session.run();
    signals.cancel();
}

}  // namespace

int run_replicate_v11(const ReplicateV11Args& args) {
    if (args.listen.empty() == args.connect.empty()) {
        std::cerr << "hyp: error: give exactly one of --listen HOST:PORT or --connect HOST:PORT\n";
        return kExitUsage;
    }
    if (args.start && args.end && *args.end < *args.start) {
        std::cerr << "hyp: error: --end " << *args.end << " is before --start " << *args.start << "\n";
        return kExitUsage;
    }
    auto key = parse_key_argument(args.key);
    if (!key) {
        std::cerr << "hyp: error: " << key.error().message << "\n";
        return kExitUsage;
    }
    const std::filesystem::path dir =
        args.storage.empty() ? corestore::default_storage_path() : std::filesystem::path(args.storage);
    auto store = v11::corestore::Corestore::open(dir);
    if (!store) {
        std::cerr << "hyp: error: " << store.error().message << "\n";
        return kExitFailure;
    }
    hc::Hash k{};
    std::copy(key->begin(), key->end(), k.begin());
    int code = kExitOk;
    {
        auto handle = (*store)->open_by_key(k);
        if (!handle) {
            std::cerr << "hyp: error: " << handle.error().message << "\n";
            return kExitFailure;
        }
        // A reader the corestore has just created holds only its key, with an all-zero tree
        // hash that Core::open refuses: give it the empty head a reader core starts with.
        auto& st = handle->storage();
        if (st.header().head.length == 0 && !st.header().manifest && st.header().head.root_hash == hc::Hash{}) {
            auto empty = hc::Core::create_by_key(std::make_unique<hc::MemoryStorage>(), k);
            hc::Batch b;
            if (empty) {
                b.header = st.header();
                b.header->head = (*empty)->head();
            }
            if (!empty || !st.commit(b)) {
                std::cerr << "hyp: error: core " << to_hex(ByteView(k)) << ": cannot start its empty head\n";
                return kExitFailure;
            }
        }
        auto core = hc::Core::open(std::make_unique<StorageView>(st));
        if (!core) {
            std::cerr << "hyp: error: core " << to_hex(ByteView(k)) << ": " << core.error().message << "\n";
            return kExitFailure;
        }
        // Our secret-stream identity, stable per storage folder.
        Bytes seed_input(as_bytes("hyp replicate v11 keypair").begin(), as_bytes("hyp replicate v11 keypair").end());
        const auto& pk = (*store)->primary_key();
        seed_input.insert(seed_input.end(), pk.begin(), pk.end());
        const auto seed = crypto::blake2b_256(seed_input);
        asio::io_context io;
        {
            Session session(args, **core, crypto::keypair_from_seed(seed), io);
            asio::signal_set signals(io, SIGINT, SIGTERM);
            signals.async_wait([&](const std::error_code& ec, int) {
                if (!ec) session.interrupt();  // exit 0 with what we have
            });
            {
                async::TaskGroup root(io.get_executor(), "hyp");
                root.spawn("replicate", run_session(session, signals));
                io.run();
            }
            if (auto s = (*core)->flush(); !s.ok()) {
                std::cerr << "hyp: error: " << s.error().message << "\n";
                session.exit_code = kExitFailure;
            }
            session.print_summary();
            code = session.exit_code;
        }
    }
    return code;
}

}  // namespace hs::cli
