#include "v9/swarm/networker.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "v9/protocol/stream_io.h"
#include "common/util/hex.h"

namespace hs::swarm {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kPoll{50};

bool misbehaved(const Error& e) {
    return e.code == Errc::Protocol || e.code == Errc::FrameTooLarge ||
           e.code == Errc::VerificationFailed;
}

bool same_key(const protocol::Stream& stream, ByteView key) {
    const auto& remote = stream.remote_public_key();
    return remote && std::equal(remote->begin(), remote->end(), key.begin(), key.end());
}

}  // namespace

struct Networker::Connection {
    Connection(asio::ip::tcp::socket s, ConnectionInfo i) : info(i), socket(std::move(s)) {}
    ConnectionInfo info;
    asio::ip::tcp::socket socket;
    std::unique_ptr<ConnectionEvents> events;
    std::unique_ptr<protocol::Stream> stream;
    bool handshaken = false;
    bool added = false;      // peer_add reported: it replicates
    bool duplicate = false;  // lost deduplication
    std::vector<std::string> remote_extensions;  // the remote's sorted stream extension names
};

struct Networker::Core {
    explicit Core(hypercore::Feed& f) : feed(f), replicator(f) {}
    hypercore::Feed& feed;
    protocol::FeedReplicator replicator;
    std::map<const protocol::Stream*, PeerInfo> opened;  // remote opened the core on these
};

class Networker::ConnectionEvents final : public protocol::StreamEvents {
public:
    ConnectionEvents(Networker& owner, Connection& conn) : m_owner(owner), m_conn(conn) {}

    void on_handshake(protocol::Stream&) override { m_owner.handshake_done(m_conn); }

    void on_discovery_key(protocol::Stream& stream, const crypto::Hash32& dk) override {
        if (!m_conn.added || m_owner.m_closing) return;  // refused with Close{dk}
        auto it = m_owner.m_cores.find(dk);
        if (it != m_owner.m_cores.end()) {
            (void)it->second->replicator.add_stream(stream);
            return;
        }
        m_owner.m_source.open_passive(dk);  // add_core opens it on this stream when stored
    }

    void on_stream_extension(protocol::Stream& stream, std::uint64_t id,
                             ByteView payload) override {
        if (!m_conn.added || id >= m_conn.remote_extensions.size()) return;
        const std::string& name = m_conn.remote_extensions[id];
        if (!std::binary_search(m_owner.m_stream_extensions.begin(),
                                m_owner.m_stream_extensions.end(), name))
            return;
        if (m_owner.m_events.stream_extension)
            m_owner.m_events.stream_extension(name, payload, m_owner.peer_info(stream));
    }

    void on_stream_options(protocol::Stream&, const protocol::msg::Options& options) override {
        m_conn.remote_extensions = options.extensions;
    }

    void on_close(protocol::Stream&, const Error& reason) override {
        m_owner.m_log->debug("connection {} ({}) closed: {}", m_conn.info.id,
                             m_conn.info.remote.address().to_string(), reason.message);
        m_owner.m_changed.notify();
    }

private:
    Networker& m_owner;
    Connection& m_conn;
};

Networker::Networker(asio::any_io_executor executor, SwarmOptions swarm_options,
                     protocol::NoiseKeyPair keys, CoreSource& source, NetworkerEvents events,
                     std::shared_ptr<spdlog::logger> log)
    : m_executor(executor),
      m_keys(keys),
      m_source(source),
      m_events(std::move(events)),
      m_log(log ? std::move(log) : spdlog::default_logger()),
      m_swarm(executor, std::move(swarm_options),
              [this](asio::ip::tcp::socket socket, ConnectionInfo info) {
                  on_connection(std::move(socket), info);
              }),
      m_changed(executor),
      m_tasks(executor, "networker", m_log) {
    m_swarm.on_duplicate = [this](std::uint64_t id) {
        auto it = m_connections.find(id);
        if (it == m_connections.end()) return;
        Connection& conn = *it->second;
        conn.duplicate = true;
        // The side that dialed a duplicate ends it (docs/behaviour/networking.md "Deduplication").
        if (conn.info.initiator && conn.stream)
            conn.stream->close(make_error(Errc::Closed, "duplicate connection"));
    };
    // Handshake deadline passed, or evicted from the full handshake pool.
    m_swarm.on_drop = [this](std::uint64_t id, const Error& reason) {
        auto it = m_connections.find(id);
        if (it == m_connections.end()) return;
        Connection& conn = *it->second;
        if (conn.stream && !conn.stream->closed()) conn.stream->close(reason);
    };
}

