#include "rpc/methods.h"

#include <array>

namespace hs::rpc {
namespace {

using M = MessageKind;
constexpr auto kCall = Direction::ClientToServer;
constexpr auto kEvent = Direction::ServerToClient;
constexpr bool kWaits = true;
constexpr bool kNoReply = false;

// Ids from schema.proto's (hrpc.service)/(hrpc.method) options; "client_waits" from how
// @hyperspace/client 1.18.0 calls each method (docs/formats/rpc.md "Methods": → or ⇢).
constexpr std::array<MethodInfo, kMethodCount> kMethods{{
    {Method::HyperspaceStatus, Service::Hyperspace, 1, "Hyperspace", "Status", M::Void,
     M::HyperspaceStatusResponse, kCall, kWaits},
    {Method::HyperspaceStop, Service::Hyperspace, 2, "Hyperspace", "Stop", M::Void, M::Void, kCall,
     kNoReply},

    {Method::CorestoreOpen, Service::Corestore, 1, "Corestore", "Open", M::OpenRequest,
     M::OpenResponse, kCall, kWaits},
    {Method::CorestoreOnFeed, Service::Corestore, 2, "Corestore", "OnFeed", M::FeedEvent, M::Void,
     kEvent, kNoReply},

    {Method::HypercoreGet, Service::Hypercore, 1, "Hypercore", "Get", M::GetRequest, M::GetResponse,
     kCall, kWaits},
    {Method::HypercoreAppend, Service::Hypercore, 2, "Hypercore", "Append", M::AppendRequest,
     M::AppendResponse, kCall, kWaits},
    {Method::HypercoreUpdate, Service::Hypercore, 3, "Hypercore", "Update", M::UpdateRequest,
     M::Void, kCall, kWaits},
    {Method::HypercoreSeek, Service::Hypercore, 4, "Hypercore", "Seek", M::SeekRequest,
     M::SeekResponse, kCall, kWaits},
    {Method::HypercoreHas, Service::Hypercore, 5, "Hypercore", "Has", M::HasRequest, M::HasResponse,
     kCall, kWaits},
    {Method::HypercoreCancel, Service::Hypercore, 6, "Hypercore", "Cancel", M::CancelRequest,
     M::Void, kCall, kNoReply},
    {Method::HypercoreDownload, Service::Hypercore, 7, "Hypercore", "Download", M::DownloadRequest,
     M::Void, kCall, kWaits},
    {Method::HypercoreDownloaded, Service::Hypercore, 8, "Hypercore", "Downloaded",
     M::DownloadedRequest, M::DownloadedResponse, kCall, kWaits},
    {Method::HypercoreUndownload, Service::Hypercore, 9, "Hypercore", "Undownload",
     M::UndownloadRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreClose, Service::Hypercore, 10, "Hypercore", "Close", M::CloseRequest, M::Void,
     kCall, kWaits},
    {Method::HypercoreRegisterExtension, Service::Hypercore, 11, "Hypercore", "RegisterExtension",
     M::RegisterExtensionRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreUnregisterExtension, Service::Hypercore, 12, "Hypercore",
     "UnregisterExtension", M::UnregisterExtensionRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreSendExtension, Service::Hypercore, 13, "Hypercore", "SendExtension",
     M::ExtensionMessage, M::Void, kCall, kNoReply},
    {Method::HypercoreAcquireLock, Service::Hypercore, 14, "Hypercore", "AcquireLock",
     M::LockRequest, M::Void, kCall, kWaits},
    {Method::HypercoreReleaseLock, Service::Hypercore, 15, "Hypercore", "ReleaseLock",
     M::LockRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreOnAppend, Service::Hypercore, 16, "Hypercore", "OnAppend", M::AppendEvent,
     M::Void, kEvent, kNoReply},
    {Method::HypercoreOnClose, Service::Hypercore, 17, "Hypercore", "OnClose", M::CloseEvent,
     M::Void, kEvent, kNoReply},
    {Method::HypercoreOnPeerOpen, Service::Hypercore, 18, "Hypercore", "OnPeerOpen", M::PeerEvent,
     M::Void, kEvent, kNoReply},
    {Method::HypercoreOnPeerRemove, Service::Hypercore, 19, "Hypercore", "OnPeerRemove",
     M::PeerEvent, M::Void, kEvent, kNoReply},
    {Method::HypercoreOnExtension, Service::Hypercore, 20, "Hypercore", "OnExtension",
     M::ExtensionMessage, M::Void, kEvent, kNoReply},
    {Method::HypercoreOnWait, Service::Hypercore, 21, "Hypercore", "OnWait", M::WaitEvent, M::Void,
     kEvent, kNoReply},
    {Method::HypercoreWatchDownloads, Service::Hypercore, 22, "Hypercore", "WatchDownloads",
     M::WatchDownloadsRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreUnwatchDownloads, Service::Hypercore, 23, "Hypercore", "UnwatchDownloads",
     M::UnwatchDownloadsRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreOnDownload, Service::Hypercore, 24, "Hypercore", "OnDownload",
     M::DownloadEvent, M::Void, kEvent, kNoReply},
    {Method::HypercoreWatchUploads, Service::Hypercore, 25, "Hypercore", "WatchUploads",
     M::WatchUploadsRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreUnwatchUploads, Service::Hypercore, 26, "Hypercore", "UnwatchUploads",
     M::UnwatchUploadsRequest, M::Void, kCall, kNoReply},
    {Method::HypercoreOnUpload, Service::Hypercore, 27, "Hypercore", "OnUpload", M::UploadEvent,
     M::Void, kEvent, kNoReply},

    {Method::NetworkOpen, Service::Network, 1, "Network", "Open", M::Void, M::OpenNetworkResponse,
     kCall, kWaits},
    {Method::NetworkConfigure, Service::Network, 2, "Network", "Configure",
     M::ConfigureNetworkRequest, M::NetworkStatusResponse, kCall, kWaits},
    {Method::NetworkStatus, Service::Network, 3, "Network", "Status", M::NetworkStatusRequest,
     M::NetworkStatusResponse, kCall, kWaits},
    {Method::NetworkAllStatuses, Service::Network, 4, "Network", "AllStatuses", M::Void,
     M::AllNetworkStatusesResponse, kCall, kWaits},
    {Method::NetworkRegisterExtension, Service::Network, 5, "Network", "RegisterExtension",
     M::RegisterExtensionRequest, M::Void, kCall, kNoReply},
    {Method::NetworkUnregisterExtension, Service::Network, 6, "Network", "UnregisterExtension",
     M::UnregisterExtensionRequest, M::Void, kCall, kNoReply},
    {Method::NetworkSendExtension, Service::Network, 7, "Network", "SendExtension",
     M::ExtensionMessage, M::Void, kCall, kNoReply},
    {Method::NetworkOnPeerAdd, Service::Network, 8, "Network", "OnPeerAdd", M::PeerEvent, M::Void,
     kEvent, kNoReply},
    {Method::NetworkOnPeerRemove, Service::Network, 9, "Network", "OnPeerRemove", M::PeerEvent,
     M::Void, kEvent, kNoReply},
    {Method::NetworkOnExtension, Service::Network, 10, "Network", "OnExtension",
     M::ExtensionMessage, M::Void, kEvent, kNoReply},
}};

constexpr bool table_is_consistent() {
    for (std::size_t i = 0; i < kMethods.size(); ++i) {
        if (static_cast<std::size_t>(kMethods[i].method) != i) return false;
        if (i > 0) {
            const auto& a = kMethods[i - 1];
            const auto& b = kMethods[i];
            const bool ordered = a.service < b.service || (a.service == b.service && a.id < b.id);
            if (!ordered) return false;
        }
        // Events carry no response; every method of a service is numbered 1..n without gaps.
        if (kMethods[i].direction == Direction::ServerToClient &&
            (kMethods[i].response != MessageKind::Void || kMethods[i].client_waits)) {
            return false;
        }
        if (kMethods[i].id != (i == 0 || kMethods[i - 1].service != kMethods[i].service
                                   ? 1
                                   : kMethods[i - 1].id + 1)) {
            return false;
        }
    }
    return true;
}
static_assert(table_is_consistent());

}  // namespace

std::span<const MethodInfo> all_methods() noexcept { return kMethods; }

const MethodInfo& method_info(Method method) noexcept {
    return kMethods[static_cast<std::size_t>(method)];
}

const MethodInfo* find_method(std::uint64_t service, std::uint64_t method) noexcept {
    for (const auto& m : kMethods) {
        if (static_cast<std::uint64_t>(m.service) == service && m.id == method) return &m;
    }
    return nullptr;
}

}  // namespace hs::rpc
