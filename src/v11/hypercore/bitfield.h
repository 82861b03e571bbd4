// The presence bits of a core's blocks, in memory: one bit per block in 64-bit words, with a
// cached count, so that has() is O(1) and count/find/ranges skip whole words. Grows on demand;
// bits past the last word are false.
#pragma once

#include <cstdint>
#include <vector>

#include "v11/hypercore/storage.h"

namespace hs::v11::hypercore {

class Bitfield {
public:
    bool get(std::uint64_t index) const noexcept;
    // Sets [start, end) to `value`.
    void set_range(std::uint64_t start, std::uint64_t end, bool value);
    void set(std::uint64_t index, bool value) { set_range(index, index + 1, value); }
    // Number of true bits in [start, end).
    std::uint64_t count(std::uint64_t start, std::uint64_t end) const noexcept;
    // The first index >= start, < end, whose bit is `value`; `end` when there is none.
    std::uint64_t find(std::uint64_t start, bool value, std::uint64_t end) const noexcept;
    // True bits as ascending, disjoint, non-adjacent ranges.
    std::vector<BitRange> ranges() const;
    std::uint64_t total() const noexcept { return m_total; }
    void clear() noexcept {
        m_words.clear();
        m_total = 0;
    }

private:
    std::vector<std::uint64_t> m_words;
    std::uint64_t m_total = 0;
};

}  // namespace hs::v11::hypercore
