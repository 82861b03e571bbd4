#include "v11/hypercore/bitfield.h"

#include <algorithm>
#include <bit>

namespace hs::v11::hypercore {

namespace {
// Bits [lo, hi) of a word, 0 <= lo < hi <= 64.
constexpr std::uint64_t mask(unsigned lo, unsigned hi) noexcept {
    const std::uint64_t upper = hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
    return upper & ~((std::uint64_t{1} << lo) - 1);
}
}  // namespace

bool Bitfield::get(std::uint64_t index) const noexcept {
    const auto w = index / 64;
    return w < m_words.size() && ((m_words[w] >> (index % 64)) & 1);
}

void Bitfield::set_range(std::uint64_t start, std::uint64_t end, bool value) {
    if (start >= end) return;
    if (!value) {
        const std::uint64_t limit = m_words.size() * 64;
        if (start >= limit) return;
        end = std::min(end, limit);
    } else if ((end + 63) / 64 > m_words.size()) {
        m_words.resize((end + 63) / 64, 0);
    }
    for (auto w = start / 64; w * 64 < end; ++w) {
        const unsigned lo = w == start / 64 ? static_cast<unsigned>(start % 64) : 0;
        const unsigned hi = (w + 1) * 64 <= end ? 64 : static_cast<unsigned>(end % 64);
        const std::uint64_t m = mask(lo, hi);
        const std::uint64_t before = m_words[w];
        m_words[w] = value ? before | m : before & ~m;
        m_total += static_cast<std::uint64_t>(std::popcount(m_words[w]));
        m_total -= static_cast<std::uint64_t>(std::popcount(before));
    }
    if (!value)
        while (!m_words.empty() && m_words.back() == 0) m_words.pop_back();
}

std::uint64_t Bitfield::count(std::uint64_t start, std::uint64_t end) const noexcept {
    end = std::min<std::uint64_t>(end, m_words.size() * 64);
    if (start >= end) return 0;
    if (start == 0 && end == m_words.size() * 64) return m_total;
    std::uint64_t n = 0;
    for (auto w = start / 64; w * 64 < end; ++w) {
        const unsigned lo = w == start / 64 ? static_cast<unsigned>(start % 64) : 0;
        const unsigned hi = (w + 1) * 64 <= end ? 64 : static_cast<unsigned>(end % 64);
        n += static_cast<std::uint64_t>(std::popcount(m_words[w] & mask(lo, hi)));
    }
    return n;
}

std::uint64_t Bitfield::find(std::uint64_t start, bool value, std::uint64_t end) const noexcept {
    if (start >= end) return end;
    const std::uint64_t limit = m_words.size() * 64;
    if (start >= limit) return value ? end : start;
    for (auto w = start / 64; w < m_words.size() && w * 64 < end; ++w) {
        std::uint64_t word = value ? m_words[w] : ~m_words[w];
        if (w == start / 64) word &= mask(static_cast<unsigned>(start % 64), 64);
        if (word) return std::min(end, w * 64 + static_cast<std::uint64_t>(std::countr_zero(word)));
    }
    return value ? end : std::min(end, limit);
}

std::vector<BitRange> Bitfield::ranges() const {
    std::vector<BitRange> out;
    const std::uint64_t limit = m_words.size() * 64;
    std::uint64_t i = find(0, true, limit);
    while (i < limit) {
        const std::uint64_t e = find(i, false, limit);
        out.push_back(BitRange{i, e - i, true});
        i = find(e, true, limit);
    }
    return out;
}

}  // namespace hs::v11::hypercore
