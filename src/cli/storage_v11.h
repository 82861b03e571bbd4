// The second-generation half of `hyp storage` (docs/hyp.md): cores of hypercore 11 under
// <storage>/v11 (docs/formats/storage-v11.md "Folder"), beside the first generation's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::cli::v11 {

// Whether the folder holds a second-generation store at all (nothing is created to find out).
bool has_store(const std::filesystem::path& root);
// Whether the second-generation store holds the core with `key`.
bool has_core(const std::filesystem::path& root, const ByteArray<32>& key);

// `ls` rows ({key, discoveryKey, name: null, length, byteLength, writable, generation: 11}).
Result<std::vector<nlohmann::json>> list(const std::filesystem::path& root);

struct AppendResult {
    ByteArray<32> key{};
    std::uint64_t length = 0;
    std::uint64_t byte_length = 0;
};
// Appends to the writer core `name` (created if missing; default namespace) or to the core with
// `key` (must be writable here), then makes it durable.
Result<AppendResult> append(const std::filesystem::path& root, const std::string& name,
                            const std::optional<ByteArray<32>>& key, const std::vector<Bytes>& blocks);

// Calls `out(index, value)` for blocks [start, end) (end: the length when absent).
Status cat(const std::filesystem::path& root, const ByteArray<32>& key, std::uint64_t start,
           std::optional<std::uint64_t> end, const std::function<bool(std::uint64_t, const Bytes&)>& out);

struct VerifyTotals {
    std::uint64_t cores = 0;
    std::uint64_t blocks = 0;
    std::uint64_t signatures = 0;
    std::size_t damaged = 0;
    nlohmann::json report = nlohmann::json::array();  // {key, file, message} like the first generation's
};
// Audits one core (key given) or every second-generation core; adds to `totals`, printing each
// problem to stderr.
Status verify(const std::filesystem::path& root, const std::optional<ByteArray<32>>& key, VerifyTotals& totals);

Status remove(const std::filesystem::path& root, const ByteArray<32>& key);

}  // namespace hs::cli::v11
