#include "service/core_registry.h"

#include <spdlog/spdlog.h>

#include "v9/corestore/layout.h"
#include "common/crypto/derive.h"
#include "service/client_state.h"
#include "service/errors.h"
#include "common/util/hex.h"

namespace hs::service {
using namespace hs::rpc;  // the codec's messages

CoreRegistry::CoreRegistry(corestore::Corestore& store, CoreRegistryOptions options,
                           std::shared_ptr<spdlog::logger> log)
    : m_store(store), m_options(options), m_log(std::move(log)) {
    m_internal_key =
        crypto::corestore_keypair(store.master_key(), as_bytes(corestore::kInternalCoreName))
            .public_key;
}

CoreRegistry::~CoreRegistry() = default;

Result<LoadedCore*> CoreRegistry::open(const OpenSpec& spec) {
    auto reserved = [] { return Error{Errc::InvalidArgument, std::string(errors::kReservedName)}; };
    if (spec.key) {
        if (*spec.key == m_internal_key) return reserved();
        HS_ASSIGN_OR_RETURN(auto handle, m_store.get_by_key(*spec.key));
        return adopt(std::move(handle));
    }
    if (spec.name && !spec.name->empty()) {
        if (as_string(*spec.name) == corestore::kInternalCoreName) return reserved();
        HS_ASSIGN_OR_RETURN(auto handle, m_store.get_by_name(*spec.name));
        return adopt(std::move(handle));
    }
    HS_ASSIGN_OR_RETURN(auto handle, m_store.create());
    return adopt(std::move(handle));
}

Result<LoadedCore*> CoreRegistry::open_by_discovery_key(const crypto::Hash32& discovery_key) {
    if (auto* core = find(discovery_key)) return core;
    if (discovery_key == crypto::discovery_key(m_internal_key))
        return make_error(Errc::NotFound, "the internal core is not offered to peers");
    HS_ASSIGN_OR_RETURN(auto handle, m_store.get_by_discovery_key(discovery_key));
    return adopt(std::move(handle));
}

LoadedCore* CoreRegistry::find(const crypto::Hash32& discovery_key) const {
    auto it = m_cores.find(discovery_key);
    return it == m_cores.end() ? nullptr : it->second.get();
}

LoadedCore* CoreRegistry::adopt(corestore::CoreHandle handle) {
    const crypto::Hash32 dk = handle->discovery_key();
    if (auto* core = find(dk)) {
        // Touch it: a core a client asks for again is the most recently used.
        if (core->m_in_lru) {
            m_lru.erase(core->m_lru);
            m_lru.push_front(dk);
            core->m_lru = m_lru.begin();
        }
        return core;
    }
    std::unique_ptr<LoadedCore> owned(new LoadedCore(std::move(handle), dk));
    LoadedCore* core = owned.get();
    core->m_joined = m_joined.count(dk) != 0;
    if (!core->m_joined) {
        m_lru.push_front(dk);
        core->m_lru = m_lru.begin();
        core->m_in_lru = true;
    }
    m_cores.emplace(dk, std::move(owned));
    m_log->debug("loaded core {} (length {}, {} loaded)", to_hex(core->feed().key()),
                 core->feed().length(), m_cores.size());
    for (auto& observer : m_load_observers) observer(*core);
    return core;
}

void CoreRegistry::add_ref(LoadedCore& core) {
    if (core.m_in_lru) {
        m_lru.erase(core.m_lru);
        core.m_in_lru = false;
    }
    ++core.m_refs;
}

void CoreRegistry::drop_ref(LoadedCore& core) {
    HS_ASSERT(core.m_refs > 0);
    if (--core.m_refs > 0 || core.m_joined) return;
    m_lru.push_front(core.m_discovery_key);
    core.m_lru = m_lru.begin();
    core.m_in_lru = true;
}

void CoreRegistry::attach(LoadedCore& core, CoreSession& session) {
    HS_ASSERT(session.core == nullptr);
    session.core = &core;
    core.m_sessions.push_back(&session);
    if (!session.weak) add_ref(core);
}

void CoreRegistry::detach(CoreSession& session) {
    LoadedCore* core = session.core;
    if (!core) return;
    auto& list = core->m_sessions;
    for (auto it = list.begin(); it != list.end(); ++it) {
        if (*it == &session) {
            list.erase(it);
            break;
        }
    }
    session.core = nullptr;
    if (!session.weak) drop_ref(*core);
}

void CoreRegistry::set_joined(const crypto::Hash32& discovery_key, bool joined) {
    if (joined)
        m_joined.insert(discovery_key);
    else
        m_joined.erase(discovery_key);
    LoadedCore* core = find(discovery_key);
    if (!core || core->m_joined == joined) return;
    core->m_joined = joined;
    if (joined && core->m_in_lru) {
        m_lru.erase(core->m_lru);
        core->m_in_lru = false;
    } else if (!joined && core->m_refs == 0 && !core->m_in_lru) {
        m_lru.push_front(discovery_key);
        core->m_lru = m_lru.begin();
        core->m_in_lru = true;
    }
}

Status CoreRegistry::sync_all() {
    Status first;
    for (auto& [dk, core] : m_cores) {
        auto st = core->feed().sync();
        if (!st && first.ok()) first = std::move(st);
    }
    return first;
}

void CoreRegistry::collect() {
    while (m_lru.size() > m_options.cache_size) {
        auto it = m_cores.find(m_lru.back());
        HS_ASSERT(it != m_cores.end());
        evict(*it->second);
    }
}

namespace {

template <typename List>
void fail_all(List& list, const RpcFailure& failure) {
    List taken;
    taken.swap(list);
    for (auto& w : taken) {
        w.reply.fail(failure);
        w.client->waiter_done(w.id);
    }
}

}  // namespace

void CoreRegistry::evict(LoadedCore& core) {
    HS_ASSERT(core.m_refs == 0 && !core.m_joined && core.m_in_lru);
    m_lru.erase(core.m_lru);
    core.m_in_lru = false;
    for (auto& observer : m_close_observers) observer(core);
    // Only weak sessions can remain on an unreferenced core.
    for (CoreSession* s : core.m_sessions) {
        if (s->weak) send_event(*s->sink, Method::HypercoreOnClose, CloseEvent{s->id});
        s->core = nullptr;
    }
    core.m_sessions.clear();
    const auto closed = errors::failure(errors::kFeedClosed);
    fail_all(core.m_gets, closed);
    fail_all(core.m_updates, closed);
    fail_all(core.m_seeks, closed);
    fail_all(core.m_downloads, closed);
    fail_all(core.m_lock_queue, closed);
    core.m_lock_owner.reset();
    const crypto::Hash32 dk = core.m_discovery_key;
    m_log->debug("closed unreferenced core {} (cache size {})", to_hex(core.feed().key()),
                 m_options.cache_size);
    m_cores.erase(dk);  // releases the CoreHandle: the corestore closes the feed
}

Result<AppendResponse> CoreRegistry::append(LoadedCore& core, std::span<const ByteView> blocks) {
    hypercore::Feed& feed = core.feed();
    auto seq = feed.append(blocks);
    if (!seq) {
        const Error& e = seq.error();
        if (e.code == Errc::NotWritable) return Error{e.code, std::string(errors::kNotWritable)};
        if (e.code == Errc::TooLarge) return Error{e.code, std::string(errors::kBlockTooLarge)};
        return std::move(seq).error();
    }
    notify_remote_append(core);
    return AppendResponse{feed.length(), feed.byte_length(), *seq};
}

void CoreRegistry::notify_remote_append(LoadedCore& core) {
    const hypercore::Feed& feed = core.feed();
    AppendEvent event{0, feed.length(), feed.byte_length()};
    for (CoreSession* s : core.m_sessions) {
        event.id = s->id;
        send_event(*s->sink, Method::HypercoreOnAppend, event);
    }
    wake(core);
}

void CoreRegistry::notify_download(LoadedCore& core, std::uint64_t seq, std::uint64_t bytes) {
    for (CoreSession* s : core.m_sessions) {
        if (!s->watch_downloads) continue;
        send_event(*s->sink, Method::HypercoreOnDownload, DownloadEvent{s->id, seq, bytes});
    }
    wake(core);
}

void CoreRegistry::notify_upload(LoadedCore& core, std::uint64_t seq, std::uint64_t bytes) {
    for (CoreSession* s : core.m_sessions) {
        if (!s->watch_uploads) continue;
        send_event(*s->sink, Method::HypercoreOnUpload, UploadEvent{s->id, seq, bytes});
    }
}

CoreRegistry::SeekAttempt CoreRegistry::try_seek(hypercore::Feed& feed, std::uint64_t byte_offset) {
    if (byte_offset == feed.byte_length())
        return {SeekOutcome::Found, SeekResponse{feed.length(), 0}};
    if (byte_offset > feed.byte_length()) return {SeekOutcome::OutOfBounds, {}};
    auto r = feed.seek(byte_offset);
    if (!r) return {SeekOutcome::Unresolved, {}};
    return {SeekOutcome::Found, SeekResponse{r->index, r->offset}};
}

void CoreRegistry::wake(LoadedCore& core) {
    hypercore::Feed& feed = core.feed();
    for (auto it = core.m_gets.begin(); it != core.m_gets.end();) {
        if (!feed.has(it->seq)) {
            ++it;
            continue;
        }
        auto w = std::move(*it);
        it = core.m_gets.erase(it);
        auto block = feed.get(w.seq);
        if (block)
            w.reply.ok(GetResponse{std::move(*block)});
        else
            w.reply.fail(errors::failure(block.error().message));
        w.client->waiter_done(w.id);
    }
    for (auto it = core.m_updates.begin(); it != core.m_updates.end();) {
        if (feed.length() < it->min_length) {
            ++it;
            continue;
        }
        auto w = std::move(*it);
        it = core.m_updates.erase(it);
        if (w.fetch && m_peers) m_peers->unfetch(core, w.fetch);
        w.reply.ok();
        w.client->waiter_done(w.id);
    }
    for (auto it = core.m_seeks.begin(); it != core.m_seeks.end();) {
        auto attempt = try_seek(feed, it->byte_offset);
        if (attempt.outcome != SeekOutcome::Found) {
            ++it;
            continue;
        }
        auto w = std::move(*it);
        it = core.m_seeks.erase(it);
        if (w.fetch && m_peers) m_peers->unfetch(core, w.fetch);
        w.reply.ok(attempt.response);
        w.client->waiter_done(w.id);
    }
    for (auto it = core.m_downloads.begin(); it != core.m_downloads.end();) {
        if (!range_complete(feed, it->range)) {
            ++it;
            continue;
        }
        auto w = std::move(*it);
        it = core.m_downloads.erase(it);
        if (w.fetch && m_peers) m_peers->unfetch(core, w.fetch);
        w.reply.ok();
        w.client->waiter_done(w.id);
    }
}

bool CoreRegistry::range_complete(hypercore::Feed& feed, const DownloadTarget& range) {
    if (!range.blocks.empty()) {
        for (auto b : range.blocks)
            if (!feed.has(b)) return false;
        return true;
    }
    if (!range.end) return false;  // unbounded (live): only undownload ends it
    return feed.has(range.start, *range.end);
}

WaiterId CoreRegistry::wait_get(LoadedCore& core, ClientState& client, std::uint64_t session_id,
                                std::uint64_t seq, Responder reply) {
    LoadedCore::GetWaiter w;
    w.id = next_id();
    w.client = &client;
    w.session_id = session_id;
    w.reply = std::move(reply);
    w.seq = seq;
    if (m_peers) w.fetch = m_peers->fetch(core, seq, seq + 1, {});
    core.m_gets.push_back(std::move(w));
    return core.m_gets.back().id;
}

WaiterId CoreRegistry::wait_update(LoadedCore& core, ClientState& client, std::uint64_t session_id,
                                   std::uint64_t min_length, bool hash, Responder reply) {
    LoadedCore::UpdateWaiter w;
    w.id = next_id();
    w.client = &client;
    w.session_id = session_id;
    w.reply = std::move(reply);
    w.min_length = min_length;
    // hypercore 9 learns a longer length from the signed proof of the newest block (only the
    // proof unless `hash: false`): follow the peers from here.
    if (m_peers) w.fetch = m_peers->fetch_head(core, hash);
    core.m_updates.push_back(std::move(w));
    return core.m_updates.back().id;
}

WaiterId CoreRegistry::wait_seek(LoadedCore& core, ClientState& client, std::uint64_t session_id,
                                 std::uint64_t byte_offset, Responder reply) {
    LoadedCore::SeekWaiter w;
    w.id = next_id();
    w.client = &client;
    w.session_id = session_id;
    w.reply = std::move(reply);
    w.byte_offset = byte_offset;
    core.m_seeks.push_back(std::move(w));
    return core.m_seeks.back().id;
}

std::optional<WaiterId> CoreRegistry::download(LoadedCore& core, ClientState& client,
                                               std::uint64_t session_id, DownloadTarget range,
                                               Responder reply) {
    // A range already stored resolves at once, peers or not (docs/behaviour/quirks.md #19).
    if (range_complete(core.feed(), range)) {
        reply.ok();
        return std::nullopt;
    }
    LoadedCore::DownloadWaiter w;
    w.id = next_id();
    w.client = &client;
    w.session_id = session_id;
    w.reply = std::move(reply);
    w.range = std::move(range);
    if (m_peers) w.fetch = m_peers->fetch(core, w.range.start, w.range.end, w.range.blocks);
    core.m_downloads.push_back(std::move(w));
    return core.m_downloads.back().id;
}

namespace {

template <typename List>
bool cancel_in(List& list, WaiterId id, const RpcFailure* failure, std::uint64_t& fetch,
               ClientState** client) {
    for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->id != id) continue;
        auto w = std::move(*it);
        list.erase(it);
        fetch = w.fetch;
        if (client) *client = w.client;
        if (failure) w.reply.fail(*failure);
        return true;
    }
    return false;
}

