// Corestore 7 for second-generation cores: one storage folder, an exclusive lock on it, the
// primary key, names to key pairs (as JS corestore 7.12.5 derives them), cores by name (writers,
// default manifest version 1) and by key (readers), listing, and an LRU bound on open cores.
//
// Folder (docs/formats/storage-v11.md "Folder"): <root>/v11/ holds `primary-key` (32 bytes) and
// cores/<dk[0:2]>/<dk hex>/ per core; first-generation cores live at <root>/<dk[0:2]>/...
// with `master_key` beside them, so one root holds both generations without collisions.
//
// Not thread-safe: the storage thread only. Handles must not outlive the Corestore.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/util/folder_lock.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/storage.h"
#include "v11/hypercore/types.h"
#include "v11/storage/file_storage.h"

namespace hs::v11::corestore {

using hypercore::Hash;
using hypercore::KeyPair;

// corestore's namespace hash NS_corestore = H(H("corestore") || byte(0)).
const Hash& ns_corestore();
// 32 zero bytes.
Hash default_namespace();
// namespace(name) of a store whose namespace is `parent`: H(parent || name).
Hash child_namespace(const Hash& parent, ByteView name);
// The writer key pair of `name`: ed25519 from seed H_primaryKey(NS_corestore || namespace || name).
KeyPair name_key_pair(const Hash& primary_key, const Hash& ns, ByteView name);

struct CorestoreOptions {
    std::size_t max_open_cores = 256;  // idle cores beyond this are closed, least recently used first
    std::size_t max_open_files = storage::FileCache::kDefaultMaxOpen;
    std::size_t checkpoint_bytes = 256 * 1024;
    // Used when the folder has no primary key yet (tests, imports); random otherwise. A folder
    // whose primary key differs is refused.
    std::optional<Hash> primary_key;
};

struct CoreInfo {
    int generation = 11;          // 9: a first-generation (hypercore 9) core folder
    Hash discovery_key{};
    std::optional<Hash> key;      // first generation: when its key file is readable
    std::optional<std::uint64_t> length;  // second generation only
    bool writable = false;
    std::filesystem::path folder;
};

class Corestore;

// One user of an open core; the core stays open while a handle lives. Move-only.
class CoreHandle {
public:
    CoreHandle(CoreHandle&& o) noexcept : m_store(std::exchange(o.m_store, nullptr)), m_id(o.m_id) {}
    CoreHandle& operator=(CoreHandle&&) = delete;
    CoreHandle(const CoreHandle&) = delete;
    ~CoreHandle();
    // The core over storage(), opened (header, roots and signature checked) on first use; valid
    // while the handle lives. Use either the core or storage() to write, not both.
    Result<hypercore::Core*> core() const;
    storage::FileStorage& storage() const;
    const Hash& key() const;
    const Hash& discovery_key() const noexcept { return m_id; }

private:
    friend class Corestore;
    CoreHandle(Corestore* store, const Hash& id) : m_store(store), m_id(id) {}
    Corestore* m_store;
    Hash m_id;
};

class Corestore {
public:
    static Result<std::unique_ptr<Corestore>> open(const std::filesystem::path& root, CorestoreOptions options = {});
    // REQUIRES: no CoreHandle is alive.
    ~Corestore();

    const Hash& primary_key() const noexcept { return m_primary_key; }
    KeyPair key_pair(ByteView name, const Hash& ns = default_namespace()) const;

    // The writer core `name` in namespace `ns`, created on first use (default manifest v1 over
    // its key pair).
    Result<CoreHandle> open_by_name(ByteView name, const Hash& ns = default_namespace());
    // The core with `key`; a reader (no manifest yet) is created when the folder has none.
    Result<CoreHandle> open_by_key(const Hash& key);
    // Every core of both generations in the folder, by discovery key.
    Result<std::vector<CoreInfo>> list();
    // Deletes the second-generation core with `key` (NotFound if absent; Locked if it is open).
    Status remove(const Hash& key);
    // Makes everything committed in the folder durable (syncfs).
    Status flush();

    std::size_t open_cores() const noexcept { return m_open.size(); }
    storage::FileCache& file_cache() noexcept { return m_cache; }
    std::filesystem::path core_dir(const Hash& discovery_key) const;
    const std::filesystem::path& root() const noexcept { return m_root; }

private:
    friend class CoreHandle;
    struct Entry {
        std::unique_ptr<storage::FileStorage> storage;
        std::unique_ptr<hypercore::Core> core;  // over `storage` (not owning it), opened on first use
        std::size_t users = 0;
        std::list<Hash>::iterator idle;  // valid when users == 0
    };
    Corestore(std::filesystem::path root, CorestoreOptions options, FolderLock lock);
    Result<CoreHandle> open_core(const Hash& discovery_key, const hypercore::CoreHeader& fresh);
    void release(const Hash& id);
    void trim();

    std::filesystem::path m_root;
    CorestoreOptions m_options;
    FolderLock m_lock;
    Hash m_primary_key{};
    storage::FileCache m_cache;
    std::map<Hash, Entry> m_open;
    std::list<Hash> m_idle;  // most recently released first
};

}  // namespace hs::v11::corestore
