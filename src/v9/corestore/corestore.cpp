#include "v9/corestore/corestore.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "v9/corestore/layout.h"
#include "common/crypto/derive.h"
#include "common/util/fs.h"
#include "common/util/hex.h"

namespace hs::corestore {
namespace fs = std::filesystem;

// ---- CoreHandle ----

CoreHandle::CoreHandle(Corestore* store, std::shared_ptr<detail::Entry> entry)
    : m_store(store), m_entry(std::move(entry)) {
    m_store->ref(*m_entry);
}
CoreHandle::CoreHandle(const CoreHandle& other) : m_store(other.m_store), m_entry(other.m_entry) {
    if (m_entry) m_store->ref(*m_entry);
}
CoreHandle::CoreHandle(CoreHandle&& other) noexcept
    : m_store(other.m_store), m_entry(std::move(other.m_entry)) {}
CoreHandle& CoreHandle::operator=(CoreHandle other) noexcept {
    std::swap(m_store, other.m_store);
    std::swap(m_entry, other.m_entry);
    return *this;
}
CoreHandle::~CoreHandle() {
    if (m_entry) m_store->unref(*m_entry);
}

// ---- Corestore ----

namespace {

Result<Bytes> read_small_file(const fs::path& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::NotFound, "{} does not exist", path.string());
    Bytes out(max_bytes);
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(max_bytes));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
}

// Refuses a folder a JS hyperspace daemon is running on: it always holds the flock of its
// internal core's bitfield (docs/behaviour/storage.md "Locks").
Status check_internal_core_unlocked(const fs::path& dir, ByteView master_key) {
    const auto kp = crypto::corestore_keypair(master_key, as_bytes(kInternalCoreName));
    const auto bitfield = core_dir(dir, crypto::discovery_key(kp.public_key)) / "bitfield";
    int fd = ::open(bitfield.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return {};
    const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    if (!locked) return {};
    auto holder = flock_holder(bitfield);
    return make_error(Errc::Locked,
                      "storage folder {} is in use by a running hyperspace daemon{}; stop it before "
                      "writing to this folder",
                      dir.string(), holder ? " (" + *holder + ")" : "");
}

}  // namespace

Result<std::unique_ptr<Corestore>> Corestore::open(const fs::path& dir, CorestoreOptions options) {
    std::unique_ptr<Corestore> store(new Corestore());
    store->m_file_cache = options.file_cache;
    if (!store->m_file_cache)
        store->m_file_cache = options.max_open_files
                                  ? std::make_shared<hypercore::FileHandleCache>(options.max_open_files)
                                  : hypercore::FileHandleCache::process_default();
    options.file_cache.reset();  // m_file_cache holds it
    store->m_options = options;
    store->m_dir = dir;
    const fs::path master_path = dir / kMasterKeyFile;
    if (options.read_only) {
        auto mk = read_small_file(master_path, 32);
        if (!mk || mk->size() < 32)
            return make_error(Errc::NotFound,
                              "{} is not a hyperspace storage folder (no {} file); check --storage",
                              dir.string(), kMasterKeyFile);
        std::copy_n(mk->begin(), 32, store->m_master_key.begin());
        return store;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::Io, "cannot create storage folder {}: {}", dir.string(), ec.message());
    HS_ASSIGN_OR_RETURN(auto lock, FolderLock::acquire(dir));
    store->m_lock.emplace(std::move(lock));
    auto mk = read_small_file(master_path, 32);
    if (mk && mk->size() >= 32) {
        std::copy_n(mk->begin(), 32, store->m_master_key.begin());
    } else {
        crypto::random_bytes(store->m_master_key);
        HS_TRY(write_file_atomic(master_path, store->m_master_key));
    }
    HS_TRY(check_internal_core_unlocked(dir, store->m_master_key));
    return store;
}

Result<std::unique_ptr<Corestore>> Corestore::open_memory(CorestoreOptions options) {
    std::unique_ptr<Corestore> store(new Corestore());
    options.read_only = false;
    store->m_options = options;
    store->m_memory = std::make_unique<hypercore::MemoryStorage>();
    crypto::random_bytes(store->m_master_key);
    return store;
}

Corestore::~Corestore() = default;

std::unique_ptr<hypercore::StorageProvider> Corestore::provider(const crypto::Hash32& dk) {
    if (m_memory) return m_memory->provider(to_hex(dk));
    return hypercore::directory_storage(
        core_dir(m_dir, dk), hypercore::DirectoryStorageOptions{m_options.read_only, true, m_file_cache});
}

