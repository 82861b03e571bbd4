#include "v11/hypercore/proof.h"

#include <vector>

#include "common/util/flat_tree.h"

namespace hs::v11::hypercore {

namespace {

// Walks inside one tree never go deeper than this many levels; a request or proof that would
// is malformed.
constexpr int kMaxWalk = 128;
// Block indexes (and twice them) stay far from overflow below this.
constexpr std::uint64_t kMaxIndex = std::uint64_t{1} << 61;

Error invalid(std::string what) { return Error{Errc::InvalidArgument, "invalid proof request: " + what}; }
Error bad_proof(std::string what) { return Error{Errc::VerificationFailed, "proof does not verify: " + what}; }

// ---- Generation --------------------------------------------------------------------------------

// The requested block or hash, as JS normalizes it.
struct Indexed {
    bool value = false;  // a block (its value is sent), not a hash
    std::uint64_t index = 0;
    std::uint64_t nodes = 0;
    std::uint64_t last_index = 0;  // the last block the node covers
};

// The node indexes of each part, in the order they are sent (nullopt: part not produced).
struct Pending {
    std::optional<std::vector<std::uint64_t>> node;
    std::optional<std::vector<std::uint64_t>> seek;
    std::optional<std::vector<std::uint64_t>> upgrade;
    std::optional<std::vector<std::uint64_t>> additional;
};

class Generator {
public:
    Generator(const TreeBatch& tree, const NodeSource& source) : m_tree(tree), m_source(source) {}

    Result<std::uint64_t> nodes_to_root(std::uint64_t index, std::uint64_t nodes, std::uint64_t head) {
        TreeIterator ite(index);
        for (std::uint64_t i = 0; i < nodes; ++i) {
            if (i >= kMaxWalk) return invalid("nodes is out of bounds");
            ite.parent();
            if (ite.contains(head)) return invalid("nodes is out of bounds");
        }
        return ite.index();
    }

    std::uint64_t unpadded(const TreeNode& node, std::uint64_t padding, std::uint64_t leaves) const {
        return padding == 0 ? node.size : node.size - padding * leaves;
    }

    Result<std::uint64_t> seek_trusted_tree(std::uint64_t root, std::uint64_t bytes, std::uint64_t padding) {
        if (!bytes) return root;
        TreeIterator ite(root);
        for (int cnt = 0; ite.index() & 1; ++cnt) {
            if (cnt >= kMaxWalk) return invalid("seek went astray");
            HS_ASSIGN_OR_RETURN(auto l, m_source.get(ite.left_child()));
            if (l) {
                const auto size = unpadded(*l, padding, ite.count_leaves());
                if (size == bytes) return ite.index();
                if (size > bytes) continue;
                bytes -= size;
                ite.sibling();
            } else {
                ite.parent();
                return ite.index();
            }
        }
        return ite.index();
    }

    Result<std::uint64_t> seek_from_head(std::uint64_t head, std::uint64_t bytes, std::uint64_t padding) {
        for (auto root : flat::full_roots(head)) {
            HS_ASSIGN_OR_RETURN(auto node, m_source.need(root));
            TreeIterator ite(root);
            const auto size = unpadded(node, padding, ite.count_leaves());
            if (bytes == size) return root;
            if (bytes > size) {
                bytes -= size;
                continue;
            }
            return seek_trusted_tree(root, bytes, padding);
        }
        return head;
    }

    Result<std::uint64_t> seek_untrusted_tree(std::uint64_t root, std::uint64_t bytes, std::uint64_t padding) {
        HS_ASSIGN_OR_RETURN(auto off, byte_offset(m_tree.roots, m_tree.length, m_tree.byte_length, root, m_source));
        if (padding) off -= padding * flat::left_span(root) / 2;
        if (off > bytes) return invalid("seek before the requested subtree");
        if (off == bytes) return root;
        bytes -= off;
        HS_ASSIGN_OR_RETURN(auto node, m_source.need(root));
        TreeIterator ite(root);
        if (unpadded(node, padding, ite.count_leaves()) <= bytes) return invalid("seek past the requested subtree");
        return seek_trusted_tree(root, bytes, padding);
    }

