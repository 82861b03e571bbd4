// A bound on the file descriptors the files of open cores hold, as LevelDB's max_open_files:
// each cached file opens its descriptor through the cache when it is used and may lose it to a
// least-recently-used eviction when more than max_open() are open; the next use opens it again.
// pread/pwrite are positional, so a reopened descriptor needs nothing restored.
//
// Pinned descriptors (the flock'ed bitfield of a writable core, see docs/file-handles.md) are
// never evicted and do not count against max_open(), but they do count against the process's
// RLIMIT_NOFILE: the cache keeps reserved_fds() of that limit free for everything else
// (sockets, log files), refusing a new pinned descriptor instead of eating into it.
//
// Thread-safe: one mutex guards the bookkeeping; a descriptor is never evicted while its file is
// using it (between begin_use and end_use), so files of one cache may be used from different
// threads. One file (Entry) is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/util/error.h"

namespace hs::hypercore {

class FileHandleCache {
public:
    static constexpr std::size_t kDefaultMaxOpen = 512;
    static constexpr std::size_t kMinMaxOpen = 4;

    // max_open 0: default_max_open().
    explicit FileHandleCache(std::size_t max_open = 0);
    // REQUIRES: every Entry has been forgotten.
    ~FileHandleCache();
    FileHandleCache(const FileHandleCache&) = delete;
    FileHandleCache& operator=(const FileHandleCache&) = delete;

    // kDefaultMaxOpen, or a quarter of the RLIMIT_NOFILE soft limit when that is smaller.
    static std::size_t default_max_open();
    // The cache directory storage uses when it is given none (created on first use with
    // default_max_open()).
    static const std::shared_ptr<FileHandleCache>& process_default();

    std::size_t max_open() const noexcept { return m_max_open; }
    // Descriptors kept free under RLIMIT_NOFILE: min(128, soft limit / 4).
    static std::size_t reserved_fds();

    struct Stats {
        std::uint64_t hits = 0;       // a use of a cached file found its descriptor open
        std::uint64_t misses = 0;     // a cached file had to be opened (first use or evicted)
        std::uint64_t evictions = 0;  // descriptors closed to stay within the bound
        std::size_t open = 0;         // cached descriptors open now
        std::size_t pinned = 0;       // pinned descriptors open now
        std::size_t peak_open = 0;    // most cached descriptors open at once
    };
    Stats stats() const;

    // One file's descriptor slot, owned by the file (which must keep the cache alive). Fields
    // are read and written by the owner only between begin_use and end_use, or under the lock.
    struct Entry {
        int fd = -1;
        bool pinned = false;    // never evicted; not counted against max_open
        bool written = false;   // written since its last fdatasync (set by the owner in use)
        int close_error = 0;    // errno of a failed close() at eviction, for the next sync
        std::size_t uses = 0;   // begin_use calls not yet ended
        Entry* prev = nullptr;  // LRU links: only idle open unpinned entries are listed
        Entry* next = nullptr;
        bool listed = false;
    };

    // Marks `e` in use (not evictable) and returns its descriptor, -1 when it is not open (the
    // owner then opens it and calls adopt, or ends the use).
    int begin_use(Entry& e);
    // Records the descriptor the owner opened for `e` (in use), then closes idle descriptors
    // beyond the bound.
    void adopt(Entry& e, int fd);
    void end_use(Entry& e);
    // After EMFILE/ENFILE: closes the least recently used idle descriptor; false if none is.
    bool shed_one();
    // Before opening a pinned descriptor: makes room under RLIMIT_NOFILE by closing idle cached
    // descriptors; Errc::Io (naming `what`, the limit and what to do) when pinned descriptors
    // alone would reach into the reserve.
    Status reserve_pinned(const std::string& what);
    // The owner is done with `e` for good: closes its descriptor.
    void forget(Entry& e);

private:
    void unlink(Entry& e);
    void push_front(Entry& e);
    void evict(Entry& e);
    void trim(std::size_t fd_limit);

    const std::size_t m_max_open;
    mutable std::mutex m_mutex;
    Entry* m_head = nullptr;  // most recently used idle entry
    Entry* m_tail = nullptr;  // eviction end
    Stats m_stats;
};

// The number of descriptors this process has open (from /proc/self/fd; 0 if unknown). For
// error messages and tests.
std::size_t count_open_fds();

}  // namespace hs::hypercore