Networker::~Networker() {
    for (auto& [dk, core] : m_cores) {
        core->replicator.on_peer_change = nullptr;
        core->replicator.on_peer_open = nullptr;
    }
}

void Networker::start() {
    if (m_started) return;
    m_started = true;
    m_swarm.start();
    m_tasks.spawn("tick-loop", tick_loop());
}

asio::awaitable<void> Networker::tick_loop() {
    m_tick = std::make_unique<asio::steady_timer>(m_executor);
    while (!m_closing) {
        m_tick->expires_after(std::chrono::seconds(1));
        co_await m_tick->async_wait(kUseTuple);
        if (m_closing) break;
        const auto now = protocol::Clock::now();
        for (auto& [dk, core] : m_cores) core->replicator.tick(now);
    }
}

void Networker::on_connection(asio::ip::tcp::socket socket, ConnectionInfo info) {
    if (m_closing) {
        std::error_code ignored;
        socket.close(ignored);
        m_swarm.connection_closed(info.id, false);
        return;
    }
    auto conn = std::make_shared<Connection>(std::move(socket), info);
    conn->events = std::make_unique<ConnectionEvents>(*this, *conn);
    protocol::StreamOptions options;
    options.initiator = info.initiator;
    options.static_keys = m_keys;
    conn->stream =
        std::make_unique<protocol::Stream>(options, *conn->events, protocol::Clock::now());
    m_connections.emplace(info.id, conn);
    m_tasks.spawn("connection", run_connection(conn));
}

asio::awaitable<void> Networker::run_connection(std::shared_ptr<Connection> conn) {
    const Error reason = co_await protocol::run_stream(conn->socket, *conn->stream);
    const bool was_added = conn->added;
    const PeerInfo info = conn->handshaken ? peer_info(*conn->stream) : PeerInfo{};
    conn->added = false;
    m_connections.erase(conn->info.id);
    m_swarm.connection_closed(conn->info.id, misbehaved(reason));
    if (was_added) {
        m_log->debug("peer {} removed: {}", info.remote_address, reason.message);
        if (m_events.peer_remove) m_events.peer_remove(info);
    }
    conn->stream.reset();  // closes whatever channels are left
    m_changed.notify();
}

PeerInfo Networker::peer_info(const protocol::Stream& stream) const {
    PeerInfo info;
    if (const auto& key = stream.remote_public_key())
        info.remote_public_key = Bytes(key->begin(), key->end());
    if (const Connection* conn = connection_of(stream))
        info.remote_address = conn->info.remote.address().to_string();
    return info;
}

Networker::Connection* Networker::connection_of(const protocol::Stream& stream) const {
    for (const auto& [id, conn] : m_connections)
        if (conn->stream.get() == &stream) return conn.get();
    return nullptr;
}

void Networker::handshake_done(Connection& conn) {
    conn.handshaken = true;
    m_changed.notify();
    const auto& remote = conn.stream->remote_public_key();
    if (!remote) return;
    switch (m_swarm.deduplicate(conn.info.id, m_keys.public_key, *remote)) {
        case DedupResult::Self:
            conn.stream->close(make_error(Errc::Closed, "Connected to self"));
            return;
        case DedupResult::Duplicate:
            conn.duplicate = true;
            if (conn.info.initiator)
                conn.stream->close(make_error(Errc::Closed, "duplicate connection"));
            return;
        case DedupResult::Full:
            conn.stream->close(make_error(Errc::Closed,
                                          "too many peers: {} connections are replicating already",
                                          m_swarm.peer_connection_count()));
            return;
        case DedupResult::Keep:
            break;
    }
    conn.added = true;
    const PeerInfo info = peer_info(*conn.stream);
    m_log->debug("peer {} added (connection {})", info.remote_address, conn.info.id);
    if (m_events.peer_add) m_events.peer_add(info);
    if (conn.stream->closed()) return;
    if (!m_stream_extensions.empty()) send_stream_options(conn);
    open_cores(conn);
}

