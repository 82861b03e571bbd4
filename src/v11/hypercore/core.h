// A second-generation core (hypercore 10/11): the merkle tree with its signed head, the local
// bitfield, blocks, truncation (forks), and the proofs peers exchange. Sans-IO and synchronous:
// everything goes through a Storage (storage.h); nothing here knows about sockets or time. The
// replicator (src/v11/replication) drives one Core per replicated key.
//
// Rule: nothing is stored before it verifies. apply() checks a proof against the signed root
// (and the manifest against the key) first, then commits one Batch; memory changes only after
// the commit succeeded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/storage.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore {

// Where byte offset `bytes` falls: block `index`, `offset` bytes into it.
struct SeekResult {
    std::uint64_t index = 0;
    std::uint64_t offset = 0;
    friend bool operator==(const SeekResult&, const SeekResult&) = default;
};

// What apply() changed.
struct Applied {
    bool upgraded = false;          // the head moved (new length and/or fork)
    bool truncated = false;         // the upgrade forked: blocks at or past `truncated_to` are gone
    std::uint64_t truncated_to = 0;
    std::optional<std::uint64_t> block;  // the block index now stored
};

// Changes, reported after they are committed (append, truncate, apply).
struct CoreListener {
    std::function<void(std::uint64_t length, std::uint64_t fork)> on_append;         // head grew
    std::function<void(std::uint64_t to, std::uint64_t fork)> on_truncate;           // head forked
    std::function<void(std::uint64_t index, std::uint64_t byte_length)> on_download; // block stored
};

class Core {
public:
    // A new core in empty storage: the key is core_key(manifest) (or the public key when
    // `compat`). A writer passes its key pair (its public key must be a signer).
    static Result<std::unique_ptr<Core>> create(std::unique_ptr<Storage> storage, Manifest manifest,
                                                std::optional<KeyPair> key_pair, bool compat = false);
    // A reader that knows only the key; the manifest arrives with the first proof that has one.
    static Result<std::unique_ptr<Core>> create_by_key(std::unique_ptr<Storage> storage, const Hash& key);
    // Reopens what storage holds (checks the header and the head's signature).
    static Result<std::unique_ptr<Core>> open(std::unique_ptr<Storage> storage);

    ~Core();
    Core(const Core&) = delete;
    Core& operator=(const Core&) = delete;

    const Hash& key() const noexcept;
    const Hash& discovery_key() const noexcept;
    const std::optional<Manifest>& manifest() const noexcept;
    bool compat() const noexcept;
    bool writable() const noexcept;
    const TreeHead& head() const noexcept;  // signed head: fork, length, tree hash, signature
    std::uint64_t fork() const noexcept;
    std::uint64_t length() const noexcept;
    std::uint64_t byte_length() const noexcept;

    bool has(std::uint64_t index) const noexcept;
    // Number of present blocks in [start, end).
    std::uint64_t count(std::uint64_t start, std::uint64_t end) const noexcept;
    // The first index >= start whose presence is `value` (length() if none below it).
    std::uint64_t find(std::uint64_t start, bool value) const noexcept;
    std::uint64_t contiguous_length() const noexcept;
    // The present blocks as ascending disjoint ranges.
    std::vector<BitRange> present_ranges() const;

    // Local reads. NotFound when the block is not stored or past the length.
    Result<Bytes> get(std::uint64_t index);
    Result<SeekResult> seek(std::uint64_t bytes);
    // The byte offset of block `index` (needs the tree nodes to its left).
    Result<std::uint64_t> byte_offset(std::uint64_t index);

    // Writer only (NotWritable otherwise). Returns the new length.
    Result<std::uint64_t> append(std::span<const ByteView> blocks);
    // Cuts the core to `new_length` (<= length) and moves to fork + 1, signing the new head.
    Result<void> truncate(std::uint64_t new_length);

    // Replication. proof(): what a peer asked for, from what this core stores (NotFound when it
    // cannot serve it: the JS peer then answers noData). verify_and_apply(): checks a received
    // proof against the signed head (VerificationFailed naming what did not verify), then stores
    // it. A proof whose upgrade is older than or equal to the local head is accepted without
    // changing the head.
    Result<Proof> proof(const ProofRequest& request);
    // The `nodes` to put in a request for tree node `tree_index` (block i: 2 * i): how many of
    // its ancestors this core lacks below one it stores (JS MerkleTree.missingNodes).
    Result<std::uint64_t> missing_nodes(std::uint64_t tree_index);
    Result<Applied> verify_and_apply(const Proof& proof);

    Result<void> flush();

    void set_listener(CoreListener listener);

private:
    struct State;
    explicit Core(std::unique_ptr<State> state);
    std::unique_ptr<State> s_;
};

}  // namespace hs::v11::hypercore
