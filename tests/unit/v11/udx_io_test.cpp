// The UDX socket layer (src/v11/udx_io/socket.h) over 127.0.0.1: the first byte's demux between
// streams and the other handler, the firewall hook for datagrams from an unknown address,
// change_remote(), back-pressure on both sides, and a bulk transfer through the batched
// transmit path. Plain UDP sockets stand in for peers where the test needs to see raw datagrams.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "testutil/io_loop.h"
#include "v11/udx/packet.h"
#include "v11/udx_io/socket.h"

namespace hs::v11::udx_io {
namespace {

using namespace std::chrono_literals;
using asio::ip::udp;

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

// A plain UDP socket on 127.0.0.1 the test reads without waiting.
struct RawPeer {
    udp::socket sock;
    explicit RawPeer(asio::io_context& io) : sock(io, udp::endpoint(kLoopback, 0)) {
        sock.non_blocking(true);
    }
    Endpoint endpoint() const { return sock.local_endpoint(); }
    void send(ByteView d, const Endpoint& to) {
        sock.send_to(asio::buffer(d.data(), d.size()), to);
    }
    // The next datagram, if one is queued.
    std::optional<Bytes> take() {
        Bytes b(65536);
        Endpoint from;
        std::error_code ec;
        const std::size_t n = sock.receive_from(asio::buffer(b), from, 0, ec);
        if (ec) return std::nullopt;
        b.resize(n);
        return b;
    }
};

struct Fixture {
    asio::io_context io;
    std::vector<std::unique_ptr<Socket>> sockets;
    Socket& socket() {
        sockets.push_back(std::make_unique<Socket>(io.get_executor()));
        Socket& s = *sockets.back();
        EXPECT_TRUE(s.bind(Endpoint(kLoopback, 0)).ok());
        s.start();
        return s;
    }
    ~Fixture() {
        std::vector<Socket*> all;
        for (auto& s : sockets) all.push_back(s.get());
        testutil::run_task(io, testutil::close_each(all));
    }
};

Bytes udx_datagram(std::uint8_t type, std::uint32_t stream_id, std::uint32_t seq, ByteView data) {
    udx::Header h;
    h.type = type;
    h.stream_id = stream_id;
    h.rwnd = 1 << 20;
    h.seq = seq;
    return udx::encode(h, {}, data);
}

TEST(UdxSocket, FirstByteRoutesToStreamsOrTheOtherHandler) {
    Fixture f;
    Socket& s = f.socket();
    RawPeer peer(f.io);
    std::vector<Bytes> other;
    s.on_other([&](ByteView d, const Endpoint& from) {
        EXPECT_EQ(from, peer.endpoint());
        other.emplace_back(d.begin(), d.end());
    });
    auto stream = s.connect({1, 9}, peer.endpoint());
    ASSERT_TRUE(stream.ok());
    const std::uint8_t msg[] = {'h', 'i'};
    const Bytes dht = {0x13, 1, 2, 3};  // not 0xFF: another protocol (dht-rpc starts with 0x13)
    peer.send(dht, s.local_endpoint());
    peer.send(udx_datagram(udx::kMessage, 1, 0, msg), s.local_endpoint());   // our stream 1
    peer.send(udx_datagram(udx::kMessage, 77, 0, msg), s.local_endpoint());  // no such stream
    const Bytes short_udx = {0xFF, 1, 0};  // 0xFF but no valid header: not UDX either
    peer.send(short_udx, s.local_endpoint());
    std::optional<Bytes> got;
    ASSERT_TRUE(testutil::run_until(
        f.io,
        [&] { return other.size() == 3 && (got || (got = (*stream)->core().take_message())); },
        5s));
    EXPECT_EQ(other[0], dht);
    EXPECT_EQ(udx::peek_stream_id(other[1]), 77u);
    EXPECT_EQ(other[2], short_udx);
    EXPECT_EQ(*got, Bytes(msg, msg + 2));
}

TEST(UdxSocket, UnknownAddressesPassOnlyThroughTheFirewall) {
    Fixture f;
    Socket& s = f.socket();
    RawPeer remote(f.io);
    RawPeer stranger(f.io);
    auto stream = s.connect({1, 9}, remote.endpoint());
    ASSERT_TRUE(stream.ok());
    const std::uint8_t msg[] = {'x'};
    // No firewall: dropped.
    stranger.send(udx_datagram(udx::kMessage, 1, 0, msg), s.local_endpoint());
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return s.dropped() == 1; }, 5s));
    EXPECT_FALSE((*stream)->core().take_message());
    EXPECT_EQ((*stream)->remote(), remote.endpoint());
    // A firewall that refuses: dropped, and it was asked about the right stream and address.
    int asked = 0;
    bool accept = false;
    s.set_firewall([&](Stream& st, const Endpoint& from) {
        ++asked;
        EXPECT_EQ(&st, stream->get());
        EXPECT_EQ(from, stranger.endpoint());
        return accept;
    });
    stranger.send(udx_datagram(udx::kMessage, 1, 0, msg), s.local_endpoint());
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return s.dropped() == 2; }, 5s));
    EXPECT_EQ(asked, 1);
    EXPECT_EQ((*stream)->remote(), remote.endpoint());
    // One that accepts: delivered, and the stream now sends to the new address.
    accept = true;
    stranger.send(udx_datagram(udx::kMessage, 1, 0, msg), s.local_endpoint());
    ASSERT_TRUE(testutil::run_until(
        f.io, [&] { return (*stream)->core().take_message().has_value(); }, 5s));
    EXPECT_EQ((*stream)->remote(), stranger.endpoint());
    EXPECT_TRUE((*stream)->send_message(msg));
    std::optional<Bytes> out;
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return (out = stranger.take()).has_value(); }, 5s));
    EXPECT_EQ(udx::peek_stream_id(*out), 9u);
    EXPECT_FALSE(remote.take());
}