void Networker::open_cores(Connection& conn) {
    for (auto& [dk, core] : m_cores) {
        if (conn.stream->closed()) return;
        (void)core->replicator.add_stream(*conn.stream);
    }
}

void Networker::add_core(hypercore::Feed& feed) {
    const crypto::Hash32 dk = feed.discovery_key();
    if (m_cores.count(dk)) return;
    auto owned = std::make_unique<Core>(feed);
    Core& core = *owned;
    m_cores.emplace(dk, std::move(owned));
    auto& rep = core.replicator;
    rep.on_length = [this, dk] {
        if (m_events.append) m_events.append(dk);
        m_changed.notify();
    };
    rep.on_download = [this, dk](std::uint64_t index, std::size_t bytes) {
        if (m_events.download) m_events.download(dk, index, bytes);
        m_changed.notify();
    };
    rep.on_upload = [this, dk](std::uint64_t index, std::size_t bytes) {
        if (m_events.upload) m_events.upload(dk, index, bytes);
    };
    rep.on_peer_open = [this, &core, dk](protocol::Stream& stream) {
        const PeerInfo info = peer_info(stream);
        core.opened[&stream] = info;
        if (m_events.core_peer_open) m_events.core_peer_open(dk, info);
        m_changed.notify();
    };
    rep.on_peer_change = [this, &core] {
        core_peers_changed(core);
        m_changed.notify();
    };
    rep.on_extension = [this, dk](std::string_view name, ByteView payload,
                                  protocol::Stream& from) {
        if (m_events.core_extension) m_events.core_extension(dk, name, payload, peer_info(from));
    };
    rep.on_peer_error = [this, dk](const Error& e) {
        m_log->debug("core {}: peer error: {}", to_hex(dk), e.message);
    };
    for (auto& [id, conn] : m_connections)
        if (conn->added && conn->stream && !conn->stream->closed())
            (void)rep.add_stream(*conn->stream);
}

void Networker::core_peers_changed(Core& core) {
    if (core.opened.empty()) return;
    const auto open = core.replicator.peer_streams();
    for (auto it = core.opened.begin(); it != core.opened.end();) {
        if (std::find(open.begin(), open.end(), it->first) != open.end()) {
            ++it;
            continue;
        }
        const PeerInfo info = it->second;
        it = core.opened.erase(it);
        if (m_events.core_peer_remove) m_events.core_peer_remove(core.feed.discovery_key(), info);
    }
}

void Networker::remove_core(const crypto::Hash32& discovery_key) {
    auto it = m_cores.find(discovery_key);
    if (it == m_cores.end()) return;
    auto& rep = it->second->replicator;
    rep.on_peer_change = nullptr;
    rep.on_peer_open = nullptr;
    rep.on_download = nullptr;
    rep.on_length = nullptr;
    rep.on_upload = nullptr;
    rep.on_extension = nullptr;
    m_cores.erase(it);  // closes its channels
}

protocol::FeedReplicator* Networker::replicator(const crypto::Hash32& discovery_key) {
    auto it = m_cores.find(discovery_key);
    return it == m_cores.end() ? nullptr : &it->second->replicator;
}

void Networker::announce_append(const crypto::Hash32& discovery_key, std::uint64_t start,
                                std::uint64_t count) {
    auto it = m_cores.find(discovery_key);
    if (it == m_cores.end()) return;
    it->second->replicator.announce_append(start, count);
}

void Networker::set_core_extensions(const crypto::Hash32& discovery_key,
                                    std::vector<std::string> names) {
    if (auto* rep = replicator(discovery_key)) rep->set_extensions(std::move(names));
}

