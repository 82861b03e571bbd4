#include "cli/storage_commands.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/storage_v11.h"
#include "v9/corestore/corestore.h"
#include "v9/corestore/environment.h"
#include "v9/hypercore/verify.h"
#include "common/util/hex.h"

namespace hs::cli {
namespace {

using corestore::Corestore;
using corestore::CorestoreOptions;
using nlohmann::json;

struct StorageArgs {
    std::string storage;
    bool json = false;
};

int fail(const Error& e) {
    std::cerr << "hyp: error: " << e.message << "\n";
    return e.code == Errc::InvalidArgument ? kExitUsage : kExitFailure;
}

std::filesystem::path storage_root(const StorageArgs& args) {
    return args.storage.empty() ? corestore::default_storage_path() : std::filesystem::path(args.storage);
}

// A folder that holds only second-generation cores (no first-generation master key beside them).
bool only_second_generation(const StorageArgs& args) {
    std::error_code ec;
    return v11::has_store(storage_root(args)) && !std::filesystem::exists(storage_root(args) / "master_key", ec);
}

Result<std::unique_ptr<Corestore>> open_store(const StorageArgs& args, bool read_only) {
    const std::filesystem::path dir = storage_root(args);
    if (read_only) {
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            return make_error(Errc::NotFound, "storage folder {} does not exist; check --storage",
                              dir.string());
    }
    CorestoreOptions options;
    options.read_only = read_only;
    options.cache_size = 64;
    return Corestore::open(dir, options);
}

json name_json(const std::optional<Bytes>& name) {
    if (!name) return nullptr;
    return display_name(*name);
}

// ---- ls ----
int run_ls(const StorageArgs& args) {
    std::error_code ec;
    if (args.storage.empty() && !std::filesystem::exists(corestore::default_storage_path(), ec)) {
        // Nothing stored yet in the default place: an empty listing, not an error.
        if (args.json) std::cout << "[]\n";
        else std::cout << "no storage folder at " << corestore::default_storage_path().string() << " yet\n";
        return kExitOk;
    }
    int code = kExitOk;
    json out = json::array();
    if (!only_second_generation(args)) {
        auto store = open_store(args, true);
        if (!store) return fail(store.error());
        auto cores = (*store)->list();
        if (!cores) return fail(cores.error());
        for (const auto& info : *cores) {
            auto core = (*store)->get_by_key(info.key, false);
            if (!core) {
                std::cerr << "hyp: error: " << core.error().message << "\n";
                code = kExitFailure;
                continue;
            }
            json row = {{"key", to_hex(info.key)},
                        {"discoveryKey", to_hex(info.discovery_key)},
                        {"name", name_json(info.name)},
                        {"length", (*core)->length()},
                        {"byteLength", (*core)->byte_length()},
                        {"writable", info.writable},
                        {"generation", 9}};
            out.push_back(std::move(row));
        }
    }
    auto second = v11::list(storage_root(args));
    if (!second) {
        std::cerr << "hyp: error: " << second.error().message << "\n";
        code = kExitFailure;
    } else {
        for (auto& row : *second) out.push_back(std::move(row));
    }
    if (args.json) {
        std::cout << out.dump() << "\n";
    } else {
        if (out.empty()) std::cout << "no cores in " << storage_root(args).string() << "\n";
        for (const auto& row : out) {
            std::cout << row["key"].get<std::string>() << "  generation " << row["generation"] << "  length "
                      << row["length"] << "  bytes " << row["byteLength"]
                      << (row["writable"].get<bool>() ? "  writable" : "  read-only");
            if (!row["name"].is_null()) std::cout << "  name " << row["name"].get<std::string>();
            std::cout << "\n    discovery key " << row["discoveryKey"].get<std::string>() << "\n";
        }
    }
    return code;
}

// ---- cat ----
struct CatArgs {
    std::string key;
    std::optional<std::uint64_t> start, end;
};

int run_cat(const StorageArgs& args, const CatArgs& cat) {
    auto key = parse_key_argument(cat.key);
    if (!key) return fail(key.error());
    if (v11::has_core(storage_root(args), *key)) {
        auto s = v11::cat(storage_root(args), *key, cat.start.value_or(0), cat.end,
                          [&](std::uint64_t i, const Bytes& block) {
                              if (args.json) {
                                  std::cout << json{{"seq", i}, {"value", base64(block)}}.dump() << "\n";
                              } else {
                                  std::cout.write(reinterpret_cast<const char*>(block.data()),
                                                  static_cast<std::streamsize>(block.size()));
                              }
                              return static_cast<bool>(std::cout);
                          });
        std::cout.flush();
        if (!s.ok()) return fail(s.error());
        return std::cout ? kExitOk : kExitFailure;
    }
    auto store = open_store(args, true);
    if (!store) return fail(store.error());
    auto core = (*store)->get_by_key(*key, false);
    if (!core) return fail(core.error());
    const std::uint64_t start = cat.start.value_or(0);
    const std::uint64_t end = cat.end.value_or((*core)->length());
    if (end < start)
        return fail(make_error(Errc::InvalidArgument, "--end {} is before --start {}", end, start));
    for (std::uint64_t i = start; i < end; ++i) {
        auto block = (*core)->get(i);
        if (!block) {
            std::cout.flush();
            if (block.error().code == Errc::NotFound)
                return fail(make_error(Errc::NotFound, "block {} of core {} is not stored (length {})", i,
                                       cat.key, (*core)->length()));
            return fail(block.error());
        }
        if (args.json) {
            std::cout << json{{"seq", i}, {"value", base64(*block)}}.dump() << "\n";
        } else {
            std::cout.write(reinterpret_cast<const char*>(block->data()),
                            static_cast<std::streamsize>(block->size()));
        }
    }
    std::cout.flush();
    return std::cout ? kExitOk : kExitFailure;
}

// ---- append ----
struct AppendArgs {
    int generation = 9;
    std::string name;
    std::string key;
    std::string file;
    std::vector<std::string> values;
};

// The blocks `hyp storage append` takes: each VALUE, --file as one block, or each line of stdin.
Result<std::vector<Bytes>> read_blocks(const AppendArgs& a) {
    std::vector<Bytes> blocks;
    if (!a.file.empty()) {
        std::ifstream in(a.file, std::ios::binary);
        if (!in) return make_error(Errc::NotFound, "cannot read --file {}", a.file);
        blocks.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    } else if (!a.values.empty()) {
        for (const auto& v : a.values) blocks.push_back(to_bytes(v));
    } else {
        std::string line;
        while (std::getline(std::cin, line)) blocks.push_back(to_bytes(line));
    }
    return blocks;
}

int run_append_v11(const StorageArgs& args, const AppendArgs& a, const std::optional<crypto::PublicKey>& key) {
    auto blocks = read_blocks(a);
    if (!blocks) return fail(blocks.error());
    std::optional<ByteArray<32>> k;
    if (key) k = *key;
    auto r = v11::append(storage_root(args), a.name, k, *blocks);
    if (!r) return fail(r.error());
    if (args.json) {
        std::cout << json{{"key", to_hex(r->key)}, {"length", r->length}, {"byteLength", r->byte_length},
                          {"generation", 11}}
                         .dump()
                  << "\n";
    } else {
        std::cout << "key " << to_hex(r->key) << "\nlength " << r->length << "\nbyteLength " << r->byte_length
                  << "\n";
    }
    return kExitOk;
}

int run_append(const StorageArgs& args, const AppendArgs& a) {
    if (a.name.empty() == a.key.empty())
        return fail(make_error(Errc::InvalidArgument, "give either --name NAME or a KEY (not both)"));
    std::optional<crypto::PublicKey> key;
    if (!a.key.empty()) {
        auto k = parse_key_argument(a.key);
        if (!k) return fail(k.error());
        key = *k;
    }
    if (a.generation == 11 || (key && v11::has_core(storage_root(args), *key))) return run_append_v11(args, a, key);
    if (a.generation != 9)
        return fail(make_error(Errc::InvalidArgument, "--generation is 9 or 11, not {}", a.generation));
    auto store = open_store(args, false);
    if (!store) return fail(store.error());
    auto core = key ? (*store)->get_by_key(*key, false) : (*store)->get_by_name(as_bytes(a.name));
    if (!core) return fail(core.error());
    auto& feed = **core;
    if (!feed.writable())
        return fail(make_error(Errc::NotWritable,
                               "core {} is read-only here: this storage did not create it, so it has no "
                               "secret key; nothing was appended",
                               to_hex(feed.key())));

    auto append_batch = [&](const std::vector<Bytes>& blocks) -> Status {
        std::vector<ByteView> views(blocks.begin(), blocks.end());
        auto r = feed.append(views);
        if (!r) return std::move(r).error();
        return {};
    };
    Status status;
    if (!a.file.empty()) {
        std::ifstream in(a.file, std::ios::binary);
        if (!in) return fail(make_error(Errc::NotFound, "cannot read --file {}", a.file));
        Bytes content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        status = append_batch({content});
    } else if (!a.values.empty()) {
        std::vector<Bytes> blocks;
        for (const auto& v : a.values) blocks.push_back(to_bytes(v));
        status = append_batch(blocks);
    } else {
        // Every line of stdin is a block (empty lines included; a last line without newline too).
        constexpr std::size_t kBatchBlocks = 1024;
        constexpr std::size_t kBatchBytes = 16 << 20;
        std::vector<Bytes> batch;
        std::size_t batch_bytes = 0;
        std::string line;
        while (status.ok() && std::getline(std::cin, line)) {
            batch_bytes += line.size();
            batch.push_back(to_bytes(line));
            if (batch.size() >= kBatchBlocks || batch_bytes >= kBatchBytes) {
                status = append_batch(batch);
                batch.clear();
                batch_bytes = 0;
            }
        }
        if (status.ok() && !batch.empty()) status = append_batch(batch);
    }
    if (!status.ok()) return fail(status.error());
    auto synced = feed.sync();
    if (!synced.ok()) return fail(synced.error());
    if (args.json) {
        std::cout << json{{"key", to_hex(feed.key())}, {"length", feed.length()}, {"byteLength", feed.byte_length()}}
                         .dump()
                  << "\n";
    } else {
        std::cout << "key " << to_hex(feed.key()) << "\nlength " << feed.length() << "\nbyteLength "
                  << feed.byte_length() << "\n";
    }
    return kExitOk;
}

// ---- verify ----
int run_verify(const StorageArgs& args, const std::string& key_text) {
    v11::VerifyTotals second;
    std::optional<ByteArray<32>> only;
    if (!key_text.empty()) {
        auto key = parse_key_argument(key_text);
        if (!key) return fail(key.error());
        only = *key;
    }
    const bool only_second = only && v11::has_core(storage_root(args), *only);
    if (!only || only_second) {
        auto s = v11::verify(storage_root(args), only, second);
        if (!s.ok()) return fail(s.error());
    }
    std::unique_ptr<Corestore> first;
    if (!only_second && !only_second_generation(args)) {
        auto opened = open_store(args, true);
        if (!opened) return fail(opened.error());
        first = std::move(opened).value();
    }
    auto* store = &first;
    std::vector<corestore::CoreInfo> cores;
    if (!first) {
        // Only second-generation cores were asked for, or the folder holds no others.
    } else if (!key_text.empty()) {
        auto key = parse_key_argument(key_text);
        if (!key) return fail(key.error());
        auto all = (*store)->list();
        if (!all) return fail(all.error());
        for (auto& c : *all)
            if (c.key == *key) cores.push_back(c);
        if (cores.empty())
            return fail(make_error(Errc::NotFound, "core {} is not stored in {}", key_text,
                                   (*store)->path().string()));
    } else {
        auto all = (*store)->list();
        if (!all) return fail(all.error());
        cores = std::move(*all);
    }
    std::size_t damaged = 0;
    std::uint64_t blocks = 0, signatures = 0;
    json report = json::array();
    for (const auto& info : cores) {
        const std::string label =
            to_hex(info.key) + (info.name ? " (name " + display_name(*info.name) + ")" : "");
        auto core = (*store)->get_by_key(info.key, false);
        if (!core) {
            ++damaged;
            std::cerr << "damaged: core " << label << ": " << core.error().message << "\n";
            report.push_back({{"key", to_hex(info.key)}, {"file", nullptr}, {"message", core.error().message}});
            continue;
        }
        auto r = hypercore::verify_feed(**core);
        blocks += r.blocks_checked;
        signatures += r.signatures_checked;
        if (!r.ok()) {
            ++damaged;
            for (const auto& p : r.problems) {
                std::cerr << "damaged: core " << label << ": file " << p.file << ": " << p.message << "\n";
                report.push_back({{"key", to_hex(info.key)}, {"file", p.file}, {"message", p.message}});
            }
        }
    }
    const std::size_t total_cores = cores.size() + second.cores;
    blocks += second.blocks;
    signatures += second.signatures;
    damaged += second.damaged;
    for (auto& row : second.report) report.push_back(std::move(row));
    if (args.json) {
        std::cout << json{{"cores", total_cores},
                          {"blocks", blocks},
                          {"signatures", signatures},
                          {"damaged", report}}
                         .dump()
                  << "\n";
        return damaged ? kExitFailure : kExitOk;
    }
    std::cout << "verified " << total_cores << " core" << (total_cores == 1 ? "" : "s") << ", " << blocks
              << " blocks, " << signatures << " signatures: "
              << (damaged ? std::to_string(damaged) + " damaged" : std::string("all sound")) << "\n";
    return damaged ? kExitFailure : kExitOk;
}

// ---- rm ----
int run_rm(const StorageArgs& args, const std::string& key_text) {
    auto key = parse_key_argument(key_text);
    if (!key) return fail(key.error());
    if (v11::has_core(storage_root(args), *key)) {
        auto s = v11::remove(storage_root(args), *key);
        if (!s.ok()) return fail(s.error());
        std::cout << "removed core " << to_hex(*key) << "\n";
        return kExitOk;
    }
    auto store = open_store(args, false);
    if (!store) return fail(store.error());
    auto s = (*store)->remove(*key);
    if (!s.ok()) return fail(s.error());
    std::cout << "removed core " << to_hex(*key) << "\n";
    return kExitOk;
}

}  // namespace

void add_storage_commands(CLI::App& app, int* exit_code) {
    auto* storage = app.add_subcommand("storage", "Offline commands on a storage folder no daemon writes to");
    storage->require_subcommand(1);
    auto args = std::make_shared<StorageArgs>();
    auto add_common = [&](CLI::App* cmd) {
        cmd->add_option("--storage,-s", args->storage, "Storage folder (default ~/.hyperspace/storage)");
        cmd->add_flag("--json", args->json, "Machine-readable output");
    };

    auto* ls = storage->add_subcommand("ls", "List every core: key, discovery key, name, length, bytes");
    add_common(ls);
    ls->callback([args, exit_code] { *exit_code = run_ls(*args); });

    auto cat_args = std::make_shared<CatArgs>();
    auto* cat = storage->add_subcommand("cat", "Print blocks [start, end) of a core");
    add_common(cat);
    cat->add_option("KEY", cat_args->key, "Core key (hex or hyper://)")->required();
    cat->add_option("--start", cat_args->start, "First block (default 0)");
    cat->add_option("--end", cat_args->end, "One past the last block (default: the length)");
    cat->callback([args, cat_args, exit_code] { *exit_code = run_cat(*args, *cat_args); });

    auto append_args = std::make_shared<AppendArgs>();
    auto* app_cmd = storage->add_subcommand(
        "append", "Append blocks: each VALUE, or each line of stdin, or --file F as one block");
    add_common(app_cmd);
    app_cmd->add_option("--name", append_args->name, "Core name (created if missing)");
    app_cmd->add_option("--generation", append_args->generation,
                        "9 (hypercore 9, the default) or 11 (hypercore 10/11) for a new core by --name")
        ->check(CLI::IsMember({9, 11}));
    app_cmd->add_option("--file", append_args->file, "Append this file as one block");
    app_cmd->add_option("KEY_AND_VALUES", append_args->values, "KEY (without --name), then values");
    app_cmd->callback([args, append_args, exit_code] {
        AppendArgs a = *append_args;
        if (a.name.empty() && !a.values.empty()) {
            a.key = a.values.front();
            a.values.erase(a.values.begin());
        }
        if (!a.file.empty() && !a.values.empty()) {
            std::cerr << "hyp: error: give either --file or VALUEs, not both\n";
            *exit_code = kExitUsage;
            return;
        }
        *exit_code = run_append(*args, a);
    });

    auto verify_key = std::make_shared<std::string>();
    auto* verify = storage->add_subcommand("verify", "Recompute every hash and check every signature");
    add_common(verify);
    verify->add_option("KEY", *verify_key, "Only this core");
    verify->callback([args, verify_key, exit_code] { *exit_code = run_verify(*args, *verify_key); });

    auto rm_key = std::make_shared<std::string>();
    auto* rm = storage->add_subcommand("rm", "Delete one core's files");
    add_common(rm);
    rm->add_option("KEY", *rm_key, "Core key")->required();
    rm->callback([args, rm_key, exit_code] { *exit_code = run_rm(*args, *rm_key); });
}

}  // namespace hs::cli
