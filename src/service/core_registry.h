// The cores the daemon has loaded for its clients (docs/behaviour/rpc.md "Core references and
// eviction", "Locks", "Methods"): reference counts (one per strong session), the LRU of
// unreferenced cores bounded by cache_size (the GC), the per-core event fan-out (OnAppend to every
// session, OnClose to weak sessions), the requests waiting on a core (Get/Update/Seek/Download with
// `wait`, AcquireLock), and each core's FIFO lock. Network thread only; the corestore and feeds are
// used synchronously from it.
//
// Ownership: the registry owns one LoadedCore (holding a CoreHandle) per loaded core. Sessions
// (CoreSession) are owned by their client's ClientState and only listed here. Every waiter names
// its ClientState; the registry tells it (ClientState::waiter_done) when a waiter finishes on
// its own, and a ClientState cancels all its waiters before it dies.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <spdlog/logger.h>

#include "v9/corestore/corestore.h"
#include "rpc/messages.h"
#include "service/sink.h"

namespace hs::service {

class ClientState;
class LoadedCore;

using WaiterId = std::uint64_t;

// One client's session on a core: OpenRequest.id on one connection. Owned by that client's
// ClientState; listed on its core while the core is loaded.
struct CoreSession {
    std::uint64_t id = 0;
    bool weak = false;
    bool watch_downloads = false;
    bool watch_uploads = false;
    ClientState* owner = nullptr;
    FrameSink* sink = nullptr;
    LoadedCore* core = nullptr;  // null once the GC closed the core under this (weak) session
};

// The blocks a Download RPC waits for (what replication fetches is protocol::DownloadRange):
// [start, end) (no end: unbounded, never complete without peers), or only `blocks` when that is
// not empty.
struct DownloadTarget {
    std::uint64_t start = 0;
    std::optional<std::uint64_t> end;
    std::vector<std::uint64_t> blocks;
};

// How waiting requests ask replication for blocks from peers. Without one (no networking) the
// registry fetches nothing. (The ifAvailable rule is replication's: Replication::gate.)
class PeerAvailability {
public:
    virtual ~PeerAvailability() = default;
    // A waiter needs blocks from peers: [start, end) (no end: from start on, following
    // appends), or `blocks` when not empty. Returns a handle for unfetch (0: nothing started).
    virtual std::uint64_t fetch(LoadedCore& core, std::uint64_t start,
                                std::optional<std::uint64_t> end,
                                const std::vector<std::uint64_t>& blocks) = 0;
    // An Update waits: follow the newest block peers announce (it carries the signed length);
    // `hash`: fetch only its proof (tree nodes + signature), not its data.
    virtual std::uint64_t fetch_head(LoadedCore& core, bool hash) = 0;
    virtual void unfetch(LoadedCore& core, std::uint64_t handle) = 0;
};

struct CoreRegistryOptions {
    std::size_t cache_size = 1000;  // unreferenced cores kept loaded (LRU)
};

class LoadedCore {
public:
    LoadedCore(const LoadedCore&) = delete;
    LoadedCore& operator=(const LoadedCore&) = delete;

    hypercore::Feed& feed() const { return *m_handle; }
    const crypto::Hash32& discovery_key() const noexcept { return m_discovery_key; }
    std::size_t refs() const noexcept { return m_refs; }
    bool joined() const noexcept { return m_joined; }
    const std::vector<CoreSession*>& sessions() const noexcept { return m_sessions; }
    std::size_t waiter_count() const noexcept {
        return m_gets.size() + m_updates.size() + m_seeks.size() + m_downloads.size() +
               m_lock_queue.size();
    }
    bool locked() const noexcept { return m_lock_owner.has_value(); }

private:
    friend class CoreRegistry;
    LoadedCore(corestore::CoreHandle handle, const crypto::Hash32& dk)
        : m_handle(std::move(handle)), m_discovery_key(dk) {}

    struct Waiter {
        WaiterId id = 0;
        ClientState* client = nullptr;
        std::uint64_t session_id = 0;
        Responder reply;
        std::uint64_t fetch = 0;  // PeerAvailability::fetch handle
    };
    struct GetWaiter : Waiter {
        std::uint64_t seq = 0;
    };
    struct UpdateWaiter : Waiter {
        std::uint64_t min_length = 0;
    };
    struct SeekWaiter : Waiter {
        std::uint64_t byte_offset = 0;
    };
    struct DownloadWaiter : Waiter {
        DownloadTarget range;
    };
    struct LockOwner {
        ClientState* client = nullptr;
        std::uint64_t session_id = 0;
        bool operator==(const LockOwner&) const = default;
    };

