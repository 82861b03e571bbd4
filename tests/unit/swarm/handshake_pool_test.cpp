// The swarm's handshake pool on real loopback sockets, without a Networker: connections that
// never finish the Noise handshake are evicted oldest-first per address and in all, closed at
// their deadline (inbound and dialed), never count against max_peers, and an accept that fails
// with EMFILE backs off and gives file descriptors back instead of stalling.
#include "v9/swarm/swarm.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "testutil/io_loop.h"
#include "testutil/raw_socket.h"

#include <asio/io_context.hpp>

namespace hs::swarm {
namespace {


// True when the server closed the connection (EOF or reset), without blocking.
bool closed_by_server(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

std::size_t open_fd_count() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n - 3;  // ".", ".." and the directory itself
}

// A swarm on 127.0.0.1 whose owner only holds the sockets: nothing ever completes a handshake.
struct PoolFixture {
    explicit PoolFixture(SwarmOptions so) {
        so.bind_address = asio::ip::make_address("127.0.0.1");
        so.port = 0;
        swarm = std::make_unique<Swarm>(io.get_executor(), so,
                                        [this](asio::ip::tcp::socket s, ConnectionInfo info) {
                                            sockets.emplace(info.id, std::move(s));
                                            infos.emplace(info.id, info);
                                            ++handed;
                                        });
        swarm->on_drop = [this](std::uint64_t id, const Error& reason) {
            drops.push_back(reason.message);
            auto it = sockets.find(id);
            if (it != sockets.end()) {
                std::error_code ignored;
                it->second.close(ignored);
                sockets.erase(it);
            }
            // The owner reports the close later, as a Networker does once its pump returns.
            asio::post(io, [this, id] { swarm->connection_closed(id, false); });
        };
        EXPECT_TRUE(swarm->listen().ok());
        swarm->start();
    }
    ~PoolFixture() {
        for (int fd : clients) ::close(fd);
        EXPECT_TRUE(testutil::run_task(io, testutil::close_each<Swarm>({swarm.get()}), std::chrono::seconds(10)));
    }
    template <typename Cond>
    bool run_until(Cond cond, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        return testutil::run_until(io, cond, limit, std::chrono::milliseconds(5));
    }
    void run_for(std::chrono::milliseconds d) { testutil::run_for(io, d); }
    int connect(const char* source) {
        const int fd = testutil::connect_from(source, swarm->local_endpoint());
        EXPECT_GE(fd, 0) << "cannot connect from " << source << ": " << std::strerror(errno);
        clients.push_back(fd);
        return fd;
    }

