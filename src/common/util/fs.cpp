#include "common/util/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hs {

Status write_file_atomic(const std::filesystem::path& path, ByteView data) {
    const std::filesystem::path tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return make_error(Errc::Io, "cannot create {}: {}", tmp.string(), std::strerror(errno));
    std::size_t done = 0;
    bool ok = true;
    while (ok && done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) {
        ::unlink(tmp.c_str());
        return make_error(Errc::Io, "cannot write {}: {}", tmp.string(), std::strerror(err));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int rename_err = errno;
        ::unlink(tmp.c_str());
        return make_error(Errc::Io, "cannot rename {} to {}: {}", tmp.string(), path.string(),
                          std::strerror(rename_err));
    }
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return make_error(Errc::Io, "wrote {} but cannot open its folder to sync it: {}",
                          path.string(), std::strerror(errno));
    // Some file systems cannot sync a folder (EINVAL); the rename is then as durable as they allow.
    const bool synced = ::fsync(dfd) == 0 || errno == EINVAL;
    const int sync_err = errno;
    ::close(dfd);
    if (!synced)
        return make_error(Errc::Io, "wrote {} but cannot sync its folder {}: {}", path.string(),
                          dir.string(), std::strerror(sync_err));
    return {};
}

}  // namespace hs
