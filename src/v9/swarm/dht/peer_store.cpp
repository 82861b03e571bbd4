#include "v9/swarm/dht/peer_store.h"

#include <algorithm>

#include "common/util/hex.h"

namespace hs::swarm::dht {

RecordStore::RecordStore(std::size_t max_records, std::chrono::steady_clock::duration max_age)
    : m_max_records(max_records), m_max_age(max_age) {}

void RecordStore::add(const std::string& key, ByteView record, TimePoint now) {
    remove(key, record);
    const std::string rec(as_string(record));
    m_order.push_back(Entry{key, rec, now});
    m_index[key][rec] = std::prev(m_order.end());
    while (m_order.size() > m_max_records) {
        const Entry& oldest = m_order.front();
        remove(oldest.key, as_bytes(oldest.record));
    }
}

void RecordStore::remove(const std::string& key, ByteView record) {
    auto topic = m_index.find(key);
    if (topic == m_index.end()) return;
    auto it = topic->second.find(std::string(as_string(record)));
    if (it == topic->second.end()) return;
    m_order.erase(it->second);
    topic->second.erase(it);
    if (topic->second.empty()) m_index.erase(topic);
}

void RecordStore::expire(TimePoint now) {
    while (!m_order.empty() && now - m_order.front().added >= m_max_age) {
        const Entry& oldest = m_order.front();
        remove(oldest.key, as_bytes(oldest.record));
    }
}

std::vector<Bytes> RecordStore::get(const std::string& key, std::size_t n, ByteView exclude,
                                    TimePoint now) {
    expire(now);
    std::vector<Bytes> out;
    auto topic = m_index.find(key);
    if (topic == m_index.end() || n == 0) return out;
    const std::string skip(as_string(exclude));
    std::vector<const std::string*> all;
    all.reserve(topic->second.size());
    for (const auto& [rec, _] : topic->second)
        if (rec != skip) all.push_back(&rec);
    if (all.size() > n) {
        std::shuffle(all.begin(), all.end(), m_rng);
        all.resize(n);
    }
    for (const auto* rec : all) out.push_back(to_bytes(*rec));
    return out;
}

std::string PeerStore::remote_key(ByteView topic) { return to_hex(topic); }

std::string PeerStore::local_key(ByteView topic, ByteView local_address) {
    return to_hex(topic) + "@local." + to_hex(local_address.first(2));
}

namespace {
struct Parsed {
    Peer from;
    Bytes remote_record;
    std::optional<std::string> local_key;
    Bytes local_record;
};

Result<Parsed> parse(ByteView topic, const Peer& sender, const PeersInput& input) {
    Parsed p;
    p.from = sender;
    if (input.port && *input.port) {
        if (*input.port >= 65536) return make_error(Errc::InvalidArgument, "Invalid port");
        p.from.port = static_cast<std::uint16_t>(*input.port);
    }
    if (p.from.port == 0) return make_error(Errc::InvalidArgument, "Invalid port");
    p.remote_record = encode_peer(p.from);
    if (input.local_address) {
        // JS slices whatever it got; anything but a 6-byte address is not a usable record.
        if (input.local_address->size() != kPeerBytes)
            return make_error(Errc::InvalidArgument, "Invalid local address");
        p.local_key = PeerStore::local_key(topic, *input.local_address);
        p.local_record.assign(input.local_address->begin() + 2, input.local_address->end());
    }
    return p;
}
}  // namespace

Result<PeersOutput> PeerStore::query(ByteView topic, const Peer& from, const PeersInput& input,
                                     TimePoint now) {
    HS_ASSIGN_OR_RETURN(Parsed p, parse(topic, from, input));
    std::vector<Bytes> local;
    if (p.local_key) local = m_records.get(*p.local_key, kMaxLocalReply, p.local_record, now);
    auto remote = m_records.get(remote_key(topic), kMaxRemoteReply, p.remote_record, now);
    PeersOutput out;
    if (!remote.empty()) {
        out.peers.emplace();
        for (const auto& r : remote) append_bytes(*out.peers, r);
    }
    if (!local.empty()) {
        out.local_peers.emplace();
        for (const auto& r : local) append_bytes(*out.local_peers, r);
    }
    return out;
}

Status PeerStore::update(ByteView topic, const Peer& from, const PeersInput& input, TimePoint now) {
    HS_ASSIGN_OR_RETURN(Parsed p, parse(topic, from, input));
    const std::string rkey = remote_key(topic);
    if (input.unannounce && *input.unannounce) {
        m_records.remove(rkey, p.remote_record);
        if (p.local_key) m_records.remove(*p.local_key, p.local_record);
    } else {
        m_records.add(rkey, p.remote_record, now);
        if (p.local_key) m_records.add(*p.local_key, p.local_record, now);
    }
    return {};
}

}  // namespace hs::swarm::dht
