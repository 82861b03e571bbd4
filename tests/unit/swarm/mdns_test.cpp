// Mdns instances on real loopback multicast. The test process moves itself into a fresh network
// namespace (unshare(CLONE_NEWNET), then lo up with a 224.0.0.0/4 route) before any socket is
// opened, so nothing ever reaches the machine's interfaces and every ctest process has its own
// 224.0.0.251:5353. Without root (CAP_SYS_ADMIN) or `ip`, every test fails saying why.
#include "v9/swarm/mdns.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <asio/io_context.hpp>
#include <asio/ip/multicast.hpp>
#include <asio/ip/udp.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "v9/swarm/dns.h"
#include "testutil/io_loop.h"
#include "common/util/hex.h"

namespace hs::swarm {
namespace {

using asio::ip::udp;
using Topic = std::array<std::uint8_t, 32>;
using namespace std::chrono_literals;

const auto kLoopback = asio::ip::make_address_v4("127.0.0.1");
const auto kGroup = asio::ip::make_address_v4("224.0.0.251");
constexpr std::uint16_t kPort = 5353;

// Enters the private namespace once per process; the error text if that is impossible.
std::optional<std::string> enter_multicast_netns() {
    static std::optional<std::string> error;
    static bool done = false;
    if (done) return error;
    done = true;
    if (::unshare(CLONE_NEWNET) != 0) {
        error = std::string(
                    "mdns_test needs its own network namespace with a multicast route on lo, "
                    "but unshare(CLONE_NEWNET) failed: ") +
                std::strerror(errno) + " (run as root / with CAP_SYS_ADMIN)";
        return error;
    }
    const int rc = std::system(
        "ip link set lo up && ip link set lo multicast on && "
        "ip route add 224.0.0.0/4 dev lo src 127.0.0.1");
    if (rc != 0) {
        error =
            "mdns_test: could not set up loopback multicast in its namespace "
            "('ip link set lo up && ip route add 224.0.0.0/4 dev lo src 127.0.0.1' exited " +
            std::to_string(rc) + ")";
    }
    return error;
}

Topic random_topic() {
    static std::mt19937 rng(std::random_device{}());
    Topic t;
    for (auto& b : t) b = static_cast<std::uint8_t>(rng());
    return t;
}

struct Found {
    Topic topic;
    asio::ip::tcp::endpoint peer;
};

// One Mdns plus the peers it reported.
struct Node {
    Node(asio::io_context& io, MdnsOptions options = {})
        : mdns(io.get_executor(), with_loopback(std::move(options)),
               [this](const Topic& t, const asio::ip::tcp::endpoint& p) {
                   found.push_back({t, p});
               }) {}

    static MdnsOptions with_loopback(MdnsOptions o) {
        o.interface_address = kLoopback;
        return o;
    }
    bool has(const Topic& t, std::uint16_t port) const {
        for (const auto& f : found) {
            if (f.topic == t && f.peer.port() == port) return true;
        }
        return false;
    }
    std::size_t count(const Topic& t) const {
        std::size_t n = 0;
        for (const auto& f : found) n += f.topic == t;
        return n;
    }

    std::vector<Found> found;
    Mdns mdns;
};

// A plain UDP socket on the group: records every decodable packet and can send raw bytes.
struct Observer {
    explicit Observer(asio::io_context& io) : socket(io) {
        socket.open(udp::v4());
        socket.set_option(udp::socket::reuse_address(true));
        socket.bind(udp::endpoint(asio::ip::address_v4::any(), kPort));
        socket.set_option(asio::ip::multicast::join_group(kGroup, kLoopback));
        socket.set_option(asio::ip::multicast::outbound_interface(kLoopback));
        socket.set_option(asio::ip::multicast::enable_loopback(true));
        receive();
    }
    void receive() {
        socket.async_receive_from(asio::buffer(buffer), from,
                                  [this](std::error_code ec, std::size_t n) {
                                      if (ec) return;
                                      ByteView in(buffer.data(), n);
                                      if (auto p = dns::Packet::decode(in))
                                          packets.push_back({*p, from});
                                      receive();
                                  });
    }
    void send(const Bytes& bytes) {
        socket.send_to(asio::buffer(bytes), udp::endpoint(kGroup, kPort));
    }
    void send(const dns::Packet& p) {
        Bytes b;
        ASSERT_TRUE(p.encode_to(b).ok());
        send(b);
    }
    // Responses carrying an SRV answer for `t` with `port`.
    std::size_t responses(const Topic& t, std::uint16_t port) const {
        std::size_t n = 0;
        for (const auto& [p, src] : packets) {
            if (!p.is_response()) continue;
            for (const auto& a : p.answers) {
                const auto* srv = std::get_if<dns::SrvData>(&a.data);
                if (srv && a.name == mdns_domain(t) && srv->port == port) ++n;
            }
        }
        return n;
    }
    std::size_t queries(const Topic& t) const {
        std::size_t n = 0;
        for (const auto& [p, src] : packets) {
            if (p.is_response()) continue;
            for (const auto& q : p.questions)
                n += q.name == mdns_domain(t) && q.type == dns::type::kSrv;
        }
        return n;
    }

