// UTF-8 decoding with replacement, as JS decodes bytes to a string
// (docs/formats/compact-encoding.md "string"): every maximal ill-formed subsequence becomes
// U+FFFD, valid text is kept as it is.
#pragma once

#include <string>

#include "common/util/bytes.h"

namespace hs::v11::compact {

// True if `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(ByteView bytes) noexcept;

// `bytes` as UTF-8 text, each ill-formed part replaced by U+FFFD (EF BF BD) as the WHATWG
// decoder (and so Node's Buffer#toString) replaces it.
std::string utf8_with_replacement(ByteView bytes);

}  // namespace hs::v11::compact
