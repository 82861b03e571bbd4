// The networker (docs/behaviour/replication.md "Per connection", docs/behaviour/networking.md
// "Deduplication" and "Flush", docs/behaviour/rpc.md Network.*): one replication Stream per swarm
// connection, deduplicated after the handshake; every loaded core is replicated on every peer
// stream, and a core a peer asks for is loaded when it is stored here. It reports peers,
// downloads, uploads and extension messages to its owner (the RPC layer), and answers the
// questions the ifAvailable rule asks (flush, settled). Network thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "v9/hypercore/feed.h"
#include "v9/protocol/noise.h"
#include "v9/protocol/replicator.h"
#include "v9/protocol/stream.h"
#include "common/async/event.h"
#include "common/async/task_group.h"
#include "v9/swarm/swarm.h"

namespace hs::swarm {

// A peer as Hyperspace reports it (RPC Peer: all fields required).
struct PeerInfo {
    Bytes remote_public_key;
    std::string remote_address;  // IP only
    std::string type = "tcp";
};

// Where the networker gets cores a peer asks for.
class CoreSource {
public:
    virtual ~CoreSource() = default;
    // A peer opened a channel for a discovery key that is not loaded: load the core if it is
    // stored (the load must call Networker::add_core before returning). Nothing if not stored.
    virtual void open_passive(const crypto::Hash32& discovery_key) = 0;
};

struct NetworkerEvents {
    std::function<void(const PeerInfo&)> peer_add;     // handshake done, not a duplicate
    std::function<void(const PeerInfo&)> peer_remove;  // an added peer's connection closed
    std::function<void(const crypto::Hash32& dk, const PeerInfo&)> core_peer_open;
    std::function<void(const crypto::Hash32& dk, const PeerInfo&)> core_peer_remove;
    // The verified length grew through a peer (a block or, for update(), a hash-only proof);
    // comes before the download event of the block that made it grow.
    std::function<void(const crypto::Hash32& dk)> append;
    // A block was verified and stored.
    std::function<void(const crypto::Hash32& dk, std::uint64_t seq, std::uint64_t bytes)> download;
    std::function<void(const crypto::Hash32& dk, std::uint64_t seq, std::uint64_t bytes)> upload;
    std::function<void(const crypto::Hash32& dk, std::string_view name, ByteView data,
                       const PeerInfo& from)>
        core_extension;
    std::function<void(std::string_view name, ByteView data, const PeerInfo& from)>
        stream_extension;
};

class Networker {
public:
    // `source` must outlive the networker.
    Networker(asio::any_io_executor executor, SwarmOptions swarm_options,
              protocol::NoiseKeyPair keys, CoreSource& source, NetworkerEvents events,
              std::shared_ptr<spdlog::logger> log);
    ~Networker();
    Networker(const Networker&) = delete;
    Networker& operator=(const Networker&) = delete;

    Status listen() { return m_swarm.listen(); }
    void start();
    Swarm& swarm() noexcept { return m_swarm; }
    const protocol::NoisePublicKey& public_key() const noexcept { return m_keys.public_key; }

    // ---- cores
    // A core was loaded: it replicates on every peer stream from now on. `feed` must stay
    // valid until remove_core.
    void add_core(hypercore::Feed& feed);
    // The core is about to close: its channels close.
    void remove_core(const crypto::Hash32& discovery_key);
    protocol::FeedReplicator* replicator(const crypto::Hash32& discovery_key);
    // Local appends: tell the peers.
    void announce_append(const crypto::Hash32& discovery_key, std::uint64_t start,
                         std::uint64_t count);
    // Core extensions (the union of what clients registered on the core).
    void set_core_extensions(const crypto::Hash32& discovery_key, std::vector<std::string> names);
    // Sends to every peer of the core, or to those whose Noise key is `to`.
    void send_core_extension(const crypto::Hash32& discovery_key, std::string_view name,
                             ByteView data, std::optional<ByteView> to);

    // ---- topics
    void configure(const crypto::Hash32& discovery_key, bool announce, bool lookup);
    // Configure's flush and the ifAvailable gate (docs/behaviour/networking.md "Flush"): the
    // topic's discovery round and its connection attempts, then every connection we dialed until
    // then has finished its handshake or closed. True when that happened before `deadline`.
    asio::awaitable<bool> flush(const crypto::Hash32& discovery_key,
                                std::chrono::steady_clock::time_point deadline);
    // Waits until every connection we dialed has finished its handshake (or closed) and the core's
    // channels are settled (every peer opened the core and answered our Wants, or closed), or
    // `deadline`.
    asio::awaitable<void> settle(const crypto::Hash32& discovery_key,
                                 std::chrono::steady_clock::time_point deadline);

    // ---- peers
    std::vector<PeerInfo> peers() const;
    std::vector<PeerInfo> core_peers(const crypto::Hash32& discovery_key) const;
    std::size_t peer_count() const noexcept;

    // ---- stream-level extensions (Network.RegisterExtension, channel 0)
    void set_stream_extensions(std::vector<std::string> names);
    void send_stream_extension(std::string_view name, ByteView data, std::optional<ByteView> to);

    // Shutdown: the swarm stops (unannounce), every connection closes; completes when all of
    // them finished.
    asio::awaitable<void> close();

private:
    struct Connection;
    struct Core;
    class ConnectionEvents;

    void on_connection(asio::ip::tcp::socket socket, ConnectionInfo info);
    asio::awaitable<void> run_connection(std::shared_ptr<Connection> conn);
    asio::awaitable<void> tick_loop();
    void handshake_done(Connection& conn);
    void open_cores(Connection& conn);
    PeerInfo peer_info(const protocol::Stream& stream) const;
    Connection* connection_of(const protocol::Stream& stream) const;
    void send_stream_options(Connection& conn);
    void core_peers_changed(Core& core);

    asio::any_io_executor m_executor;
    protocol::NoiseKeyPair m_keys;
    CoreSource& m_source;
    NetworkerEvents m_events;
    std::shared_ptr<spdlog::logger> m_log;
    Swarm m_swarm;
    std::map<std::uint64_t, std::shared_ptr<Connection>> m_connections;
    std::map<crypto::Hash32, std::unique_ptr<Core>> m_cores;
    std::vector<std::string> m_stream_extensions;  // sorted
    bool m_closing = false;
    bool m_started = false;
    async::Event m_changed;  // handshakes, channel changes, closes
    async::TaskGroup m_tasks;  // the tick loop and one task per connection
    std::unique_ptr<asio::steady_timer> m_tick;
};

}  // namespace hs::swarm
