// In-process DHT networks of our nodes on 127.0.0.1 (run inside the loopback-only namespace of
// scripts/test.sh). One io_context drives every node, as the daemon's network thread would.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <map>
#include <set>

#include "swarm/dht/node.h"

namespace hs::swarm::dht {
namespace {

using asio::awaitable;
using Topic = std::array<std::uint8_t, 32>;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
const auto kLoopback = asio::ip::make_address_v4("127.0.0.1");

Topic topic(std::uint8_t n) {
    Topic t;
    t.fill(n);
    t[0] = 0x55;
    return t;
}

struct Network {
    asio::io_context io;
    std::unique_ptr<Node> boot;
    std::vector<std::unique_ptr<Node>> nodes;
    std::chrono::milliseconds tick{750};

    std::string boot_address() const { return ":" + std::to_string(boot->local_endpoint().port()); }

    std::unique_ptr<Node> make(bool ephemeral, std::vector<std::string> bootstrap) {
        NodeOptions o;
        o.ephemeral = ephemeral;
        o.bootstrap = std::move(bootstrap);
        o.bind = asio::ip::udp::endpoint(kLoopback, 0);
        o.tick = tick;
        auto node = std::make_unique<Node>(io.get_executor(), o);
        auto st = node->listen();
        EXPECT_TRUE(st.ok()) << st.error().message;
        node->start();
        return node;
    }
    void build(std::size_t n) {
        boot = make(false, {});
        for (std::size_t i = 0; i < n; ++i) nodes.push_back(make(false, {boot_address()}));
    }
    awaitable<void> close_all() {
        for (auto& n : nodes) co_await n->close();
        if (boot) co_await boot->close();
    }
    // Runs `body` to completion (or fails the test after `limit`).
    void run(std::function<awaitable<void>()> body,
             std::chrono::seconds limit = std::chrono::seconds(120)) {
        bool finished = false;
        asio::co_spawn(
            io,
            [&]() -> awaitable<void> {
                co_await body();
                co_await close_all();
                finished = true;
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        io.run_for(limit);
        ASSERT_TRUE(finished) << "the network test did not finish in time";
    }
};

// Arguments of co_await calls are named locals throughout (GCC 12 may destroy temporaries of a
// co_await expression twice).
using OnPeers = std::function<void(const PeersReply&)>;

awaitable<std::set<PeerAddress>> lookup_all(Node& node, Topic t, QueryResult* out = nullptr) {
    std::set<PeerAddress> found;
    OnPeers collect = [&](const PeersReply& reply) {
        found.insert(reply.peers.begin(), reply.peers.end());
    };
    auto r = co_await node.lookup(t, std::move(collect));
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r.ok() && out) *out = *r;
    co_return found;
}

TEST(DhtNetwork, EveryLookupFindsEveryAnnouncerAndUnannounceRemoves) {
    Network net;
    net.build(20);
    net.run([&]() -> awaitable<void> {
        co_await net.boot->ready();
        for (auto& n : net.nodes) co_await n->ready();
        for (auto& n : net.nodes) EXPECT_GE(n->routing_table_size(), 1u);

        // Six announcers over three topics, each announcing an explicit port.
        std::map<int, std::set<PeerAddress>> expected;
        for (int i = 0; i < 6; ++i) {
            const auto port = static_cast<std::uint16_t>(20000 + i);
            AnnounceOptions a;
            a.port = port;
            OnPeers none;
            const Topic t = topic(static_cast<std::uint8_t>(i % 3));
            auto r =
                co_await net.nodes[static_cast<std::size_t>(i)]->announce(t, a, std::move(none));
            EXPECT_TRUE(r.ok()) << r.error().message;
            if (r.ok()) {
                EXPECT_GT(r->responses, 0u);
            }
            expected[i % 3].insert(PeerAddress{kLoopback, port});
        }
        for (std::size_t n = 0; n < net.nodes.size(); ++n) {
            for (int t = 0; t < 3; ++t) {
                QueryResult qr;
                auto found =
                    co_await lookup_all(*net.nodes[n], topic(static_cast<std::uint8_t>(t)), &qr);
                EXPECT_EQ(found, expected[t]) << "node " << n << " topic " << t;
                EXPECT_GE(qr.peers_found, expected[t].size());
            }
        }
        // A topic nobody announced: responses but no peers.
        QueryResult empty;
        auto none = co_await lookup_all(*net.nodes[7], topic(99), &empty);
        EXPECT_TRUE(none.empty());
        EXPECT_GT(empty.responses, 0u);

        // The first announcer of topic 0 leaves.
        AnnounceOptions a0;
        a0.port = 20000;
        auto st = co_await net.nodes[0]->unannounce(topic(0), a0);
        EXPECT_TRUE(st.ok()) << st.error().message;
        expected[0].erase(PeerAddress{kLoopback, 20000});
        for (std::size_t n = 0; n < net.nodes.size(); n += 3) {
            auto found = co_await lookup_all(*net.nodes[n], topic(0));
            EXPECT_EQ(found, expected[0]) << "node " << n;
        }

        // Announcing reports the peers already there.
        std::set<PeerAddress> seen;
        AnnounceOptions a19;
        a19.port = 20019;
        OnPeers see = [&](const PeersReply& reply) {
            seen.insert(reply.peers.begin(), reply.peers.end());
        };
        auto r = co_await net.nodes[19]->announce(topic(1), a19, std::move(see));
        EXPECT_TRUE(r.ok());
        EXPECT_EQ(seen, expected[1]);
    });
}

TEST(DhtNetwork, EphemeralNodesQueryButAreNotStored) {
    Network net;
    net.build(8);
    net.run([&]() -> awaitable<void> {
        for (auto& n : net.nodes) co_await n->ready();
        std::vector<std::size_t> sizes;
        for (auto& n : net.nodes) sizes.push_back(n->routing_table_size());
        const auto boot_size = net.boot->routing_table_size();

        auto eph = net.make(true, {net.boot_address()});
        co_await eph->ready();
        EXPECT_GE(eph->routing_table_size(), 8u);  // it learns persistent nodes
        AnnounceOptions a;
        a.port = 31000;
        OnPeers none;
        auto r = co_await eph->announce(topic(1), a, std::move(none));
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        auto found = co_await lookup_all(*net.nodes[3], topic(1));
        EXPECT_EQ(found, (std::set<PeerAddress>{PeerAddress{kLoopback, 31000}}));
        auto self = co_await lookup_all(*eph, topic(1));
        // A lookup names no port, so the querier's own record is 127.0.0.1:<its UDP port>: the
        // announced 31000 record is a different one and comes back.
        EXPECT_EQ(self, (std::set<PeerAddress>{PeerAddress{kLoopback, 31000}}));
        // Nobody added the ephemeral node to its table.
        EXPECT_EQ(net.boot->routing_table_size(), boot_size);
        for (std::size_t i = 0; i < net.nodes.size(); ++i)
            EXPECT_EQ(net.nodes[i]->routing_table_size(), sizes[i]);
        // Our address as the persistent responders saw it.
        auto remote = eph->remote_address();
        EXPECT_TRUE(remote.has_value());
        if (remote) {
            EXPECT_EQ(*remote, eph->local_endpoint());
        }
        EXPECT_TRUE(eph->holepunchable());
        co_await eph->close();
    });
}

TEST(DhtNetwork, NodesThatStopAnsweringLeaveTheTable) {
    Network net;
    net.tick = std::chrono::milliseconds(30);  // a request fails after 10 ticks
    net.build(6);
    net.run([&]() -> awaitable<void> {
        for (auto& n : net.nodes) co_await n->ready();
        // Everyone has met node 5 while it bootstrapped.
        const auto before = net.nodes[0]->routing_table_size();
        EXPECT_EQ(before, 6u);
        co_await net.nodes[5]->close();
        QueryResult r;
        auto found = co_await lookup_all(*net.nodes[0], topic(3), &r);
        EXPECT_TRUE(found.empty());
        EXPECT_EQ(r.responses, 5u);  // the bootstrap node and nodes 1-4
        EXPECT_EQ(net.nodes[0]->routing_table_size(), before - 1);
    });
}

// Raw datagrams against one node: bad tokens, unknown commands, pings.
TEST(DhtNetwork, UpdatesNeedAValidTokenAndUnknownCommandsAreRefused) {
    Network net;
    net.build(2);
    net.run([&]() -> awaitable<void> {
        for (auto& n : net.nodes) co_await n->ready();
        Node& target = *net.nodes[0];
        asio::ip::udp::socket sock(net.io, asio::ip::udp::endpoint(kLoopback, 0));
        const auto to = target.local_endpoint();
        const Peer me{{127, 0, 0, 1}, sock.local_endpoint().port()};
        const Topic t = topic(42);

        const auto send = [&](const Message& m) {
            const Bytes b = m.encode();
            sock.send_to(asio::buffer(b), to);
        };
        const auto receive_on =
            [&](asio::ip::udp::socket& on) -> awaitable<std::optional<Message>> {
            std::vector<std::uint8_t> buf(65536);
            asio::ip::udp::endpoint from;
            asio::steady_timer deadline(net.io, std::chrono::seconds(5));
            deadline.async_wait([&](std::error_code ec) {
                if (!ec) on.cancel();
            });
            auto [ec, n] = co_await on.async_receive_from(asio::buffer(buf), from, kTuple);
            deadline.cancel();
            if (ec) co_return std::nullopt;
            auto m = Message::decode(ByteView(buf.data(), n));
            if (!m) co_return std::nullopt;
            co_return *m;
        };
        const auto receive = [&]() { return receive_on(sock); };
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

        // An UPDATE with a made-up token is dropped silently; the ping after it is answered first.
        Message bad = request(2, 1, "peers");
        bad.roundtrip_token = Bytes(32, 0x77);
        send(bad);
        Message ping;
        ping.version = 1;
        ping.type = 1;
        ping.rid = 2;
        ping.command = "_ping";
        send(ping);
        auto pong = co_await receive();
        EXPECT_TRUE(pong.has_value());
        if (!pong) co_return;
        EXPECT_EQ(pong->rid, 2u);
        EXPECT_EQ(pong->type, 3u);
        EXPECT_EQ(pong->value, encode_peer(me));
        EXPECT_EQ(pong->to, encode_peer(me));
        EXPECT_EQ(pong->id, Bytes(target.id().begin(), target.id().end()));
        EXPECT_TRUE(pong->roundtrip_token && pong->roundtrip_token->size() == 32);
        EXPECT_EQ(target.stored_records(), 0u);

        // With the token the node gave us, the UPDATE is stored and answered.
        Message good = request(2, 3, "peers");
        good.roundtrip_token = pong->roundtrip_token;
        send(good);
        auto ack = co_await receive();
        EXPECT_TRUE(ack && ack->rid == 3 && !ack->error);
        EXPECT_EQ(target.stored_records(), 1u);
        auto found = co_await lookup_all(*net.nodes[1], t);
        EXPECT_EQ(found, (std::set<PeerAddress>{PeerAddress{kLoopback, 4444}}));

        send(request(1, 4, "no-such-command"));
        auto refused = co_await receive();
        EXPECT_TRUE(refused && refused->rid == 4);
        if (refused) {
            EXPECT_EQ(refused->error, std::optional<std::string>("Unsupported command"));
        }

        // Garbage and a ping for another id get no answer; the next valid ping does.
        sock.send_to(asio::buffer(std::string("\xff\xff\xff garbage")), to);
        Message other = ping;
        other.rid = 5;
        other.value = Bytes(32, 0);
        send(other);
        ping.rid = 6;
        send(ping);
        auto next = co_await receive();
        EXPECT_TRUE(next && next->rid == 6);

        // _holepunch with `to`: the node relays the query to `to`, naming us as `from`.
        asio::ip::udp::socket other_sock(net.io, asio::ip::udp::endpoint(kLoopback, 0));
        const Peer other_peer{{127, 0, 0, 1}, other_sock.local_endpoint().port()};
        Message punch;
        punch.version = 1;
        punch.type = 1;
        punch.rid = 7;
        punch.command = "_holepunch";
        Holepunch hp;
        hp.to = encode_peer(other_peer);
        punch.value = Bytes();
        hp.encode_to(*punch.value);
        send(punch);
        auto relayed = co_await receive_on(other_sock);
        EXPECT_TRUE(relayed.has_value());
        if (relayed) {
            EXPECT_EQ(relayed->command, std::optional<std::string>("_holepunch"));
            EXPECT_EQ(relayed->rid, 7u);
            EXPECT_EQ(relayed->to, encode_peer(other_peer));
            EXPECT_EQ(relayed->id, Bytes(target.id().begin(), target.id().end()));
            auto inner = Holepunch::decode(relayed->value.value_or(Bytes()));
            EXPECT_TRUE(inner.ok() && inner->from == encode_peer(me) && !inner->to);
            // The other side asks the node to answer `from` (us) directly.
            Message back = *relayed;
            back.rid = 8;
            const Bytes b = back.encode();
            other_sock.send_to(asio::buffer(b), to);
            auto answer = co_await receive();
            EXPECT_TRUE(answer && answer->rid == 8 && answer->type == 3);
            if (answer) {
                EXPECT_EQ(answer->to, encode_peer(me));
            }
        }
    });
}

TEST(DhtNetwork, AnnounceWithoutNodesFailsAndBadBootstrapIsRejected) {
    Network net;
    net.run([&]() -> awaitable<void> {
        NodeOptions o;
        o.bind = asio::ip::udp::endpoint(kLoopback, 0);
        o.bootstrap = {"127.0.0.1:1"};  // nobody there
        o.tick = std::chrono::milliseconds(20);
        Node lonely(net.io.get_executor(), o);
        EXPECT_TRUE(lonely.listen().ok());
        lonely.start();
        co_await lonely.ready();
        OnPeers none;
        AnnounceOptions a;
        auto r = co_await lonely.announce(topic(1), a, std::move(none));
        EXPECT_FALSE(r.ok());
        if (!r.ok()) {
            EXPECT_EQ(r.error().message, "No nodes responded");
        }
        co_await lonely.close();

        NodeOptions bad;
        bad.bootstrap = {"not-an-address"};
        Node b(net.io.get_executor(), bad);
        auto st = b.listen();
        EXPECT_FALSE(st.ok());
        if (!st.ok()) {
            EXPECT_EQ(st.error().code, Errc::InvalidArgument);
        }
    });
    EXPECT_EQ(parse_peer_address(":49737")->to_string(), "127.0.0.1:49737");
    EXPECT_EQ(parse_peer_address("10.1.2.3:5")->to_string(), "10.1.2.3:5");
    EXPECT_FALSE(parse_peer_address("10.1.2.3:0").ok());
    EXPECT_FALSE(parse_peer_address("10.1.2.3:70000").ok());
    EXPECT_EQ(parse_peer_address("localhost:7")->to_string(), "127.0.0.1:7");
    EXPECT_NE(parse_peer_address("[::1]:5").error().message.find("needs an IPv4 address"),
              std::string::npos);
    EXPECT_NE(parse_peer_address("::1:5").error().message.find("[ADDRESS]:PORT"),
              std::string::npos);
    EXPECT_NE(parse_peer_address("10.1.2.3").error().message.find("DHT peer '10.1.2.3'"),
              std::string::npos);
}

}  // namespace
}  // namespace hs::swarm::dht