    udp::socket socket;
    std::array<std::uint8_t, 65536> buffer{};
    udp::endpoint from;
    std::vector<std::pair<dns::Packet, udp::endpoint>> packets;
};

class MdnsTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto error = enter_multicast_netns();
        ASSERT_FALSE(error.has_value()) << *error;
    }

    // Runs the io_context until `done()` or `timeout`; true if done.
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        return testutil::run_until(io, done, timeout);
    }
    // Runs for `d` (for checks that something does NOT happen).
    void run_for(std::chrono::milliseconds d) { testutil::run_for(io, d); }
    // Closes the nodes at once (one task each).
    void close(std::initializer_list<Node*> nodes) {
        std::vector<asio::awaitable<void>> closes;
        for (Node* n : nodes) closes.push_back(n->mdns.close());
        EXPECT_TRUE(testutil::run_tasks(io, std::move(closes), 2s)) << "close() did not finish";
    }
    void start(Node& n) {
        const Status s = n.mdns.start();
        ASSERT_TRUE(s.ok()) << s.error().message;
    }

    asio::io_context io;
};

TEST_F(MdnsTest, DomainIsHexOfFirst20BytesOfTheTopic) {
    Topic t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::uint8_t>(i);
    EXPECT_EQ(mdns_domain(t), "000102030405060708090a0b0c0d0e0f10111213.hyperswarm.local");
}

TEST_F(MdnsTest, TwoAnnouncingLookupsFindEachOther) {
    Node a(io), b(io);
    start(a);
    start(b);
    const Topic t = random_topic();
    a.mdns.join(t, true, true, 1111);
    b.mdns.join(t, true, true, 2222);
    ASSERT_TRUE(run_until([&] { return a.has(t, 2222) && b.has(t, 1111); }))
        << "a found " << a.found.size() << ", b found " << b.found.size();
    // The answer's target is 0.0.0.0: the peer is the packet's source address.
    for (const auto* n : {&a, &b}) {
        for (const auto& f : n->found) EXPECT_EQ(f.peer.address().to_string(), "127.0.0.1");
    }
    // Nobody reports itself.
    EXPECT_FALSE(a.has(t, 1111));
    EXPECT_FALSE(b.has(t, 2222));
    close({&a, &b});
}

TEST_F(MdnsTest, LookupFindsAnEarlierAnnouncerByQuerying) {
    Node announcer(io), seeker(io);
    Observer observer(io);
    start(announcer);
    const Topic t = random_topic();
    announcer.mdns.join(t, true, false, 3333);
    // The unsolicited announce goes out before the seeker exists.
    ASSERT_TRUE(run_until([&] { return observer.responses(t, 3333) == 1; }));
    start(seeker);
    seeker.mdns.join(t, false, true, 0);
    ASSERT_TRUE(run_until([&] { return seeker.has(t, 3333); }));
    EXPECT_GE(observer.queries(t), 1u);
    EXPECT_GE(observer.responses(t, 3333), 2u);  // the announce and the answer to the query
    // An announce-only topic reports nothing.
    EXPECT_TRUE(announcer.found.empty());
    close({&announcer, &seeker});
}

TEST_F(MdnsTest, LeaveStopsAnswers) {
    Node announcer(io);
    Observer observer(io);
    start(announcer);
    const Topic left = random_topic();
    const Topic kept = random_topic();
    announcer.mdns.join(left, true, false, 4001);
    announcer.mdns.join(kept, true, false, 4002);
    ASSERT_TRUE(run_until([&] {
        return observer.responses(left, 4001) == 1 && observer.responses(kept, 4002) == 1;
    }));
    announcer.mdns.leave(left);
    EXPECT_EQ(announcer.mdns.topic_count(), 1u);

    Node seeker(io);
    start(seeker);
    seeker.mdns.join(left, false, true, 0);
    seeker.mdns.join(kept, false, true, 0);
    // The still-joined topic is answered, which proves the announcer heard the query ...
    ASSERT_TRUE(run_until([&] { return seeker.has(kept, 4002); }));
    ASSERT_GE(observer.queries(left), 1u);
    run_for(300ms);
    // ... and the left one is not.
    EXPECT_EQ(seeker.count(left), 0u);
    EXPECT_EQ(observer.responses(left, 4001), 1u);  // only the announce from before leave()
    close({&announcer, &seeker});
}

