// What the swarm needs from a discovery service (docs/behaviour/networking.md "Topics"), so that
// the swarm does not depend on how peers are found: the DHT (dht_discovery.h) runs one announce or
// lookup round per call; LAN discovery (mDNS) runs on its own and reports peers as it finds them.
// Network thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>

#include "common/util/error.h"

namespace hs::swarm {

using Topic = std::array<std::uint8_t, 32>;

// One round on the DHT for a topic.
class Discovery {
public:
    using OnPeers = std::function<void(const std::vector<asio::ip::tcp::endpoint>&)>;
    virtual ~Discovery() = default;
    // Starts the node's background work (bootstrap, maintenance). Until then it does no I/O.
    virtual void start() {}
    // Announces our TCP port for `topic` (found peers are reported too). Completes when the
    // query has finished; an error when no close node answered.
    virtual asio::awaitable<Status> announce(const Topic& topic, OnPeers on_peers) = 0;
    // Looks `topic` up; completes when the query has finished.
    virtual asio::awaitable<Status> lookup(const Topic& topic, OnPeers on_peers) = 0;
    // Withdraws an announce (best effort, bounded by the caller).
    virtual asio::awaitable<void> unannounce(const Topic& topic) = 0;
    // Stops every query and closes the socket.
    virtual asio::awaitable<void> close() = 0;
    // Our address as the DHT sees it (Hyperspace.Status).
    virtual bool holepunchable() const { return false; }
    virtual std::optional<asio::ip::udp::endpoint> remote_address() const { return std::nullopt; }
};

// LAN discovery (mDNS): joins topics, reports peers through the callback given at creation.
class LocalDiscovery {
public:
    virtual ~LocalDiscovery() = default;
    virtual void join(const Topic& topic, bool announce, bool lookup, std::uint16_t tcp_port) = 0;
    virtual void leave(const Topic& topic) = 0;
    virtual asio::awaitable<void> close() = 0;
};

}  // namespace hs::swarm
