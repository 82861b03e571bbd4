#include "v9/hypercore/file_cache.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "common/util/error.h"

namespace hs::hypercore {
namespace {

constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

// The RLIMIT_NOFILE soft limit (kNoLimit when unlimited or unknown).
std::size_t soft_fd_limit() {
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return kNoLimit;
    return static_cast<std::size_t>(rl.rlim_cur);
}

std::size_t reserve_for(std::size_t soft) {
    return soft == kNoLimit ? 0 : std::min<std::size_t>(128, soft / 4);
}

}  // namespace

FileHandleCache::FileHandleCache(std::size_t max_open)
    : m_max_open(std::max(kMinMaxOpen, max_open ? max_open : default_max_open())) {}

FileHandleCache::~FileHandleCache() {
    HS_ASSERT(m_head == nullptr && m_stats.open == 0 && m_stats.pinned == 0);
}

std::size_t FileHandleCache::default_max_open() {
    const std::size_t soft = soft_fd_limit();
    if (soft == kNoLimit) return kDefaultMaxOpen;
    return std::clamp<std::size_t>(soft / 4, kMinMaxOpen, kDefaultMaxOpen);
}

const std::shared_ptr<FileHandleCache>& FileHandleCache::process_default() {
    // Never destroyed: files of cores in static objects may outlive any exit-time destructor.
    static const auto* cache = new std::shared_ptr<FileHandleCache>(std::make_shared<FileHandleCache>());
    return *cache;
}

std::size_t FileHandleCache::reserved_fds() { return reserve_for(soft_fd_limit()); }

FileHandleCache::Stats FileHandleCache::stats() const {
    std::lock_guard lock(m_mutex);
    return m_stats;
}

void FileHandleCache::unlink(Entry& e) {
    if (!e.listed) return;
    (e.prev ? e.prev->next : m_head) = e.next;
    (e.next ? e.next->prev : m_tail) = e.prev;
    e.prev = e.next = nullptr;
    e.listed = false;
}

void FileHandleCache::push_front(Entry& e) {
    HS_ASSERT(!e.listed);
    e.prev = nullptr;
    e.next = m_head;
    (m_head ? m_head->prev : m_tail) = &e;
    m_head = &e;
    e.listed = true;
}

void FileHandleCache::evict(Entry& e) {
    HS_ASSERT(e.uses == 0 && !e.pinned && e.fd >= 0);
    unlink(e);
    // Dirty pages stay in the page cache under the inode; a later sync() reopens the file and
    // fdatasyncs it (e.written stays set). close() itself only fails on network filesystems.
    if (::close(e.fd) != 0 && errno != EINTR && e.close_error == 0) e.close_error = errno;
    e.fd = -1;
    --m_stats.open;
    ++m_stats.evictions;
}

void FileHandleCache::trim(std::size_t fd_limit) {
    const std::size_t budget =
        fd_limit == kNoLimit ? kNoLimit : fd_limit - std::min(fd_limit, reserve_for(fd_limit));
    while (m_tail && (m_stats.open > m_max_open || m_stats.open + m_stats.pinned > budget))
        evict(*m_tail);
}

int FileHandleCache::begin_use(Entry& e) {
    std::lock_guard lock(m_mutex);
    unlink(e);
    if (e.fd >= 0 && !e.pinned) ++m_stats.hits;
    ++e.uses;
    return e.fd;
}

void FileHandleCache::adopt(Entry& e, int fd) {
    const std::size_t limit = soft_fd_limit();
    std::lock_guard lock(m_mutex);
    HS_ASSERT(e.fd < 0 && e.uses > 0 && fd >= 0);
    e.fd = fd;
    if (e.pinned) {
        ++m_stats.pinned;
    } else {
        ++m_stats.misses;
        ++m_stats.open;
    }
    trim(limit);
    m_stats.peak_open = std::max(m_stats.peak_open, m_stats.open);
}

void FileHandleCache::end_use(Entry& e) {
    std::lock_guard lock(m_mutex);
    HS_ASSERT(e.uses > 0);
    if (--e.uses || e.fd < 0 || e.pinned) return;
    push_front(e);
    if (m_stats.open > m_max_open) trim(kNoLimit);
}

bool FileHandleCache::shed_one() {
    std::lock_guard lock(m_mutex);
    if (!m_tail) return false;
    evict(*m_tail);
    return true;
}

Status FileHandleCache::reserve_pinned(const std::string& what) {
    const std::size_t limit = soft_fd_limit();
    if (limit == kNoLimit) return {};
    const std::size_t reserve = reserve_for(limit);
    std::lock_guard lock(m_mutex);
    while (m_tail && m_stats.open + m_stats.pinned + 1 + reserve > limit) evict(*m_tail);
    if (m_stats.pinned + 1 + reserve <= limit) return {};
    return make_error(Errc::Io,
                      "cannot open {}: {} cores are open and the open-file limit is {} (ulimit -n), "
                      "of which {} are kept for connections; close some cores or raise the limit",
                      what, m_stats.pinned, limit, reserve);
}

void FileHandleCache::forget(Entry& e) {
    std::lock_guard lock(m_mutex);
    HS_ASSERT(e.uses == 0);
    unlink(e);
    if (e.fd < 0) return;
    ::close(e.fd);
    e.fd = -1;
    if (e.pinned)
        --m_stats.pinned;
    else
        --m_stats.open;
}

std::size_t count_open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return 0;
    std::size_t n = 0;
    while (const dirent* d = ::readdir(dir))
        if (d->d_name[0] != '.') ++n;
    ::closedir(dir);
    return n > 0 ? n - 1 : 0;  // not counting the descriptor of the listing itself
}

}  // namespace hs::hypercore
