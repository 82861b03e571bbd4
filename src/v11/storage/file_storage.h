// The crash-safe files of one second-generation core (docs/formats/storage-v11.md): `oplog`
// (prologue, two header slots, crc-framed entries), `data` (blocks at their byte offsets),
// `tree` (40-byte nodes at index * 40) and `bitfield` (plain bits in 4 KiB pages); the last two
// appear only once a checkpoint has something to put in them.
//
// commit() is atomic across a process crash at any point: block values go to the data file where
// no present block lives, then one crc-framed oplog entry (the commit point) carries the nodes,
// bits, header and any value that would overwrite a present block; memory changes only after
// the entry is written. A failed write before the commit point leaves files and memory as they
// were. Entries since the last checkpoint are replayed on open. A checkpoint (when the log
// passes checkpoint_bytes, and in flush()) writes their contents into the tree, bitfield and data
// files, syncs them, then writes the next header slot. flush() makes every commit durable.
//
// Not thread-safe: the storage thread only. The FileCache must outlive the storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <array>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "v11/hypercore/storage.h"
#include "v11/storage/files.h"
#include "v11/storage/oplog.h"

namespace hs::v11::storage {

struct FileStorageOptions {
    FileCache* cache = nullptr;  // REQUIRES: set; shared by all cores of a store
    // Log bytes since the last checkpoint that trigger one after a commit.
    std::size_t checkpoint_bytes = 256 * 1024;
};

class FileStorage final : public hypercore::Storage {
public:
    // Creates the core folder `dir` (and its parents) with `header`. Errc::Exists if it holds a core.
    static Result<std::unique_ptr<FileStorage>> create(const std::filesystem::path& dir,
                                                       const hypercore::CoreHeader& header,
                                                       FileStorageOptions options);
    // Opens and recovers the core in `dir`. Errc::NotFound when there is none; Errc::Corrupt
    // naming the damaged file and what to do.
    static Result<std::unique_ptr<FileStorage>> open(const std::filesystem::path& dir,
                                                     FileStorageOptions options);
    // Whether `dir` holds a core (its oplog exists).
    static bool exists(const std::filesystem::path& dir);

    ~FileStorage() override;

    const hypercore::CoreHeader& header() const override { return m_header; }
    Result<std::optional<hypercore::TreeNode>> node(std::uint64_t index) override;
    Result<std::optional<Bytes>> block(std::uint64_t index, std::uint64_t byte_offset, std::uint64_t size) override;
    Result<std::vector<hypercore::BitRange>> present() override;
    Result<void> commit(const hypercore::Batch&) override;
    Result<void> flush() override;

    // Moves the log's contents into the tree, bitfield and data files and starts a new log.
    Status checkpoint();

    std::filesystem::path dir() const { return m_dir; }
    bool has(std::uint64_t index) const noexcept;

    struct Stats {
        std::uint64_t checkpoint = 0;      // the current checkpoint number
        std::uint64_t log_bytes = 0;       // entries since it
        std::uint64_t entries = 0;         // entries since it
        std::uint64_t replayed = 0;        // entries replayed at open
        std::uint64_t discarded_bytes = 0; // oplog bytes past the last good entry at open
    };
    Stats stats() const noexcept;

private:
    FileStorage(std::filesystem::path dir, FileStorageOptions options);
    Status load();
    struct Change;
    void apply(const Change& change);
    Status write_blocks(const hypercore::Batch& batch, const std::vector<bool>& redo);
    Status write_slot(std::uint64_t checkpoint);
    Status checkpoint_files();
    std::uint64_t log_start() const noexcept { return kPrologueBytes + 2 * std::uint64_t{m_slot_bytes}; }

    // The bits, in memory: pages of 32768 blocks each (4 KiB in the file). A page holds its words
    // only up to the last one ever set (the others are zero), so that a core of a few blocks costs
    // a few words, not 4 KiB, when 10,000 cores are open.
    static constexpr std::uint64_t kPageBits = 32768;
    static constexpr std::size_t kPageWords = kPageBits / 64;
    using Page = std::vector<std::uint64_t>;  // size() <= kPageWords
    void set_bits(std::uint64_t start, std::uint64_t length, bool value);

    struct RedoRef {
        std::uint64_t byte_offset = 0;
        std::uint64_t size = 0;
        std::uint64_t oplog_offset = 0;
    };

    std::string m_dir;  // a string: a std::filesystem::path keeps its parsed components too
    FileStorageOptions m_options;
    File m_oplog;
    File m_data;
    File m_tree;
    File m_bitfield;

    hypercore::CoreHeader m_header;
    std::uint32_t m_slot_bytes = kMinSlotBytes;
    std::uint64_t m_salt = 0;
    std::uint64_t m_checkpoint = 0;
    std::uint64_t m_tail = 0;  // where the next entry goes
    std::uint64_t m_entries = 0;
    std::uint64_t m_replayed = 0;
    std::uint64_t m_discarded = 0;
    bool m_created = false;            // folder made by this object: flush syncs its folders
    std::optional<Error> m_poisoned;   // a failed write could not be undone: reopen

    // Since the last checkpoint (what the tree/bitfield/data files do not hold yet).
    std::map<std::uint64_t, hypercore::TreeNode> m_nodes;
    std::optional<std::uint64_t> m_cut;  // file nodes spanning at/past block m_cut are dropped
    std::map<std::uint64_t, RedoRef> m_redo;
    std::map<std::uint64_t, Page> m_pages;
    std::set<std::uint64_t> m_dirty_pages;  // pages to write at the next checkpoint
    std::uint64_t m_bitfield_file_pages = 0;
    std::uint64_t m_retry_checkpoint_at = 0;  // log bytes at which a failed checkpoint is retried

};

}  // namespace hs::v11::storage
