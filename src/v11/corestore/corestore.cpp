#include "v11/corestore/corestore.h"


#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "common/util/fs.h"
#include "common/util/hex.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/tree.h"

namespace hs::v11::corestore {
namespace fs = std::filesystem;
using hypercore::CoreHeader;

// ---- Keys ---------------------------------------------------------------------------------------

const Hash& ns_corestore() {
    static const Hash ns = [] {
        const auto name = crypto::blake2b_256(as_bytes("corestore"));
        crypto::Blake2b h;
        h.update(name).update(std::uint8_t{0});
        return h.final32();
    }();
    return ns;
}

Hash default_namespace() { return Hash{}; }

Hash child_namespace(const Hash& parent, ByteView name) {
    crypto::Blake2b h;
    h.update(parent).update(name);
    return h.final32();
}

KeyPair name_key_pair(const Hash& primary_key, const Hash& ns, ByteView name) {
    crypto::Blake2b h(32, primary_key);
    h.update(ns_corestore()).update(ns).update(name);
    const auto seed = h.final32();
    const auto kp = crypto::keypair_from_seed(seed);
    return KeyPair{kp.public_key, kp.secret_key};
}

// ---- Handles ------------------------------------------------------------------------------------

namespace {
// The Core of an open entry uses the entry's FileStorage without owning it (the store closes
// both together, the core first).
class StorageRef final : public hypercore::Storage {
public:
    explicit StorageRef(hypercore::Storage& s) : m_s(s) {}
    const CoreHeader& header() const override { return m_s.header(); }
    Result<std::optional<hypercore::TreeNode>> node(std::uint64_t index) override { return m_s.node(index); }
    Result<std::optional<Bytes>> block(std::uint64_t index, std::uint64_t offset, std::uint64_t size) override {
        return m_s.block(index, offset, size);
    }
    Result<std::vector<hypercore::BitRange>> present() override { return m_s.present(); }
    Result<void> commit(const hypercore::Batch& b) override { return m_s.commit(b); }
    Result<void> flush() override { return m_s.flush(); }

private:
    hypercore::Storage& m_s;
};
}  // namespace

CoreHandle::~CoreHandle() {
    if (m_store) m_store->release(m_id);
}

storage::FileStorage& CoreHandle::storage() const { return *m_store->m_open.at(m_id).storage; }
Result<hypercore::Core*> CoreHandle::core() const {
    auto& e = m_store->m_open.at(m_id);
    if (!e.core) {
        auto core = hypercore::Core::open(std::make_unique<StorageRef>(*e.storage));
        if (!core)
            return make_error(core.error().code, "{}: {}", m_store->core_dir(m_id).string(), core.error().message);
        e.core = std::move(core).value();
    }
    return e.core.get();
}

const Hash& CoreHandle::key() const { return storage().header().key; }

// ---- Store --------------------------------------------------------------------------------------

Corestore::Corestore(fs::path root, CorestoreOptions options, FolderLock lock)
    : m_root(std::move(root)), m_options(options), m_lock(std::move(lock)), m_cache(options.max_open_files) {}

Corestore::~Corestore() {
    for (const auto& [id, e] : m_open) HS_ASSERT(e.users == 0);
    m_open.clear();
}

Result<std::unique_ptr<Corestore>> Corestore::open(const fs::path& root, CorestoreOptions options) {
    const fs::path dir = root / "v11";
    std::error_code ec;
    fs::create_directories(dir / "cores", ec);
    if (ec) return make_error(Errc::Io, "cannot create storage folder {}: {}", dir.string(), ec.message());
    HS_ASSIGN_OR_RETURN(auto lock, FolderLock::acquire(dir));
    std::unique_ptr<Corestore> store(new Corestore(dir, options, std::move(lock)));

    const fs::path key_file = dir / "primary-key";
    std::ifstream in(key_file, std::ios::binary);
    if (in) {
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.size() != 32)
            return make_error(Errc::Corrupt,
                              "{} holds {} bytes, not a 32-byte primary key; restore it from a backup (the "
                              "writer keys of every named core derive from it)",
                              key_file.string(), bytes.size());
        std::memcpy(store->m_primary_key.data(), bytes.data(), 32);
        if (options.primary_key && *options.primary_key != store->m_primary_key)
            return make_error(Errc::InvalidArgument, "{} holds another primary key than the one given",
                              key_file.string());
    } else {
        if (options.primary_key)
            store->m_primary_key = *options.primary_key;
        else
            crypto::random_bytes(store->m_primary_key);
        HS_TRY(write_file_atomic(key_file, ByteView(store->m_primary_key)));
    }
    return store;
}

