#include "v9/hypercore/random_access.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <climits>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace hs::hypercore {
namespace {

Error os_error(std::string_view what, const std::string& path, int err) {
    return make_error(err == EWOULDBLOCK ? Errc::Locked : Errc::Io, "{} {}: {}", what, path,
                      std::strerror(err));
}

// A file of a core on disk. Its descriptor comes from the FileHandleCache: opened on first use,
// possibly closed by the cache between uses, opened again on the next one. The locked bitfield
// is pinned instead: its flock lives as long as its descriptor (docs/file-handles.md).
class File final : public RandomAccess {
public:
    File(std::filesystem::path path, DirectoryStorageOptions options,
         std::shared_ptr<FileHandleCache> cache, bool lock)
        : m_path(std::move(path)), m_name(m_path.string()), m_options(std::move(options)),
          m_cache(std::move(cache)) {
        m_entry.pinned = lock && !m_options.read_only;
        m_options.file_cache.reset();  // m_cache holds it
    }
    ~File() override { m_cache->forget(m_entry); }

    // Opens (creating it and its folders) now: the locked bitfield takes its lock at open.
    Status open_now() {
        HS_ASSIGN_OR_RETURN(auto use, acquire(true));
        return {};
    }

    Result<std::size_t> read(std::uint64_t offset, MutableByteView out) override {
        HS_ASSIGN_OR_RETURN(auto use, acquire(false));
        if (use.fd < 0) return std::size_t{0};  // missing: reads see an empty file
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t n = ::pread(use.fd, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return os_error("cannot read", m_name, errno);
            }
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        return done;
    }

    Status write(std::uint64_t offset, ByteView data) override {
        if (m_options.read_only) return make_error(Errc::NotWritable, "{} is opened read-only", m_name);
        HS_ASSIGN_OR_RETURN(auto use, acquire(true));
        m_entry.written = true;
        std::size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::pwrite(use.fd, data.data() + done, data.size() - done,
                                 static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return os_error("cannot write", m_name, errno);
            }
            done += static_cast<std::size_t>(n);
        }
        return {};
    }

    Status write_parts(std::uint64_t offset, std::span<const ByteView> parts) override {
        if (m_options.read_only) return make_error(Errc::NotWritable, "{} is opened read-only", m_name);
        HS_ASSIGN_OR_RETURN(auto use, acquire(true));
        m_entry.written = true;
        std::vector<iovec> iov;
        iov.reserve(std::min<std::size_t>(parts.size(), IOV_MAX));
        std::size_t i = 0;
        while (i < parts.size()) {
            iov.clear();
            std::size_t batch_bytes = 0;
            for (; i < parts.size() && iov.size() < IOV_MAX; ++i) {
                if (parts[i].empty()) continue;
                iov.push_back({const_cast<std::uint8_t*>(parts[i].data()), parts[i].size()});
                batch_bytes += parts[i].size();
            }
            // pwritev may write less than asked: finish the rest part by part.
            std::size_t done = 0;
            while (done < batch_bytes) {
                ssize_t n = ::pwritev(use.fd, iov.data(), static_cast<int>(iov.size()),
                                      static_cast<off_t>(offset + done));
                if (n < 0) {
                    if (errno == EINTR) continue;
                    return os_error("cannot write", m_name, errno);
                }
                done += static_cast<std::size_t>(n);
                // Drop the fully written iovecs and trim a partly written one.
                std::size_t left = static_cast<std::size_t>(n);
                std::size_t k = 0;
                while (k < iov.size() && left >= iov[k].iov_len) left -= iov[k++].iov_len;
                iov.erase(iov.begin(), iov.begin() + static_cast<std::ptrdiff_t>(k));
                if (left && !iov.empty()) {
                    iov[0].iov_base = static_cast<std::uint8_t*>(iov[0].iov_base) + left;
                    iov[0].iov_len -= left;
                }
            }
            offset += batch_bytes;
        }
        return {};
    }

    Result<std::uint64_t> size() override {
        HS_ASSIGN_OR_RETURN(auto use, acquire(false));
        if (use.fd < 0) return std::uint64_t{0};
        struct stat st;
        if (::fstat(use.fd, &st) != 0) return os_error("cannot stat", m_name, errno);
        return static_cast<std::uint64_t>(st.st_size);
    }

    Status truncate(std::uint64_t size) override {
        if (m_options.read_only) return make_error(Errc::NotWritable, "{} is opened read-only", m_name);
        HS_ASSIGN_OR_RETURN(auto use, acquire(true));
        m_entry.written = true;
        if (::ftruncate(use.fd, static_cast<off_t>(size)) != 0)
            return os_error("cannot truncate", m_name, errno);
        return {};
    }

