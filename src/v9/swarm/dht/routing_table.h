// Kademlia routing table (dht-rpc 4 uses k-bucket with k = 20): one bucket per length of the
// common id prefix with our own id, at most k contacts each, so at most 256*k contacts in total.
// Not thread-safe: the node's executor only. Sans-IO: time comes in as arguments.
//
// A full bucket keeps its old contacts (they have proven to stay up) and remembers the newest
// rejected contact as the bucket's replacement; the replacement moves in when a contact is
// removed (the node removes contacts that stop answering pings or queries).
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <vector>

#include "v9/swarm/dht/messages.h"

namespace hs::swarm::dht {

using TimePoint = std::chrono::steady_clock::time_point;

struct Contact {
    NodeId id{};
    Peer peer;
    std::optional<Bytes> token;  // the roundtrip token it last gave us
    TimePoint last_seen{};
};

class RoutingTable {
public:
    static constexpr std::size_t kDefaultK = 20;
    enum class AddResult { Added, Updated, Full, Self };

    explicit RoutingTable(const NodeId& self, std::size_t k = kDefaultK);

    // Inserts or refreshes (peer, token if given, last_seen) a contact.
    AddResult add(const Contact& contact);
    bool remove(const NodeId& id);
    const Contact* get(const NodeId& id) const;
    // Up to n contacts ordered by XOR distance to target, closest first.
    std::vector<Contact> closest(const NodeId& target, std::size_t n) const;
    // Up to n contacts not seen since `before`, least recently seen first.
    std::vector<Contact> stale(std::size_t n, TimePoint before) const;
    std::size_t size() const noexcept { return m_size; }
    const NodeId& self() const noexcept { return m_self; }

private:
    std::size_t bucket_of(const NodeId& id) const noexcept;

    NodeId m_self;
    std::size_t m_k;
    std::size_t m_size = 0;
    std::array<std::vector<Contact>, kIdBytes * 8> m_buckets;
    std::array<std::optional<Contact>, kIdBytes * 8> m_replacements;
};

}  // namespace hs::swarm::dht
