// The merkle tree of a second-generation core (hypercore 10/11; docs/formats/hypercore-v11-tree.md):
// node hashes, the roots of a length, byte offsets, seeks, and batches that append to or cut a
// tree. Sans-IO: nodes come from a NodeSource (a Storage plus the nodes of a batch being built).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/util/flat_tree.h"
#include "v11/hypercore/storage.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore {

// ---- Hashes (BLAKE2b-256, sizes as u64 little-endian) ----------------------------------------

// H(0x00 || u64LE(size) || data)
Hash leaf_hash(ByteView data);
// H(0x01 || u64LE(a.size + b.size) || left.hash || right.hash), left = the lower index.
Hash parent_hash(const TreeNode& a, const TreeNode& b);
// H(0x02 || for each root: hash || u64LE(index) || u64LE(size)): the tree hash a head signs.
Hash tree_hash(std::span<const TreeNode> roots);

TreeNode leaf_node(std::uint64_t index, ByteView data);
TreeNode parent_node(std::uint64_t index, const TreeNode& a, const TreeNode& b);
std::uint64_t total_size(std::span<const TreeNode> nodes);

// A cursor over flat-tree indexes (the semantics of the JS flat-tree iterator, including fullRoot
// and nextTree), shared with the first generation.
using TreeIterator = flat::Iterator;

// Where the tree reads its nodes: a batch's own nodes first, then storage (either may be absent).
// `storage` and `overlay` must outlive the source.
class NodeSource {
public:
    explicit NodeSource(Storage* storage, std::span<const TreeNode> overlay = {}) noexcept
        : m_storage(storage), m_overlay(overlay) {}
    Result<std::optional<TreeNode>> get(std::uint64_t index) const;
    // NotFound naming the node when it is not there.
    Result<TreeNode> need(std::uint64_t index) const;

private:
    Storage* m_storage;
    std::span<const TreeNode> m_overlay;
};

// The roots of the first `length` blocks (full_roots(2 * length)), read from `source`.
Result<std::vector<TreeNode>> roots_at(std::uint64_t length, const NodeSource& source);

// How many ancestors of node `index` a requester whose tree has `length` blocks lacks before
// one it stores (the `nodes` of a block or hash request; JS MerkleTree.missingNodes). 0 when
// the node is past the tree or stored.
Result<std::uint64_t> missing_nodes(std::uint64_t index, std::uint64_t length, const NodeSource& source);

// A tree state plus the nodes a change adds: what an append, a truncate or a verified proof
// produces before it is committed. Appending updates the roots as JS MerkleTreeBatch does.
struct TreeBatch {
    std::uint64_t fork = 0;
    std::uint64_t length = 0;
    std::uint64_t byte_length = 0;
    std::vector<TreeNode> roots;
    Bytes signature;
    std::vector<TreeNode> nodes;     // new nodes, in the order they were made or received
    bool upgraded = false;           // the head changes (length, roots or fork)
    // The length below which the old tree is kept; < the old length when the batch cuts it.
    std::uint64_t ancestors = 0;

    static TreeBatch from(std::uint64_t fork, std::uint64_t length, std::uint64_t byte_length,
                          std::vector<TreeNode> roots, Bytes signature);
    Hash hash() const { return tree_hash(roots); }
    // Appends one block: its leaf, and the parents it completes.
    void append(ByteView block);
    // Adds `node` as the newest root (at `ite`) and merges completed pairs; `ite` ends on the
    // newest root. Also the step proof verification builds a new head with.
    void append_root(const TreeNode& node, TreeIterator& ite);
    const TreeNode* find(std::uint64_t index) const noexcept;
};

// The batch that cuts `roots` (over `length` blocks) to `new_length` on fork `fork`: the new
// roots are read from `source`. REQUIRES: new_length <= length.
Result<TreeBatch> truncate_batch(std::uint64_t length, std::span<const TreeNode> roots,
                                 std::uint64_t new_length, std::uint64_t fork, const NodeSource& source);

// The byte offset of flat index `index` (a parent: of its leftmost block) in a tree with
// `roots` over `length` blocks and `byte_length` bytes. Needs the left siblings on the path.
Result<std::uint64_t> byte_offset(std::span<const TreeNode> roots, std::uint64_t length,
                                  std::uint64_t byte_length, std::uint64_t index,
                                  const NodeSource& source);

// Where byte `bytes` falls. Found: block `index`, `offset` bytes in (bytes == byte length gives
// {length, 0}). Not found but in range: the nodes below are missing and blocks [start, end)
// hold the byte (a seek proof would tell). Out of range (bytes > byte length): neither.
struct TreeSeek {
    bool found = false;
    bool in_range = false;
    std::uint64_t index = 0;
    std::uint64_t offset = 0;
    std::uint64_t start = 0;
    std::uint64_t end = 0;
};
Result<TreeSeek> seek_bytes(std::span<const TreeNode> roots, std::uint64_t bytes, std::uint64_t padding,
                            const NodeSource& source);

}  // namespace hs::v11::hypercore
