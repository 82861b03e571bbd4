// Crash-safe replacement of small files (keys, configuration).
#pragma once

#include <filesystem>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs {

// Replaces `path` with `data` so that after a crash it holds either the old bytes or the new ones:
// writes `<path>.tmp` (mode 0600), fsyncs it, renames it over `path`, then fsyncs the folder so the
// rename itself is durable. The folder must exist. Errc::Io naming the file, the step that failed
// and the OS reason; a failure before the rename leaves `path` as it was.
[[nodiscard]] Status write_file_atomic(const std::filesystem::path& path, ByteView data);
[[nodiscard]] inline Status write_file_atomic(const std::filesystem::path& path,
                                              std::string_view text) {
    return write_file_atomic(path, as_bytes(text));
}

}  // namespace hs
