// Everything one client connection holds (docs/behaviour/rpc.md "Per-client state"): its core
// sessions (client-chosen session ids), its resources (client-chosen resource ids: pending gets,
// downloads, extensions), its other waiters (update, seek, lock) and, through NetworkConfigs, its
// network votes. release_all() frees all of it, as on disconnect (including locks: quirks #7).
// Network thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <asio/any_io_executor.hpp>

#include "common/async/task_group.h"

#include "service/core_registry.h"

namespace hs::service {

class NetworkConfigs;

// Per-connection bounds: a client past them gets kTooManyPending.
struct ClientLimits {
    std::size_t max_sessions = 1 << 16;
    std::size_t max_resources = 1 << 16;  // resource ids in use (gets, downloads, extensions)
    std::size_t max_waiters =
        1 << 16;  // requests waiting on a core (get/update/seek/download/lock)
};

struct Resource {
    enum class Kind : std::uint8_t { Get, Download, CoreExtension, NetworkExtension };
    Kind kind = Kind::Get;
    std::uint64_t session_id = 0;  // Get, Download, CoreExtension
    WaiterId waiter = 0;           // Get, Download
    std::string name;              // extensions
};

class ClientState {
public:
    // `sink`, `registry` and `network` must outlive this object; `executor` runs its tasks.
    ClientState(std::uint64_t client_id, FrameSink& sink, asio::any_io_executor executor,
                CoreRegistry& registry, NetworkConfigs& network, ClientLimits limits = {},
                std::shared_ptr<spdlog::logger> log = nullptr);
    ~ClientState();
    ClientState(const ClientState&) = delete;
    ClientState& operator=(const ClientState&) = delete;

    std::uint64_t id() const noexcept { return m_id; }
    FrameSink& sink() noexcept { return m_sink; }
    const ClientLimits& limits() const noexcept { return m_limits; }

    // ---- core sessions
    CoreSession* session(std::uint64_t id);
    bool has_session(std::uint64_t id) const { return m_sessions.count(id) != 0; }
    std::size_t session_count() const noexcept { return m_sessions.size(); }
    // Registers and attaches a session. REQUIRES: !has_session(id).
    CoreSession& add_session(std::uint64_t id, LoadedCore& core, bool weak);
    // Hypercore.Close: cancels the session's downloads ("Download was cancelled") and queued lock
    // acquires, releases its lock, drops its reference. False if the id is unknown.
    bool close_session(std::uint64_t id);

    // ---- resources (client-chosen ids)
    bool has_resource(std::uint64_t id) const { return m_resources.count(id) != 0; }
    Resource* resource(std::uint64_t id);
    std::size_t resource_count() const noexcept { return m_resources.size(); }
    bool can_add_resource() const noexcept { return m_resources.size() < m_limits.max_resources; }
    // REQUIRES: !has_resource(id).
    void add_resource(std::uint64_t id, Resource resource);
    // Frees a resource: a pending Get fails with "Request cancelled", a Download with "Download
    // was cancelled". False if the id is unknown.
    bool free_resource(std::uint64_t id);
    // Visits every resource: fn(resource id, resource).
    template <typename Fn>
    void for_each_resource(Fn&& fn) const {
        for (const auto& [id, r] : m_resources) fn(id, r);
    }
    // The client's own tasks: requests answered after an asynchronous wait that is not a core
    // waiter (Network.Configure{flush}). They use this state and answer through the sink:
    // release_all() cancels them and the connection joins them before it goes away.
    async::TaskGroup& tasks() noexcept { return m_tasks; }

    // ---- waiters
    bool can_wait() const noexcept { return m_waiters.size() < m_limits.max_waiters; }
    std::size_t waiter_count() const noexcept { return m_waiters.size(); }
    // Records a waiter the registry created for this client, with the resource naming it.
    void track_waiter(WaiterId id, LoadedCore& core, std::uint64_t session_id, bool is_lock,
                      std::optional<std::uint64_t> resource_id);
    // The registry answered or failed one of our waiters by itself: forget it (and its resource).
    void waiter_done(WaiterId id);

    // Frees everything (waiters without replies, resources, locks, sessions, network votes) and
    // cancels the client's tasks. Idempotent. The caller should run CoreRegistry::collect()
    // afterwards.
    void release_all();

private:
    struct WaiterInfo {
        LoadedCore* core = nullptr;
        std::uint64_t session_id = 0;
        bool is_lock = false;
        std::optional<std::uint64_t> resource_id;
    };
    void cancel_waiter(WaiterId id, const RpcFailure* failure);

    std::uint64_t m_id;
    FrameSink& m_sink;
    CoreRegistry& m_registry;
    NetworkConfigs& m_network;
    ClientLimits m_limits;
    std::unordered_map<std::uint64_t, std::unique_ptr<CoreSession>> m_sessions;
    std::unordered_map<std::uint64_t, Resource> m_resources;
    std::unordered_map<WaiterId, WaiterInfo> m_waiters;
    bool m_released = false;
    async::TaskGroup m_tasks;
};

}  // namespace hs::service
