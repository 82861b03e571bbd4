// Whole networks of sans-IO DHT nodes on a fake clock (tests/sim/dht_sim.h): a few hundred nodes
// bootstrap, announce and look up through seeded loss and churn, in a fraction of a second of
// real time, and the same seed gives the same run.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "sim/dht_sim.h"

namespace hs::swarm::dht::sim {
namespace {

std::shared_ptr<Outcome> lookup(Network& net, std::size_t i, const NodeId& t) {
    auto o = std::make_shared<Outcome>();
    net.node(i).lookup(t, collect(o), finish(o), net.now());
    return o;
}

std::shared_ptr<Outcome> announce(Network& net, std::size_t i, const NodeId& t,
                                  std::uint16_t port) {
    auto o = std::make_shared<Outcome>();
    AnnounceParams p;
    p.port = port;
    net.node(i).announce(t, p, collect(o), finish(o), net.now());
    return o;
}

bool all_done(const std::vector<std::shared_ptr<Outcome>>& v) {
    return std::all_of(v.begin(), v.end(), [](const auto& o) { return o->done; });
}

struct ScenarioOptions {
    std::uint64_t seed = 1;
    std::size_t nodes = 200;  // besides the bootstrap node
    double loss = 0.1;
    std::size_t churn = 30;  // nodes replaced, one every 2 s, after the announces
    std::size_t announcers = 5;
    std::size_t lookups = 40;  // lookups per topic, from random live nodes
};

struct ScenarioResult {
    bool converged = false;
    std::size_t min_table = 0;
    double mean_table = 0;
    std::size_t nearest_known = 0;  // nodes whose table holds their XOR-nearest live node
    std::size_t live_nodes = 0;
    std::size_t announces_ok = 0;
    std::size_t lookups = 0;
    std::size_t lookups_found = 0;
    std::size_t delivered = 0;
    std::size_t lost = 0;
    std::uint64_t trace = 0;
    double simulated_seconds = 0;
};

ScenarioResult run_scenario(const ScenarioOptions& so) {
    SimOptions opt;
    opt.seed = so.seed;
    opt.loss = so.loss;
    Network net(opt);
    const TimePoint t0 = net.now();
    ScenarioResult out;
    const std::size_t boot = net.add_node(false, {});
    const std::vector<Peer> bootstrap{net.address(boot)};
    // Nodes join over ~20 s.
    std::uniform_int_distribution<int> gap(0, 200);
    for (std::size_t i = 0; i < so.nodes; ++i) {
        net.add_node(false, bootstrap);
        net.run_for(milliseconds(gap(net.rng())));
    }
    out.converged = net.run_until(
        [&] {
            for (auto i : net.alive_nodes())
                if (!net.node(i).bootstrapped()) return false;
            return true;
        },
        std::chrono::minutes(5));
    // Let the tables settle (pings, the later queries of others).
    net.run_for(seconds(30));
    out.min_table = ~std::size_t{0};
    std::size_t sum = 0;
    for (auto i : net.alive_nodes()) {
        out.min_table = std::min(out.min_table, net.node(i).routing_table_size());
        sum += net.node(i).routing_table_size();
    }
    out.mean_table = static_cast<double>(sum) / static_cast<double>(net.alive_nodes().size());
    const auto settled = net.alive_nodes();
    out.live_nodes = settled.size();
    for (auto i : settled) {
        const NodeId& self = net.node(i).id();
        std::optional<NodeId> nearest;
        for (auto j : settled) {
            if (j == i) continue;
            if (!nearest || closer(self, net.node(j).id(), *nearest)) nearest = net.node(j).id();
        }
        if (nearest && net.node(i).table().get(*nearest)) ++out.nearest_known;
    }

    // Announcers: distinct random nodes (not the bootstrap node), one topic each.
    std::vector<std::size_t> announcers;
    std::uniform_int_distribution<std::size_t> pick(1, so.nodes);
    while (announcers.size() < so.announcers) {
        const std::size_t i = pick(net.rng());
        if (std::find(announcers.begin(), announcers.end(), i) == announcers.end())
            announcers.push_back(i);
    }
    std::vector<std::shared_ptr<Outcome>> ann;
    for (std::size_t k = 0; k < announcers.size(); ++k)
        ann.push_back(announce(net, announcers[k], topic(static_cast<std::uint8_t>(k)),
                               static_cast<std::uint16_t>(30000 + k)));
    net.run_until([&] { return all_done(ann); }, std::chrono::minutes(2));
    for (const auto& o : ann) out.announces_ok += o->ok() ? 1 : 0;

    // Churn: a random node (not the bootstrap node, not an announcer) leaves, a new one joins.
    for (std::size_t c = 0; c < so.churn; ++c) {
        auto live = net.alive_nodes();
        std::erase_if(live, [&](std::size_t i) {
            return i == boot ||
                   std::find(announcers.begin(), announcers.end(), i) != announcers.end();
        });
        std::uniform_int_distribution<std::size_t> any(0, live.size() - 1);
        net.kill(live[any(net.rng())]);
        net.add_node(false, bootstrap);
        net.run_for(seconds(2));
    }

    // Lookups from random live nodes (old and new), all topics at once.
    std::vector<std::shared_ptr<Outcome>> looks;
    std::vector<Peer> expect;
    const auto live = net.alive_nodes();
    std::uniform_int_distribution<std::size_t> any(0, live.size() - 1);
    for (std::size_t k = 0; k < announcers.size(); ++k) {
        Peer want = net.address(announcers[k]);
        want.port = static_cast<std::uint16_t>(30000 + k);
        for (std::size_t n = 0; n < so.lookups; ++n) {
            looks.push_back(
                lookup(net, live[any(net.rng())], topic(static_cast<std::uint8_t>(k))));
            expect.push_back(want);
        }
    }
    net.run_until([&] { return all_done(looks); }, std::chrono::minutes(2));
    for (std::size_t n = 0; n < looks.size(); ++n) {
        ++out.lookups;
        if (looks[n]->ok() && looks[n]->peers.contains(expect[n])) ++out.lookups_found;
    }
    out.delivered = net.delivered();
    out.lost = net.lost();
    out.trace = net.trace_hash();
    out.simulated_seconds = std::chrono::duration<double>(net.now() - t0).count();
    return out;
}

void expect_healthy(const ScenarioOptions& so, const ScenarioResult& r) {
    EXPECT_TRUE(r.converged) << "seed " << so.seed;
    // Every node knows a good part of a bucket's worth (k = 20) of nodes, and nearly every node
    // knows its XOR-nearest neighbour (what the bootstrap's lookup of our own id is for).
    EXPECT_GE(r.min_table, 15u) << "seed " << so.seed;
    EXPECT_GE(r.nearest_known * 100, r.live_nodes * 95)
        << "seed " << so.seed << ": " << r.nearest_known << " of " << r.live_nodes;
    EXPECT_EQ(r.announces_ok, so.announcers) << "seed " << so.seed;
    // With 10% loss and 15% of the nodes replaced, lookups still find the announcers: at
    // most 5% may miss.
    EXPECT_GE(r.lookups_found * 100, r.lookups * 95)
        << "seed " << so.seed << ": " << r.lookups_found << " of " << r.lookups;
    EXPECT_GT(r.lost, 0u);
    std::cout << "seed " << so.seed << ": " << r.simulated_seconds << " s simulated, tables min "
              << r.min_table << " mean " << r.mean_table << ", nearest known " << r.nearest_known << "/" << r.live_nodes
              << ", lookups " << r.lookups_found
              << "/" << r.lookups << ", datagrams " << r.delivered << " delivered " << r.lost
              << " lost, trace " << std::hex << r.trace << std::dec << std::endl;
}

TEST(DhtSim, TwoHundredNodesWithLossAndChurnFindTheAnnouncers) {
    ScenarioOptions so;
    so.seed = 1;
    const auto r = run_scenario(so);
    expect_healthy(so, r);
}

TEST(DhtSim, SameSeedSameRunOtherSeedsPassToo) {
    ScenarioOptions so;
    so.seed = 7;
    so.nodes = 200;
    so.churn = 10;
    so.lookups = 10;
    const auto a = run_scenario(so);
    const auto b = run_scenario(so);
    EXPECT_EQ(a.trace, b.trace);
    EXPECT_EQ(a.delivered, b.delivered);
    EXPECT_EQ(a.lookups_found, b.lookups_found);
    expect_healthy(so, a);
    for (std::uint64_t seed : {8u, 9u}) {
        ScenarioOptions other = so;
        other.seed = seed;
        const auto c = run_scenario(other);
        EXPECT_NE(c.trace, a.trace) << "seed " << seed;
        expect_healthy(other, c);
    }
}

}  // namespace
}  // namespace hs::swarm::dht::sim
