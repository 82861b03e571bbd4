// One Hypercore 9 log: SLEEP storage + merkle tree + bitfields (docs/formats/sleep.md).
// Not thread-safe: one owner thread at a time (in the daemon, its one thread: there is no storage
// thread, docs/architecture.md "Threads").
// Invariant: every block marked present in the bitfield has its leaf node, and every present
// tree node is covered by a stored signed root (or, for a static feed, by the key).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/crypto/sign.h"
#include "v9/hypercore/bitfield.h"
#include "v9/hypercore/hashes.h"
#include "v9/hypercore/random_access.h"
#include "v9/hypercore/sparse_bitset.h"
#include "v9/hypercore/tree_index.h"

namespace hs::hypercore {

// The largest block we append or accept: its Data frame (block + proof + signature) must stay
// under the 8 MiB frame limit of every peer (docs/behaviour/quirks.md #20).
inline constexpr std::uint64_t kMaxBlockBytes = 8 * 1024 * 1024 - 16 * 1024;
// The largest block a stored tree may describe (hypercore 9's append limit); larger sizes in a
// leaf node mean the tree file is damaged.
inline constexpr std::uint64_t kMaxStoredBlockBytes = 8 * 1024 * 1024;

struct FeedOptions {
    std::optional<crypto::PublicKey> key;         // expected key; mismatch with storage fails
    std::optional<crypto::SecretKey> secret_key;  // makes the feed writable (never stored unless
                                                  // store_secret_key)
    bool store_secret_key = false;
    bool create_if_missing = true;  // generate a key pair when nothing is stored or given
};

// A proof for one block, as carried by a Data message.
struct Proof {
    std::vector<Node> nodes;
    std::optional<crypto::Signature> signature;
};

// Adapts the tree section of a Bitfield to TreeIndex.
struct TreeBits {
    Bitfield* bitfield;
    bool get(std::uint64_t i) const { return bitfield->tree_get(i); }
    bool set(std::uint64_t i, bool v) { return bitfield->tree_set(i, v); }
    std::uint64_t length() const { return bitfield->tree_length(); }
};

struct SeekResult {
    std::uint64_t index = 0;   // block holding the byte
    std::uint64_t offset = 0;  // byte offset inside that block
};

struct PutResult {
    bool appended = false;     // the verified length grew
    bool new_block = false;    // the block was not stored before
};

class Feed {
public:
    static Result<std::unique_ptr<Feed>> open(std::unique_ptr<StorageProvider> storage,
                                              FeedOptions options = {});
    Feed(const Feed&) = delete;
    Feed& operator=(const Feed&) = delete;
    ~Feed();

    const crypto::PublicKey& key() const noexcept { return m_key; }
    const Hash32& discovery_key() const noexcept { return m_discovery_key; }
    bool writable() const noexcept { return m_secret_key.has_value() && !m_read_only; }
    bool read_only() const noexcept { return m_read_only; }
    // Signed (live) feeds are the norm; a static feed's key is its final tree hash.
    bool live() const noexcept { return m_live; }
    std::uint64_t length() const noexcept { return m_length; }
    std::uint64_t byte_length() const noexcept { return m_byte_length; }
    std::string describe() const;  // "core <key hex> (<storage>)", for messages

    // Appends blocks as one signed batch; returns the index of the first. Nothing is written
    // unless every block is within kMaxBlockBytes.
    Result<std::uint64_t> append(std::span<const ByteView> blocks);
    Result<std::uint64_t> append(ByteView block) { return append(std::span<const ByteView>(&block, 1)); }

    bool has(std::uint64_t index) const noexcept { return m_bitfield.get(index); }
    // True if every block in [start, end) is stored.
    bool has(std::uint64_t start, std::uint64_t end);
    // Number of blocks stored in [start, end).
    std::uint64_t downloaded(std::uint64_t start, std::uint64_t end);
    std::optional<std::uint64_t> next_missing(std::uint64_t start, std::uint64_t end) {
        return m_bitfield.next_missing(start, end);
    }
    // Errc::NotFound if the block is not stored locally.
    Result<Bytes> get(std::uint64_t index);
    // The byte size of a stored block, from its leaf node.
    Result<std::uint64_t> block_size(std::uint64_t index);
    // Errc::NotFound if out of bounds or the needed tree nodes are not stored.
    Result<SeekResult> seek(std::uint64_t byte_offset);

    // A stored tree node; Errc::NotFound if absent.
    Result<Node> node(flat::Index index);
    // Roots for `length` blocks (all must be stored).
    Result<std::vector<Node>> roots(std::uint64_t length);
    // The signature stored for `length` (slot length - 1); NotFound if blank.
    Result<crypto::Signature> signature(std::uint64_t length);

