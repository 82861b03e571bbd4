#include "v9/swarm/dht/routing_table.h"

#include <algorithm>
#include <bit>

namespace hs::swarm::dht {

RoutingTable::RoutingTable(const NodeId& self, std::size_t k) : m_self(self), m_k(k) {}

std::size_t RoutingTable::bucket_of(const NodeId& id) const noexcept {
    for (std::size_t i = 0; i < kIdBytes; ++i) {
        const auto x = static_cast<std::uint8_t>(id[i] ^ m_self[i]);
        if (x) return i * 8 + static_cast<std::size_t>(std::countl_zero(x));
    }
    return kIdBytes * 8;  // our own id
}

RoutingTable::AddResult RoutingTable::add(const Contact& contact) {
    const std::size_t b = bucket_of(contact.id);
    if (b == kIdBytes * 8) return AddResult::Self;
    auto& bucket = m_buckets[b];
    for (auto& c : bucket) {
        if (c.id != contact.id) continue;
        c.peer = contact.peer;
        if (contact.token) c.token = contact.token;
        c.last_seen = std::max(c.last_seen, contact.last_seen);
        return AddResult::Updated;
    }
    if (bucket.size() < m_k) {
        bucket.push_back(contact);
        ++m_size;
        return AddResult::Added;
    }
    m_replacements[b] = contact;
    return AddResult::Full;
}

bool RoutingTable::remove(const NodeId& id) {
    const std::size_t b = bucket_of(id);
    if (b == kIdBytes * 8) return false;
    auto& bucket = m_buckets[b];
    auto it =
        std::find_if(bucket.begin(), bucket.end(), [&](const Contact& c) { return c.id == id; });
    if (it == bucket.end()) {
        if (m_replacements[b] && m_replacements[b]->id == id) m_replacements[b].reset();
        return false;
    }
    bucket.erase(it);
    --m_size;
    if (m_replacements[b]) {
        bucket.push_back(*m_replacements[b]);
        m_replacements[b].reset();
        ++m_size;
    }
    return true;
}

const Contact* RoutingTable::get(const NodeId& id) const {
    const std::size_t b = bucket_of(id);
    if (b == kIdBytes * 8) return nullptr;
    for (const auto& c : m_buckets[b])
        if (c.id == id) return &c;
    return nullptr;
}

std::vector<Contact> RoutingTable::closest(const NodeId& target, std::size_t n) const {
    std::vector<Contact> all;
    all.reserve(m_size);
    for (const auto& bucket : m_buckets) all.insert(all.end(), bucket.begin(), bucket.end());
    const auto by_distance = [&](const Contact& a, const Contact& b) {
        return closer(target, a.id, b.id);
    };
    if (all.size() > n) {
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                          by_distance);
        all.resize(n);
    } else {
        std::sort(all.begin(), all.end(), by_distance);
    }
    return all;
}

std::vector<Contact> RoutingTable::stale(std::size_t n, TimePoint before) const {
    std::vector<Contact> out;
    for (const auto& bucket : m_buckets)
        for (const auto& c : bucket)
            if (c.last_seen < before) out.push_back(c);
    std::sort(out.begin(), out.end(),
              [](const Contact& a, const Contact& b) { return a.last_seen < b.last_seen; });
    if (out.size() > n) out.resize(n);
    return out;
}

}  // namespace hs::swarm::dht
