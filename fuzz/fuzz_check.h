// What the fuzz targets share: an invariant check that aborts (the fuzzer reports the input).
#pragma once

#include <cstdlib>

namespace hs::fuzz {

inline void require(bool ok) {
    if (!ok) std::abort();
}

}  // namespace hs::fuzz