template <typename List>
bool has_in(const List& list, WaiterId id) {
    for (const auto& w : list)
        if (w.id == id) return true;
    return false;
}

}  // namespace

void CoreRegistry::cancel_waiter(LoadedCore& core, WaiterId id, const RpcFailure* failure) {
    std::uint64_t fetch = 0;
    ClientState** none = nullptr;
    cancel_in(core.m_gets, id, failure, fetch, none) ||
        cancel_in(core.m_downloads, id, failure, fetch, none) ||
        cancel_in(core.m_updates, id, failure, fetch, none) ||
        cancel_in(core.m_seeks, id, failure, fetch, none) ||
        cancel_in(core.m_lock_queue, id, failure, fetch, none);
    if (fetch && m_peers) m_peers->unfetch(core, fetch);
}

bool CoreRegistry::fail_waiter(LoadedCore& core, WaiterId id, const RpcFailure& failure) {
    std::uint64_t fetch = 0;
    ClientState* client = nullptr;
    const bool found = cancel_in(core.m_gets, id, &failure, fetch, &client) ||
                       cancel_in(core.m_updates, id, &failure, fetch, &client) ||
                       cancel_in(core.m_seeks, id, &failure, fetch, &client);
    if (!found) return false;
    if (fetch && m_peers) m_peers->unfetch(core, fetch);
    if (client) client->waiter_done(id);
    return true;
}

