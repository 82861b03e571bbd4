#include "v9/corestore/environment.h"

#include <sys/resource.h>

#include <cstdlib>
#include <system_error>

namespace hs::corestore {

std::filesystem::path default_storage_path() {
    const char* home = std::getenv("HOME");
    const std::filesystem::path base = home && *home ? home : ".";
    const auto legacy = base / ".hyperdrive" / "storage" / "cores";
    std::error_code ec;
    if (std::filesystem::is_directory(legacy, ec)) return legacy;
    return base / ".hyperspace" / "storage";
}

void raise_file_limit() {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace hs::corestore
