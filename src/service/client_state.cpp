#include "service/client_state.h"

#include <vector>

#include "service/errors.h"
#include "service/network_configs.h"

namespace hs::service {
using namespace hs::rpc;  // the codec's messages

ClientState::ClientState(std::uint64_t client_id, FrameSink& sink, asio::any_io_executor executor,
                         CoreRegistry& registry, NetworkConfigs& network, ClientLimits limits,
                         std::shared_ptr<spdlog::logger> log)
    : m_id(client_id),
      m_sink(sink),
      m_registry(registry),
      m_network(network),
      m_limits(limits),
      m_tasks(std::move(executor), "client " + std::to_string(client_id), std::move(log)) {}

ClientState::~ClientState() {
    release_all();
}

CoreSession* ClientState::session(std::uint64_t id) {
    auto it = m_sessions.find(id);
    return it == m_sessions.end() ? nullptr : it->second.get();
}

CoreSession& ClientState::add_session(std::uint64_t id, LoadedCore& core, bool weak) {
    HS_ASSERT(!has_session(id));
    auto s = std::make_unique<CoreSession>();
    s->id = id;
    s->weak = weak;
    s->owner = this;
    s->sink = &m_sink;
    CoreSession& ref = *s;
    m_sessions.emplace(id, std::move(s));
    m_registry.attach(core, ref);
    return ref;
}

bool ClientState::close_session(std::uint64_t id) {
    auto it = m_sessions.find(id);
    if (it == m_sessions.end()) return false;
    CoreSession& s = *it->second;
    // Undo this session's downloads (hypercore.js close: each fails "Download was cancelled").
    std::vector<std::uint64_t> downloads;
    for (const auto& [rid, r] : m_resources)
        if (r.kind == Resource::Kind::Download && r.session_id == id) downloads.push_back(rid);
    for (auto rid : downloads) free_resource(rid);
    // Queued lock acquires of this session can never be granted now.
    std::vector<WaiterId> locks;
    for (const auto& [wid, w] : m_waiters)
        if (w.is_lock && w.session_id == id) locks.push_back(wid);
    const auto closed = errors::failure(errors::kFeedClosed);
    for (auto wid : locks) cancel_waiter(wid, &closed);
    if (s.core) m_registry.drop_lock(*s.core, *this, id);
    m_registry.detach(s);
    m_sessions.erase(it);
    return true;
}

Resource* ClientState::resource(std::uint64_t id) {
    auto it = m_resources.find(id);
    return it == m_resources.end() ? nullptr : &it->second;
}

void ClientState::add_resource(std::uint64_t id, Resource resource) {
    HS_ASSERT(!has_resource(id));
    m_resources.emplace(id, std::move(resource));
}

bool ClientState::free_resource(std::uint64_t id) {
    auto it = m_resources.find(id);
    if (it == m_resources.end()) return false;
    const Resource r = std::move(it->second);
    m_resources.erase(it);
    if (r.kind == Resource::Kind::Get) {
        const auto cancelled = errors::failure(errors::kRequestCancelled);
        cancel_waiter(r.waiter, &cancelled);
    } else if (r.kind == Resource::Kind::Download) {
        const auto cancelled = errors::download_cancelled();
        cancel_waiter(r.waiter, &cancelled);
    }
    return true;
}

void ClientState::track_waiter(WaiterId id, LoadedCore& core, std::uint64_t session_id,
                               bool is_lock, std::optional<std::uint64_t> resource_id) {
    m_waiters.emplace(id, WaiterInfo{&core, session_id, is_lock, resource_id});
}

void ClientState::cancel_waiter(WaiterId id, const RpcFailure* failure) {
    auto it = m_waiters.find(id);
    if (it == m_waiters.end()) return;
    const WaiterInfo info = it->second;
    m_waiters.erase(it);
    if (info.resource_id) {
        auto r = m_resources.find(*info.resource_id);
        if (r != m_resources.end() && r->second.waiter == id) m_resources.erase(r);
    }
    m_registry.cancel_waiter(*info.core, id, failure);
}

void ClientState::waiter_done(WaiterId id) {
    auto it = m_waiters.find(id);
    if (it == m_waiters.end()) return;
    if (it->second.resource_id) {
        auto r = m_resources.find(*it->second.resource_id);
        if (r != m_resources.end() && r->second.waiter == id) m_resources.erase(r);
    }
    m_waiters.erase(it);
}

void ClientState::release_all() {
    m_tasks.cancel();
    if (m_released) return;
    m_released = true;
    // Waiters first (no replies: the client is gone), so no lock is granted to this client below.
    while (!m_waiters.empty()) cancel_waiter(m_waiters.begin()->first, nullptr);
    m_resources.clear();
    for (auto& [id, s] : m_sessions) {
        if (s->core) m_registry.drop_lock(*s->core, *this, id);
        m_registry.detach(*s);
    }
    m_sessions.clear();
    m_network.client_gone(m_id);
}

}  // namespace hs::service
