// Lowercase hex encoding and strict decoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/util/bytes.h"

namespace hs {

std::string to_hex(ByteView bytes);
// Decodes an even-length hex string (either case); nullopt on any other character.
std::optional<Bytes> from_hex(std::string_view hex);
// Decodes exactly 32 bytes of hex, optionally prefixed with "hyper://" and followed by "/".
std::optional<ByteArray<32>> parse_key(std::string_view text);

}  // namespace hs
