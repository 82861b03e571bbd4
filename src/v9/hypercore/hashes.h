// Hypercore 9 merkle hashing (docs/formats/sleep.md "tree"): BLAKE2b-256 with type bytes and
// big-endian sizes.
#pragma once

#include <cstdint>
#include <vector>

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "common/util/flat_tree.h"

namespace hs::hypercore {

using crypto::Hash32;

// One merkle node: a leaf (even index) or a parent (odd index) with the byte size of its span.
struct Node {
    flat::Index index = 0;
    Hash32 hash{};
    std::uint64_t size = 0;
    friend bool operator==(const Node&, const Node&) = default;
};

Hash32 leaf_hash(ByteView data);
// REQUIRES: left.index < right.index, siblings.
Hash32 parent_hash(const Node& left, const Node& right);
Node parent_node(const Node& left, const Node& right);
// Tree hash of the roots in fullRoots order.
Hash32 tree_hash(const std::vector<Node>& roots);
// treeHash(roots) || u64BE(length): the 40 bytes signed on append.
ByteArray<40> signable(const std::vector<Node>& roots, std::uint64_t length);
// Accepts a signature over the 40-byte signable, or the legacy form over its first 32 bytes.
bool verify_roots_signature(const std::vector<Node>& roots, std::uint64_t length,
                            const crypto::Signature& signature, const crypto::PublicKey& key);

// Incremental merkle builder for appends: feeds leaves and returns the new leaf and the
// parents it completes, keeping the current roots.
class MerkleGenerator {
public:
    explicit MerkleGenerator(std::vector<Node> roots = {});
    // Appends one leaf; pushes the leaf and each completed parent onto `out`.
    void next(ByteView data, std::vector<Node>& out);
    const std::vector<Node>& roots() const noexcept { return m_roots; }
    std::uint64_t blocks() const noexcept { return m_blocks; }

private:
    std::vector<Node> m_roots;
    std::uint64_t m_blocks = 0;
};

}  // namespace hs::hypercore
