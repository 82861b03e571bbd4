#include "common/util/flat_tree.h"

namespace hs::flat {

std::vector<Index> full_roots(Index index) {
    std::vector<Index> result;
    std::uint64_t remaining = index / 2;
    std::uint64_t off = 0;
    while (remaining) {
        std::uint64_t factor = 1;
        while (factor * 2 <= remaining) factor *= 2;
        result.push_back(off + factor - 1);
        off += 2 * factor;
        remaining -= factor;
    }
    return result;
}

}  // namespace hs::flat
