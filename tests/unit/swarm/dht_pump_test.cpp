// The UDP pump (swarm/dht/node.h) on 127.0.0.1, run inside the loopback-only namespace of
// scripts/test.sh. The node's behaviour is tested on the fake clock (tests/sim); this checks only
// what the pump adds: binding, the coroutine API over real datagrams, close() with a call still
// waiting, and the address parser. Nothing here waits for a timeout.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <set>

#include "common/async/task_group.h"
#include "v9/swarm/dht/node.h"

namespace hs::swarm::dht {
namespace {

using asio::awaitable;
using Topic = std::array<std::uint8_t, 32>;
using OnPeers = std::function<void(const PeersReply&)>;
const auto kLoopback = asio::ip::make_address_v4("127.0.0.1");

std::unique_ptr<Node> make(asio::io_context& io, std::vector<std::string> bootstrap) {
    NodeOptions o;
    o.ephemeral = false;
    o.bootstrap = std::move(bootstrap);
    o.bind = asio::ip::udp::endpoint(kLoopback, 0);
    auto node = std::make_unique<Node>(io.get_executor(), o);
    auto st = node->listen();
    EXPECT_TRUE(st.ok()) << st.error().message;
    node->start();
    return node;
}

// Arguments of co_await calls are named locals (GCC 12 may destroy temporaries of a co_await
// expression twice).
awaitable<void> announce_and_lookup(std::vector<std::unique_ptr<Node>>& nodes, bool& finished) {
    for (auto& n : nodes) co_await n->ready();
    for (std::size_t i = 1; i < nodes.size(); ++i) EXPECT_GE(nodes[i]->routing_table_size(), 1u);
    Topic t;
    t.fill(0x42);
    AnnounceOptions a;
    a.port = 20000;
    OnPeers none;
    auto r = co_await nodes[1]->announce(t, a, std::move(none));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    std::set<PeerAddress> found;
    OnPeers collect = [&](const PeersReply& reply) {
        found.insert(reply.peers.begin(), reply.peers.end());
    };
    auto l = co_await nodes[3]->lookup(t, std::move(collect));
    EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message);
    EXPECT_EQ(found, (std::set<PeerAddress>{PeerAddress{kLoopback, 20000}}));
    auto st = co_await nodes[1]->unannounce(t, a);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    // The responders saw us at our socket's address.
    auto remote = nodes[3]->remote_address();
    EXPECT_TRUE(remote.has_value());
    if (remote) {
        EXPECT_EQ(*remote, nodes[3]->local_endpoint());
    }
    for (auto& n : nodes) co_await n->close();
    finished = true;
}

TEST(DhtPump, AnnounceAndLookupOverLoopback) {
    asio::io_context io;
    std::vector<std::unique_ptr<Node>> nodes;
    nodes.push_back(make(io, {}));
    const auto boot = ":" + std::to_string(nodes[0]->local_endpoint().port());
    for (int i = 0; i < 4; ++i) nodes.push_back(make(io, {boot}));
    bool finished = false;
    async::TaskGroup tasks(io.get_executor(), "test");
    tasks.spawn("body", announce_and_lookup(nodes, finished));
    io.run_for(std::chrono::seconds(60));
    EXPECT_TRUE(finished) << "the loopback network did not finish in time";
    EXPECT_EQ(tasks.failures(), 0u);
}

awaitable<void> lookup_into(Node& node, std::optional<Result<QueryResult>>& out) {
    Topic t;
    t.fill(1);
    OnPeers none;
    out = co_await node.lookup(t, std::move(none));
}

awaitable<void> close_later(Node& node, asio::io_context& io, bool& closed) {
    // Let the lookup send its first request, then close while it waits for the answer.
    asio::steady_timer wait(io, std::chrono::milliseconds(50));
    co_await wait.async_wait(asio::use_awaitable);
    co_await node.close();
    closed = true;
}

TEST(DhtPump, CloseEndsAWaitingCallWithClosed) {
    asio::io_context io;
    NodeOptions o;
    o.bind = asio::ip::udp::endpoint(kLoopback, 0);
    o.bootstrap = {"127.0.0.1:1"};  // nobody there: the lookup would wait 7.5 s for its timeout
    Node node(io.get_executor(), o);
    ASSERT_TRUE(node.listen().ok());
    node.start();
    std::optional<Result<QueryResult>> result;
    bool closed = false;
    async::TaskGroup tasks(io.get_executor(), "test");
    tasks.spawn("lookup", lookup_into(node, result));
    tasks.spawn("close", close_later(node, io, closed));
    io.run_for(std::chrono::seconds(5));
    ASSERT_TRUE(closed);
    ASSERT_TRUE(result.has_value());
    ASSERT_FALSE(result->ok());
    EXPECT_EQ(result->error().code, Errc::Closed);
}

TEST(DhtPump, BadBootstrapAndBindAreRejected) {
    asio::io_context io;
    NodeOptions bad;
    bad.bootstrap = {"not-an-address"};
    Node b(io.get_executor(), bad);
    auto st = b.listen();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::InvalidArgument);

    NodeOptions first;
    first.bind = asio::ip::udp::endpoint(kLoopback, 0);
    Node one(io.get_executor(), first);
    ASSERT_TRUE(one.listen().ok());
    NodeOptions same = first;
    same.bind = one.local_endpoint();  // taken
    Node two(io.get_executor(), same);
    auto taken = two.listen();
    ASSERT_FALSE(taken.ok());
    EXPECT_EQ(taken.error().code, Errc::Io);
    EXPECT_NE(taken.error().message.find(std::to_string(one.local_endpoint().port())),
              std::string::npos);

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
