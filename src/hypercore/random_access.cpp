#include "hypercore/random_access.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <climits>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace hs::hypercore {
namespace {

Error os_error(std::string_view what, const std::string& path, int err) {
    return make_error(err == EWOULDBLOCK ? Errc::Locked : Errc::Io, "{} {}: {}", what, path,
                      std::strerror(err));
}

class File final : public RandomAccess {
public:
    File(std::filesystem::path path, DirectoryStorageOptions options, bool lock)
        : m_path(std::move(path)), m_name(m_path.string()), m_options(options), m_lock(lock) {}
    ~File() override {
        if (m_fd >= 0) ::close(m_fd);
    }

    // Opens an existing file (no creation). Missing is not an error: reads see an empty file.
    Status open_existing() {
        if (m_fd >= 0) return {};
        const int flags = (m_options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        int fd = ::open(m_name.c_str(), flags);
        if (fd < 0) {
            if (errno == ENOENT) return {};
            return os_error("cannot open", m_name, errno);
        }
        return adopt(fd);
    }

    Result<std::size_t> read(std::uint64_t offset, MutableByteView out) override {
        HS_TRY(open_existing());
        if (m_fd < 0) return std::size_t{0};
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t n = ::pread(m_fd, out.data() + done, out.size() - done,
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
        HS_TRY(create());
        std::size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::pwrite(m_fd, data.data() + done, data.size() - done,
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
        HS_TRY(create());
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
                ssize_t n = ::pwritev(m_fd, iov.data(), static_cast<int>(iov.size()),
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
        HS_TRY(open_existing());
        if (m_fd < 0) return std::uint64_t{0};
        struct stat st;
        if (::fstat(m_fd, &st) != 0) return os_error("cannot stat", m_name, errno);
        return static_cast<std::uint64_t>(st.st_size);
    }

    Status truncate(std::uint64_t size) override {
        if (m_options.read_only) return make_error(Errc::NotWritable, "{} is opened read-only", m_name);
        HS_TRY(create());
        if (::ftruncate(m_fd, static_cast<off_t>(size)) != 0)
            return os_error("cannot truncate", m_name, errno);
        return {};
    }

    Status sync() override {
        if (m_fd < 0 || m_options.read_only) return {};
        if (::fdatasync(m_fd) != 0) return os_error("cannot sync", m_name, errno);
        return {};
    }

    const std::string& name() const override { return m_name; }

    Status create() {
        if (m_fd >= 0) return {};
        std::error_code ec;
        std::filesystem::create_directories(m_path.parent_path(), ec);
        if (ec) return make_error(Errc::Io, "cannot create folder {}: {}", m_path.parent_path().string(), ec.message());
        int fd = ::open(m_name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return os_error("cannot create", m_name, errno);
        return adopt(fd);
    }

private:
    Status adopt(int fd) {
        if (m_lock && !m_options.read_only && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::close(fd);
            if (err == EWOULDBLOCK)
                return make_error(Errc::Locked,
                                  "{} is locked by another process (a running hyperspace daemon?); "
                                  "stop it or use its RPC instead",
                                  m_name);
            return os_error("cannot lock", m_name, err);
        }
        m_fd = fd;
        return {};
    }

    std::filesystem::path m_path;
    std::string m_name;
    DirectoryStorageOptions m_options;
    bool m_lock;
    int m_fd = -1;
};

class DirectoryProvider final : public StorageProvider {
public:
    DirectoryProvider(std::filesystem::path dir, DirectoryStorageOptions options)
        : m_dir(std::move(dir)), m_options(options) {}

    Result<std::unique_ptr<RandomAccess>> open(std::string_view file) override {
        const bool lock = m_options.lock_bitfield && file == "bitfield";
        auto f = std::make_unique<File>(m_dir / std::string(file), m_options, lock);
        // The bitfield is opened eagerly so that its lock is taken when the core opens.
        if (lock && !m_options.read_only) HS_TRY(f->create());
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