Result<std::optional<Bytes>> Corestore::read_name(const crypto::Hash32& dk) {
    if (m_memory && !m_memory->contains(to_hex(dk))) return std::optional<Bytes>{};
    auto p = provider(dk);
    HS_ASSIGN_OR_RETURN(auto file, p->open("name"));
    HS_ASSIGN_OR_RETURN(const std::uint64_t size, file->size());
    if (size == 0) return std::optional<Bytes>{};
    if (size > 1 << 20) return make_error(Errc::Corrupt, "{}: name file is {} bytes", file->name(), size);
    Bytes raw(size);
    HS_ASSIGN_OR_RETURN(const std::size_t got, file->read(0, raw));
    raw.resize(got);
    auto name = decode_name_file(raw);
    if (!name) return make_error(Errc::Corrupt, "{}: malformed name file", file->name());
    return std::optional<Bytes>(std::move(*name));
}

// Opens the feed and, for a named core, stores its name. A core this call created is deleted
// again when that fails midway (EMFILE, ENOSPC, ...): no half-created empty core stays on disk.
Result<std::unique_ptr<hypercore::Feed>> Corestore::load_feed(const crypto::Hash32& dk,
                                                              const hypercore::FeedOptions& options,
                                                              const std::optional<Bytes>& name) {
    const fs::path dir = m_memory ? fs::path() : core_dir(m_dir, dk);
    std::error_code ec;
    const bool creating = !m_memory && !m_options.read_only && !fs::exists(dir, ec) && !ec;
    auto p = provider(dk);
    auto* raw_provider = p.get();
    auto feed = hypercore::Feed::open(std::move(p), options);
    Status stored;
    if (feed && name && !m_options.read_only) {
        stored = [&]() -> Status {
            HS_ASSIGN_OR_RETURN(auto name_file, raw_provider->open("name"));
            HS_ASSIGN_OR_RETURN(const std::uint64_t size, name_file->size());
            if (size == 0) HS_TRY(name_file->write(0, encode_name_file(*name)));
            return {};
        }();
    }
    if (feed && stored) return feed;
    Error err = feed ? stored.error() : std::move(feed).error();
    if (!feed && err.code == Errc::Locked && !m_memory) {
        if (auto holder = flock_holder(dir / "bitfield")) err.message += " [held by " + *holder + "]";
    }
    if (creating) {
        if (feed) feed.value().reset();  // closes its files first
        if (auto removed = provider(dk)->destroy(); !removed)
            err.message += "; the half-created core could not be removed either: " + removed.error().message;
    }
    return err;
}

Result<CoreHandle> Corestore::open_core(const crypto::Hash32& dk, hypercore::FeedOptions options,
                                        std::optional<Bytes> name) {
    if (auto it = m_entries.find(dk); it != m_entries.end()) return CoreHandle(this, it->second);
    auto feed = load_feed(dk, options, name);
    if (!feed) return std::move(feed).error();
    if (m_memory) {
        CoreInfo info;
        info.key = (*feed)->key();
        info.discovery_key = dk;
        info.name = name;
        info.writable = (*feed)->writable();
        auto [it, inserted] = m_memory_index.emplace(dk, info);
        if (!inserted && name) it->second.name = name;
    }
    auto entry = std::make_shared<detail::Entry>();
    entry->discovery_key = dk;
    entry->feed = std::move(feed).value();
    m_entries.emplace(dk, entry);
    CoreHandle handle(this, entry);
    return handle;
}

Result<CoreHandle> Corestore::get_by_name(ByteView name) {
    if (name.empty()) return make_error(Errc::InvalidArgument, "a core name must not be empty");
    const auto kp = crypto::corestore_keypair(m_master_key, name);
    const auto dk = crypto::discovery_key(kp.public_key);
    if (m_options.read_only) {
        auto key_file = read_small_file(core_dir(m_dir, dk) / "key", 32);
        if (!key_file || key_file->size() != 32)
            return make_error(Errc::NotFound, "no core named '{}' in {}", as_string(name), m_dir.string());
    }
    hypercore::FeedOptions options;
    options.key = kp.public_key;
    options.secret_key = kp.secret_key;
    return open_core(dk, options, to_bytes(name));
}

Result<CoreHandle> Corestore::create() {
    ByteArray<32> name;
    crypto::random_bytes(name);
    return get_by_name(name);
}

Result<CoreHandle> Corestore::get_by_key(const crypto::PublicKey& key, bool create_if_missing) {
    const auto dk = crypto::discovery_key(key);
    if (auto it = m_entries.find(dk); it != m_entries.end()) return CoreHandle(this, it->second);
    bool stored = false;
    if (m_memory) {
        stored = m_memory_index.count(dk) > 0;
    } else {
        auto key_file = read_small_file(core_dir(m_dir, dk) / "key", 32);
        stored = key_file && key_file->size() == 32;
    }
    if (!stored && (!create_if_missing || m_options.read_only))
        return make_error(Errc::NotFound, "core {} is not stored in {}", to_hex(key),
                          m_memory ? std::string("memory") : m_dir.string());
    hypercore::FeedOptions options;
    options.key = key;
    HS_ASSIGN_OR_RETURN(auto name, read_name(dk));
    if (name) {
        const auto kp = crypto::corestore_keypair(m_master_key, *name);
        if (kp.public_key == key) options.secret_key = kp.secret_key;
    }
    return open_core(dk, options, std::nullopt);
}