    Result<void> seek_proof(std::uint64_t seek_root, std::uint64_t root, Pending& p) {
        TreeIterator ite(seek_root);
        p.seek.emplace();
        p.seek->push_back(ite.index());
        for (int cnt = 0; ite.index() != root; ++cnt) {
            if (cnt >= kMaxWalk) return invalid("seek root is not below the proof root");
            ite.sibling();
            p.seek->push_back(ite.index());
            ite.parent();
        }
        return {};
    }

    Result<void> block_and_seek_proof(const std::optional<Indexed>& node, bool seek, std::uint64_t seek_root,
                                      std::uint64_t root, Pending& p) {
        if (!node) return seek_proof(seek_root, root, p);
        TreeIterator ite(node->index);
        p.node.emplace();
        if (!node->value) p.node->push_back(ite.index());
        for (int cnt = 0; ite.index() != root; ++cnt) {
            if (cnt >= kMaxWalk) return invalid("block is not below the proof root");
            ite.sibling();
            if (seek && ite.contains(seek_root) && ite.index() != seek_root) {
                HS_TRY(seek_proof(seek_root, ite.index(), p));
            } else {
                p.node->push_back(ite.index());
            }
            ite.parent();
        }
        return {};
    }

    Result<void> upgrade_proof(const std::optional<Indexed>& node, bool seek, std::uint64_t from, std::uint64_t to,
                               std::uint64_t sub_tree, Pending& p) {
        if (from == 0) p.upgrade.emplace();
        for (TreeIterator ite(0); ite.full_root(to); ite.next_tree()) {
            if (ite.index() + ite.factor() / 2 < from) continue;
            if (!p.upgrade && ite.contains(from - 2)) {
                p.upgrade.emplace();
                const auto root = ite.index();
                const auto target = from - 2;
                ite.seek(target);
                for (int cnt = 0; ite.index() != root; ++cnt) {
                    if (cnt >= kMaxWalk) return invalid("upgrade walk went astray");
                    ite.sibling();
                    if (ite.index() > target) {
                        if (!p.node && !p.seek && ite.contains(sub_tree)) {
                            HS_TRY(block_and_seek_proof(node, seek, sub_tree, ite.index(), p));
                        } else {
                            p.upgrade->push_back(ite.index());
                        }
                    }
                    ite.parent();
                }
                continue;
            }
            if (!p.upgrade) p.upgrade.emplace();
            if (!p.node && !p.seek && ite.contains(sub_tree)) {
                HS_TRY(block_and_seek_proof(node, seek, sub_tree, ite.index(), p));
                continue;
            }
            p.upgrade->push_back(ite.index());
        }
        return {};
    }

    Result<void> additional_upgrade_proof(std::uint64_t from, std::uint64_t to, Pending& p) {
        if (from == 0) p.additional.emplace();
        for (TreeIterator ite(0); ite.full_root(to); ite.next_tree()) {
            if (ite.index() + ite.factor() / 2 < from) continue;
            if (!p.additional && ite.contains(from - 2)) {
                p.additional.emplace();
                const auto root = ite.index();
                const auto target = from - 2;
                ite.seek(target);
                for (int cnt = 0; ite.index() != root; ++cnt) {
                    if (cnt >= kMaxWalk) return invalid("additional upgrade walk went astray");
                    ite.sibling();
                    if (ite.index() > target) p.additional->push_back(ite.index());
                    ite.parent();
                }
                continue;
            }
            if (!p.additional) p.additional.emplace();
            p.additional->push_back(ite.index());
        }
        return {};
    }

