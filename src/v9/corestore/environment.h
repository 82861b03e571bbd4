// What a storage folder needs from the host: where it lives by default, and enough file
// descriptors for many open cores. Used by both programs (`hyperspace` and `hyp`).
#pragma once

#include <filesystem>

namespace hs::corestore {

// ~/.hyperspace/storage, or the old ~/.hyperdrive/storage/cores if that exists
// (docs/behaviour/storage.md "Storage folder"). $HOME unset or empty: relative to ".".
std::filesystem::path default_storage_path();

// Raises the soft open-file limit to the hard limit (many cores, four files each). Best effort:
// a failure leaves the limit as it was.
void raise_file_limit();

}  // namespace hs::corestore
