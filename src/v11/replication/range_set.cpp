#include "v11/replication/range_set.h"

#include <limits>

namespace hs::v11::replication {

bool RangeSet::contains(std::uint64_t index) const noexcept {
    auto it = m_ranges.upper_bound(index);
    if (it == m_ranges.begin()) return false;
    --it;
    return index < it->second;
}

std::uint64_t RangeSet::next_set(std::uint64_t from) const noexcept {
    auto it = m_ranges.upper_bound(from);
    if (it != m_ranges.begin()) {
        auto prev = std::prev(it);
        if (from < prev->second) return from;
    }
    if (it == m_ranges.end()) return std::numeric_limits<std::uint64_t>::max();
    return it->first;
}

std::uint64_t RangeSet::next_unset(std::uint64_t from) const noexcept {
    auto it = m_ranges.upper_bound(from);
    if (it == m_ranges.begin()) return from;
    --it;
    return from < it->second ? it->second : from;
}

void RangeSet::insert(std::uint64_t start, std::uint64_t end) {
    if (start >= end) return;
    // Merge with every range that overlaps or touches [start, end).
    auto it = m_ranges.upper_bound(start);
    if (it != m_ranges.begin()) {
        auto prev = std::prev(it);
        if (prev->second >= start) {
            if (prev->second >= end) return;
            start = prev->first;
            it = prev;
        }
    }
    while (it != m_ranges.end() && it->first <= end) {
        if (it->second > end) end = it->second;
        it = m_ranges.erase(it);
    }
    if (m_ranges.size() >= kMaxRanges) return;
    m_ranges.emplace(start, end);
}

void RangeSet::erase(std::uint64_t start, std::uint64_t end) {
    if (start >= end) return;
    auto it = m_ranges.upper_bound(start);
    if (it != m_ranges.begin()) {
        auto prev = std::prev(it);
        if (prev->second > start) {
            const std::uint64_t old_end = prev->second;
            prev->second = start;
            if (prev->first == start) m_ranges.erase(prev);
            if (old_end > end) {
                m_ranges.emplace(end, old_end);
                return;
            }
        }
    }
    it = m_ranges.lower_bound(start);
    while (it != m_ranges.end() && it->first < end) {
        if (it->second > end) {
            const std::uint64_t old_end = it->second;
            m_ranges.erase(it);
            m_ranges.emplace(end, old_end);
            return;
        }
        it = m_ranges.erase(it);
    }
}

void RangeSet::assign_words(std::uint64_t start, std::span<const std::uint32_t> words) {
    const std::uint64_t end = start + 32 * static_cast<std::uint64_t>(words.size());
    erase(start, end);
    std::uint64_t run_start = 0;
    bool in_run = false;
    for (std::size_t w = 0; w < words.size(); ++w) {
        const std::uint32_t word = words[w];
        if ((word == 0 && !in_run) || (word == 0xffffffffu && in_run)) continue;
        for (unsigned b = 0; b < 32; ++b) {
            const bool bit = (word >> b) & 1u;
            const std::uint64_t index = start + 32 * static_cast<std::uint64_t>(w) + b;
            if (bit && !in_run) {
                run_start = index;
                in_run = true;
            } else if (!bit && in_run) {
                insert(run_start, index);
                in_run = false;
            }
        }
    }
    if (in_run) insert(run_start, end);
}

}  // namespace hs::v11::replication
