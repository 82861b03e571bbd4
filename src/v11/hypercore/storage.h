// What a second-generation core keeps, as an interface: MemoryStorage (memory_storage.h) for
// tests, fuzzing and read-only work, and the crash-safe files of src/v11/storage for the daemon.
// The core (core.h) is the only writer; it hands the storage one Batch per change and changes
// its own memory only after commit() returned, so a failed write leaves no trace (the rule the
// first generation learnt the hard way: docs/formats/sleep.md "Failed writes").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore {

struct KeyPair {
    PublicKey public_key{};
    SecretKey secret_key{};
    friend bool operator==(const KeyPair&, const KeyPair&) = default;
};

// Everything but nodes, blocks and bits; small, rewritten with each batch that changes it.
struct CoreHeader {
    Hash key{};
    std::optional<Manifest> manifest;  // absent until a peer sent it (a reader opened by key)
    std::optional<KeyPair> key_pair;   // present on a writer
    TreeHead head;                     // the latest signed head (length 0: empty)
    friend bool operator==(const CoreHeader&, const CoreHeader&) = default;
};

struct BlockWrite {
    std::uint64_t index = 0;
    std::uint64_t byte_offset = 0;  // where the block starts in the core's byte stream
    Bytes value;
};

// A half-open range of block indexes whose presence bits change.
struct BitRange {
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    bool value = true;
};

// One change, applied all-or-nothing (a crash or a failed write leaves either the state before or
// the state after, never a mix). Order of application: truncate, then the rest.
struct Batch {
    // Truncation: every tree node whose span reaches at or past block `truncate_to` and every
    // block at or past it is dropped, and so are their bits.
    std::optional<std::uint64_t> truncate_to;
    std::vector<TreeNode> nodes;    // new (or, after a truncate, replaced) tree nodes
    std::vector<BlockWrite> blocks; // block values; their bits are set by `bits`
    std::vector<BitRange> bits;
    std::optional<CoreHeader> header;  // the new header, when it changes
};

class Storage {
public:
    virtual ~Storage() = default;

    // The header as last committed (or as created).
    virtual const CoreHeader& header() const = 0;
    virtual Result<std::optional<TreeNode>> node(std::uint64_t index) = 0;
    // The block at `index`, which starts at `byte_offset` and is `size` bytes long; nullopt when
    // not stored.
    virtual Result<std::optional<Bytes>> block(std::uint64_t index, std::uint64_t byte_offset, std::uint64_t size) = 0;
    // The present blocks as ascending, disjoint, non-adjacent [start, start + length) ranges.
    virtual Result<std::vector<BitRange>> present() = 0;
    // On failure the Error names the file and the storage is as it was before the call.
    virtual Result<void> commit(const Batch&) = 0;
    // Makes committed batches durable (fsync); commit() alone survives a process crash.
    virtual Result<void> flush() = 0;
};

}  // namespace hs::v11::hypercore
