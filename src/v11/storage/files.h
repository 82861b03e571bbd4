// The files of second-generation cores on disk: positional reads and writes through descriptors
// that a shared FileCache opens on use and closes least-recently-used beyond a bound (so 10,000
// cores in one folder hold at most max_open descriptors), and a fault hook that tests use to make
// any write, truncate, sync or rename fail (ENOSPC, EIO), optionally after writing part of it.
// Not thread-safe: the storage thread only (docs/architecture.md "Threads").
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::v11::storage {

enum class IoOp { Write, Truncate, Sync, Rename };

// A failure to inject: fail with `error` (an errno value) after writing `partial_bytes` of a write.
struct Fault {
    int error = 0;
    std::size_t partial_bytes = 0;
};
// Asked before every write, truncate, sync and rename, with the file's path; nullopt: go ahead.
using FaultHook = std::function<std::optional<Fault>(const std::string& path, IoOp op)>;

class File;

// The descriptors of a store's files, and the page cache of the files that ask for it
// (File::enable_page_cache: the tree files, whose 40-byte nodes proofs and byte offsets read
// one at a time): 4 KiB pages, least-recently-used beyond a byte bound for the whole store, so
// that an idle open core costs no cache memory.
class FileCache {
public:
    static constexpr std::size_t kDefaultMaxOpen = 256;
    static constexpr std::size_t kPageBytes = 4096;
    static constexpr std::size_t kDefaultPageCacheBytes = 4 * 1024 * 1024;
    explicit FileCache(std::size_t max_open = kDefaultMaxOpen,
                       std::size_t page_cache_bytes = kDefaultPageCacheBytes);
    // REQUIRES: every File of this cache has been destroyed.
    ~FileCache();
    FileCache(const FileCache&) = delete;
    FileCache& operator=(const FileCache&) = delete;

    std::size_t max_open() const noexcept { return m_max_open; }
    std::size_t open_count() const noexcept { return m_open; }
    std::size_t peak_open() const noexcept { return m_peak; }

    struct PageStats {
        std::size_t pages = 0;        // cached now
        std::size_t max_pages = 0;    // the bound
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;     // pages read from a file
    };
    PageStats page_stats() const noexcept;

    FaultHook fault_hook;  // tests only

private:
    friend class File;
    void touch(File& f);   // f just opened or used: most recent
    void remove(File& f);  // f closed
    bool close_lru(const File* keep);

    struct PageKey {
        const File* file = nullptr;
        std::uint64_t page = 0;
        friend auto operator<=>(const PageKey&, const PageKey&) = default;
    };
    struct Page {
        PageKey key;
        std::array<std::uint8_t, kPageBytes> bytes;  // zeros past the end of the file
    };
    using PageList = std::list<Page>;  // most recent first
    // The cached page, or nullptr.
    const Page* find_page(const File& f, std::uint64_t page);
    // A page to fill for (f, page), most recent, evicting beyond the bound.
    Page& add_page(const File& f, std::uint64_t page);
    // Drops f's pages [first, last].
    void drop_pages(const File& f, std::uint64_t first, std::uint64_t last);

    std::size_t m_max_pages;
    PageList m_page_lru;
    std::map<PageKey, PageList::iterator> m_page_index;
    std::uint64_t m_page_hits = 0;
    std::uint64_t m_page_misses = 0;

    std::size_t m_max_open;
    std::size_t m_open = 0;
    std::size_t m_peak = 0;
    File* m_head = nullptr;  // most recent
    File* m_tail = nullptr;
};

// One file of a core. Its descriptor opens on first use (creating the file only for writes) and
// may be closed by the cache between uses; after the first open the path must keep naming the
// same file (a file replaced or deleted under an open core is reported, never silently re-created).
class File {
public:
    File(FileCache& cache, const std::filesystem::path& path);
    // The file `leaf` in folder `dir`, without a copy of the folder's name: a core's four files
    // share their FileStorage's. REQUIRES: `dir` and `leaf` outlive the File and do not change.
    File(FileCache& cache, const std::string& dir, const char* leaf);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    // The path (built on each call: opens, errors and fault hooks only).
    std::string name() const;
    // Whether the file exists on disk (without opening it).
    bool exists() const;

    // Reads up to out.size() bytes at offset; fewer only at the end (0 when missing).
    Result<std::size_t> read(std::uint64_t offset, MutableByteView out);
    // Reads exactly out.size() bytes at offset, zeros past the end of the file (or of a file
    // that does not exist), through the cache's pages once enable_page_cache() was called.
    Status read_zero_filled(std::uint64_t offset, MutableByteView out);
    // From now on read_zero_filled keeps the pages it reads in the cache; writes and truncates
    // through this File drop the pages they change.
    void enable_page_cache() noexcept { m_page_cached = true; }
    // Writes all of `data` at offset (creating the file): Errc::Io naming the file on failure.
    Status write(std::uint64_t offset, ByteView data);
    // Writes the parts back to back from offset (pwritev).
    Status write_parts(std::uint64_t offset, std::span<const ByteView> parts);
    Result<std::uint64_t> size();
    Status truncate(std::uint64_t size);
    // fdatasync if anything was written through this File since the last sync.
    Status sync();
    // Forgets the descriptor and identity (after the file was replaced by a rename on purpose).
    void reset();

private:
    friend class FileCache;
    Result<int> fd(bool create);
    std::optional<Fault> fault(IoOp op) const;
    // Drops the cached pages that a change of bytes [offset, offset + size) touches.
    void changed(std::uint64_t offset, std::uint64_t size);
    void drop_all_pages();

    FileCache& m_cache;
    // The path: m_path, or m_dir / m_leaf. Strings, not a std::filesystem::path (which also keeps
    // its parsed components, several hundred bytes per file): a store may hold 10,000 open cores.
    std::string m_path;
    const std::string* m_dir = nullptr;
    const char* m_leaf = nullptr;
    int m_fd = -1;
    bool m_seen = false;
    bool m_dirty = false;  // written since the last sync (the pages belong to the inode)
    // Not there at the last open for reading, and not created since: reads see an empty file
    // without asking the file system again (a core's tree and bitfield files appear only at its
    // first checkpoint).
    bool m_missing = false;
    bool m_page_cached = false;
    dev_t m_dev = 0;
    ino_t m_ino = 0;
    File* m_prev = nullptr;
    File* m_next = nullptr;
};

// Writes `data` to `path`.tmp, renames it over `path` (no fsync: see sync_dir), through the
// cache's fault hook. Errc::Io naming the file and the step.
Status replace_file(FileCache& cache, const std::filesystem::path& path, ByteView data);
// fsyncs a folder (so that files created or renamed in it survive a power loss).
Status sync_dir(FileCache& cache, const std::filesystem::path& dir);

}  // namespace hs::v11::storage