TEST(UdxSocket, ChangeRemoteMovesWhereTheStreamSends) {
    Fixture f;
    Socket& s = f.socket();
    RawPeer a(f.io);
    RawPeer b(f.io);
    auto stream = s.connect({1, 9}, a.endpoint());
    ASSERT_TRUE(stream.ok());
    const std::uint8_t msg[] = {'m'};
    (*stream)->send_message(msg);
    std::optional<Bytes> out;
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return (out = a.take()).has_value(); }, 5s));
    EXPECT_EQ(udx::peek_stream_id(*out), 9u);
    (*stream)->change_remote(b.endpoint(), 42);
    (*stream)->send_message(msg);
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return (out = b.take()).has_value(); }, 5s));
    EXPECT_EQ(udx::peek_stream_id(*out), 42u);
    EXPECT_FALSE(a.take());
    // Datagrams from the new address are the stream's now; the old one is a stranger.
    b.send(udx_datagram(udx::kMessage, 1, 0, msg), s.local_endpoint());
    ASSERT_TRUE(testutil::run_until(
        f.io, [&] { return (*stream)->core().take_message().has_value(); }, 5s));
    a.send(udx_datagram(udx::kMessage, 1, 0, msg), s.local_endpoint());
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return s.dropped() == 1; }, 5s));
}

// Two of our sockets, one stream each way of a pair.
struct Pair {
    Fixture f;
    Socket* sa;
    Socket* sb;
    std::shared_ptr<Stream> a;
    std::shared_ptr<Stream> b;
    Pair(udx::StreamConfig ca, udx::StreamConfig cb) {
        sa = &f.socket();
        sb = &f.socket();
        a = *sa->connect(ca, sb->local_endpoint());
        b = *sb->connect(cb, sa->local_endpoint());
    }
};

std::uint8_t pattern(std::size_t i) { return static_cast<std::uint8_t>(i * 7 + i / 251); }

TEST(UdxSocket, WriterIsHeldAtItsHighWaterMark) {
    Fixture f;
    Socket& s = f.socket();
    RawPeer silent(f.io);  // never acknowledges
    udx::StreamConfig cfg{1, 9};
    cfg.write_high_water = 64 * 1024;
    auto stream = *s.connect(cfg, silent.endpoint());
    const Bytes chunk(16 * 1024, 5);
    int accepted = 0;
    while (stream->try_write(chunk)) ++accepted;
    EXPECT_EQ(accepted, 3);  // the 4th write reaches 64 KiB unacknowledged
    EXPECT_FALSE(stream->core().writable());
    testutil::run_for(f.io, 200ms);
    EXPECT_FALSE(stream->core().writable());
    EXPECT_EQ(stream->core().unacked_bytes(), 64u * 1024);
    EXPECT_TRUE(silent.take().has_value());  // it did send (the window's worth, no more)
}

