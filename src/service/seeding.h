// Seeded cores (ours, docs/behaviour/rpc.md "Seeding"): a discovery key remembered with announce
// and lookup (what `hyp seed` configures) is kept downloaded. The core is loaded when it is
// stored (a joined core is never evicted), and a live fetch of every block runs on it, from the
// first block on and following appends, restarted whenever the core loads again. Forgetting the
// record, or turning announce or lookup off, stops it. JS hyperspace only announces such a key;
// a seeder that does not hold the blocks serves nobody, so we fetch them. Network thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include <spdlog/logger.h>

#include "common/crypto/blake2b.h"
#include "service/core_registry.h"

namespace hs::service {

class Seeder {
public:
    // `registry` and `peers` must outlive the seeder. Register on_load/on_close with the
    // registry after the replication's observers (the core's replicator must exist).
    Seeder(CoreRegistry& registry, PeerAvailability& peers, std::shared_ptr<spdlog::logger> log);

    // Starts or stops seeding a key (idempotent).
    void set_seeded(const crypto::Hash32& discovery_key, bool seeded);
    bool seeded(const crypto::Hash32& discovery_key) const { return m_seeded.count(discovery_key) != 0; }
    std::size_t seeded_count() const noexcept { return m_seeded.size(); }

    void on_load(LoadedCore& core);
    void on_close(LoadedCore& core);

private:
    void start_fetch(LoadedCore& core, std::optional<std::uint64_t>& handle);

    CoreRegistry& m_registry;
    PeerAvailability& m_peers;
    std::shared_ptr<spdlog::logger> m_log;
    std::map<crypto::Hash32, std::optional<std::uint64_t>> m_seeded;  // the live fetch, if running
};

}  // namespace hs::service
