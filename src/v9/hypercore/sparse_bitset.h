// A sparse set of uint64 indexes (pages of 4096 bits), for per-peer "remote has" state.
#pragma once

#include <bitset>
#include <cstdint>
#include <unordered_map>

namespace hs::hypercore {

class SparseBitset {
public:
    bool get(std::uint64_t i) const noexcept {
        auto it = m_pages.find(i >> kShift);
        return it != m_pages.end() && it->second.test(i & kMask);
    }
    // Returns true if the bit changed.
    bool set(std::uint64_t i, bool value) {
        if (!value) {
            auto it = m_pages.find(i >> kShift);
            if (it == m_pages.end() || !it->second.test(i & kMask)) return false;
            it->second.reset(i & kMask);
            return true;
        }
        auto& page = m_pages[i >> kShift];
        if (page.test(i & kMask)) return false;
        page.set(i & kMask);
        if (i + 1 > m_length) m_length = i + 1;
        return true;
    }
    // One past the highest index ever set.
    std::uint64_t length() const noexcept { return m_length; }
    void clear() {
        m_pages.clear();
        m_length = 0;
    }

private:
    static constexpr unsigned kShift = 12;
    static constexpr std::uint64_t kMask = (1u << kShift) - 1;
    std::unordered_map<std::uint64_t, std::bitset<1u << kShift>> m_pages;
    std::uint64_t m_length = 0;
};

}  // namespace hs::hypercore
