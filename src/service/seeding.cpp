#include "service/seeding.h"

#include "common/util/hex.h"

namespace hs::service {

Seeder::Seeder(CoreRegistry& registry, PeerAvailability& peers,
               std::shared_ptr<spdlog::logger> log)
    : m_registry(registry), m_peers(peers), m_log(std::move(log)) {}

void Seeder::start_fetch(LoadedCore& core, std::optional<std::uint64_t>& handle) {
    if (handle) return;
    const std::uint64_t h = m_peers.fetch(core, 0, std::nullopt, {});
    if (h != 0) handle = h;
    m_log->debug("seeding {}: fetching every block{}", to_hex(core.discovery_key()),
                 h ? "" : " (no replicator yet)");
}

void Seeder::set_seeded(const crypto::Hash32& dk, bool seeded) {
    auto it = m_seeded.find(dk);
    if (!seeded) {
        if (it == m_seeded.end()) return;
        if (it->second)
            if (auto* core = m_registry.find(dk)) m_peers.unfetch(*core, *it->second);
        m_seeded.erase(it);
        m_log->debug("stopped seeding {}", to_hex(dk));
        return;
    }
    if (it == m_seeded.end()) it = m_seeded.emplace(dk, std::nullopt).first;
    LoadedCore* core = m_registry.find(dk);
    if (!core) {
        auto opened = m_registry.open_by_discovery_key(dk);
        // Not stored yet: it starts when a client opens it (on_load).
        if (!opened) return;
        core = *opened;
    }
    start_fetch(*core, it->second);
}

void Seeder::on_load(LoadedCore& core) {
    auto it = m_seeded.find(core.discovery_key());
    if (it != m_seeded.end()) start_fetch(core, it->second);
}

void Seeder::on_close(LoadedCore& core) {
    // The replicator (and its downloads) goes with the core.
    auto it = m_seeded.find(core.discovery_key());
    if (it != m_seeded.end()) it->second.reset();
}

}  // namespace hs::service
