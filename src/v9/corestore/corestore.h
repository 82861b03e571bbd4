// Corestore 5: many hypercores in one storage folder (or in memory), derived from one master key
// (docs/formats/sleep.md "Folder", docs/behaviour/storage.md). Cores open lazily; cores no handle
// references stay open in an LRU of `cache_size` entries and are closed beyond it. Not
// thread-safe: one owner thread (in the daemon, its one thread: docs/architecture.md "Threads").
// Handles must not outlive their Corestore.
#pragma once

#include <cstring>
#include <filesystem>
#include <list>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/util/folder_lock.h"
#include "common/crypto/sign.h"
#include "v9/hypercore/feed.h"

namespace hs::corestore {

struct CorestoreOptions {
    // Open without taking the folder lock and without writing anything: for inspecting a folder a
    // running daemon holds. Cores that do not exist are not created.
    bool read_only = false;
    std::size_t cache_size = 1000;  // unreferenced cores kept open
    // Descriptors the files of open cores may hold at once, besides one pinned descriptor per
    // open core (its locked bitfield; docs/file-handles.md). 0: share the process-wide cache
    // (hypercore::FileHandleCache::process_default()); otherwise this store gets its own.
    std::size_t max_open_files = 0;
    // A cache to share with other stores; overrides max_open_files.
    std::shared_ptr<hypercore::FileHandleCache> file_cache;
};

struct CoreInfo {
    crypto::PublicKey key{};
    crypto::Hash32 discovery_key{};
    std::optional<Bytes> name;  // the stored derivation name, if any
    bool writable = false;      // the secret key can be derived or read
    std::filesystem::path dir;  // empty in memory
};

class Corestore;

namespace detail {
struct Entry {
    crypto::Hash32 discovery_key{};
    std::unique_ptr<hypercore::Feed> feed;
    std::size_t refs = 0;
    std::list<crypto::Hash32>::iterator lru;  // valid while refs == 0
    bool in_lru = false;
};
}  // namespace detail

// A counted reference to an open core; the core stays open while any handle to it lives.
class CoreHandle {
public:
    CoreHandle() = default;
    CoreHandle(const CoreHandle& other);
    CoreHandle(CoreHandle&& other) noexcept;
    CoreHandle& operator=(CoreHandle other) noexcept;
    ~CoreHandle();

    hypercore::Feed* operator->() const { return m_entry->feed.get(); }
    hypercore::Feed& operator*() const { return *m_entry->feed; }
    hypercore::Feed* get() const { return m_entry ? m_entry->feed.get() : nullptr; }
    explicit operator bool() const { return m_entry != nullptr; }

private:
    friend class Corestore;
    CoreHandle(Corestore* store, std::shared_ptr<detail::Entry> entry);
    Corestore* m_store = nullptr;
    std::shared_ptr<detail::Entry> m_entry;
};

class Corestore {
public:
    // Opens (creating if needed, unless read_only) a storage folder.
    static Result<std::unique_ptr<Corestore>> open(const std::filesystem::path& dir,
                                                   CorestoreOptions options = {});
    // A store whose cores live in memory until it is destroyed; fresh random master key.
    static Result<std::unique_ptr<Corestore>> open_memory(CorestoreOptions options = {});
    ~Corestore();

    const ByteArray<32>& master_key() const noexcept { return m_master_key; }
    bool in_memory() const noexcept { return m_memory != nullptr; }
    bool read_only() const noexcept { return m_options.read_only; }
    const std::filesystem::path& path() const noexcept { return m_dir; }

    // A writable core derived from `name` (raw bytes; UTF-8 for text), created if missing.
    Result<CoreHandle> get_by_name(ByteView name);
    // A new writable core with a random 32-byte name.
    Result<CoreHandle> create();
    // The core with this key: writable if this store derived it. Created (empty) if missing
    // unless `create_if_missing` is false or the store is read-only (then Errc::NotFound).
    Result<CoreHandle> get_by_key(const crypto::PublicKey& key, bool create_if_missing = true);
    // A core already stored under this discovery key (a peer asking for it); Errc::NotFound if
    // none.
    Result<CoreHandle> get_by_discovery_key(const crypto::Hash32& discovery_key);

    // Every core stored (reads key and name files only; opens nothing).
    Result<std::vector<CoreInfo>> list();
    // Deletes a core's files. Errc::Exists if a handle still references it.
    Status remove(const crypto::PublicKey& key);

    std::size_t open_count() const noexcept { return m_entries.size(); }
    // The cache the files of this store's cores use (null in memory).
    const std::shared_ptr<hypercore::FileHandleCache>& file_cache() const noexcept { return m_file_cache; }
    std::size_t cached_unreferenced() const noexcept { return m_lru.size(); }

private:
    friend class CoreHandle;
    Corestore() = default;
    void ref(detail::Entry& e);
    void unref(detail::Entry& e);
    void trim();
    Result<CoreHandle> open_core(const crypto::Hash32& dk, hypercore::FeedOptions options,
                                 std::optional<Bytes> name);
    Result<std::unique_ptr<hypercore::Feed>> load_feed(const crypto::Hash32& dk,
                                                       const hypercore::FeedOptions& options,
                                                       const std::optional<Bytes>& name);
    std::unique_ptr<hypercore::StorageProvider> provider(const crypto::Hash32& dk);
    Result<std::optional<Bytes>> read_name(const crypto::Hash32& dk);

    CorestoreOptions m_options;
    std::filesystem::path m_dir;
    std::optional<FolderLock> m_lock;
    std::shared_ptr<hypercore::FileHandleCache> m_file_cache;
    std::unique_ptr<hypercore::MemoryStorage> m_memory;
    ByteArray<32> m_master_key{};
    struct HashHasher {
        std::size_t operator()(const crypto::Hash32& h) const noexcept {
            std::size_t v;
            std::memcpy(&v, h.data(), sizeof v);
            return v;
        }
    };
    std::unordered_map<crypto::Hash32, std::shared_ptr<detail::Entry>, HashHasher> m_entries;
    std::list<crypto::Hash32> m_lru;  // front = most recently released
    // Memory mode: what each stored core is (list() cannot scan a folder).
    std::unordered_map<crypto::Hash32, CoreInfo, HashHasher> m_memory_index;
};

}  // namespace hs::corestore
