// Offline audit of one core's stored bytes: every block against its leaf, every parent against
// its children, every stored signature against the roots it signs. Reads only.
#pragma once

#include <string>
#include <vector>

#include "v9/hypercore/feed.h"

namespace hs::hypercore {

struct VerifyProblem {
    std::string file;     // "data", "tree", "signatures", "bitfield", "key"
    std::string message;  // what is wrong, with the block / node / slot
};

struct VerifyReport {
    std::uint64_t blocks_checked = 0;
    std::uint64_t nodes_checked = 0;
    std::uint64_t signatures_checked = 0;
    std::vector<VerifyProblem> problems;  // empty: the core is sound
    bool ok() const noexcept { return problems.empty(); }
};

// Stops collecting after `max_problems` (the count of checks still covers everything read).
VerifyReport verify_feed(Feed& feed, std::size_t max_problems = 20);

}  // namespace hs::hypercore
