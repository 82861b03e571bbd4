// Corestore 5 folder layout (docs/formats/sleep.md "Folder"): <storage>/<dk[0:2]>/<dk[2:4]>/<dk>/.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "common/crypto/blake2b.h"
#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::corestore {

inline constexpr const char* kMasterKeyFile = "master_key";
// The name of the hyperspace internal config core (docs/behaviour/storage.md "The JS daemon's
// internal core"); reserved.
inline constexpr std::string_view kInternalCoreName = "@hyperspace:internal";

std::filesystem::path core_dir(const std::filesystem::path& root, const crypto::Hash32& discovery_key);

// Encodes / decodes the `name` file: varint(len) || name.
Bytes encode_name_file(ByteView name);
// nullopt if the bytes are not a well-formed name file.
std::optional<Bytes> decode_name_file(ByteView file);

// Every <dk>/ folder under `root` that has the two-level layout and a hex discovery-key name
// (it may still lack a key file).
Result<std::vector<std::filesystem::path>> scan_core_dirs(const std::filesystem::path& root);

}  // namespace hs::corestore