// The reader that does not read closes its window: the sender stops, memory stays bounded, and
// reading lets everything through.
TEST(UdxSocket, ReceiverWindowHoldsTheSenderUntilRead) {
    udx::StreamConfig ca{1, 2};
    udx::StreamConfig cb{2, 1};
    cb.rwnd_max = 64 * 1024;
    Pair p(ca, cb);
    const std::size_t total = 1 << 20;
    Bytes data(total);
    for (std::size_t i = 0; i < total; ++i) data[i] = pattern(i);
    p.a->try_write(data);
    p.a->end();
    // Without reads the receiver holds at most about its window; the sender keeps the rest.
    testutil::run_for(p.f.io, 500ms);
    EXPECT_GE(p.b->core().readable(), 32u * 1024);
    EXPECT_LE(p.b->core().buffered_bytes(), 2u * 64 * 1024);
    EXPECT_GT(p.a->core().unacked_bytes(), total / 2);
    Bytes got;
    Bytes buf(16 * 1024);
    ASSERT_TRUE(testutil::run_until(
        p.f.io,
        [&] {
            for (std::size_t n; (n = p.b->try_read(buf)) > 0;)
                got.insert(got.end(), buf.begin(), buf.begin() + n);
            return p.b->core().eof();
        },
        20s));
    EXPECT_EQ(got, data);
}

TEST(UdxSocket, BulkTransferGoesOutInBatches) {
    Pair p({1, 2}, {2, 1});
    const std::size_t total = 8 << 20;
    Bytes data(total);
    for (std::size_t i = 0; i < total; ++i) data[i] = pattern(i);
    p.a->try_write(data);
    p.a->end();
    Bytes got;
    got.reserve(total);
    Bytes buf(64 * 1024);
    ASSERT_TRUE(testutil::run_until(
        p.f.io,
        [&] {
            for (std::size_t n; (n = p.b->try_read(buf)) > 0;)
                got.insert(got.end(), buf.begin(), buf.begin() + n);
            return p.b->core().eof();
        },
        30s));
    EXPECT_EQ(got.size(), total);
    EXPECT_TRUE(got == data);
    const auto& tx = p.sa->tx_stats();
    std::printf("udx socket: %llu datagrams in %llu sendmmsg calls, %llu GSO sends\n",
                static_cast<unsigned long long>(tx.datagrams),
                static_cast<unsigned long long>(tx.syscalls),
                static_cast<unsigned long long>(tx.gso_sends));
    EXPECT_GE(tx.datagrams, total / 1452);  // the MTU search raises packets to 1452 bytes here
    EXPECT_LT(tx.syscalls * 2, tx.datagrams);  // batches, not one call per datagram
    // The receiver acks every second packet at most.
    EXPECT_LE(p.b->core().stats().acks_sent, p.b->core().stats().packets_received / 2 + 64);
}


asio::awaitable<void> close_when_closed(std::shared_ptr<Stream> stream, Socket* s) {
    co_await stream->wait_closed();
    co_await s->close();
}

// The ack that completes a stream (the remote's END, after ours was acknowledged) goes out three
// times, a quarter SRTT apart (src/v11/udx/stream.cpp, kFinalAcks): a remote like udx-native
// closes on it, and if it is lost, its retransmissions may find our socket closed. close() sends
// the copies still due before closing the UDP socket.
TEST(UdxSocket, ClosingSendsTheFinalAcksStillDue) {
    Fixture f;
    Socket& s = f.socket();
    RawPeer peer(f.io);
    auto stream = s.connect({1, 9}, peer.endpoint());
    ASSERT_TRUE(stream.ok());
    (*stream)->end();
    std::optional<Bytes> end;
    ASSERT_TRUE(testutil::run_until(f.io, [&] { return (end = peer.take()).has_value(); }, 5s));
    ASSERT_EQ(udx::decode(*end)->header.type, udx::kEnd);
    udx::Header h;
    h.type = udx::kData | udx::kEnd;
    h.stream_id = 1;
    h.rwnd = 1 << 20;
    h.seq = 0;
    h.ack = 1;
    const std::uint8_t x[] = {'x'};
    peer.send(udx::encode(h, {}, x), s.local_endpoint());
    // The socket closes as soon as the stream did, before the stream's timer can send a copy.
    ASSERT_TRUE(testutil::run_task(f.io, close_when_closed(*stream, &s)));
    EXPECT_EQ((*stream)->close_reason(), CloseReason::kEnded);
    int acks = 0;
    testutil::run_until(f.io, [&] {
        while (auto d = peer.take()) {
            const auto p = udx::decode(*d);
            if (p && p->header.type == 0 && p->header.ack == 1) ++acks;
        }
        return acks >= 3;
    }, 2s);
    EXPECT_EQ(acks, 3);
    EXPECT_EQ((*stream)->core().stats().final_acks, 2u);
    EXPECT_FALSE(peer.take());
}

}  // namespace
}  // namespace hs::v11::udx_io
