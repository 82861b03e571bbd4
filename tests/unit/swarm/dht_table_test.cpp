// Routing table, query table, roundtrip tokens and the `peers` record store (sans-IO parts).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "v9/swarm/dht/peer_store.h"
#include "v9/swarm/dht/query_table.h"
#include "v9/swarm/dht/routing_table.h"
#include "v9/swarm/dht/tokens.h"

namespace hs::swarm::dht {
namespace {

using namespace std::chrono_literals;

NodeId random_id(std::mt19937& rng) {
    NodeId id;
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
    return id;
}
Peer peer(std::uint8_t last, std::uint16_t port) { return Peer{{127, 0, 0, last}, port}; }
NodeId distance(const NodeId& a, const NodeId& b) {
    NodeId d;
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = a[i] ^ b[i];
    return d;
}

TEST(DhtRoutingTable, ClosestIsSortedAndBucketsAreBounded) {
    std::mt19937 rng(1);
    const NodeId self = random_id(rng);
    RoutingTable table(self, 20);
    std::vector<NodeId> ids;
    std::size_t accepted = 0;
    for (int i = 0; i < 2000; ++i) {
        const NodeId id = random_id(rng);
        ids.push_back(id);
        if (table.add(Contact{id, peer(1, static_cast<std::uint16_t>(i + 1)), std::nullopt, {}}) ==
            RoutingTable::AddResult::Added)
            ++accepted;
    }
    EXPECT_EQ(table.size(), accepted);
    // Random ids share a 0-bit prefix with us half the time: the first bucket is full at 20.
    EXPECT_LT(table.size(), 2000u);
    EXPECT_GE(table.size(), 100u);
    EXPECT_EQ(table.add(Contact{self, peer(1, 1), std::nullopt, {}}),
              RoutingTable::AddResult::Self);

    const NodeId target = random_id(rng);
    const auto closest = table.closest(target, 20);
    ASSERT_EQ(closest.size(), 20u);
    for (std::size_t i = 1; i < closest.size(); ++i)
        EXPECT_LT(distance(closest[i - 1].id, target), distance(closest[i].id, target));
    // Nothing in the table is closer than the 20th answer.
    const NodeId worst = distance(closest.back().id, target);
    std::size_t closer_count = 0;
    for (const auto& id : ids)
        if (table.get(id) && distance(id, target) < worst) ++closer_count;
    EXPECT_EQ(closer_count, 19u);
}

TEST(DhtRoutingTable, FullBucketKeepsOldContactsAndPromotesReplacement) {
    NodeId self{};
    RoutingTable table(self, 2);
    NodeId a{}, b{}, c{};
    a[0] = 0x80;
    b[0] = 0x81;
    c[0] = 0x82;  // all in bucket 0 (first bit differs)
    EXPECT_EQ(table.add(Contact{a, peer(1, 1), std::nullopt, {}}), RoutingTable::AddResult::Added);
    EXPECT_EQ(table.add(Contact{b, peer(2, 2), std::nullopt, {}}), RoutingTable::AddResult::Added);
    EXPECT_EQ(table.add(Contact{c, peer(3, 3), std::nullopt, {}}), RoutingTable::AddResult::Full);
    EXPECT_EQ(table.get(c), nullptr);
    EXPECT_EQ(table.add(Contact{a, peer(9, 9), Bytes{1}, {}}), RoutingTable::AddResult::Updated);
    EXPECT_EQ(table.get(a)->peer.port, 9);
    EXPECT_EQ(*table.get(a)->token, Bytes{1});
    EXPECT_TRUE(table.remove(b));
    ASSERT_NE(table.get(c), nullptr);
    EXPECT_EQ(table.size(), 2u);
    EXPECT_FALSE(table.remove(b));
}

TEST(DhtRoutingTable, StaleListsLeastRecentlySeenFirst) {
    NodeId self{};
    RoutingTable table(self);
    const TimePoint t0{};
    for (int i = 1; i <= 5; ++i) {
        NodeId id{};
        id[0] = static_cast<std::uint8_t>(i);
        table.add(Contact{id, peer(1, 1), std::nullopt, t0 + std::chrono::seconds(10 - i)});
    }
    const auto stale = table.stale(3, t0 + 8s);
    ASSERT_EQ(stale.size(), 3u);
    EXPECT_EQ(stale[0].id[0], 5);
    EXPECT_EQ(stale[1].id[0], 4);
    EXPECT_EQ(stale[2].id[0], 3);
}

TEST(DhtQueryTable, KeepsKClosestAndSkipsSelf) {
    std::mt19937 rng(2);
    const NodeId self = random_id(rng), target = random_id(rng);
    QueryTable q(self, target, 5);
    q.add_unverified(NodeRecord{self, peer(1, 1)});
    EXPECT_TRUE(q.unverified().empty());
    std::vector<NodeId> ids;
    for (int i = 0; i < 50; ++i) {
        ids.push_back(random_id(rng));
        q.add_unverified(NodeRecord{ids.back(), peer(2, 2)});
        q.add_unverified(NodeRecord{ids.back(), peer(2, 2)});  // duplicate ignored
    }
    std::sort(ids.begin(), ids.end(),
              [&](const NodeId& a, const NodeId& b) { return closer(target, a, b); });
    ASSERT_EQ(q.unverified().size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(q.unverified()[i].id, ids[i]);
    q.add_verified(ids[3], peer(7, 7), Bytes(32, 1));
    q.add_verified(ids[0], peer(8, 8), Bytes(32, 2));
    ASSERT_EQ(q.closest().size(), 2u);
    EXPECT_EQ(q.closest()[0].id, ids[0]);
    EXPECT_EQ(q.closest()[0].peer.port, 8);
    EXPECT_EQ(*q.closest()[1].token, Bytes(32, 1));
}

TEST(DhtTokens, ValidForTwoGenerationsPerHost) {
    TokenSecrets tokens;
    const Peer a = peer(1, 1000), a_other_port = peer(1, 2000), b = peer(2, 1000);
    const Bytes t = tokens.token(a);
    EXPECT_EQ(t.size(), 32u);
    EXPECT_TRUE(tokens.valid(a, t));
    EXPECT_TRUE(tokens.valid(a_other_port, t));  // tokens bind the host, not the port
    EXPECT_FALSE(tokens.valid(b, t));
    EXPECT_FALSE(tokens.valid(a, Bytes(32, 0)));
    EXPECT_FALSE(tokens.valid(a, ByteView(t).first(31)));
    tokens.rotate();
    EXPECT_NE(tokens.token(a), t);
    EXPECT_TRUE(tokens.valid(a, t));  // previous secret still accepted
    tokens.rotate();
    EXPECT_FALSE(tokens.valid(a, t));
}

TEST(DhtRecordStore, ExpiresAfterMaxAgeAndRefreshes) {
    RecordStore store(100, 12min);
    const TimePoint t0{};
    const Bytes r1{1, 2, 3, 4, 5, 6}, r2{6, 5, 4, 3, 2, 1};
    store.add("t", r1, t0);
    store.add("t", r2, t0 + 5min);
    EXPECT_EQ(store.get("t", 10, {}, t0 + 11min).size(), 2u);
    EXPECT_EQ(store.get("t", 10, r1, t0 + 11min).size(), 1u);  // excluded
    store.add("t", r1, t0 + 11min);                            // refresh
    auto live = store.get("t", 10, {}, t0 + 17min + 30s);
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0], r1);
    EXPECT_TRUE(store.get("t", 10, {}, t0 + 24min).empty());
    EXPECT_EQ(store.size(), 0u);
}

TEST(DhtRecordStore, BoundedByMaxRecordsOldestFirst) {
    RecordStore store(3, 12min);
    const TimePoint t0{};
    for (std::uint8_t i = 0; i < 5; ++i)
        store.add(i % 2 ? "a" : "b", Bytes{i}, t0 + std::chrono::seconds(i));
    EXPECT_EQ(store.size(), 3u);
    auto b = store.get("b", 10, {}, t0);
    auto a = store.get("a", 10, {}, t0);
    std::set<Bytes> all(a.begin(), a.end());
    all.insert(b.begin(), b.end());
    EXPECT_EQ(all, (std::set<Bytes>{{2}, {3}, {4}}));
    EXPECT_EQ(store.get("a", 1, {}, t0).size(), 1u);
    store.remove("a", Bytes{3});
    EXPECT_EQ(store.size(), 2u);
}

TEST(DhtPeerStore, AnnounceQueryUnannounce) {
    PeerStore store;
    const Bytes topic(32, 0x42);
    const TimePoint now{};
    const Peer announcer{{127, 0, 0, 5}, 5000};
    const Peer querier{{127, 0, 0, 6}, 6000};
    PeersInput ann;
    ann.port = 0;  // use the UDP source port
    ASSERT_TRUE(store.update(topic, announcer, ann, now).ok());
    PeersInput explicit_port;
    explicit_port.port = 7777;
    ASSERT_TRUE(store.update(topic, querier, explicit_port, now).ok());

    // A query leaves out the querier's own record (source host + the port it names).
    auto seen = store.query(topic, querier, explicit_port, now);
    ASSERT_TRUE(seen.ok());
    ASSERT_TRUE(seen->peers);
    EXPECT_EQ(*seen->peers, encode_peer(announcer));
    EXPECT_FALSE(seen->local_peers);

    auto other = store.query(topic, Peer{{127, 0, 0, 9}, 9}, PeersInput{}, now);
    ASSERT_TRUE(other.ok() && other->peers);
    EXPECT_EQ(other->peers->size(), 12u);

    PeersInput un = explicit_port;
    un.unannounce = true;
    ASSERT_TRUE(store.update(topic, querier, un, now).ok());
    other = store.query(topic, Peer{{127, 0, 0, 9}, 9}, PeersInput{}, now);
    ASSERT_TRUE(other.ok() && other->peers);
    EXPECT_EQ(*other->peers, encode_peer(announcer));

    EXPECT_FALSE(
        store.update(topic, Peer{{127, 0, 0, 1}, 0}, PeersInput{}, now).ok());  // Invalid port
}

TEST(DhtPeerStore, LocalRecordsShareTheFirstTwoOctets) {
    PeerStore store;
    const Bytes topic(32, 7);
    const TimePoint now{};
    PeersInput a;
    a.local_address = encode_peer(Peer{{192, 168, 1, 10}, 4000});
    PeersInput b;
    b.local_address = encode_peer(Peer{{192, 168, 2, 20}, 5000});
    PeersInput c;
    c.local_address = encode_peer(Peer{{10, 0, 0, 1}, 6000});
    ASSERT_TRUE(store.update(topic, Peer{{1, 1, 1, 1}, 1}, a, now).ok());
    ASSERT_TRUE(store.update(topic, Peer{{2, 2, 2, 2}, 2}, b, now).ok());
    ASSERT_TRUE(store.update(topic, Peer{{3, 3, 3, 3}, 3}, c, now).ok());
    EXPECT_EQ(PeerStore::local_key(topic, *a.local_address),
              PeerStore::remote_key(topic) + "@local.c0a8");

    auto r = store.query(topic, Peer{{2, 2, 2, 2}, 2}, b, now);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->local_peers);
    EXPECT_EQ(*r->local_peers, (Bytes{1, 10, 0x0f, 0xa0}));  // 192.168.1.10:4000, not itself
    ASSERT_TRUE(r->peers);
    EXPECT_EQ(r->peers->size(), 12u);  // 1.1.1.1:1 and 3.3.3.3:3
}

