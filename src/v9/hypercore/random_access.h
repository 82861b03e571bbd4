// Random-access byte storage for the files of one core (SLEEP files), on disk or in memory.
// Not thread-safe: one owner thread at a time (docs/architecture.md "Threads"). Files on disk
// share a FileHandleCache that bounds their open descriptors (hypercore/file_cache.h).
#pragma once

#include <filesystem>
#include <map>
#include <span>
#include <memory>
#include <string>
#include <string_view>

#include "v9/hypercore/file_cache.h"
#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::hypercore {

class RandomAccess {
public:
    virtual ~RandomAccess() = default;
    // Reads up to out.size() bytes at `offset`; returns how many were read (fewer only at the end
    // of the file; 0 for a file that does not exist yet).
    virtual Result<std::size_t> read(std::uint64_t offset, MutableByteView out) = 0;
    // Writes all of `data` at `offset`, creating the file (and its folders) on first write.
    virtual Status write(std::uint64_t offset, ByteView data) = 0;
    // Writes the parts back to back starting at `offset` (one pwritev for files, no copy).
    virtual Status write_parts(std::uint64_t offset, std::span<const ByteView> parts) {
        for (auto part : parts) {
            HS_TRY(write(offset, part));
            offset += part.size();
        }
        return {};
    }
    virtual Result<std::uint64_t> size() = 0;
    virtual Status truncate(std::uint64_t size) = 0;
    virtual Status sync() = 0;
    // A path or "memory:<file>", for error messages.
    virtual const std::string& name() const = 0;
};

// Creates the RandomAccess for each file of one core ("key", "secret_key", "tree", "data",
// "bitfield", "signatures", "name").
class StorageProvider {
public:
    virtual ~StorageProvider() = default;
    virtual Result<std::unique_ptr<RandomAccess>> open(std::string_view file) = 0;
    // Deletes every file of the core (and its folder, for directory storage).
    virtual Status destroy() = 0;
    // The folder, or "memory", for messages.
    virtual std::string describe() const = 0;
    virtual bool read_only() const noexcept = 0;
};

struct DirectoryStorageOptions {
    bool read_only = false;  // open files O_RDONLY and never create or write anything
    // Take flock(LOCK_EX|LOCK_NB) on the bitfield file when it is opened, as hypercore 9 does
    // (docs/behaviour/storage.md "Locks"), so a JS daemon and ours never write one core at once.
    // The lock lives as long as the bitfield's descriptor, so that one is pinned: never closed by
    // the file cache while the core is open (docs/file-handles.md).
    bool lock_bitfield = true;
    // Bounds the descriptors of every other file; null: FileHandleCache::process_default().
    std::shared_ptr<FileHandleCache> file_cache;
};

std::unique_ptr<StorageProvider> directory_storage(std::filesystem::path dir,
                                                   DirectoryStorageOptions options = {});

// In-memory files that outlive the provider's feeds: reopening a core of the same
// MemoryStorage finds its bytes again (the daemon's --memory-only keeps data until exit).
class MemoryStorage {
public:
    std::unique_ptr<StorageProvider> provider(const std::string& core_id);
    bool contains(const std::string& core_id) const { return m_cores.count(core_id) > 0; }

    struct File;
    using Core = std::map<std::string, std::shared_ptr<File>, std::less<>>;

private:
    std::map<std::string, std::shared_ptr<Core>> m_cores;
};

}  // namespace hs::hypercore
