// Every message of @hyperspace/rpc 1.x (schema.proto) plus hrpc's RPCError, as plain structs with
// an encode/decode pair that is byte-identical to the JS `protocol-buffers` codec
// (docs/formats/rpc.md "Payload encoding").
//
// Field representation:
//   required scalar  -> plain member; always encoded (an empty Bytes/string is written as tag 00)
//   optional         -> std::optional; encoded iff set (even when equal to the default), so the
//                       server can tell "absent" from "false" (docs/behaviour/quirks.md #4, #8, #9)
//   repeated         -> std::vector; encoded unpacked, one tag per element; decoded packed or not
// All uint32/uint64 fields are std::uint64_t: the JS codec does not enforce the 32-bit width
// either, and session ids travel as uint32 in requests but as uint64 in events.
// Absent optional fields decode as std::nullopt; the value the JS decoder would yield instead is
// the type's zero ("", false, 0, null bytes) except where a `*_or_default()` accessor says true.
//
// decode(in) consumes all of `in` (one payload is one message) and fails with Errc::Protocol on
// a truncated field, a wire type that does not match the schema (packed repeated varints
// excepted), a group, or a missing required field ("Decoded message is not valid"). Unknown
// fields are skipped. A non-repeated field that occurs twice keeps its last value; a second
// embedded message replaces (does not merge into) the first, as in JS.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/wire/bytes_ref.h"

// Declares the codec members shared by every message struct.
#define HS_RPC_MESSAGE(Type)                  \
    void encode_to(Bytes& out) const;         \
    std::size_t encoded_size() const;         \
    static Result<Type> decode(ByteView& in); \
    bool operator==(const Type&) const = default

