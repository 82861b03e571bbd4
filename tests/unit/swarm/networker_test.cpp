// Two Networkers in one io_context on 127.0.0.1, peers given by hand (no DHT): replication of a
// core over the swarm, passive loading of a core a peer asks for, deduplication of the two
// connections two peers dial to each other, flush, and peer events.
#include "v9/swarm/networker.h"

#include <gtest/gtest.h>

#include "testutil/feed_pair.h"
#include "testutil/io_loop.h"

#include <asio/io_context.hpp>

#include "common/crypto/derive.h"

namespace hs::swarm {
namespace {

using hypercore::Feed;
using hypercore::FeedOptions;
using hypercore::MemoryStorage;

struct Side : CoreSource {
    explicit Side(asio::io_context& io, const char* name,
                  decltype(SwarmOptions::make_dht) make_dht = nullptr)
        : m_name(name) {
        NetworkerEvents ev;
        ev.peer_add = [this](const PeerInfo& p) { added.push_back(p); };
        ev.peer_remove = [this](const PeerInfo& p) { removed.push_back(p); };
        ev.core_peer_open = [this](const crypto::Hash32&, const PeerInfo&) { ++core_opens; };
        ev.download = [this](const crypto::Hash32&, std::uint64_t, std::uint64_t) {
            ++downloads;
        };
        ev.upload = [this](const crypto::Hash32&, std::uint64_t, std::uint64_t) { ++uploads; };
        SwarmOptions so;
        so.bind_address = asio::ip::make_address("127.0.0.1");
        so.port = 0;
        so.make_dht = std::move(make_dht);
        networker = std::make_unique<Networker>(
            io.get_executor(), so, protocol::random_noise_keypair(), *this, ev, nullptr);
    }
    // A core a peer asks for that this side stores but has not loaded.
    void open_passive(const crypto::Hash32& dk) override {
        ++passive_asks;
        if (stored && stored->discovery_key() == dk) networker->add_core(*stored);
    }
    asio::ip::tcp::endpoint endpoint() const {
        return {asio::ip::make_address("127.0.0.1"), networker->swarm().port()};
    }

    std::string m_name;
    std::unique_ptr<Networker> networker;
    Feed* stored = nullptr;
    std::vector<PeerInfo> added, removed;
    int core_opens = 0, downloads = 0, uploads = 0, passive_asks = 0;
};

using testutil::close_each;

struct Fixture {
    asio::io_context io;
    MemoryStorage mem;
    std::unique_ptr<Feed> writer, reader;
    Side a{io, "a"}, b{io, "b"};

