// Issue 9: hostile peers must not shut out real ones. A Networker on 127.0.0.1 is flooded from
// 127.0.0.2 with 300 silent and 300 garbage TCP connections (a thread of this test, plain
// sockets, optionally reopening every one the server closes: a slowloris); then a real peer (a
// second Networker) dials it and must replicate a 50-block core within kBound. The figures are
// printed ("flood: ...") for the record.
#include "v9/swarm/networker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "testutil/feed_pair.h"
#include "testutil/io_loop.h"

#include "testutil/raw_socket.h"

#include <asio/io_context.hpp>

#include "common/crypto/derive.h"

namespace hs::swarm {
namespace {

using hypercore::Feed;
using hypercore::FeedOptions;
using hypercore::MemoryStorage;

// Generous: the issue asks for "within a second"; a loaded 2-core CI machine gets five.
constexpr std::chrono::seconds kBound{5};
constexpr int kSilent = 300;
constexpr int kGarbage = 300;

// The flood's 600 client sockets, the server ends it holds (a few dozen; the code before the
// handshake pool held 256 and left the rest in the backlog) and the two networkers.
constexpr rlim_t kFilesNeeded = 1000;
void raise_file_limit(rlim_t need) {
    rlimit r{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
    r.rlim_cur = r.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &r), 0);
    ASSERT_GE(r.rlim_cur, need) << "the flood test needs " << need
                                << " file descriptors; raise the hard limit (ulimit -Hn)";
}


// Opens the flood, then (in its own thread) watches it: a socket the server closed is
// reopened when `reopen`, the way a slowloris keeps its places.
class Flooder {
public:
    Flooder(asio::ip::tcp::endpoint target, std::string source, bool reopen)
        : m_target(target), m_source(std::move(source)), m_reopen(reopen) {}
    ~Flooder() { stop(); }

    // Opens every socket (blocking connects: done once the kernel has them in the backlog).
    void open() {
        for (int i = 0; i < kSilent + kGarbage; ++i) {
            const bool garbage = i % 2 == 1;
            const int fd = open_one(garbage);
            ASSERT_GE(fd, 0) << "flood socket " << i << ": " << std::strerror(errno);
            m_fds.push_back({fd, garbage});
        }
        m_thread = std::thread([this] { watch(); });
    }
    void stop() {
        m_stop = true;
        if (m_thread.joinable()) m_thread.join();
        for (auto& s : m_fds)
            if (s.fd >= 0) ::close(s.fd);
        m_fds.clear();
    }
    int closed_by_server() const { return m_closed; }

private:
    struct Sock {
        int fd;
        bool garbage;
    };
    int open_one(bool garbage) {
        const int fd = testutil::connect_from(m_source, m_target);
        if (fd >= 0 && garbage) {
            // Random bytes: a frame header that claims too much, or a Noise message that fails.
            std::uint8_t junk[97];
            for (auto& b : junk) b = static_cast<std::uint8_t>(m_rng());
            (void)::send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        }
        return fd;
    }
    void watch() {
        std::vector<pollfd> polls;
        while (!m_stop) {
            polls.clear();
            for (const auto& s : m_fds) polls.push_back({s.fd, POLLIN, 0});
            if (::poll(polls.data(), polls.size(), 20) <= 0) continue;
            for (std::size_t i = 0; i < polls.size(); ++i) {
                if (!polls[i].revents) continue;
                char buf[256];
                if (::recv(m_fds[i].fd, buf, sizeof buf, MSG_DONTWAIT) > 0) continue;
                ::close(m_fds[i].fd);
                ++m_closed;
                m_fds[i].fd = m_reopen && !m_stop ? open_one(m_fds[i].garbage) : -1;
            }
            std::erase_if(m_fds, [](const Sock& s) { return s.fd < 0; });
        }
    }

    asio::ip::tcp::endpoint m_target;
    std::string m_source;
    bool m_reopen;
    std::vector<Sock> m_fds;
    std::thread m_thread;
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_closed{0};
    std::mt19937 m_rng{12345};
};

struct Side : CoreSource {
    Side(asio::io_context& io, const char* address) : m_address(address) {
        NetworkerEvents ev;
        ev.peer_add = [this](const PeerInfo&) { ++added; };
        SwarmOptions so;
        so.bind_address = asio::ip::make_address(address);
        so.port = 0;
        networker = std::make_unique<Networker>(io.get_executor(), so,
                                                protocol::random_noise_keypair(), *this, ev,
                                                nullptr);
    }
    void open_passive(const crypto::Hash32&) override {}
    asio::ip::tcp::endpoint endpoint() const {
        return {asio::ip::make_address(m_address), networker->swarm().port()};
    }
    std::string m_address;
    std::unique_ptr<Networker> networker;
    int added = 0;
};

struct Fixture {
    asio::io_context io;
    MemoryStorage mem;
    std::unique_ptr<Feed> writer, reader;
    Side server{io, "127.0.0.1"};
    std::unique_ptr<Side> client;

