#include "v9/hypercore/hashes.h"

namespace hs::hypercore {

Hash32 leaf_hash(ByteView data) {
    return crypto::Blake2b(32).update(std::uint8_t{0}).update_u64be(data.size()).update(data).final32();
}

Hash32 parent_hash(const Node& left, const Node& right) {
    return crypto::Blake2b(32)
        .update(std::uint8_t{1})
        .update_u64be(left.size + right.size)
        .update(left.hash)
        .update(right.hash)
        .final32();
}

Node parent_node(const Node& left, const Node& right) {
    return Node{flat::parent(left.index), parent_hash(left, right), left.size + right.size};
}

Hash32 tree_hash(const std::vector<Node>& roots) {
    crypto::Blake2b h(32);
    h.update(std::uint8_t{2});
    for (const auto& r : roots) h.update(r.hash).update_u64be(r.index).update_u64be(r.size);
    return h.final32();
}

ByteArray<40> signable(const std::vector<Node>& roots, std::uint64_t length) {
    ByteArray<40> out;
    const auto th = tree_hash(roots);
    std::copy(th.begin(), th.end(), out.begin());
    put_u64be(out.data() + 32, length);
    return out;
}

bool verify_roots_signature(const std::vector<Node>& roots, std::uint64_t length,
                            const crypto::Signature& signature, const crypto::PublicKey& key) {
    const auto msg = signable(roots, length);
    if (crypto::verify_detached(signature, msg, key)) return true;
    return crypto::verify_detached(signature, ByteView(msg.data(), 32), key);
}

MerkleGenerator::MerkleGenerator(std::vector<Node> roots) : m_roots(std::move(roots)) {
    if (!m_roots.empty()) m_blocks = (flat::right_span(m_roots.back().index) + 2) / 2;
}

void MerkleGenerator::next(ByteView data, std::vector<Node>& out) {
    Node leaf{2 * m_blocks, leaf_hash(data), data.size()};
    ++m_blocks;
    m_roots.push_back(leaf);
    out.push_back(leaf);
    while (m_roots.size() > 1) {
        const Node& left = m_roots[m_roots.size() - 2];
        const Node& right = m_roots.back();
        if (flat::parent(left.index) != flat::parent(right.index)) break;
        Node p = parent_node(left, right);
        m_roots.pop_back();
        m_roots.back() = p;
        out.push_back(p);
    }
}

}  // namespace hs::hypercore
