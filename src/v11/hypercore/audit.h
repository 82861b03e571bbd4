// A full check of what a second-generation core stores (hyp storage verify): the signed head, every
// stored block against its leaf node, and every stored parent against its stored children.
// Read-only; reports what it found instead of stopping at the first problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "v11/hypercore/core.h"
#include "v11/hypercore/storage.h"

namespace hs::v11::hypercore {

struct AuditReport {
    std::uint64_t blocks_checked = 0;
    std::uint64_t nodes_checked = 0;
    bool head_checked = false;
    std::vector<std::string> problems;  // each names the block, node or head and what is wrong
    bool ok() const noexcept { return problems.empty(); }
};

// `storage` must be the storage `core` was opened over.
AuditReport audit(Core& core, Storage& storage);

}  // namespace hs::v11::hypercore
