#include "v9/swarm/dht/query_table.h"

#include <algorithm>

namespace hs::swarm::dht {

void QueryTable::insert_sorted(Candidate c, std::vector<Candidate>& list) const {
    if (list.size() == m_k && !closer(m_target, c.id, list.back().id)) return;
    for (const auto& e : list)
        if (e.id == c.id) return;
    const auto pos = std::upper_bound(
        list.begin(), list.end(), c,
        [&](const Candidate& a, const Candidate& b) { return closer(m_target, a.id, b.id); });
    list.insert(pos, std::move(c));
    if (list.size() > m_k) list.pop_back();
}

void QueryTable::add_unverified(const NodeRecord& node) {
    if (node.id == m_self) return;
    insert_sorted(Candidate{node.id, node.peer, std::nullopt, false}, m_unverified);
}

void QueryTable::add_verified(const NodeId& id, const Peer& peer, ByteView token) {
    if (id == m_self) return;
    // The address the answer came from, which is where the UPDATE must go.
    insert_sorted(Candidate{id, peer, to_bytes(token), false}, m_closest);
}

}  // namespace hs::swarm::dht
