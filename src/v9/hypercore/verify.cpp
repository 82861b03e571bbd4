#include "v9/hypercore/verify.h"

#include "common/util/hex.h"

namespace hs::hypercore {

VerifyReport verify_feed(Feed& feed, std::size_t max_problems) {
    VerifyReport report;
    auto problem = [&](std::string file, std::string message) {
        if (report.problems.size() < max_problems)
            report.problems.push_back({std::move(file), std::move(message)});
    };
    const std::uint64_t length = feed.length();
    auto& bits = feed.bitfield();

    // Blocks against leaves.
    for (auto i = bits.next_present(0, length); i; i = bits.next_present(*i + 1, length)) {
        auto leaf = feed.node(2 * *i);
        if (!leaf) {
            problem("tree", fmt::format("block {} is marked stored but its leaf node is missing", *i));
            continue;
        }
        auto block = feed.get(*i);
        if (!block) {
            problem("data", block.error().message);
            continue;
        }
        if (leaf_hash(*block) != leaf->hash)
            problem("data", fmt::format("block {} does not match its leaf hash", *i));
        ++report.blocks_checked;
    }

    // Parents against children (every parent whose children are both stored).
    const std::uint64_t max_index = 2 * length;
    for (flat::Index p = 1; p < max_index; p += 2) {
        if (!bits.tree_get(p)) continue;
        const auto l = flat::left_child(p), r = flat::right_child(p);
        if (!bits.tree_get(l) || !bits.tree_get(r)) continue;
        auto pn = feed.node(p), ln = feed.node(l), rn = feed.node(r);
        if (!pn || !ln || !rn) {
            problem("tree", fmt::format("node {} or its children are marked stored but missing", p));
            continue;
        }
        if (pn->size != ln->size + rn->size || parent_hash(*ln, *rn) != pn->hash)
            problem("tree", fmt::format("node {} does not match the hash of its children", p));
        ++report.nodes_checked;
    }

    // Signatures against the roots they sign.
    bool have_latest = false;
    for (std::uint64_t len = 1; len <= length; ++len) {
        auto sig = feed.signature(len);
        if (!sig) continue;
        auto roots = feed.roots(len);
        if (!roots) continue;  // sparse: the roots of this length are not all stored
        if (!verify_roots_signature(*roots, len, *sig, feed.key()))
            problem("signatures", fmt::format("signature for length {} does not verify", len));
        else if (len == length)
            have_latest = true;
        ++report.signatures_checked;
    }
    if (length && feed.live() && !have_latest)
        problem("signatures", fmt::format("no valid signature covers the length {}", length));
    if (length && !feed.live()) {
        auto roots = feed.roots(length);
        if (!roots || tree_hash(*roots) != feed.key())
            problem("tree", "static core: the tree hash of its roots does not equal its key");
    }
    return report;
}

}  // namespace hs::hypercore
