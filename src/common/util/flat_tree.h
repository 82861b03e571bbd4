// Flat-tree arithmetic (docs/formats/sleep.md): leaf i sits at index 2i, parents at odd
// indexes; depth(x) is the number of trailing one bits. All functions are total over uint64
// indexes that fit the tree (no 2^63-sized spans).
#pragma once

#include <cstdint>
#include <vector>

namespace hs::flat {

using Index = std::uint64_t;

constexpr std::uint64_t depth(Index i) noexcept {
    std::uint64_t d = 0;
    while (i & 1) {
        i >>= 1;
        ++d;
    }
    return d;
}
constexpr Index index(std::uint64_t d, std::uint64_t offset) noexcept {
    return (offset << (d + 1)) | ((std::uint64_t{1} << d) - 1);
}
constexpr std::uint64_t offset(Index i, std::uint64_t d) noexcept {
    if (!(i & 1)) return i / 2;
    return (((i + 1) >> d) - 1) / 2;
}
constexpr std::uint64_t offset(Index i) noexcept { return offset(i, depth(i)); }
constexpr Index parent(Index i) noexcept {
    const auto d = depth(i);
    return index(d + 1, offset(i, d) >> 1);
}
constexpr Index sibling(Index i) noexcept {
    const auto d = depth(i);
    return index(d, offset(i, d) ^ 1);
}
constexpr Index left_span(Index i) noexcept {
    if (!(i & 1)) return i;
    const auto d = depth(i);
    return offset(i, d) * (std::uint64_t{2} << d);
}
constexpr Index right_span(Index i) noexcept {
    if (!(i & 1)) return i;
    const auto d = depth(i);
    return (offset(i, d) + 1) * (std::uint64_t{2} << d) - 2;
}
// REQUIRES: i is odd (a parent).
constexpr Index left_child(Index i) noexcept {
    const auto d = depth(i);
    return index(d - 1, offset(i, d) << 1);
}
constexpr Index right_child(Index i) noexcept {
    const auto d = depth(i);
    return index(d - 1, (offset(i, d) << 1) + 1);
}
// The peaks of the merkle forest whose leaves are [0, index/2): fullRoots(2 * length).
// REQUIRES: index is even.
std::vector<Index> full_roots(Index index);
// Calls f(root) for each of full_roots(index), without allocating.
template <typename F>
void for_each_full_root(Index index, F&& f) {
    std::uint64_t remaining = index / 2;
    std::uint64_t off = 0;
    while (remaining) {
        std::uint64_t factor = std::uint64_t{1} << (63 - __builtin_clzll(remaining));
        f(off + factor - 1);
        off += 2 * factor;
        remaining -= factor;
    }
}

// Walks the flat tree like flat-tree's Iterator: the first generation's bitfield index and the
// second generation's merkle tree and proofs (which also use contains, the spans, full_root and
// next_tree).
class Iterator {
public:
    explicit Iterator(Index i = 0) noexcept { seek(i); }
    void seek(Index i) noexcept {
        m_index = i;
        if (i & 1) {
            m_offset = offset(i);
            const auto d = depth(i);
            m_factor = d + 1 >= 64 ? 0 : std::uint64_t{2} << d;
        } else {
            m_offset = i / 2;
            m_factor = 2;
        }
    }
    Index index() const noexcept { return m_index; }
    std::uint64_t factor() const noexcept { return m_factor; }
    bool is_left() const noexcept { return (m_offset & 1) == 0; }
    // Whether `i` lies in the span of the current node (itself included).
    bool contains(Index i) const noexcept {
        const std::uint64_t half = m_factor / 2;
        if (i > m_index) return i - m_index < half;
        if (i < m_index) return m_index - i < half;
        return true;
    }
    std::uint64_t count_leaves() const noexcept { return (m_index & 1) ? m_factor / 2 : 1; }
    Index right_span() const noexcept { return m_index + m_factor / 2 - 1; }
    Index left_span() const noexcept { return m_index + 1 - m_factor / 2; }
    Index next() noexcept {
        ++m_offset;
        m_index += m_factor;
        return m_index;
    }
    Index prev() noexcept {
        if (!m_offset) return m_index;
        --m_offset;
        m_index -= m_factor;
        return m_index;
    }
    Index sibling() noexcept { return is_left() ? next() : prev(); }
    Index parent() noexcept {
        if (m_offset & 1) {
            m_index -= m_factor / 2;
            m_offset = (m_offset - 1) / 2;
        } else {
            m_index += m_factor / 2;
            m_offset /= 2;
        }
        m_factor *= 2;
        return m_index;
    }
    Index left_child() noexcept {
        if (m_factor == 2) return m_index;
        m_factor /= 2;
        m_index -= m_factor / 2;
        m_offset *= 2;
        return m_index;
    }
    Index right_child() noexcept {
        if (m_factor == 2) return m_index;
        m_factor /= 2;
        m_index += m_factor / 2;
        m_offset = 2 * m_offset + 1;
        return m_index;
    }
    // From a leaf: climbs to the largest tree starting here that ends before `head`; false when
    // the current node is not a leaf below `head`.
    bool full_root(Index head) noexcept {
        if (head <= m_index || (m_index & 1)) return false;
        while (m_factor < (std::uint64_t{1} << 62) && head - m_index > m_factor + m_factor / 2) {
            m_index += m_factor / 2;
            m_factor *= 2;
            m_offset /= 2;
        }
        return true;
    }
    // Moves to the first leaf after the current tree.
    Index next_tree() noexcept {
        m_index = m_index + m_factor / 2 + 1;
        m_offset = m_index / 2;
        m_factor = 2;
        return m_index;
    }

private:
    Index m_index = 0;
    std::uint64_t m_offset = 0;
    std::uint64_t m_factor = 2;
};

}  // namespace hs::flat
