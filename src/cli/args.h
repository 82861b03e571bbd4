// Shared helpers for the command-line programs: argument parsing and output conventions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/sign.h"
#include "util/error.h"

namespace hs::cli {

// Process exit codes used by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (message on stderr)
inline constexpr int kExitUsage = 2;    // bad arguments, or no daemon to talk to

// ~/.hyperspace/storage, or the old ~/.hyperdrive/storage/cores if that exists
// (docs/behaviour/storage.md "Storage folder").
std::filesystem::path default_storage_path();
// A 64-hex-character key, optionally as hyper://<hex>.
Result<crypto::PublicKey> parse_key_argument(std::string_view text);
// The way `ls` shows a stored name: the text if it is printable UTF-8, otherwise hex.
std::string display_name(ByteView name);
std::string base64(ByteView data);
// Raises the soft open-file limit to the hard limit (many cores, four files each).
void raise_file_limit();

}  // namespace hs::cli