    // Builds the proof for block `index` for a requester that sent `digest`. `remote` records
    // the nodes that requester has (per peer). NotFound if we lack the block's node.
    Result<Proof> proof(std::uint64_t index, std::uint64_t digest, bool hash, SparseBitset& remote);
    // Digest to send when requesting block `index`.
    std::uint64_t digest(std::uint64_t index) { return tree().digest(2 * index); }
    // Verifies a block (or, with no data, a hash-only node) received with `proof`, then stores it.
    // Nothing is written unless it verifies (Errc::VerificationFailed otherwise).
    Result<PutResult> put(std::uint64_t index, std::optional<ByteView> data, Proof proof);

    const Bitfield& bitfield() const noexcept { return m_bitfield; }
    Bitfield& bitfield() noexcept { return m_bitfield; }
    StorageProvider& storage() noexcept { return *m_storage; }
    // Flushes file data to stable storage (fdatasync).
    Status sync();

private:
    Feed() = default;
    Status load(const FeedOptions& options);
    TreeIndex<TreeBits> tree() { return TreeIndex<TreeBits>(m_tree_bits); }
    // Writes tree entries; caches nothing (callers cache once the whole operation succeeded).
    Status write_nodes(std::span<const Node> nodes);
    void cache_nodes(std::span<const Node> nodes);
    // Writes the dirty bitfield pages; on failure the pages not known to be written stay dirty.
    Status flush_bitfield();
    // After a failed write: undo the bitfield changes begun with begin_undo(), try once to put
    // the pages a partial flush replaced back, and trim pages past page_count() from the file.
    void abandon_bitfield_changes();
    // Writer only: best-effort truncation of what a failed append left past the length in the
    // data, tree and signatures files; m_trim_pending records a truncation that failed.
    void trim_past_length();
    // Writer only: clears data bits of blocks at or past the length, and tree bits of nodes
    // that cover any of them (open, after a failed flush reached the disk in part).
    void clear_bits_past_length();
    // Writer only: writes a fresh signature for the length (open found a torn or blank slot).
    Status resign_length();
    // Puts a signature slot a failed put overwrote back as it was; false if that failed too.
    struct SignatureUndo {
        std::uint64_t slot = 0;
        std::uint64_t file_size = 0;  // the signatures file's size before the write
        crypto::Signature bytes{};    // the slot's bytes before (the first `had` of them)
        std::size_t had = 0;
    };
    bool undo_signature(const SignatureUndo& undo);
    Result<std::uint64_t> data_offset(std::uint64_t index, std::span<const Node> extra);
    Error corrupt(std::string_view file, std::string_view what) const;
    void cache_node(const Node& n);

    std::unique_ptr<StorageProvider> m_storage;
    std::unique_ptr<RandomAccess> m_key_file, m_secret_key_file, m_tree_file, m_data_file,
        m_bitfield_file, m_signatures_file;
    crypto::PublicKey m_key{};
    Hash32 m_discovery_key{};
    std::optional<crypto::SecretKey> m_secret_key;
    bool m_read_only = false;
    bool m_live = true;
    std::uint64_t m_length = 0;
    std::uint64_t m_byte_length = 0;
    Bitfield m_bitfield;
    TreeBits m_tree_bits{&m_bitfield};
    struct LastRead {
        bool valid = false;
        std::uint64_t index = 0, offset = 0, size = 0;
    };
    LastRead m_last_read;  // for sequential gets; block offsets never change once stored
    std::optional<MerkleGenerator> m_merkle;  // roots at m_length, for writers; reset on put
    // Repairs still owed after a failed write whose own clean-up failed; retried first thing by
    // the next append/put (docs/formats/sleep.md, "Failed writes").
    bool m_trim_pending = false;
    bool m_resign_pending = false;
    std::optional<SignatureUndo> m_signature_repair;

    // Direct-mapped caches of tree nodes, one for leaves and one for parents (so the few
    // high parents that every offset computation needs are not evicted by leaves). Sized with
    // the log, up to kMaxNodeCacheSlots each, so small cores stay small.
    static constexpr std::size_t kMaxNodeCacheSlots = 1 << 15;  // 65536 nodes, as hypercore 9 keeps
    struct NodeCache {
        std::vector<Node> nodes;
        std::vector<std::uint64_t> tags;  // index + 1 of the node in each slot; 0 = empty
        const Node* find(flat::Index index) const noexcept;
        void put(const Node& n);
        void erase(flat::Index index) noexcept;
        void reserve_for(std::uint64_t entries);
    };
    NodeCache m_leaf_cache, m_parent_cache;
};

}  // namespace hs::hypercore
