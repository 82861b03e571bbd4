// The error messages clients see, exactly as the JS daemon words them (docs/behaviour/rpc.md "Error
// messages"), plus the few the JS daemon never sends (our fixes). JS clients and apps match on
// these strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "service/sink.h"

namespace hs::service::errors {

inline constexpr std::string_view kSessionInUse = "Session already in use.";
inline constexpr std::string_view kCoreNotLocked = "Core is not locked";
inline constexpr std::string_view kCoreNotLockedByYou = "Core is not locked by you";
inline constexpr std::string_view kInvalidDiscoveryKey = "Invalid discovery key.";
inline constexpr std::string_view kInvalidCopyFrom = "Must copy from a valid discovery key.";
inline constexpr std::string_view kBlockNotAvailable = "Block not available from peers";
inline constexpr std::string_view kNoUpdateAvailable = "No update available from peers";
inline constexpr std::string_view kSeekNotAvailable = "Seek not available from peers";
inline constexpr std::string_view kBlockNotDownloaded = "Block not downloaded";
inline constexpr std::string_view kUnableToSeek = "Unable to seek to this offset";
inline constexpr std::string_view kOutOfBounds = "Out of bounds";
inline constexpr std::string_view kRequestCancelled = "Request cancelled";
inline constexpr std::string_view kDownloadCancelled = "Download was cancelled";
inline constexpr std::string_view kNotWritable = "This feed is not writable. Did you create it?";
inline constexpr std::string_view kBlockTooLarge = "Individual blocks has be less than 8MB";
inline constexpr std::string_view kFeedClosed = "Feed is closed";
inline constexpr std::string_view kNoHandler = "m.onrequest is not a function";
// Ours (docs/behaviour/quirks.md #16): the daemon's internal core is not for clients.
inline constexpr std::string_view kReservedName =
    "The name @hyperspace:internal is reserved for the daemon";
// Ours: a bounded per-connection table is full.
inline constexpr std::string_view kTooManyPending = "Too many pending requests on this connection";

inline RpcFailure failure(std::string_view message) {
    return RpcFailure{std::string(message), {}, {}};
}
inline RpcFailure invalid_hypercore(std::uint64_t id) {
    return failure(fmt::format("Invalid hypercore: {}", id));
}
inline RpcFailure invalid_resource(std::uint64_t id) {
    return failure(fmt::format("Invalid resource: {}", id));
}
inline RpcFailure resource_exists(std::uint64_t id) {
    return failure(fmt::format("Resource already exists: {}", id));
}
inline RpcFailure unknown_method(std::uint64_t method, std::uint64_t service) {
    return failure(fmt::format("Unknown method ({}) on service ({})", method, service));
}
// hypercore's createError('ECANCELED', -11, 'Download was cancelled').
inline RpcFailure download_cancelled() {
    return RpcFailure{std::string(kDownloadCancelled), std::string("ECANCELED"), -11};
}

}  // namespace hs::service::errors
