// The `peers` command of @hyperswarm/dht 4 on the storing side (docs/formats/dht.md "peers").
// Sans-IO: time comes in as arguments. Not thread-safe: the node's executor only.
//
// Records live under a key per topic: hex(topic) for remote records (6 bytes: the announcer's UDP
// source host and the announced port) and hex(topic) + "@local." + hex(first two octets) for
// local records (4 bytes: last two octets and port of the announced local address). At most
// kMaxRecords records in total (the oldest goes first) and each lives kMaxAge after its last
// announce.
#pragma once

#include <chrono>
#include <list>
#include <map>
#include <random>
#include <string>
#include <unordered_map>

#include "v9/swarm/dht/messages.h"
#include "v9/swarm/dht/routing_table.h"

namespace hs::swarm::dht {

inline constexpr std::size_t kMaxRecords = 65536;
inline constexpr std::chrono::minutes kMaxRecordAge{12};
inline constexpr std::size_t kMaxRemoteReply = 128;
inline constexpr std::size_t kMaxLocalReply = 32;

class RecordStore {
public:
    explicit RecordStore(std::size_t max_records = kMaxRecords,
                         std::chrono::steady_clock::duration max_age = kMaxRecordAge);

    // Adds or refreshes one record.
    void add(const std::string& key, ByteView record, TimePoint now);
    void remove(const std::string& key, ByteView record);
    // Up to n live records under key, leaving out `exclude`, in random order.
    std::vector<Bytes> get(const std::string& key, std::size_t n, ByteView exclude, TimePoint now);
    void expire(TimePoint now);
    std::size_t size() const noexcept { return m_order.size(); }
    // Reseeds the shuffle of get() (the node seeds it from its random source, so a simulated or
    // fuzzed node is deterministic).
    void seed(std::uint32_t seed) { m_rng.seed(seed); }

private:
    struct Entry {
        std::string key;
        std::string record;
        TimePoint added;
    };
    using Order = std::list<Entry>;  // oldest first
    std::size_t m_max_records;
    std::chrono::steady_clock::duration m_max_age;
    Order m_order;
    std::unordered_map<std::string, std::map<std::string, Order::iterator>> m_index;
    std::minstd_rand m_rng{std::random_device{}()};
};

// The storing node's `peers` handler. `from` is the datagram's source address.
class PeerStore {
public:
    explicit PeerStore(RecordStore records = RecordStore()) : m_records(std::move(records)) {}

    static std::string remote_key(ByteView topic);
    static std::string local_key(ByteView topic, ByteView local_address);

    // QUERY: up to 128 remote records (not the querier's own) and 32 local ones sharing the
    // querier's first two octets. Errc::InvalidArgument "Invalid port" as in JS.
    Result<PeersOutput> query(ByteView topic, const Peer& from, const PeersInput& input,
                              TimePoint now);
    // UPDATE: announce or (input.unannounce) remove the sender's records.
    Status update(ByteView topic, const Peer& from, const PeersInput& input, TimePoint now);
    void expire(TimePoint now) { m_records.expire(now); }
    std::size_t size() const noexcept { return m_records.size(); }
    void seed(std::uint32_t seed) { m_records.seed(seed); }

private:
    RecordStore m_records;
};

}  // namespace hs::swarm::dht
