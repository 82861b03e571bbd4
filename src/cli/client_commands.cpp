#include "cli/client_commands.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/daemon_client.h"

namespace hs::cli {
namespace {

using namespace std::chrono_literals;
using hyperspace::RemoteHypercore;
using nlohmann::json;

int fail(const std::string& what) {
    std::cerr << "hyp: error: " << what << "\n";
    return kExitFailure;
}

// Runs `body` with a connected client; hyperspace::Error becomes exit 1 with its message.
template <typename Body>
int with_client(const DaemonTarget& target, Body&& body) {
    int code = kExitOk;
    auto client = connect_daemon(target, code);
    if (!client) return code;
    try {
        return body(*client);
    } catch (const hyperspace::Error& e) {
        return fail(e.what());
    }
}

std::optional<hyperspace::Key> key_argument(const std::string& text, int& code) {
    auto key = parse_key_argument(text);
    if (!key) {
        std::cerr << "hyp: error: " << key.error().message << "\n";
        code = kExitUsage;
        return std::nullopt;
    }
    hyperspace::Key out;
    std::copy(key->begin(), key->end(), out.begin());
    return out;
}

std::optional<std::vector<hyperspace::Key>> key_arguments(const std::vector<std::string>& texts,
                                                          int& code) {
    std::vector<hyperspace::Key> keys;
    for (const auto& text : texts) {
        auto key = key_argument(text, code);
        if (!key) return std::nullopt;
        keys.push_back(*key);
    }
    return keys;
}

std::string human_bytes(double n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{:.0f} {}", n, units[u]) : fmt::format("{:.1f} {}", n, units[u]);
}

// Asks the swarm for the core and learns how long it is (a writable core is authoritative: no
// lookup). Failures to find peers are not errors here: the caller decides what a short core means.
void find_on_network(hyperspace::Client& client, RemoteHypercore& core) {
    if (core.writable()) return;
    client.network().configure(core, {.announce = false, .lookup = true});
    try {
        core.update({.if_available = true});
    } catch (const hyperspace::Error&) {
        // No peer had more (yet).
    }
}

// ---- create ----

struct CreateArgs {
    DaemonTarget target;
    std::optional<std::string> name;
};

int run_create(const CreateArgs& a) {
    return with_client(a.target, [&](hyperspace::Client& client) {
        hyperspace::GetCoreOptions o;
        o.name = a.name;
        auto core = client.corestore().get(o);
        std::cout << hyperspace::to_hex(core.key()) << "\n";
        return kExitOk;
    });
}

// ---- append ----

struct AppendArgs {
    DaemonTarget target;
    std::optional<std::string> name;
    std::vector<std::string> words;  // [KEY] VALUE...
    std::string file;
};

int run_append(const AppendArgs& a) {
    int code = kExitOk;
    std::vector<std::string> values = a.words;
    std::optional<hyperspace::Key> key;
    if (!a.name) {
        if (values.empty()) {
            std::cerr << "hyp: error: give the core: KEY or --name NAME\n";
            return kExitUsage;
        }
        key = key_argument(values.front(), code);
        if (!key) return code;
        values.erase(values.begin());
    }
    std::vector<std::string> blocks;
    if (!a.file.empty()) {
        if (!values.empty()) {
            std::cerr << "hyp: error: give either VALUE... or --file, not both\n";
            return kExitUsage;
        }
        std::ifstream in(a.file, std::ios::binary);
        if (!in) return fail("cannot read " + a.file);
        blocks.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    } else if (!values.empty()) {
        blocks = values;
    } else {
        for (std::string line; std::getline(std::cin, line);) blocks.push_back(line);
        if (blocks.empty()) {
            std::cerr << "hyp: error: nothing to append (no VALUE, no --file, empty stdin)\n";
            return kExitUsage;
        }
    }
    return with_client(a.target, [&](hyperspace::Client& client) {
        hyperspace::GetCoreOptions o;
        o.key = key;
        o.name = a.name;
        auto core = client.corestore().get(o);
        if (!core.writable())
            return fail("core " + hyperspace::to_hex(core.key()) +
                        " is not writable here: this daemon does not hold its secret key");
        const std::uint64_t seq = core.append(blocks);
        std::cout << seq << "\n";
        return kExitOk;
    });
}

// ---- cat ----

struct CatArgs {
    DaemonTarget target;
    std::string key;
    std::optional<std::uint64_t> start, end;
    bool live = false;
    bool json = false;
};

int run_cat(const CatArgs& a) {
    int code = kExitOk;
    const auto key = key_argument(a.key, code);
    if (!key) return code;
    if (a.start && a.end && *a.end < *a.start) {
        std::cerr << "hyp: error: --end " << *a.end << " is before --start " << *a.start << "\n";
        return kExitUsage;
    }
    return with_client(a.target, [&](hyperspace::Client& client) {
        auto core = client.corestore().get(*key);
        find_on_network(client, core);
        std::uint64_t seq = a.start.value_or(0);
        auto print = [&](const std::vector<std::uint8_t>& block) {
            if (a.json) {
                std::cout << json{{"seq", seq}, {"value", base64(ByteView(block.data(), block.size()))}}.dump()
                          << "\n";
            } else {
                std::cout.write(reinterpret_cast<const char*>(block.data()),
                                static_cast<std::streamsize>(block.size()));
            }
            std::cout.flush();
        };
        for (;;) {
            const std::uint64_t end = a.end ? *a.end : core.length();
            for (; seq < end; ++seq) print(core.get(seq));
            if (a.end || !a.live) break;
            core.update({.min_length = seq + 1, .if_available = false});
        }
        return kExitOk;
    });
}

// ---- info ----

struct InfoArgs {
    DaemonTarget target;
    std::vector<std::string> keys;
    bool json = false;
};

int run_info(const InfoArgs& a) {
    int code = kExitOk;
    const auto keys = key_arguments(a.keys, code);
    if (!keys) return code;
    return with_client(a.target, [&](hyperspace::Client& client) {
        json rows = json::array();
        if (keys->empty()) {
            // Without keys: every core the daemon is networking (by discovery key; the RPC
            // cannot turn those into keys).
            for (const auto& s : client.network().all_statuses()) {
                rows.push_back({{"key", nullptr},
                                {"discoveryKey", hyperspace::to_hex(s.discovery_key)},
                                {"seeding", s.announce},
                                {"announce", s.announce},
                                {"lookup", s.lookup},
                                {"remember", s.remember}});
            }
        }
        for (const auto& key : *keys) {
            auto core = client.corestore().get(key);
            const auto status = client.network().status(core.discovery_key());
            rows.push_back({{"key", hyperspace::to_hex(core.key())},
                            {"discoveryKey", hyperspace::to_hex(core.discovery_key())},
                            {"length", core.length()},
                            {"byteLength", core.byte_length()},
                            {"downloaded", core.downloaded()},
                            {"peers", core.peers().size()},
                            {"writable", core.writable()},
                            {"seeding", status && status->announce}});
        }
        if (a.json) {
            std::cout << rows.dump() << "\n";
            return kExitOk;
        }
        for (const auto& r : rows) {
            if (r["key"].is_null()) {
                std::cout << "discovery key " << r["discoveryKey"].get<std::string>()
                          << (r["seeding"].get<bool>() ? "  seeding" : "")
                          << (r["lookup"].get<bool>() ? "  looking up" : "") << "\n";
                continue;
            }
            std::cout << r["key"].get<std::string>() << "\n"
                      << "  discovery key " << r["discoveryKey"].get<std::string>() << "\n"
                      << "  length " << r["length"] << " blocks, " << human_bytes(r["byteLength"].get<double>())
                      << "\n"
                      << "  stored here " << r["downloaded"] << " blocks\n"
                      << "  peers " << r["peers"] << "\n"
                      << "  " << (r["writable"].get<bool>() ? "writable" : "read-only")
                      << (r["seeding"].get<bool>() ? ", seeding" : ", not seeding") << "\n";
        }
        return kExitOk;
    });
}

// ---- download ----

struct DownloadArgs {
    DaemonTarget target;
    std::string key;
    std::optional<std::uint64_t> start, end;
};

int run_download(const DownloadArgs& a) {
    int code = kExitOk;
    const auto key = key_argument(a.key, code);
    if (!key) return code;
    return with_client(a.target, [&](hyperspace::Client& client) {
        auto core = client.corestore().get(*key);
        find_on_network(client, core);
        const std::uint64_t start = a.start.value_or(0);
        const std::uint64_t end = a.end ? *a.end : core.length();
        if (end < start) {
            std::cerr << "hyp: error: --end " << end << " is before --start " << start << "\n";
            return kExitUsage;
        }
        const std::uint64_t total = end - start;
        if (total == 0) {
            if (!a.end && core.length() == 0)
                return fail("no peer has core " + a.key + " (its length is 0 here); is it seeded?");
            std::cerr << "nothing to download\n";
            return kExitOk;
        }
        std::atomic<std::uint64_t> bytes{0};
        core.on_download([&](std::uint64_t seq, std::uint64_t n) {
            if (seq >= start && seq < end) bytes += n;
        });
        const bool terminal = ::isatty(STDERR_FILENO) == 1;
        const auto began = std::chrono::steady_clock::now();
        auto report = [&](std::uint64_t have, bool last) {
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
            const double rate = secs > 0 ? static_cast<double>(bytes.load()) / secs : 0;
            std::string eta = "-";
            if (have > 0 && have < total && secs > 0) {
                const double left = secs * static_cast<double>(total - have) / static_cast<double>(have);
                eta = fmt::format("{:.0f} s", left);
            }
            const std::string figures =
                fmt::format("{}/{} blocks, {}, {}/s, ETA {}", have, total,
                            human_bytes(static_cast<double>(bytes.load())), human_bytes(rate), eta);
            if (terminal) {
                const int width = 30;
                const int filled = static_cast<int>(width * have / total);
                std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ')
                          << "] " << figures << "   " << (last ? "\n" : "") << std::flush;
            } else {
                std::cerr << figures << "\n";
            }
        };
        auto download = core.start_download({.start = start, .end = end});
        std::uint64_t shown = ~std::uint64_t{0};
        auto last_line = std::chrono::steady_clock::now();
        while (!download.wait_for(terminal ? 200ms : 1000ms)) {
            const std::uint64_t have = core.downloaded(start, end);
            const auto now = std::chrono::steady_clock::now();
            if (terminal || have != shown || now - last_line > 10s) {
                report(have, false);
                shown = have;
                last_line = now;
            }
        }
        download.wait();  // throws if it failed
        report(core.downloaded(start, end), true);
        return kExitOk;
    });
}

// ---- seed / unseed ----

struct SeedArgs {
    DaemonTarget target;
    std::vector<std::string> keys;
};

int run_seed(const SeedArgs& a, bool seed) {
    int code = kExitOk;
    const auto keys = key_arguments(a.keys, code);
    if (!keys) return code;
    return with_client(a.target, [&](hyperspace::Client& client) {
        for (const auto& key : *keys) {
            auto core = client.corestore().get(key);
            // Remembered: the daemon announces it again after a restart (and, for a core
            // announced and looked up with remember, keeps it downloaded: docs/hyp.md "seed").
            client.network().configure(core, {.announce = seed, .lookup = seed, .flush = seed,
                                              .remember = seed});
            std::cout << (seed ? "seeding " : "stopped seeding ") << hyperspace::to_hex(key) << "\n";
        }
        return kExitOk;
    });
}

// KEY, --start and --end of cat and download.
void add_key_and_range(CLI::App& cmd, std::string& key, std::optional<std::uint64_t>& start,
                       std::optional<std::uint64_t>& end, const std::string& default_end) {
    cmd.add_option("KEY", key, "Core key (hex or hyper://)")->required();
    cmd.add_option("--start", start, "First block (default 0)");
    cmd.add_option("--end", end, "Stop before this block (default: " + default_end + ")");
}

}  // namespace

void add_client_commands(CLI::App& app, int* exit_code) {
    auto create = std::make_shared<CreateArgs>();
    auto* c = app.add_subcommand("create", "Create a new writable core in the daemon; prints its key");
    add_daemon_target_flags(*c, create->target);
    c->add_option("--name", create->name, "Name of the core (the same name gives the same core)");
    c->callback([create, exit_code] { *exit_code = run_create(*create); });

    auto append = std::make_shared<AppendArgs>();
    auto* ap = app.add_subcommand(
        "append", "Append blocks to a writable core: VALUE..., --file F (one block), or stdin (one block a line); prints the first block's index");
    add_daemon_target_flags(*ap, append->target);
    ap->add_option("--name", append->name, "The core by name (then every argument is a value)");
    ap->add_option("words", append->words, "KEY (unless --name), then the values");
    ap->add_option("--file", append->file, "Append this file's content as one block");
    ap->callback([append, exit_code] { *exit_code = run_append(*append); });

    auto cat = std::make_shared<CatArgs>();
    auto* ca = app.add_subcommand("cat", "Write a core's blocks to stdout, from peers when not stored here");
    add_daemon_target_flags(*ca, cat->target);
    add_key_and_range(*ca, cat->key, cat->start, cat->end, "the length");
    ca->add_flag("--live", cat->live, "Keep writing new blocks as they are appended");
    ca->add_flag("--json", cat->json, "One {\"seq\",\"value\"(base64)} line per block");
    ca->callback([cat, exit_code] { *exit_code = run_cat(*cat); });

    auto info = std::make_shared<InfoArgs>();
    auto* in = app.add_subcommand("info", "Length, bytes, stored blocks, peers and seeding state of cores");
    add_daemon_target_flags(*in, info->target);
    in->add_option("KEY", info->keys, "Core keys (none: every core the daemon is networking)");
    in->add_flag("--json", info->json, "One JSON array, a row per core");
    in->callback([info, exit_code] { *exit_code = run_info(*info); });

    auto download = std::make_shared<DownloadArgs>();
    auto* dl = app.add_subcommand("download", "Download a range of a core into the daemon's storage");
    add_daemon_target_flags(*dl, download->target);
    add_key_and_range(*dl, download->key, download->start, download->end, "the length peers have");
    dl->callback([download, exit_code] { *exit_code = run_download(*download); });

    for (const bool seed : {true, false}) {
        auto args = std::make_shared<SeedArgs>();
        auto* s = app.add_subcommand(seed ? "seed" : "unseed",
                                     seed ? "Announce cores and keep serving them, also after a daemon restart"
                                          : "Stop announcing cores and forget that they were seeded");
        add_daemon_target_flags(*s, args->target);
        s->add_option("KEY", args->keys, "Core keys (hex or hyper://)")->required();
        s->callback([args, exit_code, seed] { *exit_code = run_seed(*args, seed); });
    }
}

}  // namespace hs::cli