// An answer queued before leave() is not sent after it (the interop test "after leave, ours
// stops answering" once saw such a late answer on a loaded machine).
TEST_F(MdnsTest, LeaveTakesQueuedAnswersBack) {
    Node announcer(io);
    Observer observer(io);
    start(announcer);
    run_for(100ms);  // every loop waits now; nothing else is due
    const Topic left = random_topic();
    const Topic kept = random_topic();
    // join() wakes the schedule loop: one handler, which queues the unsolicited announce.
    announcer.mdns.join(left, true, false, 4011);
    announcer.mdns.join(kept, true, false, 4012);
    io.restart();
    ASSERT_EQ(io.run_one(), 1u);
    announcer.mdns.leave(left);
    ASSERT_TRUE(run_until([&] { return observer.responses(kept, 4012) == 1; }));
    run_for(300ms);
    EXPECT_EQ(observer.responses(left, 4011), 0u);
    close({&announcer});
}

TEST_F(MdnsTest, OwnAnswersAreIgnored) {
    Node a(io);
    Observer observer(io);
    start(a);
    const Topic t = random_topic();
    a.mdns.join(t, true, true, 5001);
    // a queries, answers its own query and receives its own response (multicast loopback) ...
    ASSERT_TRUE(
        run_until([&] { return observer.responses(t, 5001) >= 2 && observer.queries(t) >= 1; }));
    run_for(300ms);
    // ... but never reports itself.
    EXPECT_TRUE(a.found.empty());
    close({&a});
}

TEST_F(MdnsTest, AnswersAQueryWithSrvTxtAndReferrer) {
    Node a(io);
    Observer observer(io);
    start(a);
    const Topic t = random_topic();
    a.mdns.join(t, true, false, 6001);
    ASSERT_TRUE(run_until([&] { return observer.responses(t, 6001) == 1; }));

    // The unsolicited announce: SRV + TXT, no referrer.
    const dns::Packet announce = observer.packets.back().first;
    EXPECT_EQ(announce.flags, dns::kFlagResponse | dns::kFlagAuthoritative);
    ASSERT_EQ(announce.answers.size(), 2u);

    dns::Packet q;
    q.questions.push_back({mdns_domain(t), dns::type::kSrv, dns::kClassIn});
    q.questions.push_back({mdns_domain(random_topic()), dns::type::kSrv, dns::kClassIn});
    observer.send(q);
    ASSERT_TRUE(run_until([&] { return observer.responses(t, 6001) == 2; }));
    const dns::Packet* r = nullptr;
    for (const auto& [p, src] : observer.packets) {
        if (p.is_response()) r = &p;
    }
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->answers.size(), 3u);
    EXPECT_EQ(r->answers[0].name, mdns_domain(t));
    EXPECT_EQ(std::get<dns::SrvData>(r->answers[0].data), (dns::SrvData{0, 0, 6001, "0.0.0.0"}));
    EXPECT_EQ(r->answers[1].name, mdns_domain(t));
    Bytes id = to_bytes(std::string_view("id="));
    append_bytes(id, a.mdns.id());
    EXPECT_EQ(std::get<dns::TxtData>(r->answers[1].data).strings, std::vector<Bytes>{id});
    EXPECT_EQ(r->answers[2].name, "referrer.hyperswarm.local");
    EXPECT_EQ(std::get<dns::AData>(r->answers[2].data), (dns::AData{{127, 0, 0, 1}}));

    // A query that carries our own id (as JS's own-query shortcut does) is not answered.
    dns::Packet own = q;
    dns::Record txt;
    txt.name = mdns_domain(t);
    txt.type = dns::type::kTxt;
    txt.data = dns::TxtData{{id}};
    own.answers.push_back(txt);
    observer.send(own);
    // Followed by a normal query, to know when the first one has been processed.
    observer.send(q);
    ASSERT_TRUE(run_until([&] { return observer.responses(t, 6001) >= 3; }));
    run_for(200ms);
    EXPECT_EQ(observer.responses(t, 6001), 3u);
    close({&a});
}