bool CoreRegistry::has_waiter(const LoadedCore& core, WaiterId id) const {
    return has_in(core.m_gets, id) || has_in(core.m_updates, id) || has_in(core.m_seeks, id) ||
           has_in(core.m_downloads, id);
}

void CoreRegistry::notify_peer(LoadedCore& core, const Peer& peer, bool open) {
    PeerEvent event{0, peer};
    for (CoreSession* s : core.m_sessions) {
        event.id = s->id;
        send_event(*s->sink, open ? Method::HypercoreOnPeerOpen : Method::HypercoreOnPeerRemove,
                   event);
    }
}

std::optional<WaiterId> CoreRegistry::acquire_lock(LoadedCore& core, ClientState& client,
                                                   std::uint64_t session_id, Responder reply) {
    if (!core.m_lock_owner) {
        core.m_lock_owner = LoadedCore::LockOwner{&client, session_id};
        reply.ok();
        return std::nullopt;
    }
    LoadedCore::Waiter w;
    w.id = next_id();
    w.client = &client;
    w.session_id = session_id;
    w.reply = std::move(reply);
    core.m_lock_queue.push_back(std::move(w));
    return core.m_lock_queue.back().id;
}

std::optional<RpcFailure> CoreRegistry::release_lock(LoadedCore& core, ClientState& client,
                                                     std::uint64_t session_id) {
    if (!core.m_lock_owner) return errors::failure(errors::kCoreNotLocked);
    if (!(*core.m_lock_owner == LoadedCore::LockOwner{&client, session_id}))
        return errors::failure(errors::kCoreNotLockedByYou);
    grant_next_lock(core);
    return std::nullopt;
}

void CoreRegistry::drop_lock(LoadedCore& core, ClientState& client, std::uint64_t session_id) {
    if (core.m_lock_owner && *core.m_lock_owner == LoadedCore::LockOwner{&client, session_id})
        grant_next_lock(core);
}

void CoreRegistry::grant_next_lock(LoadedCore& core) {
    core.m_lock_owner.reset();
    if (core.m_lock_queue.empty()) return;
    auto w = std::move(core.m_lock_queue.front());
    core.m_lock_queue.pop_front();
    core.m_lock_owner = LoadedCore::LockOwner{w.client, w.session_id};
    w.reply.ok();
    w.client->waiter_done(w.id);
}

}  // namespace hs::service
