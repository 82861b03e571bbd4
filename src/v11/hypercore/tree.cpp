#include "v11/hypercore/tree.h"


#include "common/crypto/blake2b.h"
#include <cstring>

#include "common/util/flat_tree.h"

namespace hs::v11::hypercore {

namespace {

void put_u64le(std::uint8_t* out, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
        out[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
}

// The deepest a walk inside one tree can go: a 2^63-block span.
constexpr int kMaxDepth = 64;

}  // namespace

Hash leaf_hash(ByteView data) {
    std::uint8_t head[9];
    head[0] = 0;
    put_u64le(head + 1, data.size());
    return crypto::Blake2b(32).update(ByteView(head, 9)).update(data).final32();
}

Hash parent_hash(const TreeNode& a, const TreeNode& b) {
    const TreeNode& left = a.index > b.index ? b : a;
    const TreeNode& right = a.index > b.index ? a : b;
    std::uint8_t buf[1 + 8 + 64];
    buf[0] = 1;
    put_u64le(buf + 1, a.size + b.size);
    std::memcpy(buf + 9, left.hash.data(), 32);
    std::memcpy(buf + 41, right.hash.data(), 32);
    return crypto::blake2b_256(ByteView(buf, sizeof buf));
}

Hash tree_hash(std::span<const TreeNode> roots) {
    crypto::Blake2b h(32);
    h.update(std::uint8_t{2});
    for (const auto& r : roots) {
        std::uint8_t buf[48];
        std::memcpy(buf, r.hash.data(), 32);
        put_u64le(buf + 32, r.index);
        put_u64le(buf + 40, r.size);
        h.update(ByteView(buf, sizeof buf));
    }
    return h.final32();
}

TreeNode leaf_node(std::uint64_t index, ByteView data) {
    return TreeNode{index, data.size(), leaf_hash(data)};
}

TreeNode parent_node(std::uint64_t index, const TreeNode& a, const TreeNode& b) {
    return TreeNode{index, a.size + b.size, parent_hash(a, b)};
}

std::uint64_t total_size(std::span<const TreeNode> nodes) {
    std::uint64_t s = 0;
    for (const auto& n : nodes) s += n.size;
    return s;
}

// ---- NodeSource ------------------------------------------------------------------------------

Result<std::optional<TreeNode>> NodeSource::get(std::uint64_t index) const {
    for (auto it = m_overlay.rbegin(); it != m_overlay.rend(); ++it)
        if (it->index == index) return std::optional<TreeNode>(*it);
    if (!m_storage) return std::optional<TreeNode>();
    return m_storage->node(index);
}

Result<TreeNode> NodeSource::need(std::uint64_t index) const {
    HS_ASSIGN_OR_RETURN(auto node, get(index));
    if (!node)
        return make_error(Errc::NotFound, "tree node {} is not stored (block {}..{})", index,
                          flat::left_span(index) / 2, flat::right_span(index) / 2);
    return *node;
}

Result<std::vector<TreeNode>> roots_at(std::uint64_t length, const NodeSource& source) {
    std::vector<TreeNode> roots;
    Error failed;
    bool ok = true;
    flat::for_each_full_root(2 * length, [&](std::uint64_t index) {
        if (!ok) return;
        auto node = source.need(index);
        if (!node) {
            ok = false;
            failed = std::move(node).error();
            return;
        }
        roots.push_back(*node);
    });
    if (!ok) return failed;
    return roots;
}

Result<std::uint64_t> missing_nodes(std::uint64_t index, std::uint64_t length, const NodeSource& source) {
    const std::uint64_t head = 2 * length;
    TreeIterator ite(index);
    if (ite.right_span() >= head) return std::uint64_t{0};
    std::uint64_t cnt = 0;
    while (!ite.contains(head)) {
        HS_ASSIGN_OR_RETURN(auto node, source.get(ite.index()));
        if (node) break;
        if (++cnt >= static_cast<std::uint64_t>(kMaxDepth)) return make_error(Errc::InvalidArgument, "missing nodes walk for node {} went astray", index);
        ite.parent();
    }
    return cnt;
}

// ---- TreeBatch -------------------------------------------------------------------------------

TreeBatch TreeBatch::from(std::uint64_t fork, std::uint64_t length, std::uint64_t byte_length,
                          std::vector<TreeNode> roots, Bytes signature) {
    TreeBatch b;
    b.fork = fork;
    b.length = length;
    b.byte_length = byte_length;
    b.roots = std::move(roots);
    b.signature = std::move(signature);
    b.ancestors = length;
    return b;
}

void TreeBatch::append(ByteView block) {
    const std::uint64_t head = length * 2;
    TreeIterator ite(head);
    append_root(leaf_node(head, block), ite);
}

void TreeBatch::append_root(const TreeNode& node, TreeIterator& ite) {
    upgraded = true;
    length += ite.factor() / 2;
    byte_length += node.size;
    roots.push_back(node);
    nodes.push_back(node);
    while (roots.size() > 1) {
        const TreeNode a = roots[roots.size() - 1];
        const TreeNode b = roots[roots.size() - 2];
        if (ite.sibling() != b.index) {
            ite.sibling();  // back to the newest root
            break;
        }
        const TreeNode p = parent_node(ite.parent(), a, b);
        nodes.push_back(p);
        roots.pop_back();
        roots.back() = p;
    }
}

const TreeNode* TreeBatch::find(std::uint64_t index) const noexcept {
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it)
        if (it->index == index) return &*it;
    return nullptr;
}

Result<TreeBatch> truncate_batch(std::uint64_t length, std::span<const TreeNode> roots,
                                 std::uint64_t new_length, std::uint64_t fork, const NodeSource& source) {
    if (new_length > length)
        return make_error(Errc::InvalidArgument, "cannot truncate a tree of length {} to {}", length,
                          new_length);
    TreeBatch b;
    const auto indexes = flat::full_roots(2 * new_length);
    for (std::size_t i = 0; i < indexes.size(); ++i) {
        if (i < roots.size() && roots[i].index == indexes[i]) {
            b.roots.push_back(roots[i]);
            continue;
        }
        HS_ASSIGN_OR_RETURN(auto node, source.need(indexes[i]));
        b.roots.push_back(node);
    }
    b.fork = fork;
    b.length = new_length;
    b.ancestors = new_length;
    b.byte_length = total_size(b.roots);
    b.upgraded = true;
    return b;
}

Result<std::uint64_t> byte_offset(std::span<const TreeNode> roots, std::uint64_t length,
                                  std::uint64_t byte_length, std::uint64_t index,
                                  const NodeSource& source) {
    if (index == 2 * length) return byte_length;
    if (index & 1) index = flat::left_span(index);
    if (index >= 2 * length)
        return make_error(Errc::InvalidArgument, "block {} is past the length {}", index / 2, length);
    std::uint64_t head = 0;
    std::uint64_t offset = 0;
    for (const auto& root : roots) {
        head = flat::right_span(root.index) + 2;
        if (index >= head) {
            offset += root.size;
            continue;
        }
        TreeIterator ite(root.index);
        for (int cnt = 0; ite.index() != index; ++cnt) {
            if (cnt >= kMaxDepth || ite.factor() == 2)
                return make_error(Errc::Corrupt, "byte offset walk for node {} went astray", index);
            if (index < ite.index()) {
                ite.left_child();
            } else {
                HS_ASSIGN_OR_RETURN(auto left, source.need(ite.left_child()));
                offset += left.size;
                ite.sibling();
            }
        }
        return offset;
    }
    return make_error(Errc::Corrupt, "no root covers block {} (length {})", index / 2, length);
}

namespace {

std::uint64_t unpadded(const TreeNode& node, std::uint64_t padding, std::uint64_t leaves) {
    return padding == 0 ? node.size : node.size - padding * leaves;
}

std::uint64_t leaves_of(std::uint64_t index) {
    if (!(index & 1)) return 1;
    return (flat::right_span(index) - flat::left_span(index)) / 2 + 1;
}

}  // namespace

Result<TreeSeek> seek_bytes(std::span<const TreeNode> roots, std::uint64_t bytes, std::uint64_t padding,
                            const NodeSource& source) {
    TreeSeek out;
    if (bytes == 0) {
        out.found = true;
        return out;
    }
    auto found_at = [&](std::uint64_t flat_index, std::uint64_t offset) -> TreeSeek {
        TreeSeek s;
        s.in_range = true;
        if (!(flat_index & 1)) {
            s.found = true;
            s.index = flat_index / 2;
            s.offset = offset;
        } else {
            s.start = flat::left_span(flat_index) / 2;
            s.end = flat::right_span(flat_index) / 2 + 1;
        }
        return s;
    };
    for (const auto& node : roots) {
        const std::uint64_t size = unpadded(node, padding, leaves_of(node.index));
        if (bytes == size) return found_at(flat::right_span(node.index) + 2, 0);
        if (bytes > size) {
            bytes -= size;
            continue;
        }
        TreeIterator ite(node.index);
        for (int cnt = 0; ite.index() & 1; ++cnt) {
            if (cnt >= kMaxDepth) return make_error(Errc::Corrupt, "seek walk went astray");
            HS_ASSIGN_OR_RETURN(auto left, source.get(ite.left_child()));
            if (!left) {
                ite.parent();
                return found_at(ite.index(), bytes);
            }
            const std::uint64_t lsize = unpadded(*left, padding, ite.count_leaves());
            if (lsize == bytes) return found_at(ite.right_span() + 2, 0);
            if (lsize > bytes) continue;
            bytes -= lsize;
            ite.sibling();
        }
        return found_at(ite.index(), bytes);
    }
    return out;
}

}  // namespace hs::v11::hypercore