    Fixture() {
        auto pair = testutil::make_feed_pair(mem, 9);
        writer = std::move(pair.writer);
        reader = std::move(pair.reader);
        for (int i = 0; i < 50; ++i) EXPECT_TRUE(writer->append(Bytes(1000, i)).ok());
        EXPECT_TRUE(server.networker->listen().ok());
        server.networker->start();
        server.networker->add_core(*writer);
        server.networker->configure(writer->discovery_key(), true, false);
    }
    ~Fixture() {
        std::vector<Networker*> open;
        if (client) open.push_back(client->networker.get());
        open.push_back(server.networker.get());
        EXPECT_TRUE(testutil::run_task(io, testutil::close_each(std::move(open)), std::chrono::seconds(30)));
    }
    template <typename Cond>
    bool run_until(Cond cond, std::chrono::milliseconds limit) {
        return testutil::run_until(io, cond, limit, std::chrono::milliseconds(5));
    }

    // The real peer dials from `address` and downloads the core. Returns the seconds it took
    // to be added as a peer and to hold every block, or fails the test after kBound.
    void replicate_from(const char* address, const char* label) {
        client = std::make_unique<Side>(io, address);
        ASSERT_TRUE(client->networker->listen().ok());
        client->networker->start();
        const auto dk = writer->discovery_key();
        client->networker->add_core(*reader);
        client->networker->configure(dk, false, true);
        client->networker->replicator(dk)->download({0, 50});
        const auto start = std::chrono::steady_clock::now();
        client->networker->swarm().add_peer(dk, server.endpoint());
        double connected = -1;
        const bool done = run_until(
            [&] {
                if (connected < 0 && client->added > 0)
                    connected = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                              start)
                                    .count();
                return reader->has(0, 50);
            },
            kBound);
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("flood: %s: real peer from %s connected in %.3f s, replicated 50 blocks in "
                    "%.3f s (%s); server: %zu handshaking, %zu peers\n",
                    label, address, connected, took, done ? "ok" : "FAILED",
                    server.networker->swarm().connection_count() -
                        server.networker->peer_count(),
                    server.networker->peer_count());
        ASSERT_TRUE(done) << "the real peer did not replicate within " << kBound.count()
                          << " s during the flood";
        for (std::uint64_t i = 0; i < 50; ++i)
            EXPECT_EQ(reader->get(i).value(), writer->get(i).value());
    }

    // Lets the server accept (and evict) what the flood opened.
    void absorb(std::chrono::milliseconds d) {
        run_until([] { return false; }, d);
    }
};

// A flood from 127.0.0.2 (each socket reopened as soon as the server closes it, when `reopen`),
// then a real peer from `peer_address` replicates the core; `label` names the case in the
// figures. Prints how many flood sockets the server closed, for the reopening floods.
void replicate_during_flood(bool reopen, const char* peer_address, const char* label) {
    raise_file_limit(kFilesNeeded);
    Fixture f;
    Flooder flood(f.server.endpoint(), "127.0.0.2", reopen);
    ASSERT_NO_FATAL_FAILURE(flood.open());
    f.absorb(std::chrono::milliseconds(300));
    ASSERT_NO_FATAL_FAILURE(f.replicate_from(peer_address, label));
    if (reopen) {
        std::printf("flood: the server closed %d flood sockets (each reopened)\n",
                    flood.closed_by_server());
    }
}

TEST(Flood, ARealPeerFromAnotherAddressReplicatesDuringAFlood) {
    replicate_during_flood(false, "127.0.0.3", "static flood from 127.0.0.2");
}

TEST(Flood, ARealPeerFromTheFloodingAddressReplicatesDuringAFlood) {
    replicate_during_flood(false, "127.0.0.2", "static flood from the same address");
}

TEST(Flood, ARealPeerReplicatesDuringASlowlorisThatReopensEverySocket) {
    replicate_during_flood(true, "127.0.0.3", "reopening flood from 127.0.0.2");
}

TEST(Flood, ARealPeerFromTheAddressOfASlowlorisReplicates) {
    // The hardest case for the per-address cap: the flooder reopens every socket the server
    // evicts, from the real peer's own address. The real peer is the newest connection of its
    // address, so it survives as long as its handshake completes before 31 newer ones arrive.
    replicate_during_flood(true, "127.0.0.2", "reopening flood from the same address");
}

}  // namespace
}  // namespace hs::swarm
