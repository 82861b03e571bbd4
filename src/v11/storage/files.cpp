#include "v11/storage/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <algorithm>
#include <climits>
#include <vector>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hs::v11::storage {
namespace {

Error os_error(std::string_view what, const std::string& name, int err) {
    const bool full = err == ENOSPC || err == EDQUOT;
    return make_error(Errc::Io, "cannot {} {}: {}{}", what, name, std::strerror(err),
                      full ? " (free some space, then retry: the core is as it was before)" : "");
}

}  // namespace

FileCache::FileCache(std::size_t max_open, std::size_t page_cache_bytes)
    : m_max_pages(page_cache_bytes / kPageBytes), m_max_open(max_open < 4 ? 4 : max_open) {}

FileCache::~FileCache() { HS_ASSERT(m_head == nullptr && m_open == 0 && m_page_index.empty()); }

FileCache::PageStats FileCache::page_stats() const noexcept {
    return PageStats{m_page_index.size(), m_max_pages, m_page_hits, m_page_misses};
}

const FileCache::Page* FileCache::find_page(const File& f, std::uint64_t page) {
    // Most reads are of the page read last (neighbouring nodes): that one is at the front.
    if (!m_page_lru.empty() && m_page_lru.front().key == PageKey{&f, page}) {
        ++m_page_hits;
        return &m_page_lru.front();
    }
    auto it = m_page_index.find(PageKey{&f, page});
    if (it == m_page_index.end()) return nullptr;
    ++m_page_hits;
    m_page_lru.splice(m_page_lru.begin(), m_page_lru, it->second);
    return &*it->second;
}

FileCache::Page& FileCache::add_page(const File& f, std::uint64_t page) {
    ++m_page_misses;
    const PageKey key{&f, page};
    if (m_page_index.size() >= m_max_pages && !m_page_lru.empty()) {
        // Reuse the least recent page's memory.
        auto last = std::prev(m_page_lru.end());
        m_page_index.erase(last->key);
        m_page_lru.splice(m_page_lru.begin(), m_page_lru, last);
    } else {
        m_page_lru.emplace_front();
    }
    m_page_lru.front().key = key;
    m_page_index[key] = m_page_lru.begin();
    return m_page_lru.front();
}

void FileCache::drop_pages(const File& f, std::uint64_t first, std::uint64_t last) {
    auto it = m_page_index.lower_bound(PageKey{&f, first});
    while (it != m_page_index.end() && it->first.file == &f && it->first.page <= last) {
        m_page_lru.erase(it->second);
        it = m_page_index.erase(it);
    }
}

void FileCache::touch(File& f) {
    if (m_head == &f) return;
    if (f.m_prev || f.m_next || m_tail == &f) {  // listed: unlink
        (f.m_prev ? f.m_prev->m_next : m_head) = f.m_next;
        (f.m_next ? f.m_next->m_prev : m_tail) = f.m_prev;
    } else {
        // A newly opened descriptor: make room first, so that at most max_open are ever open.
        while (m_open >= m_max_open && close_lru(&f)) {
        }
        ++m_open;
        if (m_open > m_peak) m_peak = m_open;
    }
    f.m_prev = nullptr;
    f.m_next = m_head;
    if (m_head) m_head->m_prev = &f;
    m_head = &f;
    if (!m_tail) m_tail = &f;
    while (m_open > m_max_open && close_lru(&f)) {
    }
}

void FileCache::remove(File& f) {
    (f.m_prev ? f.m_prev->m_next : m_head) = f.m_next;
    (f.m_next ? f.m_next->m_prev : m_tail) = f.m_prev;
    f.m_prev = f.m_next = nullptr;
    --m_open;
}

bool FileCache::close_lru(const File* keep) {
    File* victim = m_tail;
    if (!victim || victim == keep) return false;
    remove(*victim);
    ::close(victim->m_fd);  // written pages stay with the inode; sync() reopens to flush them
    victim->m_fd = -1;
    return true;
}

File::File(FileCache& cache, const std::filesystem::path& path) : m_cache(cache), m_path(path.string()) {}

File::File(FileCache& cache, const std::string& dir, const char* leaf) : m_cache(cache), m_dir(&dir), m_leaf(leaf) {}

