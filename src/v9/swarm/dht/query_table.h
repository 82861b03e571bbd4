// The candidate lists of one iterative query (dht-rpc 4 lib/query-table.js), sans-IO.
// `unverified`: nodes we heard of (from the routing table or closerNodes), at most k, closest to
// the target first. `closest`: nodes that answered with an id and a roundtrip token, at most k,
// closest first; an announce sends its UPDATEs to these.
#pragma once

#include <vector>

#include "v9/swarm/dht/messages.h"

namespace hs::swarm::dht {

struct Candidate {
    NodeId id{};
    Peer peer;
    std::optional<Bytes> token;
    bool queried = false;
};

class QueryTable {
public:
    QueryTable(const NodeId& self, const NodeId& target, std::size_t k = 20)
        : m_self(self), m_target(target), m_k(k) {}

    void add_unverified(const NodeRecord& node);
    void add_verified(const NodeId& id, const Peer& peer, ByteView token);
    std::vector<Candidate>& unverified() noexcept { return m_unverified; }
    std::vector<Candidate>& closest() noexcept { return m_closest; }
    const NodeId& target() const noexcept { return m_target; }

private:
    void insert_sorted(Candidate c, std::vector<Candidate>& list) const;
    NodeId m_self;
    NodeId m_target;
    std::size_t m_k;
    std::vector<Candidate> m_unverified;
    std::vector<Candidate> m_closest;
};

}  // namespace hs::swarm::dht
