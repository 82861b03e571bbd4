// What replicator.cpp and replicator_schedule.cpp share: the wire limits we apply and the
// scope that runs deferred callbacks. Internal to hs_v11_replication.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "common/util/hex.h"
#include "v11/replication/replicator.h"

namespace hs::v11::replication::detail {

inline constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();
// JS wants blocks in batches of 2^21 (its "compat" want size) and ignores longer wants.
inline constexpr std::uint64_t kWantBatch = std::uint64_t{1} << 21;
inline constexpr std::size_t kMaxWants = 512;
// Index bound for ranges a peer states: past JS's safe integers nothing is real.
inline constexpr std::uint64_t kMaxIndex = (std::uint64_t{1} << 53) - 1;
// Bits per bitfield message we send (one JS bitfield page).
inline constexpr std::uint64_t kBitfieldChunk = 32768;
// Work bound for one scan for the next block to ask for.
inline constexpr std::size_t kMaxScanSteps = 1u << 16;
// noData reasons (JS replicator).
inline constexpr std::uint64_t kNotAvailable = 1;
inline constexpr std::uint64_t kInvalidRequest = 2;

inline std::string short_key(const hypercore::Hash& h) { return to_hex(ByteView(h.data(), 8)); }

}  // namespace hs::v11::replication::detail

namespace hs::v11::replication {

// Runs the deferred callbacks when the outermost call into the replicator returns.
class Replicator::Scope {
public:
    explicit Scope(Replicator& r) : m_r(r) { ++m_r.m_depth; }
    ~Scope() {
        if (--m_r.m_depth == 0) m_r.run_deferred();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    Replicator& m_r;
};

}  // namespace hs::v11::replication
