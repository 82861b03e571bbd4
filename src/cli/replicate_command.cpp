#include "cli/replicate_command.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <iostream>
#include <list>
#include <set>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "cli/args.h"
#include "cli/replicate_v11.h"
#include "v9/corestore/corestore.h"
#include "v9/corestore/environment.h"
#include "common/crypto/derive.h"
#include "v9/protocol/replicator.h"
#include "v9/protocol/stream_io.h"
#include "common/util/hex.h"
#include "common/util/host_port.h"

namespace hs::cli {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using protocol::FeedReplicator;
using protocol::Stream;

struct ReplicateArgs {
    std::string storage;
    std::string key;
    std::string listen;
    std::string connect;
    std::string bind;
    bool live = false;
    bool json = false;
    std::vector<std::string> extensions;       // names to register
    std::vector<std::string> send_extensions;  // NAME=TEXT, sent to each peer on open
    std::optional<std::uint64_t> start, end;
    int generation = 9;
};

// Records why a stream ended; nothing else is needed from stream-level events here.
struct Events final : protocol::StreamEvents {
    std::optional<Error> reason;
    void on_handshake(Stream&) override {}
    void on_discovery_key(Stream&, const crypto::Hash32&) override {}  // answered with Close
    void on_close(Stream&, const Error& r) override { reason = r; }
};

struct Connection {
    Events events;
    std::unique_ptr<Stream> stream;
    asio::ip::tcp::socket socket;
    std::string peer;
    explicit Connection(asio::ip::tcp::socket s) : socket(std::move(s)) {
        std::error_code ec;
        auto ep = socket.remote_endpoint(ec);
        if (!ec) peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
};

class Session {
public:
    Session(const ReplicateArgs& args, hypercore::Feed& feed, protocol::NoiseKeyPair keys,
            asio::io_context& io)
        : m_args(args),
          m_feed(feed),
          m_keys(keys),
          m_io(io),
          m_replicator(feed),
          m_log(std::make_shared<spdlog::logger>(
              "hyp", std::make_shared<spdlog::sinks::stderr_sink_st>())),
          m_wake(io.get_executor()),
          m_tasks(io.get_executor(), "hyp replicate", m_log) {
        m_replicator.tick(protocol::Clock::now());
        m_replicator.on_download = [this](std::uint64_t, std::size_t) { ++m_downloaded; };
        m_replicator.on_upload = [this](std::uint64_t, std::size_t) { ++m_uploaded; };
        std::vector<std::string> names = args.extensions;
        for (const auto& spec : args.send_extensions) names.push_back(spec.substr(0, spec.find('=')));
        m_replicator.set_extensions(names);
        m_replicator.on_extension = [](std::string_view name, ByteView payload, Stream&) {
            std::cerr << "extension " << name << " " << base64(payload) << std::endl;
        };
        m_replicator.on_peer_open = [this](Stream& stream) {
            for (const auto& spec : m_args.send_extensions) {
                const auto eq = spec.find('=');
                const std::string name = spec.substr(0, eq);
                const std::string text = eq == std::string::npos ? "" : spec.substr(eq + 1);
                auto s = m_replicator.send_extension(name, as_bytes(text), &stream);
                if (!s.ok()) std::cerr << "hyp: " << s.error().message << "\n";
            }
        };
        if (!feed.writable()) {
            m_download = m_replicator.download({args.start.value_or(0), args.end});
        }
    }

    int exit_code = kExitOk;
    std::string last_peer;

    // Runs the session until it finishes (the --connect stream ended, a failure, or
    // finish() from a signal), then closes what is open and joins every task.
    awaitable<void> run() {
        m_tasks.spawn("progress", progress());
        if (!m_args.connect.empty())
            m_tasks.spawn("connect", run_connect());
        else
            m_tasks.spawn("listen", run_listen());
        while (!m_finishing) co_await m_wake.wait();
        std::error_code ignored;
        if (m_acceptor) m_acceptor->close(ignored);
        for (Stream* stream : m_streams)
            if (!stream->closed()) stream->close(make_error(Errc::Closed, "hyp replicate is stopping"));
        m_wake.notify();
        co_await m_tasks.join();
    }

    // Ends the session (idempotent): run() closes every stream and returns once all tasks ended.
    void finish() {
        m_finishing = true;
        m_wake.notify();
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
        auto conn = std::make_unique<Connection>(std::move(*socket));
        co_await serve(std::move(conn), true, /*exit_when_done=*/true);
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
            auto conn = std::make_unique<Connection>(std::move(*socket));
            m_tasks.spawn("peer", serve(std::move(conn), false, false));
        }
    }