    // Flushes what was written through this file, also when the cache closed its descriptor
    // since: the dirty pages belong to the inode, so fdatasync on a reopened descriptor writes
    // them out (and reports a writeback error no one has seen yet).
    Status sync() override {
        if (m_options.read_only) return {};
        Use use(*this);
        const int close_error = std::exchange(m_entry.close_error, 0);
        if (use.fd >= 0 || m_entry.written) {
            if (use.fd < 0) HS_TRY(open_into(use, false));
            if (use.fd >= 0) {
                if (::fdatasync(use.fd) != 0) return os_error("cannot sync", m_name, errno);
                m_entry.written = false;
            }
        }
        if (close_error)
            return make_error(Errc::Io,
                              "cannot sync {}: closing it earlier failed ({}); what was written "
                              "may not be on disk",
                              m_name, std::strerror(close_error));
        return {};
    }

    const std::string& name() const override { return m_name; }

private:
    // One use of the descriptor: the cache does not close it while this lives.
    struct Use {
        explicit Use(File& f) : file(&f), fd(f.m_cache->begin_use(f.m_entry)) {}
        Use(Use&& other) noexcept : file(std::exchange(other.file, nullptr)), fd(other.fd) {}
        Use& operator=(Use&&) = delete;
        ~Use() {
            if (file) file->m_cache->end_use(file->m_entry);
        }
        File* file;
        int fd;
    };

    // A use with the descriptor open; fd -1 only when the file does not exist and !create.
    Result<Use> acquire(bool create) {
        Use use(*this);
        if (use.fd < 0) HS_TRY(open_into(use, create));
        return use;
    }

    Status open_into(Use& use, bool create) {
        HS_ASSIGN_OR_RETURN(const int fd, open_fd(create));
        if (fd < 0) return {};
        m_cache->adopt(m_entry, fd);
        use.fd = fd;
        return {};
    }

    // Opens the file (-1: missing and !create). After the first open it must stay the same file:
    // a core's file deleted or replaced while the core is open is an error, not a fresh file.
    Result<int> open_fd(bool create) {
        if (m_entry.pinned) HS_TRY(m_cache->reserve_pinned(m_name));
        const bool may_create = create && !m_seen;
        if (may_create) {
            std::error_code ec;
            std::filesystem::create_directories(m_path.parent_path(), ec);
            if (ec)
                return make_error(Errc::Io, "cannot create folder {}: {}",
                                  m_path.parent_path().string(), ec.message());
        }
        const int flags =
            (m_options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (may_create ? O_CREAT : 0);
        int fd;
        for (;;) {
            fd = ::open(m_name.c_str(), flags, 0644);
            if (fd >= 0) break;
            const int err = errno;
            if (err == EINTR) continue;
            if ((err == EMFILE || err == ENFILE) && m_cache->shed_one()) continue;
            if (err == ENOENT && m_seen)
                return make_error(Errc::Io,
                                  "{} was deleted while its core was open; close the core (or "
                                  "restart the daemon) before changing its folder",
                                  m_name);
            if (err == ENOENT && !create) return -1;
            if (err == EMFILE || err == ENFILE) return too_many_open_files(err);
            return os_error(may_create ? "cannot create" : "cannot open", m_name, err);
        }
        struct stat st;
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            return os_error("cannot stat", m_name, err);
        }
        if (m_seen && (st.st_dev != m_dev || st.st_ino != m_ino)) {
            ::close(fd);
            return make_error(Errc::Io,
                              "{} was replaced by another file while its core was open; close "
                              "the core (or restart the daemon) before changing its folder",
                              m_name);
        }
        if (m_entry.pinned && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::close(fd);
            if (err == EWOULDBLOCK)
                return make_error(Errc::Locked,
                                  "{} is locked by another process (a running hyperspace daemon?); "
                                  "stop it or use its RPC instead",
                                  m_name);
            return os_error("cannot lock", m_name, err);
        }
        m_dev = st.st_dev;
        m_ino = st.st_ino;
        m_seen = true;
        return fd;
    }

    // What ran out, and what to do. (Counting /proc/self/fd would need a descriptor too.)
    Error too_many_open_files(int err) const {
        struct rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        return make_error(Errc::Io,
                          "cannot open {}: {} (limit {}, ulimit -n); at most {} core files stay "
                          "open plus the bitfield of each open core ({} now): close cores, lower "
                          "--max-open-files or raise ulimit -n",
                          m_name, std::strerror(err), static_cast<unsigned long long>(rl.rlim_cur),
                          m_cache->max_open(), m_cache->stats().pinned);
    }