std::string File::name() const {
    if (!m_dir) return m_path;
    std::string out;
    out.reserve(m_dir->size() + 1 + std::strlen(m_leaf));
    out.append(*m_dir).append("/").append(m_leaf);
    return out;
}

File::~File() { reset(); }

void File::reset() {
    if (m_fd >= 0) {
        m_cache.remove(*this);
        ::close(m_fd);
        m_fd = -1;
    }
    m_seen = false;
    m_missing = false;
    drop_all_pages();
}

void File::drop_all_pages() {
    if (m_page_cached) m_cache.drop_pages(*this, 0, ~std::uint64_t{0});
}

void File::changed(std::uint64_t offset, std::uint64_t size) {
    if (!m_page_cached || size == 0) return;
    const std::uint64_t first = offset / FileCache::kPageBytes;
    const std::uint64_t last = size == ~std::uint64_t{0} ? ~std::uint64_t{0}
                                                         : (offset + size - 1) / FileCache::kPageBytes;
    m_cache.drop_pages(*this, first, last);
}

bool File::exists() const {
    struct stat st;
    return m_fd >= 0 || ::stat(name().c_str(), &st) == 0;
}

std::optional<Fault> File::fault(IoOp op) const {
    if (!m_cache.fault_hook) return std::nullopt;
    return m_cache.fault_hook(name(), op);
}

Result<int> File::fd(bool create) {
    if (m_fd >= 0) {
        m_cache.touch(*this);
        return m_fd;
    }
    if (m_missing && !create) return -1;
    const int flags = O_RDWR | O_CLOEXEC | (create && !m_seen ? O_CREAT : 0);
    const std::string path = name();
    int fd;
    for (;;) {
        fd = ::open(path.c_str(), flags, 0600);
        if (fd >= 0) break;
        const int err = errno;
        if (err == EINTR) continue;
        if ((err == EMFILE || err == ENFILE) && m_cache.close_lru(nullptr)) continue;
        if (err == ENOENT && m_seen)
            return make_error(Errc::Io,
                              "{} was deleted while its core was open; close the core (or restart "
                              "the daemon) before changing its folder",
                              path);
        if (err == ENOENT && !create) {
            m_missing = true;
            return -1;
        }
        return os_error(create ? "create" : "open", name(), err);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return os_error("stat", name(), err);
    }
    if (m_seen && (st.st_dev != m_dev || st.st_ino != m_ino)) {
        ::close(fd);
        return make_error(Errc::Io,
                          "{} was replaced by another file while its core was open; close the "
                          "core (or restart the daemon) before changing its folder",
                          path);
    }
    m_dev = st.st_dev;
    m_ino = st.st_ino;
    m_seen = true;
    m_missing = false;
    m_fd = fd;
    m_cache.touch(*this);
    return fd;
}

Result<std::size_t> File::read(std::uint64_t offset, MutableByteView out) {
    HS_ASSIGN_OR_RETURN(const int f, fd(false));
    if (f < 0) return std::size_t{0};
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(f, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error("read", name(), errno);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

Status File::read_zero_filled(std::uint64_t offset, MutableByteView out) {
    constexpr std::size_t kPage = FileCache::kPageBytes;
    if (!m_page_cached || m_cache.m_max_pages == 0) {
        HS_ASSIGN_OR_RETURN(auto n, read(offset, out));
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), std::uint8_t{0});
        return {};
    }
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t pos = offset + done;
        const std::uint64_t page = pos / kPage;
        const std::size_t in = static_cast<std::size_t>(pos % kPage);
        const std::size_t n = std::min(out.size() - done, kPage - in);
        const FileCache::Page* p = m_cache.find_page(*this, page);
        if (!p) {
            FileCache::Page& fresh = m_cache.add_page(*this, page);
            auto got = read(page * kPage, fresh.bytes);
            if (!got) {
                m_cache.drop_pages(*this, page, page);
                return std::move(got).error();
            }
            std::fill(fresh.bytes.begin() + static_cast<std::ptrdiff_t>(*got), fresh.bytes.end(), std::uint8_t{0});
            p = &fresh;
        }
        std::memcpy(out.data() + done, p->bytes.data() + in, n);
        done += n;
    }
    return {};
}