TEST_F(MdnsTest, ReportsNamedAndLiteralTargetsAndSurvivesGarbage) {
    Node seeker(io);
    Observer observer(io);
    start(seeker);
    const Topic t = random_topic();
    seeker.mdns.join(t, false, true, 0);
    ASSERT_TRUE(run_until([&] { return observer.queries(t) >= 1; }));

    // Garbage first: none of it may stop the receive loop.
    observer.send(Bytes{});
    observer.send(Bytes{1, 2, 3});
    observer.send(Bytes(12, 0xff));
    observer.send(*from_hex("000084000000000100000000c00c00210001"));

    auto srv = [&](std::string target, std::uint16_t port) {
        dns::Record r;
        r.name = mdns_domain(t);
        r.type = dns::type::kSrv;
        r.data = dns::SrvData{0, 0, port, std::move(target)};
        return r;
    };
    dns::Packet named;
    named.flags = dns::kFlagResponse;
    named.answers.push_back(srv("peer.local", 7001));
    dns::Record a;
    a.name = "peer.local";
    a.type = dns::type::kA;
    a.data = dns::AData{{127, 0, 0, 9}};
    named.additionals.push_back(a);
    observer.send(named);

    dns::Packet literal;
    literal.flags = dns::kFlagResponse;
    literal.answers.push_back(srv("127.0.0.8", 7002));
    // Unresolvable, zero port, and carrying the seeker's own id: all ignored.
    literal.answers.push_back(srv("nowhere.local", 7003));
    literal.answers.push_back(srv("0.0.0.0", 0));
    observer.send(literal);

    dns::Packet own;
    own.flags = dns::kFlagResponse;
    own.answers.push_back(srv("0.0.0.0", 7004));
    dns::Record txt;
    txt.name = mdns_domain(t);
    txt.type = dns::type::kTxt;
    Bytes id = to_bytes(std::string_view("id="));
    append_bytes(id, seeker.mdns.id());
    txt.data = dns::TxtData{{id}};
    own.answers.push_back(txt);
    observer.send(own);

    dns::Packet plain;
    plain.flags = dns::kFlagResponse;
    plain.answers.push_back(srv("0.0.0.0", 7005));
    observer.send(plain);

    ASSERT_TRUE(run_until([&] { return seeker.has(t, 7005); }));
    ASSERT_TRUE(seeker.has(t, 7001));
    ASSERT_TRUE(seeker.has(t, 7002));
    for (const auto& f : seeker.found) {
        const std::string host = f.peer.address().to_string();
        if (f.peer.port() == 7001) {
            EXPECT_EQ(host, "127.0.0.9");
        }
        if (f.peer.port() == 7002) {
            EXPECT_EQ(host, "127.0.0.8");
        }
        if (f.peer.port() == 7005) {
            EXPECT_EQ(host, "127.0.0.1");
        }
    }
    EXPECT_EQ(seeker.found.size(), 3u);
    close({&seeker});
}

TEST_F(MdnsTest, RequeriesWithinTheConfiguredInterval) {
    MdnsOptions fast;
    fast.requery_min = 100ms;
    fast.requery_max = 150ms;
    Node seeker(io, fast);
    Observer observer(io);
    start(seeker);
    const Topic t = random_topic();
    const auto begin = std::chrono::steady_clock::now();
    seeker.mdns.join(t, false, true, 0);
    ASSERT_TRUE(run_until([&] { return observer.queries(t) >= 4; }, 3s));
    const auto took = std::chrono::steady_clock::now() - begin;
    // One at once, then three more at 100-150 ms intervals.
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1500ms);
    close({&seeker});
}

TEST_F(MdnsTest, StartTwiceAndAfterCloseFail) {
    Node a(io);
    start(a);
    const Status again = a.mdns.start();
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::InvalidArgument);
    close({&a});
    const Status after = a.mdns.start();
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.error().code, Errc::Closed);
    // join after close is ignored.
    a.mdns.join(random_topic(), true, true, 1);
    EXPECT_EQ(a.mdns.topic_count(), 0u);
}

TEST_F(MdnsTest, DestroyWithoutCloseIsSafe) {
    Observer observer(io);
    const Topic t = random_topic();
    {
        Node a(io);
        start(a);
        a.mdns.join(t, true, true, 8001);
        run_for(50ms);
    }
    // The loops finish on their own; nothing runs on the destroyed object.
    run_for(100ms);
    const std::size_t seen = observer.packets.size();
    run_for(200ms);
    EXPECT_EQ(observer.packets.size(), seen);
}

}  // namespace
}  // namespace hs::swarm