    asio::io_context io;
    std::unique_ptr<Swarm> swarm;
    std::map<std::uint64_t, asio::ip::tcp::socket> sockets;
    std::map<std::uint64_t, ConnectionInfo> infos;
    std::vector<std::string> drops;
    std::vector<int> clients;
    std::size_t handed = 0;
};

SwarmOptions pool_options(std::size_t total, std::size_t per_address) {
    SwarmOptions so;
    so.max_handshaking = total;
    so.max_handshaking_per_address = per_address;
    so.handshake_timeout = std::chrono::seconds(60);  // only eviction in these tests
    return so;
}

TEST(HandshakePool, AnAddressOverItsCapLosesItsOldestConnection) {
    PoolFixture f(pool_options(100, 4));
    std::vector<int> from2;
    for (int i = 0; i < 6; ++i) {
        from2.push_back(f.connect("127.0.0.2"));
        // One at a time, so that the swarm accepts them in this order.
        ASSERT_TRUE(f.run_until([&] { return f.handed == from2.size(); }));
    }
    EXPECT_EQ(f.swarm->handshaking_count(), 4u);
    ASSERT_TRUE(
        f.run_until([&] { return closed_by_server(from2[0]) && closed_by_server(from2[1]); }));
    f.run_for(std::chrono::milliseconds(100));
    for (int i = 2; i < 6; ++i) EXPECT_FALSE(closed_by_server(from2[i])) << i;
    ASSERT_EQ(f.drops.size(), 2u);
    EXPECT_NE(f.drops[0].find("127.0.0.2"), std::string::npos) << f.drops[0];
    // Another address is not affected by 127.0.0.2's cap.
    const int from3 = f.connect("127.0.0.3");
    ASSERT_TRUE(f.run_until([&] { return f.handed == 7; }));
    f.run_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(closed_by_server(from3));
    EXPECT_EQ(f.swarm->handshaking_count(), 5u);
}

TEST(HandshakePool, AFullPoolEvictsFromTheAddressHoldingTheMost) {
    PoolFixture f(pool_options(6, 10));
    std::vector<int> from2;
    for (int i = 0; i < 4; ++i) from2.push_back(f.connect("127.0.0.2"));
    ASSERT_TRUE(f.run_until([&] { return f.handed == 4; }));
    // The lone peers come first: they are the oldest overall, yet keep their places.
    const int from3 = f.connect("127.0.0.3");
    ASSERT_TRUE(f.run_until([&] { return f.handed == 5; }));
    for (int i = 0; i < 3; ++i) from2.push_back(f.connect("127.0.0.2"));
    ASSERT_TRUE(f.run_until([&] { return f.handed == 8; }));
    const int from4 = f.connect("127.0.0.4");
    ASSERT_TRUE(f.run_until([&] { return f.handed == 9; }));
    f.run_for(std::chrono::milliseconds(200));
    EXPECT_EQ(f.swarm->handshaking_count(), 6u);
    EXPECT_FALSE(closed_by_server(from3));
    EXPECT_FALSE(closed_by_server(from4));
    int closed2 = 0;
    for (int fd : from2) closed2 += closed_by_server(fd) ? 1 : 0;
    EXPECT_EQ(closed2, 3);
}

TEST(HandshakePool, ConnectionsThatNeverHandshakeAreClosedAtTheirDeadline) {
    SwarmOptions so = pool_options(100, 100);
    so.handshake_timeout = std::chrono::milliseconds(300);
    PoolFixture f(so);
    std::vector<int> fds;
    for (int i = 0; i < 5; ++i) fds.push_back(f.connect("127.0.0.2"));
    ASSERT_TRUE(f.run_until([&] { return f.handed == 5; }));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(f.run_until([&] { return f.swarm->connection_count() == 0; },
                            std::chrono::seconds(5)));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(5));  // the receive timeout would be 20 s
    for (int fd : fds) EXPECT_TRUE(closed_by_server(fd));
    ASSERT_EQ(f.drops.size(), 5u);
    EXPECT_NE(f.drops[0].find("no Noise handshake"), std::string::npos) << f.drops[0];
}

TEST(HandshakePool, DialedConnectionsHaveTheDeadlineToo) {
    // A "peer" that accepts and never says anything (a tarpit found on the DHT).
    SwarmOptions so = pool_options(100, 100);
    so.handshake_timeout = std::chrono::milliseconds(300);
    PoolFixture f(so);
    asio::ip::tcp::acceptor tarpit(f.io, {asio::ip::make_address("127.0.0.5"), 0});
    std::vector<asio::ip::tcp::socket> held;
    std::function<void()> accept_more = [&] {
        tarpit.async_accept([&](std::error_code ec, asio::ip::tcp::socket s) {
            if (ec) return;
            held.push_back(std::move(s));
            accept_more();
        });
    };
    accept_more();
    Topic topic{};
    f.swarm->join(topic, false, true);
    f.swarm->add_peer(topic, tarpit.local_endpoint());
    ASSERT_TRUE(f.run_until([&] { return f.handed == 1; }));
    EXPECT_TRUE(f.infos.begin()->second.initiator);
    EXPECT_EQ(f.swarm->handshaking_count(), 0u);  // dials are not in the inbound pool
    ASSERT_TRUE(f.run_until([&] { return !f.drops.empty(); }, std::chrono::seconds(5)));
    EXPECT_NE(f.drops[0].find("127.0.0.5"), std::string::npos) << f.drops[0];
    tarpit.close();
}

TEST(HandshakePool, HandshakingConnectionsDoNotCountAgainstMaxPeers) {
    SwarmOptions so = pool_options(1000, 1000);
    so.max_peers = 4;
    PoolFixture f(so);
    for (int i = 0; i < 20; ++i) f.connect("127.0.0.2");
    // The accept loop does not stop at max_peers: all 20 are accepted, none is a peer.
    ASSERT_TRUE(f.run_until([&] { return f.handed == 20; }));
    EXPECT_EQ(f.swarm->peer_connection_count(), 0u);
    // A handshake completes: the peers are counted, and the fifth is refused.
    const Bytes local(32, 1);
    int kept = 0, full = 0;
    for (auto& [id, s] : f.sockets) {
        const Bytes remote(32, static_cast<std::uint8_t>(10 + id));
        const auto r = f.swarm->deduplicate(id, local, remote);
        kept += r == DedupResult::Keep ? 1 : 0;
        full += r == DedupResult::Full ? 1 : 0;
    }
    EXPECT_EQ(kept, 4);
    EXPECT_EQ(full, 16);
    EXPECT_EQ(f.swarm->peer_connection_count(), 4u);
    EXPECT_EQ(f.swarm->handshaking_count(), 0u);
}

TEST(HandshakePool, OneAddressCannotTakeEveryPeerSlot) {
    SwarmOptions so = pool_options(1000, 1000);
    so.max_peers = 100;
    so.max_inbound_peers_per_address = 3;
    PoolFixture f(so);
    for (int i = 0; i < 10; ++i) f.connect("127.0.0.2");
    f.connect("127.0.0.3");
    ASSERT_TRUE(f.run_until([&] { return f.handed == 11; }));
    const Bytes local(32, 1);
    std::map<std::string, std::vector<std::uint64_t>> kept;
    int full = 0;
    for (auto& [id, s] : f.sockets) {
        const Bytes remote(32, static_cast<std::uint8_t>(10 + id));
        const auto r = f.swarm->deduplicate(id, local, remote);
        const std::string from = f.infos.at(id).remote.address().to_string();
        if (r == DedupResult::Keep) kept[from].push_back(id);
        full += r == DedupResult::Full ? 1 : 0;
    }
    // Three peers from 127.0.0.2, the one from 127.0.0.3, the rest refused.
    EXPECT_EQ(kept["127.0.0.2"].size(), 3u);
    EXPECT_EQ(kept["127.0.0.3"].size(), 1u);
    EXPECT_EQ(full, 7);
    EXPECT_EQ(f.swarm->peer_connection_count(), 4u);
    // One of them goes: the address may connect a peer again.
    f.swarm->connection_closed(kept["127.0.0.2"].front(), false);
    f.connect("127.0.0.2");
    ASSERT_TRUE(f.run_until([&] { return f.handed == 12; }));
    const std::uint64_t last = f.sockets.rbegin()->first;
    EXPECT_EQ(f.swarm->deduplicate(last, local, Bytes(32, 99)), DedupResult::Keep);
}

// Restores the soft open-file limit when the test ends.
struct FileLimit {
    rlimit saved{};
    FileLimit() { ::getrlimit(RLIMIT_NOFILE, &saved); }
    ~FileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
    bool set_soft(rlim_t n) {
        rlimit r = saved;
        r.rlim_cur = n;
        return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
    }
};

TEST(HandshakePool, AcceptOutOfFileDescriptorsBacksOffAndFreesOne) {
    PoolFixture f(pool_options(1000, 1000));
    constexpr int kClients = 20;
    for (int i = 0; i < kClients; ++i) f.connect("127.0.0.2");
    FileLimit limit;
    // Room for 3 accepted sockets, then EMFILE.
    ASSERT_TRUE(limit.set_soft(open_fd_count() + 3));
    const auto start = std::chrono::steady_clock::now();
    // Every connection in the backlog is accepted in the end: each EMFILE gives the oldest
    // handshaking connection's descriptor back.
    ASSERT_TRUE(f.run_until([&] { return f.handed == kClients; }, std::chrono::seconds(20)))
        << "accepted " << f.handed << " of " << kClients << ", accept failures "
        << f.swarm->accept_failures();
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GT(f.swarm->accept_failures(), 0u);
    // Backing off (at least 50 ms per failure), not spinning (thousands per second).
    EXPECT_LT(static_cast<double>(f.swarm->accept_failures()), 10 + seconds * 25)
        << f.swarm->accept_failures() << " failures in " << seconds << " s";
}

}  // namespace
}  // namespace hs::swarm