    corestore::CoreHandle m_handle;
    crypto::Hash32 m_discovery_key{};
    std::size_t m_refs = 0;  // strong sessions
    bool m_joined = false;   // a network configuration joined this key: never evicted
    std::list<crypto::Hash32>::iterator m_lru;
    bool m_in_lru = false;
    std::vector<CoreSession*> m_sessions;
    std::list<GetWaiter> m_gets;
    std::list<UpdateWaiter> m_updates;
    std::list<SeekWaiter> m_seeks;
    std::list<DownloadWaiter> m_downloads;
    std::optional<LockOwner> m_lock_owner;
    std::deque<Waiter> m_lock_queue;  // FIFO of AcquireLock calls
};

// How Corestore.Open names a core (docs/behaviour/storage.md "Which core Corestore.Open means"):
// key wins, else a non-empty name, else a new random writable core.
struct OpenSpec {
    std::optional<crypto::PublicKey> key;
    std::optional<Bytes> name;
};

class CoreRegistry {
public:
    // `store` must outlive the registry. Give the store cache_size 0: the registry's own LRU is
    // the only cache of unreferenced cores (it must know when a core closes, for OnClose).
    CoreRegistry(corestore::Corestore& store, CoreRegistryOptions options,
                 std::shared_ptr<spdlog::logger> log);
    ~CoreRegistry();
    CoreRegistry(const CoreRegistry&) = delete;
    CoreRegistry& operator=(const CoreRegistry&) = delete;

    // Observers, called in registration order. `observe_load`: every core that becomes loaded
    // (client open, passive, reload after eviction), before the call that loaded it returns (the
    // server sends OnFeed to every client from here; replication offers it to peers).
    // `observe_close`: a core the GC is about to close (replication closes its channels).
    // Observers must not open or close cores.
    void observe_load(std::function<void(LoadedCore&)> fn) {
        m_load_observers.push_back(std::move(fn));
    }
    void observe_close(std::function<void(LoadedCore&)> fn) {
        m_close_observers.push_back(std::move(fn));
    }
    // Replication's view of peers; nullptr = no peers. Must outlive the registry when set.
    void set_peer_availability(PeerAvailability* peers) noexcept { m_peers = peers; }

    // Loads (or finds) a core. Refuses the daemon's reserved internal core (quirks #16).
    Result<LoadedCore*> open(const OpenSpec& spec);
    // A stored core a peer asks for (passive load); Errc::NotFound if it is not stored.
    Result<LoadedCore*> open_by_discovery_key(const crypto::Hash32& discovery_key);
    LoadedCore* find(const crypto::Hash32& discovery_key) const;
    std::size_t loaded_count() const noexcept { return m_cores.size(); }
    std::size_t unreferenced_count() const noexcept { return m_lru.size(); }
    corestore::Corestore& store() noexcept { return m_store; }

    // Lists `session` on `core`; a strong session takes a reference. REQUIRES: session.core null.
    void attach(LoadedCore& core, CoreSession& session);
    // Unlists the session and drops its reference. Its waiters and locks must be gone already.
    void detach(CoreSession& session);
    // Marks a discovery key joined/left by a network configuration; a joined core is never evicted
    // (docs/behaviour/rpc.md "Core references and eviction"). Works for keys whose core is not
    // loaded yet.
    void set_joined(const crypto::Hash32& discovery_key, bool joined);
    // Flushes every loaded core's files to stable storage (shutdown). Returns the first failure.
    Status sync_all();
    // Evicts unreferenced cores beyond cache_size, oldest first: weak sessions get OnClose, the
    // core's waiters fail with "Feed is closed". Call after each batch of requests.
    void collect();

    // ---- operations that change a core and notify everyone (events before the caller replies)
    // Appends; OnAppend reaches every session of the core before this returns (quirks #5), then
    // waiting gets/updates/seeks/downloads are answered.
    Result<rpc::AppendResponse> append(LoadedCore& core, std::span<const ByteView> blocks);
    // Replication hooks: the core's length grew (remote append) / a block was verified and stored
    // / a block was sent to a peer.
    void notify_remote_append(LoadedCore& core);
    void notify_download(LoadedCore& core, std::uint64_t seq, std::uint64_t bytes);
    void notify_upload(LoadedCore& core, std::uint64_t seq, std::uint64_t bytes);