KeyPair Corestore::key_pair(ByteView name, const Hash& ns) const { return name_key_pair(m_primary_key, ns, name); }

fs::path Corestore::core_dir(const Hash& dk) const {
    const std::string hex = to_hex(dk);
    return m_root / "cores" / hex.substr(0, 2) / hex;
}

Result<CoreHandle> Corestore::open_by_name(ByteView name, const Hash& ns) {
    const auto kp = key_pair(name, ns);
    CoreHeader fresh;
    fresh.manifest = hypercore::default_manifest(kp.public_key);
    fresh.key = hypercore::core_key(*fresh.manifest);
    fresh.key_pair = kp;
    return open_core(hypercore::discovery_key(fresh.key), fresh);
}

Result<CoreHandle> Corestore::open_by_key(const Hash& key) {
    CoreHeader fresh;
    fresh.key = key;
    return open_core(hypercore::discovery_key(key), fresh);
}

Result<CoreHandle> Corestore::open_core(const Hash& dk, const CoreHeader& fresh) {
    auto it = m_open.find(dk);
    if (it == m_open.end()) {
        storage::FileStorageOptions o;
        o.cache = &m_cache;
        o.checkpoint_bytes = m_options.checkpoint_bytes;
        const auto dir = core_dir(dk);
        // A new core's head is the empty tree's (its tree hash is that of no roots), as Core
        // creates it.
        CoreHeader initial = fresh;
        initial.head.root_hash = hypercore::tree_hash({});
        auto s = storage::FileStorage::exists(dir) ? storage::FileStorage::open(dir, o)
                                                   : storage::FileStorage::create(dir, initial, o);
        if (!s) return std::move(s).error();
        if ((*s)->header().key != fresh.key)
            return make_error(Errc::Corrupt,
                              "{} holds core {}, not {} as its folder name says; move the folder away",
                              dir.string(), to_hex((*s)->header().key), to_hex(fresh.key));
        it = m_open.emplace(dk, Entry{std::move(s).value(), nullptr, 0, {}}).first;
    } else if (it->second.users == 0) {
        m_idle.erase(it->second.idle);
    }
    auto& st = *it->second.storage;
    // A writer opening a core first stored as a reader gains its manifest and key pair.
    const bool gains_key_pair = fresh.key_pair && !st.header().key_pair;
    if (gains_key_pair && it->second.users > 0) {
        return make_error(Errc::Locked,
                          "core {} is open as a reader by another user; close it before opening it by name",
                          to_hex(fresh.key));
    }
    if (gains_key_pair) {
        hypercore::Batch b;
        b.header = st.header();
        b.header->key_pair = fresh.key_pair;
        if (!b.header->manifest) b.header->manifest = fresh.manifest;
        if (auto c = st.commit(b); !c) {
            if (it->second.users == 0) {
                m_idle.push_front(dk);
                it->second.idle = m_idle.begin();
            }
            return std::move(c).error();
        }
        it->second.core.reset();  // reopened with the key pair on next use
    }
    ++it->second.users;
    CoreHandle h(this, dk);
    trim();
    return h;
}

void Corestore::release(const Hash& id) {
    auto it = m_open.find(id);
    HS_ASSERT(it != m_open.end() && it->second.users > 0);
    if (--it->second.users == 0) {
        m_idle.push_front(id);
        it->second.idle = m_idle.begin();
        trim();
    }
}

void Corestore::trim() {
    // Closing needs no flush: every commit is already crash-safe; flush() (syncfs) covers them.
    while (m_open.size() > m_options.max_open_cores && !m_idle.empty()) {
        m_open.erase(m_idle.back());
        m_idle.pop_back();
    }
}