    Result<std::vector<TreeNode>> fetch(const std::vector<std::uint64_t>& indexes) {
        std::vector<TreeNode> out;
        out.reserve(indexes.size());
        for (auto i : indexes) {
            HS_ASSIGN_OR_RETURN(auto n, m_source.need(i));
            out.push_back(n);
        }
        return out;
    }

private:
    const TreeBatch& m_tree;
    const NodeSource& m_source;
};

// ---- Verification ------------------------------------------------------------------------------

// The nodes of one proof part, consumed in the order the verifier walks; `extra` is a node the
// part may use once in place of a listed one (the root another part already computed).
class NodeQueue {
public:
    NodeQueue(const std::vector<TreeNode>& nodes, std::optional<TreeNode> extra)
        : m_nodes(nodes), m_extra(std::move(extra)) {}
    std::size_t size() const noexcept { return m_nodes.size() - m_i + (m_extra ? 1 : 0); }
    bool extra_used() const noexcept { return !m_extra; }
    Result<TreeNode> shift(std::uint64_t index) {
        if (m_extra && m_extra->index == index) {
            TreeNode n = *m_extra;
            m_extra.reset();
            return n;
        }
        if (m_i >= m_nodes.size()) return bad_proof(fmt::format("expected node {}, the proof has no more", index));
        const TreeNode& n = m_nodes[m_i++];
        if (n.index != index) return bad_proof(fmt::format("expected node {}, got node {}", index, n.index));
        return n;
    }

private:
    const std::vector<TreeNode>& m_nodes;
    std::size_t m_i = 0;
    std::optional<TreeNode> m_extra;
};

// Hashes the block/hash and seek parts up to the root they prove; the nodes they add go to
// `out`. nullopt when the proof has none of them.
Result<std::optional<TreeNode>> verify_tree(const Proof& proof, std::vector<TreeNode>& out) {
    std::optional<TreeNode> root;
    const bool has_seek = proof.seek && !proof.seek->nodes.empty();
    if (!proof.block && !proof.hash && !has_seek) return root;

    if (has_seek) {
        const auto& nodes = proof.seek->nodes;
        TreeIterator ite(nodes[0].index);
        NodeQueue q(nodes, std::nullopt);
        HS_ASSIGN_OR_RETURN(auto r, q.shift(ite.index()));
        out.push_back(r);
        while (q.size() > 0) {
            HS_ASSIGN_OR_RETURN(auto node, q.shift(ite.sibling()));
            r = parent_node(ite.parent(), r, node);
            out.push_back(node);
            out.push_back(r);
        }
        root = r;
    }
    if (!proof.block && !proof.hash) return root;

    std::uint64_t index = 0;
    const std::vector<TreeNode>* nodes = nullptr;
    if (proof.block) {
        if (proof.block->index >= kMaxIndex) return bad_proof("block index out of range");
        index = 2 * proof.block->index;
        nodes = &proof.block->nodes;
    } else {
        index = proof.hash->index;
        nodes = &proof.hash->nodes;
    }
    TreeIterator ite(index);
    NodeQueue q(*nodes, root);
    TreeNode r;
    if (proof.block) {
        r = leaf_node(index, proof.block->value);
    } else {
        HS_ASSIGN_OR_RETURN(r, q.shift(ite.index()));
    }
    out.push_back(r);
    while (q.size() > 0) {
        HS_ASSIGN_OR_RETURN(auto node, q.shift(ite.sibling()));
        r = parent_node(ite.parent(), r, node);
        out.push_back(node);
        out.push_back(r);
    }
    return std::optional<TreeNode>(r);
}

// Grows `batch` by the upgrade part (JS verifyUpgrade). Returns whether `block_root` (the root
// the other parts hash to) was one of the nodes the upgrade used, i.e. is now verified by it.
Result<bool> verify_upgrade(const Proof& proof, const std::optional<TreeNode>& block_root, TreeBatch& batch,
                            const std::optional<ManifestPrologue>& prologue) {
    const DataUpgrade& up = *proof.upgrade;
    if (up.start >= kMaxIndex || up.length >= kMaxIndex) return bad_proof("upgrade range out of bounds");
    if (prologue && up.start < prologue->length && (up.start != 0 || up.length < prologue->length))
        return bad_proof("upgrade does not satisfy the manifest's prologue");

    NodeQueue q(up.nodes, block_root);
    bool grow = !batch.roots.empty();
    std::size_t i = 0;
    const std::uint64_t to = 2 * (up.start + up.length);
    TreeIterator ite(0);
    for (; ite.full_root(to); ite.next_tree()) {
        if (i < batch.roots.size() && batch.roots[i].index == ite.index()) {
            ++i;
            continue;
        }
        if (grow) {
            grow = false;
            const auto root = ite.index();
            if (i < batch.roots.size()) {
                ite.seek(batch.roots.back().index);
                while (ite.index() != root) {
                    HS_ASSIGN_OR_RETURN(auto node, q.shift(ite.sibling()));
                    batch.append_root(node, ite);
                }
                continue;
            }
        }
        HS_ASSIGN_OR_RETURN(auto node, q.shift(ite.index()));
        batch.append_root(node, ite);
    }

    if (prologue && batch.length == prologue->length && batch.hash() != prologue->hash)
        return bad_proof("the tree at the prologue's length does not have the prologue's hash");

    const auto& extra = up.additional_nodes;
    if (batch.roots.empty()) {
        if (!extra.empty()) return bad_proof("additional nodes without a tree to add them to");
    } else {
        ite.seek(batch.roots.back().index);
        std::size_t k = 0;
        while (k < extra.size() && extra[k].index == ite.sibling()) batch.append_root(extra[k++], ite);
        while (k < extra.size()) {
            const TreeNode& node = extra[k++];
            for (int cnt = 0; node.index != ite.index(); ++cnt) {
                if (ite.factor() == 2 || cnt >= kMaxWalk)
                    return bad_proof(fmt::format("unexpected additional node {}", node.index));
                ite.left_child();
            }
            batch.append_root(node, ite);
            ite.sibling();
        }
    }
    batch.signature = up.signature;
    batch.fork = proof.fork;
    return q.extra_used();
}

}  // namespace

Result<Proof> generate_proof(const TreeBatch& tree, const NodeSource& source, const ProofRequest& request_in,
                             const std::optional<ManifestPrologue>& prologue) {
    ProofRequest request = request_in;
    if (prologue && request.upgrade) {
        auto& u = *request.upgrade;
        const bool inside = u.start < prologue->length;
        u.start = inside ? 0 : u.start;
        u.length = inside ? prologue->length : u.length;
    }

    Proof proof;
    proof.fork = tree.fork;
    const std::uint64_t head = 2 * tree.length;
    if (head == 0) return proof;

    std::uint64_t from = 0;
    std::uint64_t to = head;
    if (request.upgrade) {
        const auto& u = *request.upgrade;
        if (u.start > tree.length || u.length > tree.length - u.start || u.length == 0)
            return invalid(fmt::format("upgrade {}+{} on a core of length {}", u.start, u.length, tree.length));
        from = 2 * u.start;
        to = from + 2 * u.length;
    }

    std::optional<Indexed> node;
    if (request.block) {
        if (request.block->index >= kMaxIndex) return invalid("block index out of range");
        node = Indexed{true, 2 * request.block->index, request.block->nodes, request.block->index};
    } else if (request.hash) {
        if (request.hash->index >= 2 * kMaxIndex) return invalid("hash index out of range");
        node = Indexed{false, request.hash->index, request.hash->nodes, flat::right_span(request.hash->index) / 2};
    }
    if (request.seek && request.upgrade && node && node->index >= from)
        return invalid("cannot both seek and ask for a block or hash inside the upgrade");

    Generator gen(tree, source);
    Pending p;
    std::uint64_t sub_tree = head;
    const bool seek = request.seek.has_value();
    const std::uint64_t seek_bytes_ = seek ? request.seek->bytes : 0;
    const std::uint64_t padding = seek ? request.seek->padding : 0;

    if (node && (!request.upgrade || node->last_index < request.upgrade->start)) {
        HS_ASSIGN_OR_RETURN(sub_tree, gen.nodes_to_root(node->index, node->nodes, to));
        std::uint64_t seek_root = head;
        if (seek) {
            HS_ASSIGN_OR_RETURN(seek_root, gen.seek_untrusted_tree(sub_tree, seek_bytes_, padding));
        }
        HS_TRY(gen.block_and_seek_proof(node, seek, seek_root, sub_tree, p));
    } else if ((node || seek) && request.upgrade) {
        if (seek) {
            HS_ASSIGN_OR_RETURN(sub_tree, gen.seek_from_head(to, seek_bytes_, padding));
        } else {
            sub_tree = node->index;
        }
    }

    if (request.upgrade) {
        HS_TRY(gen.upgrade_proof(node, seek, from, to, sub_tree, p));
        if (head > to) HS_TRY(gen.additional_upgrade_proof(to, head, p));
    }

    if (request.block) {
        if (!p.node) return invalid(fmt::format("block {} is not covered by the upgrade", request.block->index));
        DataBlock b;
        b.index = request.block->index;
        HS_ASSIGN_OR_RETURN(b.nodes, gen.fetch(*p.node));
        proof.block = std::move(b);
    } else if (request.hash) {
        if (!p.node) return invalid(fmt::format("hash {} is not covered by the upgrade", request.hash->index));
        DataHash h;
        h.index = request.hash->index;
        HS_ASSIGN_OR_RETURN(h.nodes, gen.fetch(*p.node));
        proof.hash = std::move(h);
    }
    if (seek && p.seek) {
        DataSeek s;
        s.bytes = request.seek->bytes;
        HS_ASSIGN_OR_RETURN(s.nodes, gen.fetch(*p.seek));
        proof.seek = std::move(s);
    }
    if (request.upgrade) {
        DataUpgrade u;
        u.start = request.upgrade->start;
        u.length = request.upgrade->length;
        if (p.upgrade) {
            HS_ASSIGN_OR_RETURN(u.nodes, gen.fetch(*p.upgrade));
        }
        if (p.additional) {
            HS_ASSIGN_OR_RETURN(u.additional_nodes, gen.fetch(*p.additional));
        }
        u.signature = tree.signature;
        proof.upgrade = std::move(u);
    }
    return proof;
}

Result<TreeBatch> verify_proof(const TreeBatch& local, const NodeSource& source, const Proof& proof,
                               const std::optional<ManifestPrologue>& prologue) {
    TreeBatch batch = TreeBatch::from(local.fork, local.length, local.byte_length, local.roots, local.signature);
    HS_ASSIGN_OR_RETURN(auto unverified, verify_tree(proof, batch.nodes));
    if (proof.upgrade) {
        HS_ASSIGN_OR_RETURN(const bool used, verify_upgrade(proof, unverified, batch, prologue));
        if (used) unverified.reset();
    }
    if (unverified) {
        HS_ASSIGN_OR_RETURN(auto stored, source.get(unverified->index));
        if (!stored)
            return bad_proof(fmt::format("it hashes to node {}, which this core does not have", unverified->index));
        // JS compares the hash only; the size must match too, or a hash proof could carry a
        // wrong size for a node the hash chain never checks.
        if (stored->hash != unverified->hash || stored->size != unverified->size)
            return bad_proof(fmt::format("invalid checksum at node {}", unverified->index));
    }
    return batch;
}

Result<TreeBatch> verify_reorg_proof(const Proof& proof, const std::optional<ManifestPrologue>& prologue) {
    if (!proof.upgrade) return bad_proof("a proof from another fork must carry an upgrade");
    TreeBatch batch = TreeBatch::from(proof.fork, 0, 0, {}, {});
    batch.ancestors = 0;
    HS_ASSIGN_OR_RETURN(auto unverified, verify_tree(proof, batch.nodes));
    HS_ASSIGN_OR_RETURN(const bool used, verify_upgrade(proof, unverified, batch, prologue));
    if (!used) return bad_proof("the fork proof's block or hash is not part of its upgrade");
    if (batch.length == 0) return bad_proof("the fork proof's upgrade is empty");
    return batch;
}

Result<void> check_signature(const TreeBatch& batch, const Verifier& verifier) {
    if (!verifier.verify(batch.hash(), batch.length, batch.fork, batch.signature))
        return Error{Errc::VerificationFailed,
                     fmt::format("the signature over length {} on fork {} does not verify", batch.length, batch.fork)};
    return {};
}

std::uint64_t upgrade_length(const DataUpgrade& upgrade) {
    if (!upgrade.additional_nodes.empty()) return flat::right_span(upgrade.additional_nodes.back().index) / 2 + 1;
    return upgrade.start + upgrade.length;
}

}  // namespace hs::v11::hypercore
