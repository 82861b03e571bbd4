// Connects the RPC side (core registry, client sessions) to the networker (docs/behaviour/rpc.md
// "Methods", "Events", "ifAvailable"): loaded cores replicate, peer and extension events reach the
// sessions that registered for them, waiting requests fetch their blocks from peers, and the
// ifAvailable gates wait for discovery before they give up. Network thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <spdlog/logger.h>

#include "common/async/task_group.h"
#include "service/core_registry.h"
#include "rpc/messages.h"
#include "v9/swarm/networker.h"

namespace hs::service {

class ClientState;

// How long a gate waits for discovery, connections and bitfields before it decides.
inline constexpr std::chrono::seconds kGateTimeout{5};
// How long Configure{flush} waits at most before it answers anyway.
inline constexpr std::chrono::seconds kFlushTimeout{20};

class Replication final : public PeerAvailability, public swarm::CoreSource {
public:
    enum class Gate : std::uint8_t { Get, Update, Seek };

    // `registry` must outlive this object; attach() the networker before use; close() before
    // destroying it.
    Replication(asio::any_io_executor executor, CoreRegistry& registry,
                std::shared_ptr<spdlog::logger> log);
    ~Replication() override;

    // The events the networker must be built with (they call back into this object).
    swarm::NetworkerEvents networker_events();
    // REQUIRES: called once, before any core loads. `networker` must outlive this object.
    void attach(swarm::Networker& networker);
    swarm::Networker* networker() noexcept { return m_networker; }
    // Every client, for Network events and extensions (set by the daemon).
    std::function<void(const std::function<void(ClientState&)>&)> for_each_client;

    // ---- swarm::CoreSource
    void open_passive(const crypto::Hash32& discovery_key) override;

    // ---- PeerAvailability
    std::uint64_t fetch(LoadedCore& core, std::uint64_t start, std::optional<std::uint64_t> end,
                        const std::vector<std::uint64_t>& blocks) override;
    std::uint64_t fetch_head(LoadedCore& core, bool hash) override;
    void unfetch(LoadedCore& core, std::uint64_t handle) override;

    // The ifAvailable gate for a waiter the handler registered (docs/behaviour/rpc.md
    // "ifAvailable", ours): waits for the key's flush (joined) or for the current connections
    // (not joined), then for the core's channels to settle, bounded by kGateTimeout; then fails
    // the waiter with `failure` unless a peer can serve it.
    void gate(LoadedCore& core, WaiterId waiter, Gate kind, std::uint64_t a, std::uint64_t b,
              RpcFailure failure);
    // Configure{flush}: completes once the key's discovery round has flushed (bounded by
    // kFlushTimeout; at once without a networker).
    asio::awaitable<void> flush(crypto::Hash32 discovery_key);
    // Shutdown (after the RPC server joined, so no gate starts any more): cancels the running
    // gates and waits for them.
    asio::awaitable<void> close();

    // Local appends reach the peers.
    void local_append(LoadedCore& core, std::uint64_t start, std::uint64_t count);
    std::vector<rpc::Peer> core_peers(const LoadedCore& core) const;
    std::vector<rpc::Peer> peers() const;

    // Extensions: the names clients registered changed (recomputes the union), and sends.
    void core_extensions_changed(LoadedCore& core);
    void network_extensions_changed();
    void send_core_extension(LoadedCore& core, const std::string& name, ByteView data,
                             const std::optional<Bytes>& to);
    void send_network_extension(const std::string& name, ByteView data,
                                const std::optional<Bytes>& to);

private:
    // What the gate asks once the channels settled. Some connected peer has block `seq` / at
    // least `min_length` blocks / a block in [start, end) we lack (end 0: unbounded).
    bool block_available(const LoadedCore& core, std::uint64_t seq);
    bool length_available(const LoadedCore& core, std::uint64_t min_length);
    bool seek_available(const LoadedCore& core, std::uint64_t start, std::uint64_t end);
    asio::awaitable<void> run_gate(crypto::Hash32 dk, WaiterId waiter, Gate kind,
                                   std::uint64_t a, std::uint64_t b, RpcFailure failure);

    asio::any_io_executor m_executor;
    CoreRegistry& m_registry;
    std::shared_ptr<spdlog::logger> m_log;
    swarm::Networker* m_networker = nullptr;
    async::TaskGroup m_tasks;  // the ifAvailable gates
};

}  // namespace hs::service
