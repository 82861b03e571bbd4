// Merkle-node presence logic over a bit store (port of hypercore 9 tree-index semantics,
// docs/behaviour/replication.md "The digest"): which blocks a tree covers, proof node selection
// and request digests.
// `Bits` provides: bool get(u64) const; bool set(u64, bool); u64 length() const.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/util/flat_tree.h"
#include "v9/hypercore/sparse_bitset.h"

namespace hs::hypercore {

struct ProofPlan {
    std::vector<flat::Index> nodes;  // proof node indexes, in wire order
    std::uint64_t verified_by = 0;   // 2 * signed length, or 0 when no signature is needed
};

template <typename Bits>
class TreeIndex {
public:
    explicit TreeIndex(Bits& bits) : m_bits(bits) {}

    bool get(flat::Index i) const { return m_bits.get(i); }

    // Sets node `i` and every parent that becomes complete. False if `i` was already set.
    bool set(flat::Index i) {
        if (!m_bits.set(i, true)) return false;
        while (m_bits.get(flat::sibling(i))) {
            i = flat::parent(i);
            if (!m_bits.set(i, true)) break;
        }
        return true;
    }

    // The length (in blocks) covered by the left-most complete chain of roots.
    std::uint64_t blocks() const {
        flat::Index top = 0;
        flat::Index next = 0;
        const std::uint64_t max = m_bits.length();
        while (flat::right_span(next) < max) {
            next = flat::parent(next);
            if (get(next)) top = next;
        }
        return (get(top) ? verified_by(top) : 0) / 2;
    }

    // 2 * the length of the tree that node `index` belongs to (the right span of the last root,
    // plus 2), or 0 if `index` is not present. Appends the expanded right roots to `nodes`.
    std::uint64_t verified_by(flat::Index index, std::vector<flat::Index>* nodes = nullptr) const {
        if (!get(index)) return 0;
        std::uint64_t d = flat::depth(index);
        flat::Index top = index;
        flat::Index parent = flat::index(d + 1, flat::offset(top, d) >> 1);
        ++d;
        while (get(parent) && get(flat::sibling(top))) {
            top = parent;
            parent = flat::index(d + 1, flat::offset(top, d) >> 1);
            ++d;
        }
        --d;
        while (d) {
            top = left_child_at(flat::index(d, flat::offset(top, d) + 1), d);
            --d;
            while (!get(top) && d) top = left_child_at(top, d--);
            if (nodes && get(top)) nodes->push_back(top);
        }
        return get(top) ? top + 2 : top;
    }

    // The digest a requester sends for block node `index` (2 * block).
    std::uint64_t digest(flat::Index index) const {
        if (get(index)) return 1;
        std::uint64_t digest = 0;
        flat::Index next = flat::sibling(index);
        const std::uint64_t max = std::max<std::uint64_t>(next + 2, m_bits.length());
        std::uint64_t bit = 2;
        std::uint64_t d = flat::depth(index);
        flat::Index parent = flat::index(d + 1, flat::offset(next, d) >> 1);
        ++d;
        while (flat::right_span(next) < max || flat::left_span(parent) > 0) {
            if (get(next)) digest += bit;
            if (get(parent)) {
                digest += 2 * bit;
                if (!(digest & 1)) digest += 1;
                if (digest + 1 == 4 * bit) return 1;
                return digest;
            }
            next = flat::sibling(parent);
            parent = flat::index(d + 1, flat::offset(next, d) >> 1);
            ++d;
            bit *= 2;
        }
        return digest;
    }

    // Which nodes prove node `index` to a requester that sent `digest`; `remote` records what
    // the requester is known to have. nullopt if we do not have `index`.
    std::optional<ProofPlan> proof(flat::Index index, std::uint64_t digest, bool hash,
                                   SparseBitset& remote) const {
        ProofPlan plan;
        if (!get(index)) return std::nullopt;
        if (hash) plan.nodes.push_back(index);
        if (digest == 1) return plan;

        flat::Index next = index;
        const bool has_root = digest & 1;
        digest >>= 1;
        while (digest) {
            if (digest == 1 && has_root) {
                if (get(next)) remote.set(next, true);
                if (flat::sibling(next) < next) next = flat::sibling(next);
                for (auto r : flat::full_roots(flat::right_span(next) + 2))
                    if (get(r)) remote.set(r, true);
                break;
            }
            const flat::Index sib = flat::sibling(next);
            if ((digest & 1) && get(sib)) remote.set(sib, true);
            next = flat::parent(next);
            digest >>= 1;
        }

        next = index;
        while (!remote.get(next)) {
            const flat::Index sib = flat::sibling(next);
            if (!get(sib)) {
                // `next` is a local root
                plan.verified_by = verified_by(next);
                for (auto r : flat::full_roots(plan.verified_by))
                    if (r != next && !remote.get(r)) plan.nodes.push_back(r);
                return plan;
            }
            if (!remote.get(sib)) plan.nodes.push_back(sib);
            next = flat::parent(next);
        }
        plan.verified_by = 0;
        return plan;
    }

private:
    static flat::Index left_child_at(flat::Index i, std::uint64_t d) {
        if (!(i & 1)) return i;  // a leaf has no children (JS returns -1; never reached with d > 0)
        if (d == 0) return i;
        return flat::index(d - 1, flat::offset(i, d) << 1);
    }

    Bits& m_bits;
};

}  // namespace hs::hypercore
