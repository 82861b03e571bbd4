// LAN discovery by multicast DNS, compatible with @hyperswarm/discovery 2.0.1 on multicast-dns
// 7.2.5 (docs/formats/mdns.md): one UDP socket on 224.0.0.251:5353 (TTL 255, multicast loopback
// on).
//
// - Each joined topic has the domain hex(topic[0:20]) + ".hyperswarm.local" (mdns_domain()).
// - Lookup topics send an SRV query for their domain at once and then every requery_min..max
//   (uniformly random, per topic). Queries that fall due together share one packet.
// - Announcing topics (with a non-zero TCP port) answer SRV queries for their domain with
//   SRV{target "0.0.0.0", port} + TXT ["id=" ‖ id()] and, for a received query, an A record
//   "referrer.hyperswarm.local" = the querier's address. A new announce answers once at once,
//   unsolicited (no A record). Queries that carry our own id in a TXT answer are not answered.
// - A response with an SRV answer for a lookup topic reports a peer: target "0.0.0.0" means the
//   packet's source address, an IPv4 literal itself, any other name the address of an A record
//   of that name in the same packet. Responses carrying our own id are ignored.
// - Bad packets are dropped (debug log). Work per datagram is bounded by dns::kMaxEntries and
//   the number of joined topics; the send queue holds at most kMaxQueuedPackets.
//
// Thread: every member function must be called on `executor` (the network thread), or before
// anything runs on it. All state lives there; no locks.
#pragma once

#include <spdlog/logger.h>

#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::swarm {

struct MdnsOptions {
    // The interface (by its IPv4 address) to join the group on and send from (IP_MULTICAST_IF);
    // any() leaves both to the routing table.
    asio::ip::address_v4 interface_address = asio::ip::address_v4::any();
    asio::ip::address_v4 group = asio::ip::make_address_v4("224.0.0.251");
    std::uint16_t port = 5353;
    // REQUIRES: 0 < requery_min <= requery_max.
    std::chrono::milliseconds requery_min{30000}, requery_max{60000};
    // Logger for the "swarm" subsystem; null logs nothing.
    std::shared_ptr<spdlog::logger> log;
};

// Packets waiting for the socket; more are dropped (debug log).
constexpr std::size_t kMdnsMaxQueuedPackets = 64;
// Topics answered in one response packet, and questions in one query packet (more are split).
constexpr std::size_t kMdnsMaxTopicsPerPacket = 16;
// A send that has not completed after this long is abandoned.
constexpr std::chrono::milliseconds kMdnsSendTimeout{2000};

// hex(topic[0:20]) + ".hyperswarm.local" (docs/formats/mdns.md "What hyperswarm sends").
std::string mdns_domain(const std::array<std::uint8_t, 32>& topic);

namespace detail {
class MdnsCore;
}

class Mdns {
public:
    using PeerFound = std::function<void(const std::array<std::uint8_t, 32>& topic,
                                         const asio::ip::tcp::endpoint& peer)>;

    // `on_peer` runs on `executor`; it may call join/leave/close. No I/O happens before start().
    Mdns(asio::any_io_executor executor, MdnsOptions options, PeerFound on_peer);
    // Stops everything without waiting (prefer `co_await close()`): no callback runs afterwards.
    ~Mdns();
    Mdns(const Mdns&) = delete;
    Mdns& operator=(const Mdns&) = delete;

    // Opens the socket (SO_REUSEADDR, bound to 0.0.0.0:port), joins the group, sets TTL 255 and
    // multicast loopback, then starts the receive, schedule and send loops. Errc::Io naming the
    // step and the OS reason (e.g. "cannot join 224.0.0.251 on 0.0.0.0: No such device" when no
    // multicast route exists); Errc::Closed after close(); Errc::InvalidArgument if started twice.
    [[nodiscard]] Status start();
    // Joins (or re-joins, replacing the previous settings of) `topic`. announce with
    // tcp_port == 0 answers nothing (as in JS); neither announce nor lookup leaves the topic.
    // Joins before start() take effect when it starts; after close() they are ignored.
    void join(const std::array<std::uint8_t, 32>& topic, bool announce, bool lookup,
              std::uint16_t tcp_port);
    // Stops querying and answering for `topic` (packets already queued still go out).
    void leave(const std::array<std::uint8_t, 32>& topic);
    // Stops the loops, closes the socket and waits until every loop has returned. Idempotent.
    asio::awaitable<void> close();

    // The 32 random bytes that follow "id=" in our TXT answers (one per instance).
    const std::array<std::uint8_t, 32>& id() const noexcept;
    // Number of joined topics.
    std::size_t topic_count() const noexcept;

private:
    std::shared_ptr<detail::MdnsCore> m_core;
};

}  // namespace hs::swarm
