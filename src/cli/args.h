// Shared helpers for the command-line programs: argument parsing and output conventions.
#pragma once

#include <string>
#include <string_view>

#include "common/crypto/sign.h"
#include "common/util/error.h"

namespace hs::cli {

// Process exit codes used by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (message on stderr)
inline constexpr int kExitUsage = 2;    // bad arguments, or no daemon to talk to

// A 64-hex-character key, optionally as hyper://<hex>.
Result<crypto::PublicKey> parse_key_argument(std::string_view text);
// The way `ls` shows a stored name: the text if it is printable UTF-8, otherwise hex.
std::string display_name(ByteView name);
std::string base64(ByteView data);

}  // namespace hs::cli
