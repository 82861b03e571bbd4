#include "v11/hypercore/audit.h"

#include <fmt/format.h>

#include "common/util/flat_tree.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/tree.h"

namespace hs::v11::hypercore {

AuditReport audit(Core& core, Storage& storage) {
    AuditReport r;
    const TreeHead& head = core.head();
    const std::uint64_t length = head.length;

    // The head: the stored roots hash to the signed tree hash, and the signature verifies.
    if (length > 0) {
        std::vector<TreeNode> roots;
        bool complete = true;
        for (const auto index : flat::full_roots(2 * length)) {
            auto n = storage.node(index);
            if (!n) {
                r.problems.push_back(fmt::format("root node {}: {}", index, n.error().message));
                complete = false;
            } else if (!n->has_value()) {
                r.problems.push_back(fmt::format("root node {} of length {} is not stored", index, length));
                complete = false;
            } else {
                roots.push_back(**n);
            }
        }
        if (complete) {
            if (tree_hash(roots) != head.root_hash)
                r.problems.push_back(fmt::format("head: the roots of length {} do not hash to the signed tree hash", length));
            if (!core.manifest()) {
                r.problems.push_back("head: signed, but the manifest is not stored");
            } else {
                const Verifier verifier = Verifier::for_key(core.key(), *core.manifest());
                if (!verifier.verify(head.root_hash, length, head.fork, head.signature))
                    r.problems.push_back(fmt::format("head: the signature of length {} fork {} does not verify", length,
                                                     head.fork));
            }
            r.head_checked = true;
        }
    }

    // Every stored block against its leaf.
    for (std::uint64_t i = core.find(0, true); i < length; i = core.find(i + 1, true)) {
        auto value = core.get(i);
        if (!value) {
            r.problems.push_back(fmt::format("block {}: {}", i, value.error().message));
            continue;
        }
        auto leaf = storage.node(2 * i);
        if (!leaf || !leaf->has_value()) {
            r.problems.push_back(fmt::format("block {} is stored but its tree node {} is not", i, 2 * i));
            continue;
        }
        const TreeNode expect = leaf_node(2 * i, *value);
        if ((*leaf)->size != expect.size || (*leaf)->hash != expect.hash)
            r.problems.push_back(fmt::format("block {} does not hash to its tree node {}", i, 2 * i));
        ++r.blocks_checked;
    }

    // Every stored parent whose children are both stored.
    for (std::uint64_t index = 1; length > 0 && index < 2 * length; index += 2) {
        if (flat::right_span(index) >= 2 * length) continue;  // spans past the length: not part of this tree
        auto parent = storage.node(index);
        if (!parent || !parent->has_value()) continue;
        auto left = storage.node(flat::left_child(index));
        auto right = storage.node(flat::right_child(index));
        if (!left || !right || !left->has_value() || !right->has_value()) continue;
        const TreeNode expect = parent_node(index, **left, **right);
        if ((*parent)->size != expect.size || (*parent)->hash != expect.hash)
            r.problems.push_back(fmt::format("tree node {} does not hash to its children {} and {}", index,
                                             flat::left_child(index), flat::right_child(index)));
        ++r.nodes_checked;
    }
    return r;
}

}  // namespace hs::v11::hypercore
