// The replicator's scheduling (what to ask of which peer), completion of gets, downloads and
// updates, the core listener, and the application API. See replicator.h.
#include <algorithm>
#include <limits>
#include <utility>

#include "common/util/flat_tree.h"
#include "v11/replication/replicator.h"
#include "v11/replication/replicator_internal.h"

namespace hs::v11::replication {

namespace wire = hypercore::wire;
using wire::Type;
using namespace detail;

// ---- Scheduling -----------------------------------------------------------------------------

bool Replicator::remote_has(const Peer& p, std::uint64_t index) const { return p.has.contains(index); }

std::uint64_t Replicator::missing_nodes(std::uint64_t index) const {
    // How many tree nodes above block `index` we lack: up to (not including) the root of the
    // local tree that holds it. A block outside the tree is proven by an upgrade instead.
    const std::uint64_t head = 2 * m_core.length();
    const std::uint64_t leaf = 2 * index;
    if (leaf >= head) return 0;
    std::uint64_t nodes = 0;
    flat::for_each_full_root(head, [&](flat::Index root) {
        if (flat::left_span(root) <= leaf && leaf <= flat::right_span(root)) nodes = flat::depth(root);
    });
    return nodes;
}

bool Replicator::can_download_from(const Peer& p) const {
    return p.remote.fork == m_core.fork() && p.remote.length >= m_core.length() && m_core.length() > 0 &&
           p.not_available < m_options.max_not_available;
}

void Replicator::maybe_want(Peer& p, std::uint64_t index) {
    if (p.has.next_unset(0) > index) return;
    const std::uint64_t batch = index / kWantBatch;
    if (p.wanted_batches.size() >= kMaxWants || p.wanted_batches.count(batch)) return;
    p.wanted_batches.insert(batch);
    wire::Want w;
    w.start = batch * kWantBatch;
    w.length = kWantBatch;
    send(p, Type::want, wire::encode_want(w));
}

std::optional<std::uint64_t> Replicator::pick_in(Peer& p, std::uint64_t from, std::uint64_t end) {
    std::uint64_t i = from;
    for (std::size_t steps = 0; i < end && steps < kMaxScanSteps; ++steps) {
        i = m_core.find(i, false);
        if (i >= end) break;
        auto inflight = m_block_inflight.find(i);
        if (inflight != m_block_inflight.end()) {
            while (inflight != m_block_inflight.end() && inflight->first == i) {
                ++i;
                ++inflight;
            }
            continue;
        }
        if (!remote_has(p, i)) {
            maybe_want(p, i);
            const std::uint64_t next = p.has.next_set(i);
            if (next == kNone || next >= end) break;
            i = next;
            continue;
        }
        return i;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> Replicator::next_block(Peer& p) {
    const std::uint64_t length = m_core.length();
    for (const auto& [index, rid] : m_get_index) {
        if (index >= length || m_core.has(index) || m_block_inflight.count(index)) continue;
        if (!remote_has(p, index)) {
            maybe_want(p, index);
            continue;
        }
        return index;
    }
    for (const auto& [rid, r] : m_ranges) {
        const std::uint64_t end = std::min(r.end.value_or(length), length);
        if (r.start >= end) continue;
        if (auto i = pick_in(p, r.start, end)) return i;
    }
    return std::nullopt;
}

void Replicator::update_peer(Peer& p) {
    if (!p.opened || p.cut_off || !p.synced || !p.channel || p.channel->closed()) return;
    if (!p.remote.uploading) return;
    p.mux->cork();
    const bool no_manifest = !m_core.manifest().has_value();
    if (p.remote.fork > m_core.fork()) {
        // The remote forked (truncated): follow it with a proof of its whole new head.
        if (!m_fork_inflight && p.remote.length > 0 && p.no_fork_proof != p.remote.fork &&
            p.inflight.size() < m_options.max_inflight) {
            hypercore::ProofRequest r;
            r.fork = p.remote.fork;
            r.upgrade = hypercore::RequestUpgrade{0, p.remote.length};
            r.manifest = no_manifest;
            Inflight req;
            req.kind = Kind::Fork;
            send_request(p, req, r);
        }
        p.mux->uncork();
        return;
    }
    if (p.remote.fork != m_core.fork()) {
        p.mux->uncork();
        return;
    }
    if (no_manifest && p.remote.has_manifest && !m_manifest_inflight && p.remote.length <= m_core.length() &&
        p.inflight.size() < m_options.max_inflight) {
        hypercore::ProofRequest r;
        r.fork = m_core.fork();
        r.manifest = true;
        Inflight req;
        req.kind = Kind::Manifest;
        send_request(p, req, r);
    }
    if (p.remote.length > m_core.length() && p.remote.can_upgrade && !m_upgrade_inflight &&
        p.inflight.size() < m_options.max_inflight) {
        hypercore::ProofRequest r;
        r.fork = m_core.fork();
        r.upgrade = hypercore::RequestUpgrade{m_core.length(), p.remote.length - m_core.length()};
        r.manifest = no_manifest && !m_manifest_inflight;
        Inflight req;
        req.kind = Kind::Upgrade;
        send_request(p, req, r);
    }
    if (can_download_from(p)) {
        while (p.inflight.size() < m_options.max_inflight) {
            auto index = next_block(p);
            if (!index) break;
            hypercore::ProofRequest r;
            r.fork = m_core.fork();
            // The core knows which ancestors it stores; the flat-tree bound is the fallback.
            auto nodes = m_core.missing_nodes(2 * *index);
            r.block = hypercore::RequestBlock{*index, nodes ? *nodes : missing_nodes(*index)};
            Inflight req;
            req.kind = Kind::Block;
            req.block = *index;
            send_request(p, req, r);
        }
    }
    p.mux->uncork();
}

void Replicator::update_all() {
    if (m_updating) {
        m_update_again = true;
        return;
    }
    m_updating = true;
    do {
        m_update_again = false;
        for (auto& [id, p] : m_peers) update_peer(*p);
    } while (m_update_again);
    m_updating = false;
}

void Replicator::check_done() {
    // Gets whose block is here (downloaded, or appended by the writer).
    for (auto it = m_get_index.begin(); it != m_get_index.end();) {
        if (!m_core.has(it->first)) {
            ++it;
            continue;
        }
        const RequestId rid = it->second;
        const std::uint64_t index = it->first;
        it = m_get_index.erase(it);
        auto g = m_gets.find(rid);
        if (g == m_gets.end()) continue;
        auto done = std::move(g->second.done);
        m_gets.erase(g);
        auto value = m_core.get(index);
        defer([done = std::move(done), value = std::move(value)]() mutable {
            if (done) done(std::move(value));
        });
    }
    for (auto it = m_ranges.begin(); it != m_ranges.end();) {
        const Range& r = it->second;
        if (!r.end || m_core.count(r.start, *r.end) < *r.end - r.start) {
            ++it;
            continue;
        }
        auto done = std::move(it->second.done);
        it = m_ranges.erase(it);
        if (done) defer([done = std::move(done)] { done(Status{}); });
    }
    if (m_updates.empty()) return;
    bool any_open = false;
    for (const auto& [id, p] : m_peers) {
        if (!p->opened || p->cut_off) continue;
        any_open = true;
        if (!p->synced) return;
        if (p->remote.fork == m_core.fork() && p->remote.length > m_core.length() && p->remote.can_upgrade) return;
        if (p->remote.fork > m_core.fork() && p->no_fork_proof != p->remote.fork) return;
    }
    if (!any_open || m_upgrade_inflight || m_fork_inflight) return;
    auto updates = std::move(m_updates);
    m_updates.clear();
    for (auto& [rid, u] : updates) {
        const bool moved = u.length != m_core.length() || u.fork != m_core.fork();
        if (u.done) defer([done = std::move(u.done), moved] { done(moved); });
    }
}

// ---- Core listener --------------------------------------------------------------------------

void Replicator::core_appended(std::uint64_t length, std::uint64_t fork) {
    m_last_length = length;
    for (auto& [id, p] : m_peers) {
        if (!p->opened || p->cut_off) continue;
        p->mux->cork();
        send_sync(*p);
        broadcast_contiguous(*p);
        p->mux->uncork();
    }
    if (m_events.on_append) defer([this, length, fork] {
            if (m_events.on_append) m_events.on_append(length, fork);
        });
    update_all();
    check_done();
}

void Replicator::core_truncated(std::uint64_t to, std::uint64_t fork) {
    const std::uint64_t old_length = std::max(m_last_length, to);
    m_last_length = m_core.length();
    for (auto& [id, pp] : m_peers) {
        Peer& p = *pp;
        // Requests made on the old fork prove nothing now.
        for (const auto& [rid, req] : p.inflight) {
            clear_marker(p, rid, req);
            if (!p.opened) continue;
            wire::Cancel c;
            c.request = rid;
            send(p, Type::cancel, wire::encode(c));
        }
        p.inflight.clear();
        p.signaled_contiguous = std::min(p.signaled_contiguous, to);
        if (!p.opened || p.cut_off) continue;
        p.mux->cork();
        if (old_length > to) {
            wire::Range r;
            r.drop = true;
            r.start = to;
            r.length = old_length - to;
            send(p, Type::range, wire::encode(r));
        }
        send_sync(p);
        broadcast_contiguous(p);
        p.mux->uncork();
    }
    if (m_events.on_truncate) defer([this, to, fork] {
            if (m_events.on_truncate) m_events.on_truncate(to, fork);
        });
    update_all();
    check_done();
}

void Replicator::core_downloaded(std::uint64_t index, std::uint64_t) {
    broadcast_have(index);
    check_done();
}

// ---- Application API ------------------------------------------------------------------------

void Replicator::tick(TimePoint now) {
    Scope s(*this);
    if (!m_ticked) {
        m_ticked = true;
        for (auto& [id, p] : m_peers)
            for (auto& [rid, req] : p->inflight) req.sent = now;
    }
    m_now = now;
    for (auto it = m_gets.begin(); it != m_gets.end();) {
        Get& g = it->second;
        if (!g.deadline && g.timeout) g.deadline = now + *g.timeout;
        if (!g.deadline || *g.deadline > now) {
            ++it;
            continue;
        }
        const RequestId rid = it->first;
        const std::uint64_t index = g.index;
        auto done = std::move(g.done);
        it = m_gets.erase(it);
        for (auto gi = m_get_index.lower_bound(index); gi != m_get_index.end() && gi->first == index; ++gi) {
            if (gi->second == rid) {
                m_get_index.erase(gi);
                break;
            }
        }
        defer([done = std::move(done), index, key = short_key(m_core.discovery_key())] {
            if (done) done(make_error(Errc::NotFound, "block {} of core {}: no peer delivered it in time", index, key));
        });
    }
    for (auto& [id, pp] : m_peers) {
        Peer& p = *pp;
        for (auto it = p.inflight.begin(); it != p.inflight.end();) {
            if (it->second.sent + m_options.request_timeout > now) {
                ++it;
                continue;
            }
            clear_marker(p, it->first, it->second);
            wire::Cancel c;
            c.request = it->first;
            send(p, Type::cancel, wire::encode(c));
            // Ask someone else: this peer does not answer (for now).
            if (it->second.kind == Kind::Block) p.has.erase(it->second.block, it->second.block + 1);
            if (it->second.kind == Kind::Upgrade) p.remote.can_upgrade = false;
            if (it->second.kind == Kind::Fork) p.no_fork_proof = it->second.fork;
            if (it->second.kind == Kind::Manifest) p.remote.has_manifest = false;
            ++p.not_available;
            it = p.inflight.erase(it);
        }
    }
    update_all();
    check_done();
}

RequestId Replicator::get(std::uint64_t index, GetCallback done, std::optional<Duration> timeout) {
    Scope s(*this);
    const RequestId rid = m_next_request++;
    if (m_core.has(index)) {
        auto value = m_core.get(index);
        defer([done = std::move(done), value = std::move(value)]() mutable {
            if (done) done(std::move(value));
        });
        return rid;
    }
    Get g;
    g.index = index;
    g.done = std::move(done);
    g.timeout = timeout;
    if (timeout && m_ticked) g.deadline = m_now + *timeout;
    m_gets.emplace(rid, std::move(g));
    m_get_index.emplace(index, rid);
    update_all();
    return rid;
}

RequestId Replicator::download(std::uint64_t start, std::optional<std::uint64_t> end, DoneCallback done) {
    Scope s(*this);
    const RequestId rid = m_next_request++;
    Range r;
    r.start = start;
    r.end = end;
    r.done = std::move(done);
    m_ranges.emplace(rid, std::move(r));
    update_all();
    check_done();
    return rid;
}

RequestId Replicator::update(UpdateCallback done) {
    Scope s(*this);
    const RequestId rid = m_next_request++;
    m_updates.emplace(rid, Update{m_core.length(), m_core.fork(), std::move(done)});
    update_all();
    check_done();
    return rid;
}

void Replicator::cancel(RequestId rid) {
    Scope s(*this);
    if (auto g = m_gets.find(rid); g != m_gets.end()) {
        const std::uint64_t index = g->second.index;
        auto done = std::move(g->second.done);
        m_gets.erase(g);
        for (auto gi = m_get_index.lower_bound(index); gi != m_get_index.end() && gi->first == index; ++gi) {
            if (gi->second == rid) {
                m_get_index.erase(gi);
                break;
            }
        }
        if (done) defer([done = std::move(done), index] {
                done(make_error(Errc::Closed, "get of block {} was cancelled", index));
            });
        return;
    }
    if (auto r = m_ranges.find(rid); r != m_ranges.end()) {
        auto done = std::move(r->second.done);
        m_ranges.erase(r);
        if (done) defer([done = std::move(done)] { done(make_error(Errc::Closed, "download was cancelled")); });
        return;
    }
    if (auto u = m_updates.find(rid); u != m_updates.end()) {
        auto done = std::move(u->second.done);
        m_updates.erase(u);
        if (done) defer([done = std::move(done)] { done(false); });
    }
}

// ---- Extensions -----------------------------------------------------------------------------

void Replicator::register_extension(std::string name, ExtensionHandler on_message) {
    m_extensions[std::move(name)] = std::move(on_message);
}

bool Replicator::send_extension(const std::string& name, PeerId id, ByteView message) {
    Scope s(*this);
    Peer* p = find_peer(id);
    if (!p || !p->opened || p->cut_off || !p->channel || p->channel->closed()) return false;
    wire::Extension e;
    e.name = name == p->last_extension_sent ? std::string() : name;
    e.message.assign(message.begin(), message.end());
    p->last_extension_sent = name;
    send(*p, Type::extension, wire::encode(e));
    return true;
}

void Replicator::broadcast_extension(const std::string& name, ByteView message) {
    Scope s(*this);
    std::vector<PeerId> ids;
    for (const auto& [id, p] : m_peers) ids.push_back(id);
    for (PeerId id : ids) (void)send_extension(name, id, message);
}

// ---- Introspection --------------------------------------------------------------------------

std::vector<PeerInfo> Replicator::peers() const {
    std::vector<PeerInfo> out;
    for (const auto& [id, p] : m_peers) {
        PeerInfo info = p->stats;
        info.opened = p->opened;
        info.closed = !p->channel || p->channel->closed();
        info.inflight = p->inflight.size();
        out.push_back(std::move(info));
    }
    return out;
}

std::optional<PeerInfo> Replicator::peer(PeerId id) const {
    const Peer* p = find_peer(id);
    if (!p) return std::nullopt;
    PeerInfo info = p->stats;
    info.opened = p->opened;
    info.closed = !p->channel || p->channel->closed();
    info.inflight = p->inflight.size();
    return info;
}

std::size_t Replicator::opened_peers() const noexcept {
    std::size_t n = 0;
    for (const auto& [id, p] : m_peers) n += p->opened && !p->cut_off;
    return n;
}

void Replicator::defer(std::function<void()> fn) { m_deferred.push_back(std::move(fn)); }

void Replicator::run_deferred() {
    while (!m_deferred.empty()) {
        auto batch = std::move(m_deferred);
        m_deferred.clear();
        ++m_depth;
        for (auto& fn : batch) fn();
        --m_depth;
    }
}

}  // namespace hs::v11::replication
