// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every frame in a v11
// core's oplog (docs/formats/storage-v11.md "Frames").
#pragma once

#include <cstdint>

#include "common/util/bytes.h"

namespace hs::v11::storage {

// crc32c(data) continuing from `crc` (0 for a fresh checksum).
std::uint32_t crc32c(ByteView data, std::uint32_t crc = 0) noexcept;

}  // namespace hs::v11::storage
