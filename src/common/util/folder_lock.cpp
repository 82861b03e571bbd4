#include "common/util/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hs {

std::optional<std::string> flock_holder(const std::filesystem::path& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    std::ifstream locks("/proc/locks");
    std::string line;
    while (std::getline(locks, line)) {
        std::istringstream in(line);
        std::string id, kind, advisory, mode, pid, dev;
        if (!(in >> id >> kind)) continue;
        if (kind == "->") continue;  // a waiter
        if (!(in >> advisory >> mode >> pid >> dev)) continue;
        if (kind != "FLOCK") continue;
        unsigned maj = 0, min = 0;
        unsigned long long ino = 0;
        if (std::sscanf(dev.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3) continue;
        if (ino != st.st_ino || maj != major(st.st_dev) || min != minor(st.st_dev)) continue;
        std::string comm;
        std::ifstream c("/proc/" + pid + "/comm");
        std::getline(c, comm);
        return comm.empty() ? "pid " + pid : "pid " + pid + " (" + comm + ")";
    }
    return std::nullopt;
}

Result<FolderLock> FolderLock::acquire(const std::filesystem::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return make_error(Errc::Io, "cannot open storage folder {}: {}", dir.string(), std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) {
            auto holder = flock_holder(dir);
            return make_error(Errc::Locked,
                              "storage folder {} is in use by another process{}; stop it (or talk "
                              "to it over RPC) before writing to this folder",
                              dir.string(), holder ? " (" + *holder + ")" : "");
        }
        return make_error(Errc::Io, "cannot lock storage folder {}: {}", dir.string(), std::strerror(err));
    }
    return FolderLock(fd);
}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

FolderLock::~FolderLock() {
    if (m_fd >= 0) ::close(m_fd);
}

}  // namespace hs
