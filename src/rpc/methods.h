// The method table of the Hyperspace RPC: every method of the four hrpc services of
// @hyperspace/rpc (schema.proto), with its wire ids, payload types and how it is called
// (docs/formats/rpc.md "Methods").
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "rpc/messages.h"

namespace hs::rpc {

// Wire service ids (frame header = service << 2 | type).
enum class Service : std::uint8_t {
    Hyperspace = 1,
    Corestore = 2,
    Hypercore = 3,
    Network = 4,
};

// One value per method of every service; the order is the table order.
enum class Method : std::uint8_t {
    HyperspaceStatus,
    HyperspaceStop,
    CorestoreOpen,
    CorestoreOnFeed,
    HypercoreGet,
    HypercoreAppend,
    HypercoreUpdate,
    HypercoreSeek,
    HypercoreHas,
    HypercoreCancel,
    HypercoreDownload,
    HypercoreDownloaded,
    HypercoreUndownload,
    HypercoreClose,
    HypercoreRegisterExtension,
    HypercoreUnregisterExtension,
    HypercoreSendExtension,
    HypercoreAcquireLock,
    HypercoreReleaseLock,
    HypercoreOnAppend,
    HypercoreOnClose,
    HypercoreOnPeerOpen,
    HypercoreOnPeerRemove,
    HypercoreOnExtension,
    HypercoreOnWait,
    HypercoreWatchDownloads,
    HypercoreUnwatchDownloads,
    HypercoreOnDownload,
    HypercoreWatchUploads,
    HypercoreUnwatchUploads,
    HypercoreOnUpload,
    NetworkOpen,
    NetworkConfigure,
    NetworkStatus,
    NetworkAllStatuses,
    NetworkRegisterExtension,
    NetworkUnregisterExtension,
    NetworkSendExtension,
    NetworkOnPeerAdd,
    NetworkOnPeerRemove,
    NetworkOnExtension,
};
inline constexpr std::size_t kMethodCount =
    static_cast<std::size_t>(Method::NetworkOnExtension) + 1;

// Who sends the request frame of a method.
enum class Direction : std::uint8_t {
    ClientToServer,  // a call the server handles
    ServerToClient,  // an event the server pushes, always with frame id 0
};

struct MethodInfo {
    Method method;
    Service service;
    std::uint32_t id;               // wire method id inside the service
    std::string_view service_name;  // "Hypercore"
    std::string_view name;          // "Get", as in schema.proto
    MessageKind request;
    MessageKind response;  // Void for no-reply calls and events
    Direction direction;
    // @hyperspace/client 1.18.0 sends the call with an id >= 1 and waits for a response; false
    // for calls it sends with id 0 (no reply) and for events.
    bool client_waits;
};

// All methods, ordered by Method (and so by service id, then method id).
std::span<const MethodInfo> all_methods() noexcept;
// REQUIRES: `method` is one of the declared enumerators.
const MethodInfo& method_info(Method method) noexcept;
// nullptr for an unknown (service, method) pair.
const MethodInfo* find_method(std::uint64_t service, std::uint64_t method) noexcept;

}  // namespace hs::rpc
