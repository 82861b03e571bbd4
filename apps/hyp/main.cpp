// hyp: the command-line tool for a hyperspace storage folder and daemon.
#include <CLI/CLI.hpp>

#include "cli/args.h"
#include "cli/client_commands.h"
#include "cli/daemon_commands.h"
#include "cli/dht_command.h"
#include "cli/replicate_command.h"
#include "cli/storage_commands.h"
#include "v9/corestore/environment.h"

int main(int argc, char** argv) {
    hs::corestore::raise_file_limit();
    CLI::App app{"hyp: work with hypercores through a Hyperspace daemon, or in a storage folder"};
    app.set_version_flag("--version", std::string(HS_VERSION));
    app.require_subcommand(1);
    int exit_code = hs::cli::kExitOk;
    hs::cli::add_storage_commands(app, &exit_code);
    hs::cli::add_daemon_commands(app, &exit_code);
    hs::cli::add_client_commands(app, &exit_code);
    hs::cli::add_replicate_command(app, &exit_code);
    hs::cli::add_dht_command(app, &exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : hs::cli::kExitUsage;
    }
    return exit_code;
}
