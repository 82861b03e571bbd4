// A stand-in for a second-generation core's writer, for the storage tests: appends and truncates
// (forks) make the batches a Core would commit (leaf and parent nodes of a blake2b merkle tree,
// blocks at their byte offsets, bits, the new head), and the model knows what the storage must
// show after each of them. Deterministic: the same seed gives the same batches.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/crypto/blake2b.h"
#include "common/util/flat_tree.h"
#include "v11/hypercore/storage.h"

namespace hs::v11::testing {

using hypercore::Batch;
using hypercore::CoreHeader;
using hypercore::TreeNode;

inline bool same_ranges(const std::vector<hypercore::BitRange>& a, const std::vector<hypercore::BitRange>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].start != b[i].start || a[i].length != b[i].length || a[i].value != b[i].value) return false;
    return true;
}

class CoreModel {
public:
    explicit CoreModel(std::uint64_t seed = 1) : m_rng(seed) {
        m_header.key.fill(7);
        hypercore::Manifest m;
        m.signers.push_back({0, {}, {}});
        m.signers[0].public_key.fill(9);
        m_header.manifest = m;
        hypercore::KeyPair kp;
        kp.public_key.fill(9);
        kp.secret_key.fill(10);
        m_header.key_pair = kp;
    }

    const CoreHeader& header() const { return m_header; }
    std::uint64_t length() const { return m_forks.size(); }

    static Bytes value(std::uint64_t fork, std::uint64_t index) {
        const std::size_t size = 1 + (index * 7919 + fork * 104729) % 1500;
        Bytes v(size);
        for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>(index * 31 + fork * 17 + i);
        return v;
    }

    Batch append(std::size_t n) {
        Batch b;
        add_blocks(b, n);
        return b;
    }
    // Cuts to `to` (< length) on a new fork and appends `n` blocks there.
    Batch truncate_and_append(std::uint64_t to, std::size_t n) {
        Batch b;
        b.truncate_to = to;
        m_forks.resize(to);
        m_offsets.resize(to);
        for (auto it = m_nodes.begin(); it != m_nodes.end();)
            it = flat::right_span(it->first) >= 2 * to ? m_nodes.erase(it) : std::next(it);
        ++m_fork;
        add_blocks(b, n);
        return b;
    }
    // A random step: mostly appends, sometimes a fork.
    Batch random_step() {
        if (length() > 4 && m_rng() % 8 == 0) {
            const std::uint64_t to = m_rng() % length();
            return truncate_and_append(to, m_rng() % 4);
        }
        return append(1 + m_rng() % 3);
    }

    // What the storage must hold.
    template <typename Storage>
    ::testing::AssertionResult matches(Storage& s) const {
        if (!(s.header() == m_header)) return ::testing::AssertionFailure() << "header differs";
        auto present = s.present();
        if (!present) return ::testing::AssertionFailure() << present.error().message;
        std::vector<hypercore::BitRange> want;
        if (length()) want.push_back({0, length(), true});
        if (!same_ranges(*present, want))
            return ::testing::AssertionFailure() << "present ranges differ (" << present->size() << " ranges)";
        for (std::uint64_t i = 0; i < length(); ++i) {
            const auto v = value(m_forks[i], i);
            auto got = s.block(i, m_offsets[i], v.size());
            if (!got) return ::testing::AssertionFailure() << got.error().message;
            if (!*got || **got != v) return ::testing::AssertionFailure() << "block " << i << " differs";
        }
        if (auto past = s.block(length(), 0, 1); !past || *past)
            return ::testing::AssertionFailure() << "a block past the length is present";
        for (std::uint64_t i = 0; i < 2 * length() + 8; ++i) {
            auto got = s.node(i);
            if (!got) return ::testing::AssertionFailure() << got.error().message;
            auto it = m_nodes.find(i);
            if (it == m_nodes.end() ? got->has_value() : !(*got && **got == it->second))
                return ::testing::AssertionFailure() << "node " << i << " differs";
        }
        return ::testing::AssertionSuccess();
    }

private:
    void add_blocks(Batch& b, std::size_t n) {
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint64_t i = length();
            const std::uint64_t offset = i ? m_offsets[i - 1] + value(m_forks[i - 1], i - 1).size() : 0;
            auto v = value(m_fork, i);
            m_forks.push_back(m_fork);
            m_offsets.push_back(offset);
            TreeNode leaf{2 * i, v.size(), crypto::blake2b_256(v)};
            add_node(b, leaf);
            // Parents that the new leaf completes.
            flat::Index idx = 2 * i;
            while (flat::offset(idx) & 1) {
                const auto& left = m_nodes.at(flat::sibling(idx));
                const auto& right = m_nodes.at(idx);
                crypto::Blake2b h;
                h.update(left.hash).update(right.hash);
                TreeNode parent{flat::parent(idx), left.size + right.size, h.final32()};
                add_node(b, parent);
                idx = parent.index;
            }
            b.blocks.push_back({i, offset, std::move(v)});
        }
        if (n) b.bits.push_back({length() - n, n, true});
        crypto::Blake2b roots;
        flat::for_each_full_root(2 * length(), [&](flat::Index r) { roots.update(m_nodes.at(r).hash); });
        m_header.head.fork = m_fork;
        m_header.head.length = length();
        m_header.head.root_hash = roots.final32();
        m_header.head.signature.assign(64, static_cast<std::uint8_t>(length()));
        b.header = m_header;
    }
    void add_node(Batch& b, const TreeNode& n) {
        m_nodes[n.index] = n;
        b.nodes.push_back(n);
    }

    std::mt19937_64 m_rng;
    CoreHeader m_header;
    std::uint64_t m_fork = 0;
    std::vector<std::uint64_t> m_forks;    // the fork each block was written in
    std::vector<std::uint64_t> m_offsets;  // byte offsets
    std::map<std::uint64_t, TreeNode> m_nodes;
};

}  // namespace hs::v11::testing
