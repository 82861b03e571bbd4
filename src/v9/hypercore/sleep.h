// SLEEP file headers and slot layouts (docs/formats/sleep.md).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::hypercore::sleep {

inline constexpr std::size_t kHeaderBytes = 32;
inline constexpr std::size_t kTreeEntryBytes = 40;
inline constexpr std::size_t kSignatureEntryBytes = 64;
inline constexpr std::size_t kBitfieldPageBytes = 3584;

enum class FileType : std::uint8_t { Bitfield = 0, Signatures = 1, Tree = 2 };

ByteArray<kHeaderBytes> header(FileType type);
// Checks a stored header: magic, type, version, entry size and algorithm. `file` names the file
// in the error message.
Status check_header(ByteView header, FileType type, std::string_view file);

inline std::uint64_t tree_offset(std::uint64_t index) { return kHeaderBytes + kTreeEntryBytes * index; }
inline std::uint64_t signature_offset(std::uint64_t slot) {
    return kHeaderBytes + kSignatureEntryBytes * slot;
}

}  // namespace hs::hypercore::sleep
