#include "service/replication.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "service/client_state.h"
#include "common/util/hex.h"

namespace hs::service {
using namespace hs::rpc;  // the codec's messages
namespace {

Peer to_rpc(const swarm::PeerInfo& info) {
    Peer p;
    p.remote_public_key = info.remote_public_key;
    p.remote_address = info.remote_address;
    p.type = info.type;
    return p;
}

std::optional<ByteView> key_view(const std::optional<Bytes>& key) {
    if (!key) return std::nullopt;
    return ByteView(*key);
}

}  // namespace

Replication::Replication(asio::any_io_executor executor, CoreRegistry& registry,
                         std::shared_ptr<spdlog::logger> log)
    : m_executor(executor),
      m_registry(registry),
      m_log(log),
      m_tasks(std::move(executor), "replication", std::move(log)) {}

Replication::~Replication() = default;

asio::awaitable<void> Replication::close() {
    m_tasks.cancel();
    co_await m_tasks.join();
}

swarm::NetworkerEvents Replication::networker_events() {
    swarm::NetworkerEvents ev;
    ev.peer_add = [this](const swarm::PeerInfo& info) {
        if (!for_each_client) return;
        const PeerEvent event{0, to_rpc(info)};
        for_each_client([&](ClientState& c) { send_event(c.sink(), Method::NetworkOnPeerAdd, event); });
    };
    ev.peer_remove = [this](const swarm::PeerInfo& info) {
        if (!for_each_client) return;
        const PeerEvent event{0, to_rpc(info)};
        for_each_client(
            [&](ClientState& c) { send_event(c.sink(), Method::NetworkOnPeerRemove, event); });
    };
    ev.core_peer_open = [this](const crypto::Hash32& dk, const swarm::PeerInfo& info) {
        if (LoadedCore* core = m_registry.find(dk)) m_registry.notify_peer(*core, to_rpc(info), true);
    };
    ev.core_peer_remove = [this](const crypto::Hash32& dk, const swarm::PeerInfo& info) {
        if (LoadedCore* core = m_registry.find(dk))
            m_registry.notify_peer(*core, to_rpc(info), false);
    };
    ev.append = [this](const crypto::Hash32& dk) {
        if (LoadedCore* core = m_registry.find(dk)) m_registry.notify_remote_append(*core);
    };
    ev.download = [this](const crypto::Hash32& dk, std::uint64_t seq, std::uint64_t bytes) {
        if (LoadedCore* core = m_registry.find(dk)) m_registry.notify_download(*core, seq, bytes);
    };
    ev.upload = [this](const crypto::Hash32& dk, std::uint64_t seq, std::uint64_t bytes) {
        if (LoadedCore* core = m_registry.find(dk)) m_registry.notify_upload(*core, seq, bytes);
    };
    ev.core_extension = [this](const crypto::Hash32& dk, std::string_view name, ByteView data,
                               const swarm::PeerInfo& from) {
        LoadedCore* core = m_registry.find(dk);
        if (!core) return;
        ExtensionMessage msg;
        msg.remote_public_key = from.remote_public_key;
        msg.data = Bytes(data.begin(), data.end());
        for (CoreSession* s : core->sessions()) {
            s->owner->for_each_resource([&](std::uint64_t rid, const Resource& r) {
                if (r.kind != Resource::Kind::CoreExtension || r.session_id != s->id ||
                    r.name != name)
                    return;
                msg.id = s->id;
                msg.resource_id = rid;
                send_event(*s->sink, Method::HypercoreOnExtension, msg);
            });
        }
    };
    ev.stream_extension = [this](std::string_view name, ByteView data,
                                 const swarm::PeerInfo& from) {
        if (!for_each_client) return;
        ExtensionMessage msg;
        msg.id = 0;
        msg.remote_public_key = from.remote_public_key;
        msg.data = Bytes(data.begin(), data.end());
        for_each_client([&](ClientState& c) {
            c.for_each_resource([&](std::uint64_t rid, const Resource& r) {
                if (r.kind != Resource::Kind::NetworkExtension || r.name != name) return;
                msg.resource_id = rid;
                send_event(c.sink(), Method::NetworkOnExtension, msg);
            });
        });
    };
    return ev;
}

void Replication::attach(swarm::Networker& networker) {
    m_networker = &networker;
    m_registry.set_peer_availability(this);
    m_registry.observe_load([this](LoadedCore& core) {
        if (m_networker) m_networker->add_core(core.feed());
    });
    m_registry.observe_close([this](LoadedCore& core) {
        if (m_networker) m_networker->remove_core(core.discovery_key());
    });
}

void Replication::open_passive(const crypto::Hash32& discovery_key) {
    auto core = m_registry.open_by_discovery_key(discovery_key);
    if (!core && core.error().code != Errc::NotFound)
        m_log->debug("a peer asked for {}: {}", to_hex(discovery_key), core.error().message);
    // A passive core stays in the registry's LRU like any unreferenced core (collected after
    // the next RPC batch, never inside a stream callback).
}

bool Replication::block_available(const LoadedCore& core, std::uint64_t seq) {
    auto* rep = m_networker ? m_networker->replicator(core.discovery_key()) : nullptr;
    return rep && rep->remote_has(seq);
}

bool Replication::length_available(const LoadedCore& core, std::uint64_t min_length) {
    auto* rep = m_networker ? m_networker->replicator(core.discovery_key()) : nullptr;
    return rep && rep->remote_length() >= min_length;
}

bool Replication::seek_available(const LoadedCore& core, std::uint64_t start, std::uint64_t end) {
    auto* rep = m_networker ? m_networker->replicator(core.discovery_key()) : nullptr;
    if (!rep) return false;
    std::optional<std::uint64_t> stop;
    if (end) stop = end;
    return rep->remote_has_missing(start, stop);
}

std::uint64_t Replication::fetch(LoadedCore& core, std::uint64_t start,
                                 std::optional<std::uint64_t> end,
                                 const std::vector<std::uint64_t>& blocks) {
    auto* rep = m_networker ? m_networker->replicator(core.discovery_key()) : nullptr;
    if (!rep) return 0;
    if (!blocks.empty()) {
        // A list of blocks: one range over them (the registry checks each block).
        const auto [lo, hi] = std::minmax_element(blocks.begin(), blocks.end());
        return rep->download(protocol::DownloadRange{*lo, *hi + 1});
    }
    return rep->download(protocol::DownloadRange{start, end});
}

std::uint64_t Replication::fetch_head(LoadedCore& core, bool hash) {
    auto* rep = m_networker ? m_networker->replicator(core.discovery_key()) : nullptr;
    if (!rep) return 0;
    protocol::DownloadRange range;
    range.start = core.feed().length();
    range.head = true;
    range.hash = hash;
    return rep->download(range);
}

void Replication::unfetch(LoadedCore& core, std::uint64_t handle) {
    if (auto* rep = m_networker ? m_networker->replicator(core.discovery_key()) : nullptr)
        rep->undownload(handle);
}

void Replication::gate(LoadedCore& core, WaiterId waiter, Gate kind, std::uint64_t a,
                       std::uint64_t b, RpcFailure failure) {
    m_tasks.spawn("gate", run_gate(core.discovery_key(), waiter, kind, a, b, std::move(failure)));
}

asio::awaitable<void> Replication::run_gate(crypto::Hash32 dk, WaiterId waiter, Gate kind,
                                            std::uint64_t a, std::uint64_t b,
                                            RpcFailure failure) {
    const auto deadline = std::chrono::steady_clock::now() + kGateTimeout;
    if (m_networker) {
        if (m_networker->swarm().joined(dk)) co_await m_networker->flush(dk, deadline);
        co_await m_networker->settle(dk, deadline);
    }
    LoadedCore* core = m_registry.find(dk);
    if (!core || !m_registry.has_waiter(*core, waiter)) co_return;  // answered meanwhile
    bool available = false;
    switch (kind) {
        case Gate::Get:
            available = core->feed().has(a) || block_available(*core, a);
            break;
        case Gate::Update:
            available = core->feed().length() >= a || length_available(*core, a);
            break;
        case Gate::Seek:
            available = seek_available(*core, a, b);
            break;
    }
    if (!available) m_registry.fail_waiter(*core, waiter, failure);
}

asio::awaitable<void> Replication::flush(crypto::Hash32 discovery_key) {
    if (!m_networker) co_return;
    co_await m_networker->flush(discovery_key, std::chrono::steady_clock::now() + kFlushTimeout);
}

void Replication::local_append(LoadedCore& core, std::uint64_t start, std::uint64_t count) {
    if (m_networker) m_networker->announce_append(core.discovery_key(), start, count);
}

std::vector<Peer> Replication::core_peers(const LoadedCore& core) const {
    std::vector<Peer> out;
    if (!m_networker) return out;
    for (const auto& info : m_networker->core_peers(core.discovery_key()))
        out.push_back(to_rpc(info));
    return out;
}

std::vector<Peer> Replication::peers() const {
    std::vector<Peer> out;
    if (!m_networker) return out;
    for (const auto& info : m_networker->peers()) out.push_back(to_rpc(info));
    return out;
}

void Replication::core_extensions_changed(LoadedCore& core) {
    if (!m_networker) return;
    std::set<std::string> names;
    for (CoreSession* s : core.sessions())
        s->owner->for_each_resource([&](std::uint64_t, const Resource& r) {
            if (r.kind == Resource::Kind::CoreExtension && r.session_id == s->id)
                names.insert(r.name);
        });
    m_networker->set_core_extensions(core.discovery_key(),
                                     std::vector<std::string>(names.begin(), names.end()));
}

void Replication::network_extensions_changed() {
    if (!m_networker || !for_each_client) return;
    std::set<std::string> names;
    for_each_client([&](ClientState& c) {
        c.for_each_resource([&](std::uint64_t, const Resource& r) {
            if (r.kind == Resource::Kind::NetworkExtension) names.insert(r.name);
        });
    });
    m_networker->set_stream_extensions(std::vector<std::string>(names.begin(), names.end()));
}

void Replication::send_core_extension(LoadedCore& core, const std::string& name, ByteView data,
                                      const std::optional<Bytes>& to) {
    if (m_networker) m_networker->send_core_extension(core.discovery_key(), name, data, key_view(to));
}

void Replication::send_network_extension(const std::string& name, ByteView data,
                                         const std::optional<Bytes>& to) {
    if (m_networker) m_networker->send_stream_extension(name, data, key_view(to));
}

}  // namespace hs::service
