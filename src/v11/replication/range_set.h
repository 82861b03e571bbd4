// A set of block indexes kept as disjoint half-open ranges: what the replicator knows a remote
// peer has (from its range and bitfield messages). Bounded: past kMaxRanges disjoint ranges,
// further additions are dropped (the peer then looks like it has fewer blocks than it has, which
// only costs us requests we do not send); removals always apply. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <span>

namespace hs::v11::replication {

class RangeSet {
public:
    static constexpr std::size_t kMaxRanges = 1u << 16;

    bool contains(std::uint64_t index) const noexcept;
    // The first index >= from in the set; nullopt-like UINT64_MAX when none.
    std::uint64_t next_set(std::uint64_t from) const noexcept;
    // The first index >= from not in the set.
    std::uint64_t next_unset(std::uint64_t from) const noexcept;
    // Adds [start, end). REQUIRES: start <= end.
    void insert(std::uint64_t start, std::uint64_t end);
    // Removes [start, end). REQUIRES: start <= end.
    void erase(std::uint64_t start, std::uint64_t end);
    // Replaces [start, start + 32 * words.size()) with the bits of `words` (bit j of word i is
    // index start + 32 i + j), as a bitfield message states them.
    void assign_words(std::uint64_t start, std::span<const std::uint32_t> words);
    void clear() noexcept { m_ranges.clear(); }

    std::size_t ranges() const noexcept { return m_ranges.size(); }
    bool empty() const noexcept { return m_ranges.empty(); }

private:
    std::map<std::uint64_t, std::uint64_t> m_ranges;  // start -> end, disjoint, non-adjacent
};

}  // namespace hs::v11::replication