    std::filesystem::path m_path;
    std::string m_name;
    DirectoryStorageOptions m_options;
    std::shared_ptr<FileHandleCache> m_cache;
    FileHandleCache::Entry m_entry;
    bool m_seen = false;  // opened once: m_dev/m_ino name the file
    dev_t m_dev = 0;
    ino_t m_ino = 0;
};

class DirectoryProvider final : public StorageProvider {
public:
    DirectoryProvider(std::filesystem::path dir, DirectoryStorageOptions options)
        : m_dir(std::move(dir)), m_options(std::move(options)) {
        if (!m_options.file_cache) m_options.file_cache = FileHandleCache::process_default();
    }

    Result<std::unique_ptr<RandomAccess>> open(std::string_view file) override {
        const bool lock = m_options.lock_bitfield && file == "bitfield";
        auto f = std::make_unique<File>(m_dir / std::string(file), m_options, m_options.file_cache, lock);
        // The bitfield is opened eagerly so that its lock is taken when the core opens.
        if (lock && !m_options.read_only) HS_TRY(f->open_now());
        return std::unique_ptr<RandomAccess>(std::move(f));
    }

    Status destroy() override {
        if (m_options.read_only) return make_error(Errc::NotWritable, "{} is opened read-only", m_dir.string());
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
        if (ec) return make_error(Errc::Io, "cannot remove {}: {}", m_dir.string(), ec.message());
        // Remove the now-empty <dk[0:2]>/<dk[2:4]> parents, as far as they are empty.
        auto parent = m_dir.parent_path();
        for (int i = 0; i < 2 && !parent.empty(); ++i) {
            if (!std::filesystem::is_empty(parent, ec) || ec) break;
            std::filesystem::remove(parent, ec);
            parent = parent.parent_path();
        }
        return {};
    }

    std::string describe() const override { return m_dir.string(); }
    bool read_only() const noexcept override { return m_options.read_only; }

private:
    std::filesystem::path m_dir;
    DirectoryStorageOptions m_options;
};

}  // namespace

struct MemoryStorage::File {
    Bytes bytes;
};

namespace {

class MemoryFile final : public RandomAccess {
public:
    MemoryFile(std::shared_ptr<MemoryStorage::File> file, std::string name)
        : m_file(std::move(file)), m_name(std::move(name)) {}

    Result<std::size_t> read(std::uint64_t offset, MutableByteView out) override {
        const auto& b = m_file->bytes;
        if (offset >= b.size()) return std::size_t{0};
        const std::size_t n = std::min<std::uint64_t>(out.size(), b.size() - offset);
        std::memcpy(out.data(), b.data() + offset, n);
        return n;
    }
    Status write(std::uint64_t offset, ByteView data) override {
        auto& b = m_file->bytes;
        if (offset + data.size() > b.size()) b.resize(offset + data.size());
        if (!data.empty()) std::memcpy(b.data() + offset, data.data(), data.size());
        return {};
    }
    Result<std::uint64_t> size() override { return std::uint64_t{m_file->bytes.size()}; }
    Status truncate(std::uint64_t size) override {
        m_file->bytes.resize(size);
        return {};
    }
    Status sync() override { return {}; }
    const std::string& name() const override { return m_name; }

private:
    std::shared_ptr<MemoryStorage::File> m_file;
    std::string m_name;
};

class MemoryProvider final : public StorageProvider {
public:
    MemoryProvider(std::shared_ptr<MemoryStorage::Core> core, std::string id)
        : m_core(std::move(core)), m_id(std::move(id)) {}
    Result<std::unique_ptr<RandomAccess>> open(std::string_view file) override {
        auto it = m_core->find(file);
        if (it == m_core->end())
            it = m_core->emplace(std::string(file), std::make_shared<MemoryStorage::File>()).first;
        return std::unique_ptr<RandomAccess>(
            std::make_unique<MemoryFile>(it->second, "memory:" + m_id + "/" + std::string(file)));
    }
    Status destroy() override {
        m_core->clear();
        return {};
    }
    std::string describe() const override { return "memory:" + m_id; }
    bool read_only() const noexcept override { return false; }

private:
    std::shared_ptr<MemoryStorage::Core> m_core;
    std::string m_id;
};

}  // namespace

std::unique_ptr<StorageProvider> directory_storage(std::filesystem::path dir,
                                                   DirectoryStorageOptions options) {
    return std::make_unique<DirectoryProvider>(std::move(dir), options);
}

std::unique_ptr<StorageProvider> MemoryStorage::provider(const std::string& core_id) {
    auto& core = m_cores[core_id];
    if (!core) core = std::make_shared<Core>();
    return std::make_unique<MemoryProvider>(core, core_id);
}

}  // namespace hs::hypercore
