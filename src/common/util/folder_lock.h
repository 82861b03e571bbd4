// An exclusive, non-blocking flock on a storage folder, released when the object dies (both
// generations lock their folders with it).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/util/error.h"

namespace hs {

class FolderLock {
public:
    // Errc::Locked (naming the folder and, if /proc/locks tells, the holder's pid and program)
    // when another process holds it.
    static Result<FolderLock> acquire(const std::filesystem::path& dir);
    FolderLock(FolderLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    FolderLock& operator=(FolderLock&& other) noexcept;
    FolderLock(const FolderLock&) = delete;
    FolderLock& operator=(const FolderLock&) = delete;
    ~FolderLock();

private:
    explicit FolderLock(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

// "pid 123 (hyperspace)" for the process holding a flock on `path`, from /proc/locks.
std::optional<std::string> flock_holder(const std::filesystem::path& path);

}  // namespace hs
