// hyperspace: the daemon. Serves the Hyperspace RPC for @hyperspace/client on a UNIX socket (or
// TCP) over a corestore folder; see src/daemon/.
#include <malloc.h>

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>

#include "v9/corestore/environment.h"
#include "daemon/lifecycle.h"
#include "daemon/options.h"

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    // Large buffers (batched appends, block reads) come and go with requests: keep them mmapped
    // so that freeing returns them to the system. (glibc otherwise raises its mmap threshold
    // after the first such free, and the daemon keeps the peak size resident.)
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    hs::corestore::raise_file_limit();
    CLI::App app{
        "hyperspace: the Hyperspace daemon (serves @hyperspace/client over a UNIX socket)"};
    app.set_version_flag("--version", std::string(HS_VERSION));
    hs::daemon::DaemonOptions options;
    hs::daemon::add_daemon_flags(app, options);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : hs::daemon::kExitUsage;
    }
    if (auto st = hs::daemon::validate(options); !st) {
        std::cerr << "hyperspace: " << st.error().message << "\n";
        return hs::daemon::kExitUsage;
    }
    try {
        return hs::daemon::run_daemon(std::move(options));
    } catch (const std::exception& e) {
        std::cerr << "hyperspace: fatal: " << e.what() << "\n";
        return 1;
    }
}
