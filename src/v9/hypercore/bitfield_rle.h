// Run-length encoding of bitfields as sent in Have messages (bitfield-rle 2.2.1;
// docs/behaviour/replication.md "Wants and Haves").
//
// The encoding is a sequence of varint headers over the *bytes* of a bitfield:
//   odd header  `len << 2 | bit << 1 | 1`  -> `len` bytes of 0x00 (bit 0) or 0xff (bit 1);
//   even header `len << 1`, then `len` raw bytes (a literal).
// The encoder trims trailing zero bytes and picks runs exactly as the JS encoder does, so its
// output is byte-identical. The decoder accepts any valid encoding.
#pragma once

#include <cstddef>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::hypercore {

// Byte-identical to JS `require('bitfield-rle').encode(bitfield)`. Empty for an all-zero input.
Bytes rle_encode(ByteView bitfield);

// Decodes like JS `require('bitfield-rle').align(4).decode(encoded)`: the result is zero-padded
// to a multiple of 4 bytes (but never past `max_bytes`).
// Errc::Corrupt if a varint is truncated or longer than 10 bytes, a literal runs past the end of
// `encoded`, or the decoded length exceeds `max_bytes`. Allocates at most `max_bytes` bytes, and
// only after the whole input was validated.
Result<Bytes> rle_decode(ByteView encoded, std::size_t max_bytes);

}  // namespace hs::hypercore