Status Corestore::flush() {
    for (auto& [id, e] : m_open) HS_TRY(e.storage->flush());
    const int fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_error(Errc::Io, "cannot open {}: {}", m_root.string(), std::strerror(errno));
    const int rc = ::syncfs(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return make_error(Errc::Io, "cannot sync the file system of {}: {}", m_root.string(), std::strerror(err));
    return {};
}

namespace {

bool lower_hex(const std::string& s, std::size_t len) {
    return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// Calls f(folder, dk) for every <base>/<xx>/<yy>/<xxyy...>/ folder.
template <typename F>
Status scan(const fs::path& base, F&& f) {
    std::error_code ec;
    if (!fs::exists(base, ec)) return {};
    for (const auto& a : fs::directory_iterator(base, ec)) {
        const auto an = a.path().filename().string();
        if (!lower_hex(an, 2) || !a.is_directory()) continue;
        for (const auto& b : fs::directory_iterator(a.path(), ec)) {
            const auto bn = b.path().filename().string();
            if (!lower_hex(bn, 2) || !b.is_directory()) continue;
            for (const auto& c : fs::directory_iterator(b.path(), ec)) {
                const auto cn = c.path().filename().string();
                if (!lower_hex(cn, 64) || cn.compare(0, 2, an) != 0 || cn.compare(2, 2, bn) != 0) continue;
                Hash dk;
                const auto bytes = from_hex(cn);
                std::copy(bytes->begin(), bytes->end(), dk.begin());
                HS_TRY(f(c.path(), dk));
            }
        }
    }
    if (ec) return make_error(Errc::Io, "cannot list {}: {}", base.string(), ec.message());
    return {};
}

// Calls f(folder, dk) for every <base>/<xx>/<xx...>/ folder (the second generation's layout).
template <typename F>
Status scan1(const fs::path& base, F&& f) {
    std::error_code ec;
    for (const auto& a : fs::directory_iterator(base, ec)) {
        const auto an = a.path().filename().string();
        if (!lower_hex(an, 2) || !a.is_directory()) continue;
        for (const auto& c : fs::directory_iterator(a.path(), ec)) {
            const auto cn = c.path().filename().string();
            if (!lower_hex(cn, 64) || cn.compare(0, 2, an) != 0) continue;
            Hash dk;
            const auto bytes = from_hex(cn);
            std::copy(bytes->begin(), bytes->end(), dk.begin());
            HS_TRY(f(c.path(), dk));
        }
    }
    if (ec) return make_error(Errc::Io, "cannot list {}: {}", base.string(), ec.message());
    return {};
}

}  // namespace

Status Corestore::remove(const Hash& key) {
    const Hash dk = hypercore::discovery_key(key);
    const fs::path dir = core_dir(dk);
    if (!storage::FileStorage::exists(dir))
        return make_error(Errc::NotFound, "core {} is not stored in {}", to_hex(key), m_root.string());
    if (auto it = m_open.find(dk); it != m_open.end()) {
        if (it->second.users > 0)
            return make_error(Errc::Locked, "core {} is in use; close it before removing it", to_hex(key));
        m_idle.erase(it->second.idle);
        m_open.erase(it);  // closes its files
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return make_error(Errc::Io, "cannot remove {}: {}", dir.string(), ec.message());
    return {};
}

Result<std::vector<CoreInfo>> Corestore::list() {
    std::vector<CoreInfo> out;
    HS_TRY(scan1(m_root / "cores", [&](const fs::path& dir, const Hash& dk) -> Status {
        if (!storage::FileStorage::exists(dir)) return {};
        CoreInfo info;
        info.discovery_key = dk;
        info.folder = dir;
        auto add = [&](const CoreHeader& h) {
            info.key = h.key;
            info.length = h.head.length;
            info.writable = h.key_pair.has_value();
        };
        if (auto it = m_open.find(dk); it != m_open.end()) {
            add(it->second.storage->header());
        } else {
            storage::FileStorageOptions o;
            o.cache = &m_cache;
            HS_ASSIGN_OR_RETURN(auto s, storage::FileStorage::open(dir, o));
            add(s->header());
        }
        out.push_back(std::move(info));
        return {};
    }));
    // First-generation cores beside <root>/v11 (docs/formats/sleep.md "Folder").
    HS_TRY(scan(m_root.parent_path(), [&](const fs::path& dir, const Hash& dk) -> Status {
        CoreInfo info;
        info.generation = 9;
        info.discovery_key = dk;
        info.folder = dir;
        std::ifstream in(dir / "key", std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.size() == 32) {
            Hash k;
            std::memcpy(k.data(), bytes.data(), 32);
            info.key = k;
        }
        info.writable = fs::exists(dir / "secret_key");
        out.push_back(std::move(info));
        return {};
    }));
    return out;
}

}  // namespace hs::v11::corestore
