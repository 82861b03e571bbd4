#include "v9/corestore/layout.h"

#include <algorithm>

#include "common/util/hex.h"
#include "common/util/varint.h"

namespace hs::corestore {
namespace fs = std::filesystem;

fs::path core_dir(const fs::path& root, const crypto::Hash32& discovery_key) {
    const std::string hex = to_hex(discovery_key);
    return root / hex.substr(0, 2) / hex.substr(2, 2) / hex;
}

Bytes encode_name_file(ByteView name) {
    Bytes out;
    varint::encode(out, name.size());
    append_bytes(out, name);
    return out;
}

std::optional<Bytes> decode_name_file(ByteView file) {
    auto len = varint::decode(file);
    if (!len || *len > file.size()) return std::nullopt;
    return Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(*len));
}

namespace {
bool is_hex_name(const std::string& s, std::size_t len) {
    return s.size() == len && from_hex(s).has_value() &&
           std::all_of(s.begin(), s.end(), [](char c) { return !(c >= 'A' && c <= 'F'); });
}
}  // namespace

Result<std::vector<fs::path>> scan_core_dirs(const fs::path& root) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& a : fs::directory_iterator(root, ec)) {
        const auto an = a.path().filename().string();
        if (!a.is_directory() || !is_hex_name(an, 2)) continue;
        for (const auto& b : fs::directory_iterator(a.path(), ec)) {
            const auto bn = b.path().filename().string();
            if (!b.is_directory() || !is_hex_name(bn, 2)) continue;
            for (const auto& c : fs::directory_iterator(b.path(), ec)) {
                const auto cn = c.path().filename().string();
                if (!c.is_directory() || !is_hex_name(cn, 64)) continue;
                if (cn.substr(0, 2) != an || cn.substr(2, 2) != bn) continue;
                out.push_back(c.path());
            }
        }
    }
    if (ec) return make_error(Errc::Io, "cannot list the storage folder {}: {}", root.string(), ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace hs::corestore