    // Replicates over one connection until it ends (or, when downloading without --live and
    // exit_when_done, until we hold every block the peer has).
    awaitable<void> serve(std::unique_ptr<Connection> conn, bool initiator, bool exit_when_done) {
        protocol::StreamOptions options;
        options.initiator = initiator;
        options.static_keys = m_keys;
        conn->stream = std::make_unique<Stream>(options, conn->events, protocol::Clock::now());
        last_peer = conn->peer;
        std::cerr << "peer " << conn->peer << " connected\n";
        if (auto s = m_replicator.add_stream(*conn->stream); !s.ok()) {
            std::cerr << "hyp: " << s.error().message << "\n";
            co_return;
        }
        Stream* stream = conn->stream.get();
        m_streams.insert(stream);
        struct Forget {
            std::set<Stream*>& streams;
            Stream* stream;
            ~Forget() { streams.erase(stream); }
        } forget{m_streams, stream};
        const bool finish_when_synced = exit_when_done && !m_args.live && !m_feed.writable();
        if (exit_when_done) m_tasks.spawn("watch", watch(stream, finish_when_synced));
        Error reason = co_await protocol::run_stream(conn->socket, *stream);
        // watch() polls stream->closed() every 20 ms: wait for it, it uses the stream.
        while (m_watching) co_await m_wake.wait_for(std::chrono::milliseconds(20));
        if (m_finishing && !m_done) {
            // We ended it (interrupted, or a failure elsewhere): the exit code stands.
        } else if (m_done) {
            exit_code = kExitOk;
        } else if (reason.code == Errc::Closed) {
            // The peer ended the connection: fine when live or uploading, a failure while we
            // still lack blocks it has.
            std::cerr << "peer " << conn->peer << " closed the connection\n";
            if (finish_when_synced) {
                exit_code = kExitFailure;
                std::cerr << "hyp: error: the peer closed before we held every block it has\n";
            }
        } else {
            std::cerr << "hyp: error: replication with " << conn->peer << " failed: " << reason.message << "\n";
            if (exit_when_done) exit_code = kExitFailure;
        }
    }

    // Ends a --connect stream when the peer refuses or closes our core (it does not have it),
    // and, when `finish_when_synced`, once we hold every block of the range the peer has.
    awaitable<void> watch(Stream* stream, bool finish_when_synced) {
        ++m_watching;
        struct Done {
            int& watching;
            ~Done() { --watching; }
        } done{m_watching};
        asio::steady_timer timer(m_io);
        while (!stream->closed()) {
            timer.expires_after(std::chrono::milliseconds(20));
            co_await timer.async_wait(asio::experimental::as_tuple(use_awaitable));
            if (stream->closed()) break;
            const protocol::Channel* ch = stream->find(m_feed.discovery_key());
            if (stream->handshake_done() && (!ch || ch->closed())) {
                stream->close(make_error(Errc::NotFound, "the peer closed core {} (it does not have it)",
                                         to_hex(m_feed.key())));
                break;
            }
            if (finish_when_synced && m_replicator.synced(m_args.start.value_or(0), m_args.end)) {
                m_done = true;
                stream->close(make_error(Errc::Closed, "replication finished"));
                break;
            }
        }
    }

    awaitable<void> progress() {
        std::uint64_t last = ~std::uint64_t{0};
        while (!m_finishing) {
            co_await m_wake.wait_for(std::chrono::seconds(1));
            if (m_finishing) break;
            m_replicator.tick(protocol::Clock::now());
            if (m_downloaded + m_uploaded != last) {
                last = m_downloaded + m_uploaded;
                std::cerr << "length " << m_feed.length() << ", downloaded " << m_downloaded << ", uploaded "
                          << m_uploaded << ", peers " << m_replicator.peer_count() << "\n";
            }
        }
    }

    void print_summary() const {
        if (m_args.json) {
            nlohmann::json j = {{"key", to_hex(m_feed.key())},
                                {"length", m_feed.length()},
                                {"downloaded", m_downloaded},
                                {"uploaded", m_uploaded},
                                {"peer", last_peer}};
            std::cout << j.dump() << std::endl;
        }
        std::cerr << "done: length " << m_feed.length() << ", downloaded " << m_downloaded << " blocks, uploaded "
                  << m_uploaded << " blocks\n";
    }

private:
    void fail(const Error& e) {
        std::cerr << "hyp: error: " << e.message << "\n";
        exit_code = e.code == Errc::InvalidArgument ? kExitUsage : kExitFailure;
        finish();
    }

