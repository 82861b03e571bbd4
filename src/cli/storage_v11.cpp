#include "cli/storage_v11.h"

#include <iostream>

#include "common/util/hex.h"
#include "v11/corestore/corestore.h"
#include "v11/hypercore/audit.h"
#include "v11/hypercore/manifest.h"

namespace hs::cli::v11 {
namespace {

namespace fs = std::filesystem;
using hs::v11::corestore::Corestore;
using hs::v11::hypercore::Hash;
using nlohmann::json;

fs::path core_folder(const fs::path& root, const Hash& key) {
    const std::string dk = to_hex(hs::v11::hypercore::discovery_key(key));
    return root / "v11" / "cores" / dk.substr(0, 2) / dk;
}

Result<std::unique_ptr<Corestore>> open(const fs::path& root) { return Corestore::open(root); }

std::string short_key(const Hash& key) { return to_hex(key); }

}  // namespace

bool has_store(const fs::path& root) {
    std::error_code ec;
    return fs::is_directory(root / "v11" / "cores", ec);
}

bool has_core(const fs::path& root, const ByteArray<32>& key) {
    return hs::v11::storage::FileStorage::exists(core_folder(root, key));
}

Result<std::vector<json>> list(const fs::path& root) {
    std::vector<json> rows;
    if (!has_store(root)) return rows;
    HS_ASSIGN_OR_RETURN(auto store, open(root));
    HS_ASSIGN_OR_RETURN(auto cores, store->list());
    for (const auto& info : cores) {
        if (info.generation != 11 || !info.key) continue;
        auto h = store->open_by_key(*info.key);
        if (!h) return std::move(h).error();
        HS_ASSIGN_OR_RETURN(auto* core, h->core());
        rows.push_back({{"key", to_hex(core->key())},
                        {"discoveryKey", to_hex(core->discovery_key())},
                        {"name", nullptr},
                        {"length", core->length()},
                        {"byteLength", core->byte_length()},
                        {"writable", core->writable()},
                        {"generation", 11}});
    }
    return rows;
}

Result<AppendResult> append(const fs::path& root, const std::string& name, const std::optional<ByteArray<32>>& key,
                            const std::vector<Bytes>& blocks) {
    if (key && !has_core(root, *key))
        return make_error(Errc::NotFound, "second-generation core {} is not stored in {}; create it with --name",
                          to_hex(*key), root.string());
    HS_ASSIGN_OR_RETURN(auto store, open(root));
    auto h = key ? store->open_by_key(*key) : store->open_by_name(as_bytes(name));
    if (!h) return std::move(h).error();
    HS_ASSIGN_OR_RETURN(auto* core, h->core());
    if (!core->writable())
        return make_error(Errc::NotWritable,
                          "core {} is read-only here: this storage did not create it, so it has no secret key; "
                          "nothing was appended",
                          to_hex(core->key()));
    // Batches of at most 1024 blocks / 16 MiB, each one signed head.
    std::size_t i = 0;
    while (i < blocks.size()) {
        std::vector<ByteView> views;
        std::size_t bytes = 0;
        while (i < blocks.size() && views.size() < 1024 && (views.empty() || bytes + blocks[i].size() <= (16u << 20))) {
            bytes += blocks[i].size();
            views.emplace_back(blocks[i++]);
        }
        auto n = core->append(views);
        if (!n) return std::move(n).error();
    }
    HS_TRY(core->flush());
    return AppendResult{core->key(), core->length(), core->byte_length()};
}

Status cat(const fs::path& root, const ByteArray<32>& key, std::uint64_t start, std::optional<std::uint64_t> end,
           const std::function<bool(std::uint64_t, const Bytes&)>& out) {
    HS_ASSIGN_OR_RETURN(auto store, open(root));
    auto h = store->open_by_key(key);
    if (!h) return std::move(h).error();
    HS_ASSIGN_OR_RETURN(auto* core, h->core());
    const std::uint64_t stop = end.value_or(core->length());
    if (stop < start) return make_error(Errc::InvalidArgument, "--end {} is before --start {}", stop, start);
    for (std::uint64_t i = start; i < stop; ++i) {
        auto block = core->get(i);
        if (!block) {
            if (block.error().code == Errc::NotFound)
                return make_error(Errc::NotFound, "block {} of core {} is not stored (length {})", i, to_hex(key),
                                  core->length());
            return std::move(block).error();
        }
        if (!out(i, *block)) return make_error(Errc::Io, "cannot write block {} to stdout", i);
    }
    return {};
}

Status verify(const fs::path& root, const std::optional<ByteArray<32>>& key, VerifyTotals& totals) {
    if (!has_store(root)) return {};
    HS_ASSIGN_OR_RETURN(auto store, open(root));
    std::vector<Hash> keys;
    if (key) {
        keys.push_back(*key);
    } else {
        HS_ASSIGN_OR_RETURN(auto cores, store->list());
        for (const auto& info : cores)
            if (info.generation == 11 && info.key) keys.push_back(*info.key);
    }
    for (const auto& k : keys) {
        ++totals.cores;
        const std::string folder = core_folder(root, k).string();
        auto damaged = [&](const std::string& message) {
            ++totals.damaged;
            std::cerr << "damaged: core " << short_key(k) << " (generation 11): " << message << "\n";
            totals.report.push_back({{"key", to_hex(k)}, {"file", folder}, {"message", message}});
        };
        auto h = store->open_by_key(k);
        if (!h) {
            damaged(h.error().message);
            continue;
        }
        auto core = h->core();
        if (!core) {
            damaged(core.error().message);
            continue;
        }
        const auto r = hs::v11::hypercore::audit(**core, h->storage());
        totals.blocks += r.blocks_checked;
        totals.signatures += r.head_checked ? 1 : 0;
        if (!r.ok()) {
            ++totals.damaged;
            for (const auto& p : r.problems) {
                std::cerr << "damaged: core " << short_key(k) << " (generation 11): " << folder << ": " << p << "\n";
                totals.report.push_back({{"key", to_hex(k)}, {"file", folder}, {"message", p}});
            }
        }
    }
    return {};
}

Status remove(const fs::path& root, const ByteArray<32>& key) {
    HS_ASSIGN_OR_RETURN(auto store, open(root));
    return store->remove(key);
}

}  // namespace hs::cli::v11