Status File::write(std::uint64_t offset, ByteView data) {
    const auto injected = fault(IoOp::Write);
    HS_ASSIGN_OR_RETURN(const int f, fd(true));
    m_dirty = true;
    changed(offset, data.size());  // before writing: a failed write may have written part
    std::size_t limit = data.size();
    if (injected) limit = std::min(limit, injected->partial_bytes);
    std::size_t done = 0;
    while (done < limit) {
        const ssize_t n = ::pwrite(f, data.data() + done, limit - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error("write", name(), errno);
        }
        done += static_cast<std::size_t>(n);
    }
    if (injected) return os_error("write", name(), injected->error);
    return {};
}

Status File::write_parts(std::uint64_t offset, std::span<const ByteView> parts) {
    if (parts.size() == 1) return write(offset, parts[0]);
    if (m_cache.fault_hook) {
        // Under test: one write (one fault-hook question) per part.
        for (auto part : parts) {
            HS_TRY(write(offset, part));
            offset += part.size();
        }
        return {};
    }
    HS_ASSIGN_OR_RETURN(const int f, fd(true));
    m_dirty = true;
    {
        std::uint64_t total = 0;
        for (auto part : parts) total += part.size();
        changed(offset, total);
    }
    std::vector<iovec> iov;
    std::size_t i = 0;
    while (i < parts.size()) {
        iov.clear();
        std::size_t total = 0;
        for (; i < parts.size() && iov.size() < IOV_MAX; ++i) {
            if (parts[i].empty()) continue;
            iov.push_back({const_cast<std::uint8_t*>(parts[i].data()), parts[i].size()});
            total += parts[i].size();
        }
        std::size_t done = 0, k = 0;
        while (done < total) {
            const ssize_t n = ::pwritev(f, iov.data() + k, static_cast<int>(iov.size() - k),
                                        static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return os_error("write", name(), errno);
            }
            done += static_cast<std::size_t>(n);
            auto left = static_cast<std::size_t>(n);
            while (k < iov.size() && left >= iov[k].iov_len) left -= iov[k++].iov_len;
            if (left) {
                iov[k].iov_base = static_cast<std::uint8_t*>(iov[k].iov_base) + left;
                iov[k].iov_len -= left;
            }
        }
        offset += total;
    }
    return {};
}

Result<std::uint64_t> File::size() {
    HS_ASSIGN_OR_RETURN(const int f, fd(false));
    if (f < 0) return std::uint64_t{0};
    struct stat st;
    if (::fstat(f, &st) != 0) return os_error("stat", name(), errno);
    return static_cast<std::uint64_t>(st.st_size);
}

Status File::truncate(std::uint64_t size) {
    if (auto injected = fault(IoOp::Truncate)) return os_error("truncate", name(), injected->error);
    HS_ASSIGN_OR_RETURN(const int f, fd(true));
    m_dirty = true;
    changed(size, ~std::uint64_t{0});  // the page holding the new end, and all past it
    if (::ftruncate(f, static_cast<off_t>(size)) != 0) return os_error("truncate", name(), errno);
    return {};
}

Status File::sync() {
    if (!m_dirty) return {};
    if (auto injected = fault(IoOp::Sync)) return os_error("sync", name(), injected->error);
    HS_ASSIGN_OR_RETURN(const int f, fd(false));
    if (f >= 0 && ::fdatasync(f) != 0) return os_error("sync", name(), errno);
    m_dirty = false;
    return {};
}

Status replace_file(FileCache& cache, const std::filesystem::path& path, ByteView data) {
    auto tmp = path;
    tmp += ".tmp";
    {
        File f(cache, tmp);
        if (auto t = f.truncate(0); !t) return t;
        HS_TRY(f.write(0, data));
    }
    if (cache.fault_hook)
        if (auto injected = cache.fault_hook(path.string(), IoOp::Rename))
            return os_error("rename over", path.string(), injected->error);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return os_error("rename over", path.string(), errno);
    return {};
}

Status sync_dir(FileCache& cache, const std::filesystem::path& dir) {
    if (cache.fault_hook)
        if (auto injected = cache.fault_hook(dir.string(), IoOp::Sync))
            return os_error("sync folder", dir.string(), injected->error);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("open folder", dir.string(), errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return os_error("sync folder", dir.string(), err);
    return {};
}

}  // namespace hs::v11::storage