TEST(DhtPeerStore, QueryRepliesAreCapped) {
    PeerStore store;
    const Bytes topic(32, 9);
    const TimePoint now{};
    for (int i = 0; i < 300; ++i) {
        PeersInput in;
        in.local_address = encode_peer(
            Peer{{10, 1, static_cast<std::uint8_t>(i / 256), static_cast<std::uint8_t>(i)}, 80});
        ASSERT_TRUE(store
                        .update(topic,
                                Peer{{127, 0, static_cast<std::uint8_t>(i / 256),
                                      static_cast<std::uint8_t>(i)},
                                     1000},
                                in, now)
                        .ok());
    }
    PeersInput q;
    q.local_address = encode_peer(Peer{{10, 1, 200, 200}, 80});
    auto r = store.query(topic, Peer{{127, 0, 0, 0}, 1000}, q, now);
    ASSERT_TRUE(r.ok() && r->peers && r->local_peers);
    EXPECT_EQ(r->peers->size(), kMaxRemoteReply * kPeerBytes);
    EXPECT_EQ(r->local_peers->size(), kMaxLocalReply * kLocalPeerBytes);
    for (std::size_t i = 0; i < r->peers->size(); i += 6)
        EXPECT_FALSE((*r->peers)[i + 2] == 0 && (*r->peers)[i + 3] == 0);  // never the querier
}

}  // namespace
}  // namespace hs::swarm::dht