Result<CoreHandle> Corestore::get_by_discovery_key(const crypto::Hash32& dk) {
    if (auto it = m_entries.find(dk); it != m_entries.end()) return CoreHandle(this, it->second);
    if (m_memory) {
        auto it = m_memory_index.find(dk);
        if (it == m_memory_index.end())
            return make_error(Errc::NotFound, "no core with discovery key {}", to_hex(dk));
        return get_by_key(it->second.key, false);
    }
    auto key_file = read_small_file(core_dir(m_dir, dk) / "key", 32);
    if (!key_file || key_file->size() != 32)
        return make_error(Errc::NotFound, "no core with discovery key {} in {}", to_hex(dk), m_dir.string());
    crypto::PublicKey key;
    std::copy_n(key_file->begin(), 32, key.begin());
    if (crypto::discovery_key(key) != dk)
        return make_error(Errc::Corrupt, "{}: key file does not match its folder's discovery key",
                          core_dir(m_dir, dk).string());
    return get_by_key(key, false);
}

Result<std::vector<CoreInfo>> Corestore::list() {
    std::vector<CoreInfo> out;
    if (m_memory) {
        for (const auto& [dk, info] : m_memory_index) out.push_back(info);
        std::sort(out.begin(), out.end(),
                  [](const CoreInfo& a, const CoreInfo& b) { return a.discovery_key < b.discovery_key; });
        return out;
    }
    HS_ASSIGN_OR_RETURN(auto dirs, scan_core_dirs(m_dir));
    for (const auto& dir : dirs) {
        auto key_file = read_small_file(dir / "key", 32);
        if (!key_file || key_file->size() != 32) continue;
        CoreInfo info;
        info.dir = dir;
        std::copy_n(key_file->begin(), 32, info.key.begin());
        info.discovery_key = crypto::discovery_key(info.key);
        if (to_hex(info.discovery_key) != dir.filename().string()) continue;  // not a core folder
        if (auto raw = read_small_file(dir / "name", 1 << 20); raw && !raw->empty()) {
            info.name = decode_name_file(*raw);
            if (info.name) {
                const auto kp = crypto::corestore_keypair(m_master_key, *info.name);
                info.writable = kp.public_key == info.key;
            }
        }
        if (!info.writable) {
            auto sk = read_small_file(dir / "secret_key", 64);
            info.writable = sk && sk->size() == 64 && std::equal(info.key.begin(), info.key.end(), sk->begin() + 32);
        }
        out.push_back(std::move(info));
    }
    return out;
}

Status Corestore::remove(const crypto::PublicKey& key) {
    if (m_options.read_only) return make_error(Errc::NotWritable, "storage {} is opened read-only", m_dir.string());
    const auto dk = crypto::discovery_key(key);
    if (auto it = m_entries.find(dk); it != m_entries.end()) {
        if (it->second->refs > 0)
            return make_error(Errc::Exists, "core {} is in use; close it before removing it", to_hex(key));
        if (it->second->in_lru) m_lru.erase(it->second->lru);
        m_entries.erase(it);
    }
    if (m_memory) {
        if (!m_memory_index.erase(dk)) return make_error(Errc::NotFound, "core {} is not stored in memory", to_hex(key));
        return provider(dk)->destroy();
    }
    const auto dir = core_dir(m_dir, dk);
    std::error_code ec;
    if (!fs::exists(dir / "key", ec))
        return make_error(Errc::NotFound, "core {} is not stored in {}", to_hex(key), m_dir.string());
    // Refuse while another process has the core open.
    {
        int fd = ::open((dir / "bitfield").c_str(), O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
            ::close(fd);
            if (locked)
                return make_error(Errc::Locked, "core {} is open in another process; not removed", to_hex(key));
        }
    }
    return provider(dk)->destroy();
}

void Corestore::ref(detail::Entry& e) {
    if (e.in_lru) {
        m_lru.erase(e.lru);
        e.in_lru = false;
    }
    ++e.refs;
}

void Corestore::unref(detail::Entry& e) {
    HS_ASSERT(e.refs > 0);
    if (--e.refs) return;
    m_lru.push_front(e.discovery_key);
    e.lru = m_lru.begin();
    e.in_lru = true;
    trim();
}

void Corestore::trim() {
    while (m_lru.size() > m_options.cache_size) {
        const auto dk = m_lru.back();
        m_lru.pop_back();
        m_entries.erase(dk);
    }
}

}  // namespace hs::corestore