    // ---- waits. Each returns the waiter id, or nullopt when `reply` was answered at once.
    // ifAvailable decisions are the caller's (Replication::gate).
    WaiterId wait_get(LoadedCore& core, ClientState& client, std::uint64_t session_id,
                      std::uint64_t seq, Responder reply);
    WaiterId wait_update(LoadedCore& core, ClientState& client, std::uint64_t session_id,
                         std::uint64_t min_length, bool hash, Responder reply);
    WaiterId wait_seek(LoadedCore& core, ClientState& client, std::uint64_t session_id,
                       std::uint64_t byte_offset, Responder reply);
    std::optional<WaiterId> download(LoadedCore& core, ClientState& client,
                                     std::uint64_t session_id, DownloadTarget range,
                                     Responder reply);
    // Removes a waiter without telling its client (the client asked); answers `failure` if given.
    void cancel_waiter(LoadedCore& core, WaiterId id, const RpcFailure* failure);
    // Fails a waiter on the registry's side (ifAvailable gave up): answers `failure` and tells
    // its client. False if the waiter is gone already.
    bool fail_waiter(LoadedCore& core, WaiterId id, const RpcFailure& failure);
    bool has_waiter(const LoadedCore& core, WaiterId id) const;
    // Replication: a peer opened / closed its channel for the core (OnPeerOpen/OnPeerRemove to
    // every session), an extension message for sessions that registered `name`.
    void notify_peer(LoadedCore& core, const rpc::Peer& peer, bool open);

    // ---- locks (docs/behaviour/rpc.md "Locks"): one FIFO mutex per core, owned by
    // (client, session).
    std::optional<WaiterId> acquire_lock(LoadedCore& core, ClientState& client,
                                         std::uint64_t session_id, Responder reply);
    // "Core is not locked" / "Core is not locked by you".
    std::optional<RpcFailure> release_lock(LoadedCore& core, ClientState& client,
                                           std::uint64_t session_id);
    // Releases the lock if this session holds it (the next waiter gets it). Queued acquires of the
    // session are the client's waiters and are cancelled by it.
    void drop_lock(LoadedCore& core, ClientState& client, std::uint64_t session_id);

    // Whether a Download range is already stored.
    static bool range_complete(hypercore::Feed& feed, const DownloadTarget& range);

    // Seek on what is stored (hypercore 9 `seek` before it waits): byteLength itself is
    // {length, 0}; past it is OutOfBounds ("Out of bounds"); missing tree nodes are Unresolved
    // ("Unable to seek to this offset", or wait).
    enum class SeekOutcome : std::uint8_t { Found, OutOfBounds, Unresolved };
    struct SeekAttempt {
        SeekOutcome outcome = SeekOutcome::Unresolved;
        rpc::SeekResponse response;
    };
    static SeekAttempt try_seek(hypercore::Feed& feed, std::uint64_t byte_offset);

private:
    LoadedCore* adopt(corestore::CoreHandle handle);
    void add_ref(LoadedCore& core);
    void drop_ref(LoadedCore& core);
    void evict(LoadedCore& core);
    void wake(LoadedCore& core);
    void grant_next_lock(LoadedCore& core);
    WaiterId next_id() noexcept { return ++m_last_waiter; }

    corestore::Corestore& m_store;
    CoreRegistryOptions m_options;
    std::shared_ptr<spdlog::logger> m_log;
    PeerAvailability* m_peers = nullptr;
    std::vector<std::function<void(LoadedCore&)>> m_load_observers;
    std::vector<std::function<void(LoadedCore&)>> m_close_observers;
    crypto::PublicKey m_internal_key{};
    struct HashHasher {
        std::size_t operator()(const crypto::Hash32& h) const noexcept {
            std::size_t v;
            std::memcpy(&v, h.data(), sizeof v);
            return v;
        }
    };
    std::unordered_map<crypto::Hash32, std::unique_ptr<LoadedCore>, HashHasher> m_cores;
    std::unordered_set<crypto::Hash32, HashHasher> m_joined;
    std::list<crypto::Hash32> m_lru;  // unreferenced loaded cores, front = most recently used
    WaiterId m_last_waiter = 0;
};

}  // namespace hs::service