    Fixture() {
        auto pair = testutil::make_feed_pair(mem, 7);
        writer = std::move(pair.writer);
        reader = std::move(pair.reader);
        for (int i = 0; i < 50; ++i) {
            Bytes block(1000, static_cast<std::uint8_t>(i));
            EXPECT_TRUE(writer->append(block).ok());
        }
        EXPECT_TRUE(a.networker->listen().ok());
        EXPECT_TRUE(b.networker->listen().ok());
        a.networker->start();
        b.networker->start();
    }
    ~Fixture() { close(); }
    void close() {
        if (closed) return;
        closed = true;
        EXPECT_TRUE(testutil::run_task(io, close_each<Networker>({a.networker.get(), b.networker.get()}),
                                       std::chrono::seconds(20)));
    }
    // Runs the loop until `cond` holds (or 20 s pass: a failure).
    template <typename Cond>
    bool run_until(Cond cond, std::chrono::seconds limit = std::chrono::seconds(20)) {
        return testutil::run_until(io, cond, limit);
    }
    // Both sides hold the core (a the writer, b the reader) and join its topic, a announcing, b
    // announcing when b_announces; b dials a.
    crypto::Hash32 connect_b_to_a(bool b_announces) {
        const auto dk = writer->discovery_key();
        a.networker->add_core(*writer);
        b.networker->add_core(*reader);
        a.networker->configure(dk, true, true);
        b.networker->configure(dk, b_announces, true);
        b.networker->swarm().add_peer(dk, a.endpoint());
        return dk;
    }
    bool closed = false;
};

TEST(Networker, ReplicatesALoadedCoreToAPeerThatLoadsItPassively) {
    Fixture f;
    const auto dk = f.writer->discovery_key();
    f.a.networker->add_core(*f.writer);
    f.b.stored = f.reader.get();  // b stores the core but has not loaded it
    f.a.networker->configure(dk, true, true);
    f.b.networker->configure(dk, true, true);
    f.b.networker->swarm().add_peer(dk, f.a.endpoint());

    ASSERT_TRUE(f.run_until([&] { return !f.b.added.empty() && f.b.passive_asks > 0; }));
    auto* rep = f.b.networker->replicator(dk);
    ASSERT_NE(rep, nullptr);
    rep->download({0, 50});
    ASSERT_TRUE(f.run_until([&] { return f.reader->has(0, 50); }));
    for (std::uint64_t i = 0; i < 50; ++i)
        EXPECT_EQ(f.reader->get(i).value(), f.writer->get(i).value());
    EXPECT_EQ(f.b.downloads, 50);
    EXPECT_EQ(f.a.uploads, 50);
    EXPECT_GE(f.a.core_opens, 1);
    EXPECT_GE(f.b.core_opens, 1);
    ASSERT_EQ(f.a.networker->peers().size(), 1u);
    EXPECT_EQ(f.a.networker->peers()[0].type, "tcp");
    EXPECT_EQ(f.a.networker->peers()[0].remote_address, "127.0.0.1");
    const auto& bkey = f.b.networker->public_key();
    EXPECT_EQ(f.a.networker->peers()[0].remote_public_key, Bytes(bkey.begin(), bkey.end()));
    ASSERT_EQ(f.b.networker->core_peers(dk).size(), 1u);

    // Live: an append on a reaches b through the Have it announces.
    Bytes more(10, 0xee);
    ASSERT_TRUE(f.writer->append(more).ok());
    f.a.networker->announce_append(dk, 50, 1);
    rep->download({50, 51});
    ASSERT_TRUE(f.run_until([&] { return f.reader->has(50); }));
    EXPECT_EQ(f.reader->length(), 51u);
}

TEST(Networker, TwoPeersDialingEachOtherKeepOneConnection) {
    Fixture f;
    const auto dk = f.connect_b_to_a(true);
    f.a.networker->swarm().add_peer(dk, f.b.endpoint());
    ASSERT_TRUE(f.run_until([&] { return !f.a.added.empty() && !f.b.added.empty(); }));
    // Let both dials finish and the loser close.
    f.run_until([] { return false; }, std::chrono::seconds(2));
    EXPECT_EQ(f.a.networker->peer_count(), 1u);
    EXPECT_EQ(f.b.networker->peer_count(), 1u);
    EXPECT_EQ(f.a.networker->swarm().connection_count(), 1u);
    EXPECT_EQ(f.b.networker->swarm().connection_count(), 1u);
    // Replication still works over the survivor.
    f.b.networker->replicator(dk)->download({0, 50});
    ASSERT_TRUE(f.run_until([&] { return f.reader->has(0, 50); }));
}

// n.flush(dk), then n.settle(dk), each within 10 s; `flushed` is what flush returned.
asio::awaitable<void> flush_and_settle(Networker& n, crypto::Hash32 dk, bool& flushed) {
    flushed = co_await n.flush(dk, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    co_await n.settle(dk, std::chrono::steady_clock::now() + std::chrono::seconds(10));
}

TEST(Networker, FlushWaitsForTheConnectionsOfItsAttempts) {
    Fixture f;
    const auto dk = f.connect_b_to_a(false);
    bool result = false;
    ASSERT_TRUE(testutil::run_task(f.io, flush_and_settle(*f.b.networker, dk, result),
                                   std::chrono::seconds(20)));
    EXPECT_TRUE(result);
    // After flush + settle the peer's bitfield is known: ifAvailable can decide.
    auto* rep = f.b.networker->replicator(dk);
    EXPECT_TRUE(rep->remote_has(0));
    EXPECT_TRUE(rep->remote_has(49));
    EXPECT_FALSE(rep->remote_has(50));
    EXPECT_EQ(rep->remote_length(), 50u);
}

TEST(Networker, PeerRemoveAfterTheOtherSideCloses) {
    Fixture f;
    f.connect_b_to_a(false);
    ASSERT_TRUE(f.run_until([&] { return !f.b.added.empty(); }));
    ASSERT_TRUE(testutil::run_task(f.io, close_each<Networker>({f.a.networker.get()}), std::chrono::seconds(20)));
    ASSERT_TRUE(f.run_until([&] { return !f.b.removed.empty(); }));
    EXPECT_EQ(f.b.removed[0].remote_public_key, f.b.added[0].remote_public_key);
    EXPECT_EQ(f.b.networker->peer_count(), 0u);
}

// A DHT stand-in: one shared table of announcers per topic; each call is one round.
struct FakeDht {
    std::map<Topic, std::set<asio::ip::tcp::endpoint>> announced;
    int lookups = 0;
};

class FakeDiscovery final : public Discovery {
public:
    FakeDiscovery(FakeDht& dht, std::uint16_t port) : m_dht(dht), m_port(port) {}
    asio::awaitable<Status> announce(const Topic& topic, OnPeers on_peers) override {
        report(topic, on_peers);
        m_dht.announced[topic].insert({asio::ip::make_address("127.0.0.1"), m_port});
        co_return Status{};
    }
    asio::awaitable<Status> lookup(const Topic& topic, OnPeers on_peers) override {
        ++m_dht.lookups;
        report(topic, on_peers);
        co_return Status{};
    }
    asio::awaitable<void> unannounce(const Topic& topic) override {
        m_dht.announced[topic].erase({asio::ip::make_address("127.0.0.1"), m_port});
        co_return;
    }
    asio::awaitable<void> close() override { co_return; }

private:
    void report(const Topic& topic, const OnPeers& on_peers) {
        std::vector<asio::ip::tcp::endpoint> peers(m_dht.announced[topic].begin(),
                                                   m_dht.announced[topic].end());
        if (!peers.empty()) on_peers(peers);
    }
    FakeDht& m_dht;
    std::uint16_t m_port;
};

TEST(Swarm, ALookupThatFoundNobodyIsRepeatedSoon) {
    // The reader looks up before the writer announced (the race behind "Block not available
    // from peers"): it must look again within seconds, not after the regular 5-10 minutes.
    asio::io_context io;
    FakeDht dht;
    auto make = [&dht](const asio::ip::udp::endpoint& ep) -> Result<std::unique_ptr<Discovery>> {
        return std::unique_ptr<Discovery>(std::make_unique<FakeDiscovery>(dht, ep.port()));
    };
    Side reader(io, "reader", make), writer(io, "writer", make);
    ASSERT_TRUE(reader.networker->listen().ok());
    ASSERT_TRUE(writer.networker->listen().ok());
    reader.networker->start();
    writer.networker->start();
    Topic topic{};
    topic[0] = 1;
    reader.networker->configure(topic, false, true);
    const auto start = std::chrono::steady_clock::now();
    testutil::run_until(io, [&] { return dht.lookups >= 1; }, std::chrono::seconds(20));
    ASSERT_GE(dht.lookups, 1);
    writer.networker->configure(topic, true, false);
    const auto left = std::chrono::seconds(20) - (std::chrono::steady_clock::now() - start);
    testutil::run_until(io, [&] { return !reader.added.empty(); },
                        std::chrono::duration_cast<std::chrono::milliseconds>(left));
    EXPECT_EQ(reader.added.size(), 1u);
    EXPECT_GE(dht.lookups, 2);
    EXPECT_TRUE(testutil::run_task(io, close_each<Networker>({reader.networker.get(), writer.networker.get()})));
}

}  // namespace
}  // namespace hs::swarm