namespace hs::rpc {

// hrpc.Void: the empty payload. Decoding ignores whatever bytes were sent (the JS NULL encoding
// never looks at them); encoding writes nothing.
struct Void {
    HS_RPC_MESSAGE(Void);
};

// ---- General ----

struct Peer {
    Bytes remote_public_key;     // 1 bytes req
    std::string remote_address;  // 2 string req: IP only, no port
    std::string type;            // 3 string req: "tcp" / "utp"
    HS_RPC_MESSAGE(Peer);
};

// ---- Hyperspace ----

struct HyperspaceStatusResponse {
    std::string api_version;                    // 1 string req
    std::optional<bool> holepunchable;          // 2 bool opt
    std::optional<std::string> remote_address;  // 3 string opt
    std::optional<std::string> version;         // 4 string opt
    HS_RPC_MESSAGE(HyperspaceStatusResponse);
};

// ---- Corestore ----

struct OpenRequest {
    std::uint64_t id = 0;             // 1 uint32 req: client-chosen session id
    std::optional<Bytes> key;         // 2 bytes opt
    std::optional<std::string> name;  // 3 string opt
    std::optional<bool> weak;         // 4 bool opt
    HS_RPC_MESSAGE(OpenRequest);
};

struct OpenResponse {
    Bytes key;                           // 1 bytes req
    std::uint64_t length = 0;            // 2 uint64 req
    std::uint64_t byte_length = 0;       // 3 uint64 req
    bool writable = false;               // 4 bool req
    std::vector<Peer> peers;             // 5 Peer repeated
    std::optional<Bytes> discovery_key;  // 6 bytes opt
    HS_RPC_MESSAGE(OpenResponse);
};

struct FeedEvent {
    Bytes key;  // 1 bytes req
    HS_RPC_MESSAGE(FeedEvent);
};

// ---- Network ----

struct OpenNetworkResponse {
    Bytes public_key;         // 1 bytes req
    std::vector<Peer> peers;  // 2 Peer repeated
    HS_RPC_MESSAGE(OpenNetworkResponse);
};

struct NetworkStatus {
    Bytes discovery_key;           // 1 bytes req
    std::optional<bool> announce;  // 2 bool opt
    std::optional<bool> lookup;    // 3 bool opt
    std::optional<bool> remember;  // 4 bool opt: present-and-false means "forget" (quirks #8)
    HS_RPC_MESSAGE(NetworkStatus);
};

struct ConfigureNetworkRequest {
    NetworkStatus configuration;     // 1 NetworkStatus req
    std::optional<bool> flush;       // 2 bool opt
    std::optional<Bytes> copy_from;  // 3 bytes opt
    std::optional<bool> overwrite;   // 4 bool opt [default = true]
    bool overwrite_or_default() const noexcept { return overwrite.value_or(true); }
    HS_RPC_MESSAGE(ConfigureNetworkRequest);
};

struct NetworkStatusRequest {
    Bytes discovery_key;  // 1 bytes req
    HS_RPC_MESSAGE(NetworkStatusRequest);
};

struct NetworkStatusResponse {
    std::optional<NetworkStatus> status;  // 1 NetworkStatus opt
    HS_RPC_MESSAGE(NetworkStatusResponse);
};

struct AllNetworkStatusesResponse {
    std::vector<NetworkStatus> statuses;  // 1 NetworkStatus repeated
    HS_RPC_MESSAGE(AllNetworkStatusesResponse);
};

// Declared by the schema but used by no method.
struct RegisterNetworkExtensionRequest {
    std::uint64_t resource_id = 0;  // 1 uint64 req
    std::string name;               // 2 string req
    HS_RPC_MESSAGE(RegisterNetworkExtensionRequest);
};

// Declared by the schema but used by no method.
struct NetworkExtensionMessage {
    std::uint64_t id = 0;                    // 1 uint64 req
    std::uint64_t resource_id = 0;           // 2 uint64 req
    std::optional<Bytes> remote_public_key;  // 3 bytes opt
    Bytes data;                              // 4 bytes req
    HS_RPC_MESSAGE(NetworkExtensionMessage);
};

// ---- Hypercore ----

struct CloseRequest {
    std::uint64_t id = 0;  // 1 uint32 req
    HS_RPC_MESSAGE(CloseRequest);
};

struct GetRequest {
    std::uint64_t id = 0;                     // 1 uint32 req
    std::uint64_t seq = 0;                    // 2 uint64 req
    std::uint64_t resource_id = 0;            // 3 uint64 req
    std::optional<bool> wait;                 // 4 bool opt [default = true]
    std::optional<bool> if_available;         // 5 bool opt [default = true]
    std::optional<std::uint64_t> on_wait_id;  // 6 uint64 opt: 0/absent = no OnWait event
    bool wait_or_default() const noexcept { return wait.value_or(true); }
    bool if_available_or_default() const noexcept { return if_available.value_or(true); }
    HS_RPC_MESSAGE(GetRequest);
};

struct GetResponse {
    std::optional<Bytes> block;  // 1 bytes opt
    HS_RPC_MESSAGE(GetResponse);
};

// Owned or borrowed field bytes (wire/bytes_ref.h).
using BytesRef = wire::BytesRef;

// Decoding borrows the blocks (BytesRef): a decoded AppendRequest is valid only as long as the
// payload it was decoded from. A batch of blocks then reaches Feed::append without a copy.
struct AppendRequest {
    std::uint64_t id = 0;          // 1 uint32 req
    std::vector<BytesRef> blocks;  // 2 bytes repeated
    HS_RPC_MESSAGE(AppendRequest);
};

struct AppendResponse {
    std::uint64_t length = 0;       // 1 uint64 req
    std::uint64_t byte_length = 0;  // 2 uint64 req
    std::uint64_t seq = 0;          // 3 uint64 req: index of the first appended block
    HS_RPC_MESSAGE(AppendResponse);
};

struct UpdateRequest {
    std::uint64_t id = 0;                     // 1 uint32 req
    std::optional<std::uint64_t> min_length;  // 2 uint64 opt
    std::optional<bool> if_available;         // 3 bool opt [default = true]
    std::optional<bool> hash;                 // 4 bool opt [default = true]
    bool if_available_or_default() const noexcept { return if_available.value_or(true); }
    bool hash_or_default() const noexcept { return hash.value_or(true); }
    HS_RPC_MESSAGE(UpdateRequest);
};

struct SeekRequest {
    std::uint64_t id = 0;                // 1 uint32 req
    std::uint64_t byte_offset = 0;       // 2 uint64 req
    std::optional<std::uint64_t> start;  // 3 uint64 opt
    std::optional<std::uint64_t> end;    // 4 uint64 opt
    std::optional<bool> wait;            // 5 bool opt [default = true]
    std::optional<bool> if_available;    // 6 bool opt [default = true]
    bool wait_or_default() const noexcept { return wait.value_or(true); }
    bool if_available_or_default() const noexcept { return if_available.value_or(true); }
    HS_RPC_MESSAGE(SeekRequest);
};

struct SeekResponse {
    std::uint64_t seq = 0;           // 1 uint64 req
    std::uint64_t block_offset = 0;  // 2 uint64 req
    HS_RPC_MESSAGE(SeekResponse);
};

struct HasRequest {
    std::uint64_t id = 0;   // 1 uint32 req
    std::uint64_t seq = 0;  // 2 uint64 req
    HS_RPC_MESSAGE(HasRequest);
};

struct HasResponse {
    bool has = false;  // 1 bool req
    HS_RPC_MESSAGE(HasResponse);
};

struct CancelRequest {
    std::uint64_t id = 0;           // 1 uint64 req
    std::uint64_t resource_id = 0;  // 2 uint64 req
    HS_RPC_MESSAGE(CancelRequest);
};

struct DownloadRequest {
    std::uint64_t id = 0;                // 1 uint64 req
    std::uint64_t resource_id = 0;       // 2 uint64 req
    std::optional<std::uint64_t> start;  // 3 uint64 opt
    std::optional<std::uint64_t> end;    // 4 uint64 opt
    std::vector<std::uint64_t> blocks;   // 5 uint64 repeated (unpacked on the wire)
    std::optional<bool> linear;          // 6 bool opt
    std::optional<bool> live;            // 7 bool opt: true = no end
    HS_RPC_MESSAGE(DownloadRequest);
};

struct DownloadedRequest {
    std::uint64_t id = 0;                // 1 uint64 req
    std::optional<std::uint64_t> start;  // 2 uint64 opt
    std::optional<std::uint64_t> end;    // 3 uint64 opt
    HS_RPC_MESSAGE(DownloadedRequest);
};

struct DownloadedResponse {
    std::uint64_t bytes = 0;  // 1 uint64 req: a block count, despite the name
    HS_RPC_MESSAGE(DownloadedResponse);
};

struct UndownloadRequest {
    std::uint64_t id = 0;           // 1 uint64 req
    std::uint64_t resource_id = 0;  // 2 uint64 req
    HS_RPC_MESSAGE(UndownloadRequest);
};

struct LockRequest {
    std::uint64_t id = 0;  // 1 uint64 req
    HS_RPC_MESSAGE(LockRequest);
};

struct WatchDownloadsRequest {
    std::uint64_t id = 0;  // 1 uint64 req
    HS_RPC_MESSAGE(WatchDownloadsRequest);
};

struct UnwatchDownloadsRequest {
    std::uint64_t id = 0;  // 1 uint64 req
    HS_RPC_MESSAGE(UnwatchDownloadsRequest);
};

struct WatchUploadsRequest {
    std::uint64_t id = 0;  // 1 uint64 req
    HS_RPC_MESSAGE(WatchUploadsRequest);
};

struct UnwatchUploadsRequest {
    std::uint64_t id = 0;  // 1 uint64 req
    HS_RPC_MESSAGE(UnwatchUploadsRequest);
};

// ---- Hypercore events ----

struct AppendEvent {
    std::uint64_t id = 0;           // 1 uint64 req
    std::uint64_t length = 0;       // 2 uint64 req
    std::uint64_t byte_length = 0;  // 3 uint64 req
    HS_RPC_MESSAGE(AppendEvent);
};

struct PeerEvent {
    std::uint64_t id = 0;  // 1 uint64 req (0 for Network events)
    Peer peer;             // 2 Peer req
    HS_RPC_MESSAGE(PeerEvent);
};

struct CloseEvent {
    std::uint64_t id = 0;  // 1 uint64 req
    HS_RPC_MESSAGE(CloseEvent);
};

struct WaitEvent {
    std::uint64_t id = 0;          // 1 uint64 req
    std::uint64_t on_wait_id = 0;  // 2 uint64 req
    std::uint64_t seq = 0;         // 3 uint64 req
    HS_RPC_MESSAGE(WaitEvent);
};

struct DownloadEvent {
    std::uint64_t id = 0;                      // 1 uint64 req
    std::uint64_t seq = 0;                     // 2 uint64 req
    std::optional<std::uint64_t> byte_length;  // 3 uint64 opt
    HS_RPC_MESSAGE(DownloadEvent);
};

struct UploadEvent {
    std::uint64_t id = 0;           // 1 uint64 req
    std::uint64_t seq = 0;          // 2 uint64 req
    std::uint64_t byte_length = 0;  // 3 uint64 req
    HS_RPC_MESSAGE(UploadEvent);
};

// ---- Extensions (Hypercore and Network; `id` = 0 for Network) ----

struct RegisterExtensionRequest {
    std::uint64_t id = 0;           // 1 uint64 req
    std::uint64_t resource_id = 0;  // 2 uint64 req
    std::string name;               // 3 string req
    HS_RPC_MESSAGE(RegisterExtensionRequest);
};

struct UnregisterExtensionRequest {
    std::uint64_t id = 0;           // 1 uint64 req
    std::uint64_t resource_id = 0;  // 2 uint64 req
    HS_RPC_MESSAGE(UnregisterExtensionRequest);
};

struct ExtensionMessage {
    std::uint64_t id = 0;                    // 1 uint64 req
    std::uint64_t resource_id = 0;           // 2 uint64 req
    std::optional<Bytes> remote_public_key;  // 3 bytes opt: absent = broadcast
    Bytes data;                              // 4 bytes req
    HS_RPC_MESSAGE(ExtensionMessage);
};

// ---- Errors (the payload of every error frame) ----

struct RPCError {
    std::string message;                      // 1 string req
    std::optional<std::string> code;          // 2 string opt, e.g. "ECANCELED"
    std::optional<std::int32_t> errno_value;  // 3 int32 opt ("errno"); negative = 5-byte varint
    std::optional<std::string> details;       // 4 string opt
    HS_RPC_MESSAGE(RPCError);
};

// ---- Type-erased access (dispatcher, fuzzers) ----

// Which message struct (schema) a payload decodes as, one value per struct; not a wire id. The
// order matches AnyMessage's alternatives.
enum class MessageKind : std::uint8_t {
    Void,
    Peer,
    HyperspaceStatusResponse,
    OpenRequest,
    OpenResponse,
    FeedEvent,
    OpenNetworkResponse,
    NetworkStatus,
    ConfigureNetworkRequest,
    NetworkStatusRequest,
    NetworkStatusResponse,
    AllNetworkStatusesResponse,
    RegisterNetworkExtensionRequest,
    NetworkExtensionMessage,
    CloseRequest,
    GetRequest,
    GetResponse,
    AppendRequest,
    AppendResponse,
    UpdateRequest,
    SeekRequest,
    SeekResponse,
    HasRequest,
    HasResponse,
    CancelRequest,
    DownloadRequest,
    DownloadedRequest,
    DownloadedResponse,
    UndownloadRequest,
    LockRequest,
    WatchDownloadsRequest,
    UnwatchDownloadsRequest,
    WatchUploadsRequest,
    UnwatchUploadsRequest,
    AppendEvent,
    PeerEvent,
    CloseEvent,
    WaitEvent,
    DownloadEvent,
    UploadEvent,
    RegisterExtensionRequest,
    UnregisterExtensionRequest,
    ExtensionMessage,
    RPCError,
};
inline constexpr std::size_t kMessageKindCount =
    static_cast<std::size_t>(MessageKind::RPCError) + 1;

using AnyMessage =
    std::variant<Void, Peer, HyperspaceStatusResponse, OpenRequest, OpenResponse, FeedEvent,
                 OpenNetworkResponse, NetworkStatus, ConfigureNetworkRequest, NetworkStatusRequest,
                 NetworkStatusResponse, AllNetworkStatusesResponse, RegisterNetworkExtensionRequest,
                 NetworkExtensionMessage, CloseRequest, GetRequest, GetResponse, AppendRequest,
                 AppendResponse, UpdateRequest, SeekRequest, SeekResponse, HasRequest, HasResponse,
                 CancelRequest, DownloadRequest, DownloadedRequest, DownloadedResponse,
                 UndownloadRequest, LockRequest, WatchDownloadsRequest, UnwatchDownloadsRequest,
                 WatchUploadsRequest, UnwatchUploadsRequest, AppendEvent, PeerEvent, CloseEvent,
                 WaitEvent, DownloadEvent, UploadEvent, RegisterExtensionRequest,
                 UnregisterExtensionRequest, ExtensionMessage, RPCError>;
static_assert(std::variant_size_v<AnyMessage> == kMessageKindCount);

// The schema name ("GetRequest"; "Void" for hrpc.Void).
std::string_view message_kind_name(MessageKind type) noexcept;
inline MessageKind message_kind_of(const AnyMessage& m) noexcept {
    return static_cast<MessageKind>(m.index());
}
// Decodes all of `payload` as `type`.
[[nodiscard]] Result<AnyMessage> decode_any(MessageKind type, ByteView payload);
void encode_any(const AnyMessage& message, Bytes& out);
std::size_t encoded_size_any(const AnyMessage& message);

}  // namespace hs::rpc
