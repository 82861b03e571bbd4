// The byte layouts of a v11 core's oplog (docs/formats/storage-v11.md): the prologue, the two
// header slots, the crc-framed entries and the header encoding inside them. Pure codec: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "v11/hypercore/storage.h"

namespace hs::v11::storage {

inline constexpr std::uint8_t kOplogMagic[8] = {'H', 'S', 'C', 'O', 'R', 'E', '1', '1'};
inline constexpr std::uint16_t kOplogVersion = 1;
inline constexpr std::size_t kPrologueBytes = 24;
inline constexpr std::size_t kFrameBytes = 8;  // u32 body length, u32 crc32c
inline constexpr std::size_t kMinSlotBytes = 512;
inline constexpr std::uint32_t kMaxSlotBytes = 1u << 24;
inline constexpr std::uint32_t kMaxEntryBytes = 1u << 30;

struct Prologue {
    std::uint32_t slot_bytes = kMinSlotBytes;  // the size of each of the two header slots
    std::uint64_t salt = 0;  // random per core, seeds every frame checksum
};
void encode_prologue(Bytes& out, const Prologue&);
std::optional<Prologue> decode_prologue(ByteView in);

// Frames: u32 LE body length || u32 LE crc32c(u64 LE salt || length bytes || body) || body.
// The salt keeps bytes that happen to look like a frame (inside a block value, say) from ever
// passing for one. begin_frame appends the frame header and returns its position in `out` (the
// body follows, then seal_frame).
std::size_t begin_frame(Bytes& out);
void seal_frame(Bytes& out, std::size_t frame_at, std::uint64_t salt);
std::uint32_t frame_length(ByteView header8);
// Whether `body` is the whole body of the frame whose header is `header8`.
bool frame_valid(ByteView header8, ByteView body, std::uint64_t salt);

void encode_header(Bytes& out, const hypercore::CoreHeader&);
void encode_head(Bytes& out, const hypercore::TreeHead&);

// Entry body flags.
inline constexpr std::uint8_t kEntryTruncate = 1;
inline constexpr std::uint8_t kEntryFullHeader = 2;
inline constexpr std::uint8_t kEntryHead = 4;

// A block whose value is kept in the entry (a redo block: docs "Blocks in the entry").
struct RedoBlock {
    std::uint64_t index = 0;
    std::uint64_t byte_offset = 0;
    std::uint64_t size = 0;
    std::uint64_t value_at = 0;  // offset of the value inside the entry body
};

struct DecodedEntry {
    std::uint64_t checkpoint = 0;
    std::optional<std::uint64_t> truncate_to;
    std::vector<hypercore::TreeNode> nodes;
    std::vector<hypercore::BitRange> bits;
    std::vector<RedoBlock> redo;
    std::optional<hypercore::CoreHeader> header;  // a full header
    std::optional<hypercore::TreeHead> head;      // only the head changed
};

// Encodes an entry body for `batch` (no frame); `redo[i]` says whether blocks[i] goes into the
// entry; `full_header` whether the header goes whole or as its head only.
// Returns where each redo value starts in `out`.
std::vector<std::size_t> encode_entry(Bytes& out, std::uint64_t checkpoint, const hypercore::Batch& batch,
                                      const std::vector<bool>& redo, bool full_header);

// Errc::Corrupt naming `file` when the bytes (already checksummed) do not decode.
Result<DecodedEntry> decode_entry(ByteView body, const std::string& file);
// A slot body: u64 LE checkpoint || header.
void encode_slot(Bytes& out, std::uint64_t checkpoint, const hypercore::CoreHeader& header);
Result<std::pair<std::uint64_t, hypercore::CoreHeader>> decode_slot(ByteView body, const std::string& file);

}  // namespace hs::v11::storage
