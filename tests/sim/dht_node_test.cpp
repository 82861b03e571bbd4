// The behaviours of one DHT node in small simulated networks (tests/sim/dht_sim.h): what the
// real-time loopback tests checked before the node was sans-IO, now on a fake clock with the
// default 750 ms tick and no waiting.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "sim/dht_sim.h"

namespace hs::swarm::dht::sim {
namespace {

// A small network without loss: node 0 is the bootstrap node, 1..n bootstrap from it.
struct Small {
    explicit Small(std::size_t n, double loss = 0) : net(SimOptions{.seed = 3, .loss = loss}) {
        boot = net.add_node(false, {});
        for (std::size_t i = 0; i < n; ++i) nodes.push_back(net.add_node(false, {net.address(boot)}));
        EXPECT_TRUE(net.run_until(
            [&] {
                for (auto i : nodes)
                    if (!net.node(i).bootstrapped()) return false;
                return true;
            },
            std::chrono::minutes(1)));
    }
    std::shared_ptr<Outcome> wait(std::shared_ptr<Outcome> o) {
        EXPECT_TRUE(net.run_until([&] { return o->done; }, std::chrono::minutes(1)));
        return o;
    }
    std::shared_ptr<Outcome> lookup(std::size_t i, const NodeId& t) {
        auto o = std::make_shared<Outcome>();
        net.node(i).lookup(t, collect(o), finish(o), net.now());
        return wait(o);
    }
    std::shared_ptr<Outcome> announce(std::size_t i, const NodeId& t, std::uint16_t port) {
        auto o = std::make_shared<Outcome>();
        AnnounceParams p;
        p.port = port;
        net.node(i).announce(t, p, collect(o), finish(o), net.now());
        return wait(o);
    }
    std::shared_ptr<Outcome> unannounce(std::size_t i, const NodeId& t, std::uint16_t port) {
        auto o = std::make_shared<Outcome>();
        AnnounceParams p;
        p.port = port;
        net.node(i).unannounce(t, p, finish(o), net.now());
        return wait(o);
    }
    Peer at(std::size_t i, std::uint16_t port) const {
        Peer p = net.address(i);
        p.port = port;
        return p;
    }
    Network net;
    std::size_t boot = 0;
    std::vector<std::size_t> nodes;
};

TEST(DhtNode, EveryLookupFindsEveryAnnouncerAndUnannounceRemoves) {
    Small s(20);
    for (auto i : s.nodes) EXPECT_GE(s.net.node(i).routing_table_size(), 1u);
    // Six announcers over three topics, each announcing an explicit port.
    std::map<int, std::set<Peer>> expected;
    for (int i = 0; i < 6; ++i) {
        const auto port = static_cast<std::uint16_t>(20000 + i);
        auto r = s.announce(s.nodes[static_cast<std::size_t>(i)],
                            topic(static_cast<std::uint8_t>(i % 3)), port);
        ASSERT_TRUE(r->ok()) << r->error();
        EXPECT_GT((*r->result)->responses, 0u);
        expected[i % 3].insert(s.at(s.nodes[static_cast<std::size_t>(i)], port));
    }
    for (auto n : s.nodes) {
        for (int t = 0; t < 3; ++t) {
            auto r = s.lookup(n, topic(static_cast<std::uint8_t>(t)));
            ASSERT_TRUE(r->ok()) << r->error();
            EXPECT_EQ(r->peers, expected[t]) << "node " << n << " topic " << t;
            EXPECT_GE((*r->result)->peers_found, expected[t].size());
        }
    }
    // A topic nobody announced: responses but no peers.
    auto none = s.lookup(s.nodes[7], topic(99));
    ASSERT_TRUE(none->ok());
    EXPECT_TRUE(none->peers.empty());
    EXPECT_GT((*none->result)->responses, 0u);

    // The first announcer of topic 0 leaves.
    auto un = s.unannounce(s.nodes[0], topic(0), 20000);
    EXPECT_TRUE(un->ok()) << un->error();
    expected[0].erase(s.at(s.nodes[0], 20000));
    for (std::size_t n = 0; n < s.nodes.size(); n += 3)
        EXPECT_EQ(s.lookup(s.nodes[n], topic(0))->peers, expected[0]) << "node " << n;

    // Announcing reports the peers already there.
    auto seen = s.announce(s.nodes[19], topic(1), 20019);
    EXPECT_TRUE(seen->ok());
    EXPECT_EQ(seen->peers, expected[1]);
}

TEST(DhtNode, EphemeralNodesQueryButAreNotStored) {
    Small s(8);
    std::vector<std::size_t> sizes;
    for (auto i : s.nodes) sizes.push_back(s.net.node(i).routing_table_size());
    const auto boot_size = s.net.node(s.boot).routing_table_size();

    const auto eph = s.net.add_node(true, {s.net.address(s.boot)});
    ASSERT_TRUE(s.net.run_until([&] { return s.net.node(eph).bootstrapped(); }, seconds(30)));
    EXPECT_GE(s.net.node(eph).routing_table_size(), 8u);  // it learns persistent nodes
    auto r = s.announce(eph, topic(1), 31000);
    EXPECT_TRUE(r->ok()) << r->error();
    EXPECT_EQ(s.lookup(s.nodes[3], topic(1))->peers, (std::set<Peer>{s.at(eph, 31000)}));
    // A lookup names no port, so the querier's own record is <its address>:<its UDP port>: the
    // announced 31000 record is a different one and comes back.
    EXPECT_EQ(s.lookup(eph, topic(1))->peers, (std::set<Peer>{s.at(eph, 31000)}));
    // Nobody added the ephemeral node to its table.
    EXPECT_EQ(s.net.node(s.boot).routing_table_size(), boot_size);
    for (std::size_t i = 0; i < s.nodes.size(); ++i)
        EXPECT_EQ(s.net.node(s.nodes[i]).routing_table_size(), sizes[i]);
    // Our address as the persistent responders saw it.
    EXPECT_EQ(s.net.node(eph).remote_address(), std::optional<Peer>(s.net.address(eph)));
    EXPECT_TRUE(s.net.node(eph).holepunchable());
}

TEST(DhtNode, NodesThatStopAnsweringLeaveTheTable) {
    Small s(6);
    // Everyone has met node 6 (the last) while it bootstrapped.
    const auto before = s.net.node(s.nodes[0]).routing_table_size();
    EXPECT_EQ(before, 6u);
    s.net.kill(s.nodes[5]);
    const auto start = s.net.now();
    auto r = s.lookup(s.nodes[0], topic(3));
    ASSERT_TRUE(r->ok()) << r->error();
    EXPECT_TRUE(r->peers.empty());
    EXPECT_EQ((*r->result)->responses, 5u);  // the bootstrap node and nodes 1-4
    EXPECT_EQ(s.net.node(s.nodes[0]).routing_table_size(), before - 1);
    // The silent node held the lookup for its full request timeout (10 ticks of 750 ms), and
    // not much longer.
    EXPECT_GE(s.net.now() - start, milliseconds(6750));
    EXPECT_LT(s.net.now() - start, seconds(12));
}

// Raw datagrams from a probe address against one node: bad tokens, unknown commands, pings,
// garbage and the holepunch relay.
TEST(DhtNode, UpdatesNeedAValidTokenAndUnknownCommandsAreRefused) {
    Small s(2);
    const std::size_t target = s.nodes[0];
    const Peer to = s.net.address(target);
    const Peer me{{10, 200, 0, 1}, 5000};
    const Peer other{{10, 200, 0, 2}, 5001};
    std::vector<Message> inbox, other_inbox;
    s.net.attach_probe(me, [&](const Peer&, ByteView d) {
        if (auto m = Message::decode(d)) inbox.push_back(*m);
    });
    s.net.attach_probe(other, [&](const Peer&, ByteView d) {
        if (auto m = Message::decode(d)) other_inbox.push_back(*m);
    });
    const NodeId t = topic(42);
    const auto request = [&](std::uint64_t type, std::uint64_t rid, std::string command) {
        Message m;
        m.version = 1;
        m.type = type;
        m.rid = rid;
        m.target = Bytes(t.begin(), t.end());
        m.command = std::move(command);
        PeersInput in;
        in.port = 4444;
        m.value = Bytes();
        in.encode_to(*m.value);
        return m;
    };
    const auto send = [&](const Message& m) { s.net.send(me, to, m.encode()); };
    const auto settle = [&] { s.net.run_for(seconds(1)); };
    const NodeId& id = s.net.node(target).id();

    // An UPDATE with a made-up token is dropped silently; only the ping is answered.
    Message bad = request(2, 1, "peers");
    bad.roundtrip_token = Bytes(32, 0x77);
    send(bad);
    Message ping;
    ping.version = 1;
    ping.type = 1;
    ping.rid = 2;
    ping.command = "_ping";
    send(ping);
    settle();
    ASSERT_EQ(inbox.size(), 1u);
    const Message pong = inbox[0];
    EXPECT_EQ(pong.rid, 2u);
    EXPECT_EQ(pong.type, 3u);
    EXPECT_EQ(pong.value, encode_peer(me));
    EXPECT_EQ(pong.to, encode_peer(me));
    EXPECT_EQ(pong.id, Bytes(id.begin(), id.end()));
    EXPECT_TRUE(pong.roundtrip_token && pong.roundtrip_token->size() == 32);
    EXPECT_EQ(s.net.node(target).stored_records(), 0u);

    // With the token the node gave us, the UPDATE is stored and answered.
    inbox.clear();
    Message good = request(2, 3, "peers");
    good.roundtrip_token = pong.roundtrip_token;
    send(good);
    settle();
    ASSERT_EQ(inbox.size(), 1u);
    EXPECT_TRUE(inbox[0].rid == 3 && !inbox[0].error);
    EXPECT_EQ(s.net.node(target).stored_records(), 1u);
    Peer record = me;
    record.port = 4444;
    EXPECT_EQ(s.lookup(s.nodes[1], t)->peers, (std::set<Peer>{record}));

    inbox.clear();
    send(request(1, 4, "no-such-command"));
    settle();
    ASSERT_EQ(inbox.size(), 1u);
    EXPECT_EQ(inbox[0].rid, 4u);
    EXPECT_EQ(inbox[0].error, std::optional<std::string>("Unsupported command"));

    // Garbage and a ping for another id get no answer; the next valid ping does.
    inbox.clear();
    const std::string garbage = "\xff\xff\xff garbage";
    s.net.send(me, to, Bytes(garbage.begin(), garbage.end()));
    Message wrong = ping;
    wrong.rid = 5;
    wrong.value = Bytes(32, 0);
    send(wrong);
    ping.rid = 6;
    send(ping);
    settle();
    ASSERT_EQ(inbox.size(), 1u);
    EXPECT_EQ(inbox[0].rid, 6u);

    // _holepunch with `to`: the node relays the query to `to`, naming us as `from`.
    inbox.clear();
    Message punch;
    punch.version = 1;
    punch.type = 1;
    punch.rid = 7;
    punch.command = "_holepunch";
    Holepunch hp;
    hp.to = encode_peer(other);
    punch.value = Bytes();
    hp.encode_to(*punch.value);
    send(punch);
    settle();
    ASSERT_EQ(other_inbox.size(), 1u);
    const Message relayed = other_inbox[0];
    EXPECT_EQ(relayed.command, std::optional<std::string>("_holepunch"));
    EXPECT_EQ(relayed.rid, 7u);
    EXPECT_EQ(relayed.to, encode_peer(other));
    EXPECT_EQ(relayed.id, Bytes(id.begin(), id.end()));
    auto inner = Holepunch::decode(relayed.value.value_or(Bytes()));
    EXPECT_TRUE(inner.ok() && inner->from == encode_peer(me) && !inner->to);
    // The other side asks the node to answer `from` (us) directly.
    Message back = relayed;
    back.rid = 8;
    s.net.send(other, to, back.encode());
    settle();
    ASSERT_EQ(inbox.size(), 1u);
    EXPECT_TRUE(inbox[0].rid == 8 && inbox[0].type == 3);
    EXPECT_EQ(inbox[0].to, encode_peer(me));
}

TEST(DhtNode, AnnounceWithoutNodesFailsAndClosedNodesRefuse) {
    Network net(SimOptions{.seed = 5});
    const Peer nobody{{10, 250, 0, 1}, 1};
    const auto lonely = net.add_node(true, {nobody});
    ASSERT_TRUE(net.run_until([&] { return net.node(lonely).bootstrapped(); }, seconds(30)));
    auto o = std::make_shared<Outcome>();
    net.node(lonely).announce(topic(1), AnnounceParams{}, collect(o), finish(o), net.now());
    ASSERT_TRUE(net.run_until([&] { return o->done; }, seconds(30)));
    EXPECT_EQ(o->error(), "No nodes responded");

    // A query running at close() ends with Errc::Closed, inside close().
    auto pending = std::make_shared<Outcome>();
    net.node(lonely).lookup(topic(2), collect(pending), finish(pending), net.now());
    net.run_for(seconds(1));
    EXPECT_FALSE(pending->done);
    net.kill(lonely);
    ASSERT_TRUE(pending->done);
    EXPECT_EQ(pending->result->error().code, Errc::Closed);
    EXPECT_EQ(net.node(lonely).next_wakeup(), TimePoint::max());
    // Later operations fail with Errc::Closed too, and a node never started refuses them.
    auto late = std::make_shared<Outcome>();
    net.node(lonely).lookup(topic(3), collect(late), finish(late), net.now());
    ASSERT_TRUE(late->done);
    EXPECT_EQ(late->result->error().code, Errc::Closed);
    const auto idle = net.add_node(false, {}, /*start=*/false);
    auto early = std::make_shared<Outcome>();
    net.node(idle).lookup(topic(3), collect(early), finish(early), net.now());
    ASSERT_TRUE(early->done);
    EXPECT_EQ(early->result->error().code, Errc::Closed);
}

TEST(DhtNode, CancelledQueriesCallNothing) {
    Small s(4);
    auto o = std::make_shared<Outcome>();
    const auto id = s.net.node(s.nodes[0]).lookup(topic(1), collect(o), finish(o), s.net.now());
    EXPECT_EQ(s.net.node(s.nodes[0]).running_queries(), 1u);
    s.net.node(s.nodes[0]).cancel(id);
    EXPECT_EQ(s.net.node(s.nodes[0]).running_queries(), 0u);
    s.net.run_for(seconds(20));
    EXPECT_FALSE(o->done);
    // Its requests still finished (answered), leaving nothing in flight.
    EXPECT_EQ(s.net.node(s.nodes[0]).inflight_requests(), 0u);
}

TEST(DhtNode, SeededCoresDrawTheSameIdsAndTokens) {
    // Two networks from the same seed: the same node ids, and the same datagrams.
    Small a(3), b(3);
    for (std::size_t i = 0; i < a.net.size(); ++i) EXPECT_EQ(a.net.node(i).id(), b.net.node(i).id());
    EXPECT_EQ(a.net.trace_hash(), b.net.trace_hash());
    Network c(SimOptions{.seed = 4});
    c.add_node(false, {});
    EXPECT_NE(c.node(0).id(), a.net.node(0).id());
}

}  // namespace
}  // namespace hs::swarm::dht::sim