void Networker::send_core_extension(const crypto::Hash32& discovery_key, std::string_view name,
                                    ByteView data, std::optional<ByteView> to) {
    auto* rep = replicator(discovery_key);
    if (!rep) return;
    if (!to) {
        (void)rep->send_extension(name, data);
        return;
    }
    for (protocol::Stream* stream : rep->peer_streams())
        if (same_key(*stream, *to)) (void)rep->send_extension(name, data, stream);
}

void Networker::configure(const crypto::Hash32& discovery_key, bool announce, bool lookup) {
    if (m_closing) return;
    if (announce || lookup)
        m_swarm.join(discovery_key, announce, lookup);
    else
        m_swarm.leave(discovery_key);
}

asio::awaitable<bool> Networker::flush(const crypto::Hash32& discovery_key,
                                       std::chrono::steady_clock::time_point deadline) {
    if (!co_await m_swarm.flush(discovery_key, deadline)) co_return false;
    // Every connection opened until now finishes its handshake or closes.
    // Only connections we dialed: an inbound connection that never speaks must not hold
    // every ifAvailable request for its whole handshake timeout.
    std::set<std::uint64_t> ids;
    for (const auto& [id, conn] : m_connections)
        if (!conn->handshaken && conn->info.initiator) ids.insert(id);
    for (;;) {
        bool pending = false;
        for (auto id : ids) {
            auto it = m_connections.find(id);
            if (it != m_connections.end() && !it->second->handshaken) pending = true;
        }
        if (!pending || m_closing) co_return true;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) co_return false;
        co_await m_changed.wait_until(std::min(deadline, now + kPoll));
    }
}

asio::awaitable<void> Networker::settle(const crypto::Hash32& discovery_key,
                                        std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        bool pending = false;
        for (const auto& [id, conn] : m_connections)
            if (!conn->handshaken && conn->info.initiator && conn->stream &&
                !conn->stream->closed())
                pending = true;
        if (!pending) {
            auto* rep = replicator(discovery_key);
            pending = rep && !rep->settled();
        }
        if (!pending || m_closing) co_return;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) co_return;
        co_await m_changed.wait_until(std::min(deadline, now + kPoll));
    }
}

std::vector<PeerInfo> Networker::peers() const {
    std::vector<PeerInfo> out;
    for (const auto& [id, conn] : m_connections)
        if (conn->added) out.push_back(peer_info(*conn->stream));
    return out;
}

std::vector<PeerInfo> Networker::core_peers(const crypto::Hash32& discovery_key) const {
    std::vector<PeerInfo> out;
    auto it = m_cores.find(discovery_key);
    if (it == m_cores.end()) return out;
    for (const auto& [stream, info] : it->second->opened) out.push_back(info);
    return out;
}

std::size_t Networker::peer_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [id, conn] : m_connections) n += conn->added ? 1 : 0;
    return n;
}

void Networker::send_stream_options(Connection& conn) {
    protocol::msg::Options options;
    options.extensions = m_stream_extensions;
    conn.stream->send_stream_options(options);
}

void Networker::set_stream_extensions(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names == m_stream_extensions) return;
    m_stream_extensions = std::move(names);
    for (auto& [id, conn] : m_connections)
        if (conn->added && !conn->stream->closed()) send_stream_options(*conn);
}

void Networker::send_stream_extension(std::string_view name, ByteView data,
                                      std::optional<ByteView> to) {
    auto it = std::lower_bound(m_stream_extensions.begin(), m_stream_extensions.end(), name);
    if (it == m_stream_extensions.end() || *it != name) return;
    const auto id = static_cast<std::uint64_t>(it - m_stream_extensions.begin());
    for (auto& [cid, conn] : m_connections) {
        if (!conn->added || conn->stream->closed()) continue;
        if (to && !same_key(*conn->stream, *to)) continue;
        conn->stream->send_stream_extension(id, data);
    }
}

asio::awaitable<void> Networker::close() {
    if (m_closing) co_return;
    co_await m_swarm.close();
    m_closing = true;
    if (m_tick) m_tick->cancel();
    for (auto& [id, conn] : m_connections)
        if (conn->stream && !conn->stream->closed())
            conn->stream->close(make_error(Errc::Closed, "the daemon is shutting down"));
    co_await m_tasks.join();
}

}  // namespace hs::swarm