    const ReplicateArgs& m_args;
    hypercore::Feed& m_feed;
    protocol::NoiseKeyPair m_keys;
    asio::io_context& m_io;
    FeedReplicator m_replicator;
    std::optional<FeedReplicator::DownloadId> m_download;
    std::uint64_t m_downloaded = 0, m_uploaded = 0;
    bool m_done = false;
    bool m_finishing = false;
    int m_watching = 0;                    // watch() tasks still running
    std::optional<asio::ip::tcp::acceptor> m_acceptor;
    std::set<Stream*> m_streams;           // being pumped now
    std::shared_ptr<spdlog::logger> m_log;
    async::Event m_wake;                   // finish(), and the wake-ups of run()/progress()
    async::TaskGroup m_tasks;              // progress, connect/listen, one per peer, watch
};

awaitable<void> run_session(Session& session, asio::signal_set& signals) {
    co_await session.run();
    signals.cancel();
}

int run_replicate(const ReplicateArgs& args) {
    if (args.generation == 11) {
        return run_replicate_v11({args.storage, args.key, args.listen, args.connect, args.bind, args.live, args.json,
                                  args.extensions, args.send_extensions, args.start, args.end});
    }
    if (args.generation != 9) {
        std::cerr << "hyp: error: --generation must be 9 (hypercore 9) or 11 (hypercore 10/11), not "
                  << args.generation << "\n";
        return kExitUsage;
    }
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
    const std::filesystem::path dir = args.storage.empty() ? corestore::default_storage_path() : std::filesystem::path(args.storage);
    auto store = corestore::Corestore::open(dir);
    if (!store) {
        std::cerr << "hyp: error: " << store.error().message << "\n";
        return kExitFailure;
    }
    auto core = (*store)->get_by_key(*key);
    if (!core) {
        std::cerr << "hyp: error: " << core.error().message << "\n";
        return kExitFailure;
    }
    const auto seed = crypto::derive_key("@hypercore-protocol/hyperspace", (*store)->master_key(),
                                         as_bytes("replication-keypair"));
    asio::io_context io;
    Session session(args, **core, protocol::noise_keypair_from_seed(seed), io);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int) {
        if (!ec) session.finish();  // interrupted: exit 0 with what we have
    });
    {
        async::TaskGroup root(io.get_executor(), "hyp");
        root.spawn("replicate", run_session(session, signals));
        io.run();  // returns once the session ended and its tasks were joined
    }
    if (auto s = (*core)->sync(); !s.ok()) std::cerr << "hyp: error: " << s.error().message << "\n";
    session.print_summary();
    return session.exit_code;
}

}  // namespace

void add_replicate_command(CLI::App& app, int* exit_code) {
    auto args = std::make_shared<ReplicateArgs>();
    auto* cmd = app.add_subcommand("replicate", "Replicate one core with one peer over TCP (no DHT)");
    cmd->add_option("--storage,-s", args->storage, "Storage folder (created if missing)");
    cmd->add_option("KEY", args->key, "Core key (hex or hyper://)")->required();
    cmd->add_option("--listen", args->listen, "Serve peers on HOST:PORT until interrupted");
    cmd->add_option("--connect", args->connect, "Connect to a peer at HOST:PORT");
    cmd->add_option("--bind", args->bind, "Source address for --connect (e.g. 127.0.0.2)");
    cmd->add_option("--start", args->start, "Download only from this block");
    cmd->add_option("--end", args->end, "Download only up to this block (exclusive)");
    cmd->add_option("--generation", args->generation,
                    "9: a hypercore 9 core (hypercore-protocol 8); 11: a hypercore 10/11 core "
                    "(secret-stream, protomux, corestore 7 storage)")
        ->default_val(9);
    cmd->add_flag("--live", args->live, "Keep replicating appends until interrupted or the peer closes");
    cmd->add_flag("--json", args->json, "Print a one-line JSON summary at the end");
    cmd->add_option("--extension", args->extensions,
                    "Register a core extension; received messages print on stderr as "
                    "'extension NAME BASE64'")
        ->allow_extra_args(false);
    cmd->add_option("--send-extension", args->send_extensions,
                    "NAME=TEXT: register NAME and send TEXT to each peer when it opens the core")
        ->allow_extra_args(false);
    cmd->callback([args, exit_code] { *exit_code = run_replicate(*args); });
}

}  // namespace hs::cli
