// The RPC schema tables for the shared codec (wire/schema.h), and the type-erased access.
#include "rpc/messages.h"

#include <array>
#include <type_traits>
#include <utility>

#include "common/wire/schema.h"

namespace hs::rpc {
namespace {

// @hyperspace/rpc's decoding rules (docs/formats/rpc.md "Payload encoding"): a bool is any
// varint, a known field with the wrong wire type fails the message, strings are UTF-8 with
// ill-formed sequences replaced, no size limit beyond the frame's.
constexpr wire::Dialect kRpc{.name = "rpc message",
                             .bools = wire::BoolRule::Varint,
                             .mismatch = wire::WireMismatch::Reject,
                             .text = wire::TextRule::ReplaceInvalidUtf8};

}  // namespace

// ---- Schema tables: (field number, member) in declaration order = ascending field number ----

using wire::field;

#define HS_SCHEMA(Type, ...) \
    constexpr auto schema_of(std::type_identity<Type>) { return wire::schema(#Type, __VA_ARGS__); }

constexpr auto schema_of(std::type_identity<Void>) { return wire::schema("Void"); }
HS_SCHEMA(Peer, field(1, &Peer::remote_public_key), field(2, &Peer::remote_address),
          field(3, &Peer::type));
HS_SCHEMA(HyperspaceStatusResponse, field(1, &HyperspaceStatusResponse::api_version),
          field(2, &HyperspaceStatusResponse::holepunchable),
          field(3, &HyperspaceStatusResponse::remote_address),
          field(4, &HyperspaceStatusResponse::version));
HS_SCHEMA(OpenRequest, field(1, &OpenRequest::id), field(2, &OpenRequest::key),
          field(3, &OpenRequest::name), field(4, &OpenRequest::weak));
HS_SCHEMA(OpenResponse, field(1, &OpenResponse::key), field(2, &OpenResponse::length),
          field(3, &OpenResponse::byte_length), field(4, &OpenResponse::writable),
          field(5, &OpenResponse::peers), field(6, &OpenResponse::discovery_key));
HS_SCHEMA(FeedEvent, field(1, &FeedEvent::key));
HS_SCHEMA(OpenNetworkResponse, field(1, &OpenNetworkResponse::public_key),
          field(2, &OpenNetworkResponse::peers));
HS_SCHEMA(NetworkStatus, field(1, &NetworkStatus::discovery_key),
          field(2, &NetworkStatus::announce), field(3, &NetworkStatus::lookup),
          field(4, &NetworkStatus::remember));
HS_SCHEMA(ConfigureNetworkRequest, field(1, &ConfigureNetworkRequest::configuration),
          field(2, &ConfigureNetworkRequest::flush), field(3, &ConfigureNetworkRequest::copy_from),
          field(4, &ConfigureNetworkRequest::overwrite));
HS_SCHEMA(NetworkStatusRequest, field(1, &NetworkStatusRequest::discovery_key));
HS_SCHEMA(NetworkStatusResponse, field(1, &NetworkStatusResponse::status));
HS_SCHEMA(AllNetworkStatusesResponse, field(1, &AllNetworkStatusesResponse::statuses));
HS_SCHEMA(RegisterNetworkExtensionRequest, field(1, &RegisterNetworkExtensionRequest::resource_id),
          field(2, &RegisterNetworkExtensionRequest::name));
HS_SCHEMA(NetworkExtensionMessage, field(1, &NetworkExtensionMessage::id),
          field(2, &NetworkExtensionMessage::resource_id),
          field(3, &NetworkExtensionMessage::remote_public_key),
          field(4, &NetworkExtensionMessage::data));
HS_SCHEMA(CloseRequest, field(1, &CloseRequest::id));
HS_SCHEMA(GetRequest, field(1, &GetRequest::id), field(2, &GetRequest::seq),
          field(3, &GetRequest::resource_id), field(4, &GetRequest::wait),
          field(5, &GetRequest::if_available), field(6, &GetRequest::on_wait_id));
HS_SCHEMA(GetResponse, field(1, &GetResponse::block));
HS_SCHEMA(AppendRequest, field(1, &AppendRequest::id), field(2, &AppendRequest::blocks));
HS_SCHEMA(AppendResponse, field(1, &AppendResponse::length), field(2, &AppendResponse::byte_length),
          field(3, &AppendResponse::seq));
HS_SCHEMA(UpdateRequest, field(1, &UpdateRequest::id), field(2, &UpdateRequest::min_length),
          field(3, &UpdateRequest::if_available), field(4, &UpdateRequest::hash));
HS_SCHEMA(SeekRequest, field(1, &SeekRequest::id), field(2, &SeekRequest::byte_offset),
          field(3, &SeekRequest::start), field(4, &SeekRequest::end), field(5, &SeekRequest::wait),
          field(6, &SeekRequest::if_available));
HS_SCHEMA(SeekResponse, field(1, &SeekResponse::seq), field(2, &SeekResponse::block_offset));
HS_SCHEMA(HasRequest, field(1, &HasRequest::id), field(2, &HasRequest::seq));
HS_SCHEMA(HasResponse, field(1, &HasResponse::has));
HS_SCHEMA(CancelRequest, field(1, &CancelRequest::id), field(2, &CancelRequest::resource_id));
HS_SCHEMA(DownloadRequest, field(1, &DownloadRequest::id), field(2, &DownloadRequest::resource_id),
          field(3, &DownloadRequest::start), field(4, &DownloadRequest::end),
          field(5, &DownloadRequest::blocks), field(6, &DownloadRequest::linear),
          field(7, &DownloadRequest::live));
HS_SCHEMA(DownloadedRequest, field(1, &DownloadedRequest::id), field(2, &DownloadedRequest::start),
          field(3, &DownloadedRequest::end));
HS_SCHEMA(DownloadedResponse, field(1, &DownloadedResponse::bytes));
HS_SCHEMA(UndownloadRequest, field(1, &UndownloadRequest::id),
          field(2, &UndownloadRequest::resource_id));
HS_SCHEMA(LockRequest, field(1, &LockRequest::id));
HS_SCHEMA(WatchDownloadsRequest, field(1, &WatchDownloadsRequest::id));
HS_SCHEMA(UnwatchDownloadsRequest, field(1, &UnwatchDownloadsRequest::id));
HS_SCHEMA(WatchUploadsRequest, field(1, &WatchUploadsRequest::id));
HS_SCHEMA(UnwatchUploadsRequest, field(1, &UnwatchUploadsRequest::id));
HS_SCHEMA(AppendEvent, field(1, &AppendEvent::id), field(2, &AppendEvent::length),
          field(3, &AppendEvent::byte_length));
HS_SCHEMA(PeerEvent, field(1, &PeerEvent::id), field(2, &PeerEvent::peer));
HS_SCHEMA(CloseEvent, field(1, &CloseEvent::id));
HS_SCHEMA(WaitEvent, field(1, &WaitEvent::id), field(2, &WaitEvent::on_wait_id),
          field(3, &WaitEvent::seq));
HS_SCHEMA(DownloadEvent, field(1, &DownloadEvent::id), field(2, &DownloadEvent::seq),
          field(3, &DownloadEvent::byte_length));
HS_SCHEMA(UploadEvent, field(1, &UploadEvent::id), field(2, &UploadEvent::seq),
          field(3, &UploadEvent::byte_length));
HS_SCHEMA(RegisterExtensionRequest, field(1, &RegisterExtensionRequest::id),
          field(2, &RegisterExtensionRequest::resource_id),
          field(3, &RegisterExtensionRequest::name));
HS_SCHEMA(UnregisterExtensionRequest, field(1, &UnregisterExtensionRequest::id),
          field(2, &UnregisterExtensionRequest::resource_id));
HS_SCHEMA(ExtensionMessage, field(1, &ExtensionMessage::id),
          field(2, &ExtensionMessage::resource_id), field(3, &ExtensionMessage::remote_public_key),
          field(4, &ExtensionMessage::data));
HS_SCHEMA(RPCError, field(1, &RPCError::message), field(2, &RPCError::code),
          field(3, &RPCError::errno_value), field(4, &RPCError::details));

#undef HS_SCHEMA

#define HS_RPC_DEFINE(Type)                                                       \
    void Type::encode_to(Bytes& out) const { wire::encode<kRpc>(*this, out); }    \
    std::size_t Type::encoded_size() const { return wire::encoded_size(*this); } \
    Result<Type> Type::decode(ByteView& in) {                                     \
        auto m = wire::decode<kRpc, Type>(in);                                    \
        if (m) in = in.subspan(in.size());                                        \
        return m;                                                                 \
    }

void Void::encode_to(Bytes&) const {}
std::size_t Void::encoded_size() const { return 0; }
Result<Void> Void::decode(ByteView& in) {
    in = in.subspan(in.size());  // hrpc's NULL encoding ignores the payload
    return Void{};
}
HS_RPC_DEFINE(Peer)
HS_RPC_DEFINE(HyperspaceStatusResponse)
HS_RPC_DEFINE(OpenRequest)
HS_RPC_DEFINE(OpenResponse)
HS_RPC_DEFINE(FeedEvent)
HS_RPC_DEFINE(OpenNetworkResponse)
HS_RPC_DEFINE(NetworkStatus)
HS_RPC_DEFINE(ConfigureNetworkRequest)
HS_RPC_DEFINE(NetworkStatusRequest)
HS_RPC_DEFINE(NetworkStatusResponse)
HS_RPC_DEFINE(AllNetworkStatusesResponse)
HS_RPC_DEFINE(RegisterNetworkExtensionRequest)
HS_RPC_DEFINE(NetworkExtensionMessage)
HS_RPC_DEFINE(CloseRequest)
HS_RPC_DEFINE(GetRequest)
HS_RPC_DEFINE(GetResponse)
HS_RPC_DEFINE(AppendRequest)
HS_RPC_DEFINE(AppendResponse)
HS_RPC_DEFINE(UpdateRequest)
HS_RPC_DEFINE(SeekRequest)
HS_RPC_DEFINE(SeekResponse)
HS_RPC_DEFINE(HasRequest)
HS_RPC_DEFINE(HasResponse)
HS_RPC_DEFINE(CancelRequest)
HS_RPC_DEFINE(DownloadRequest)
HS_RPC_DEFINE(DownloadedRequest)
HS_RPC_DEFINE(DownloadedResponse)
HS_RPC_DEFINE(UndownloadRequest)
HS_RPC_DEFINE(LockRequest)
HS_RPC_DEFINE(WatchDownloadsRequest)
HS_RPC_DEFINE(UnwatchDownloadsRequest)
HS_RPC_DEFINE(WatchUploadsRequest)
HS_RPC_DEFINE(UnwatchUploadsRequest)
HS_RPC_DEFINE(AppendEvent)
HS_RPC_DEFINE(PeerEvent)
HS_RPC_DEFINE(CloseEvent)
HS_RPC_DEFINE(WaitEvent)
HS_RPC_DEFINE(DownloadEvent)
HS_RPC_DEFINE(UploadEvent)
HS_RPC_DEFINE(RegisterExtensionRequest)
HS_RPC_DEFINE(UnregisterExtensionRequest)
HS_RPC_DEFINE(ExtensionMessage)
HS_RPC_DEFINE(RPCError)

#undef HS_RPC_DEFINE

namespace {

template <std::size_t I>
Result<AnyMessage> decode_alternative(ByteView payload) {
    using M = std::variant_alternative_t<I, AnyMessage>;
    auto m = M::decode(payload);
    if (!m) return std::move(m).error();
    return AnyMessage(std::in_place_index<I>, std::move(m).value());
}

template <std::size_t... I>
constexpr auto make_decoders(std::index_sequence<I...>) {
    return std::array<Result<AnyMessage> (*)(ByteView), sizeof...(I)>{&decode_alternative<I>...};
}

template <std::size_t... I>
constexpr auto make_names(std::index_sequence<I...>) {
    return std::array<std::string_view, sizeof...(I)>{
        wire::detail::kSchema<std::variant_alternative_t<I, AnyMessage>>.name...};
}

constexpr auto kDecoders = make_decoders(std::make_index_sequence<kMessageKindCount>{});
constexpr auto kNames = make_names(std::make_index_sequence<kMessageKindCount>{});

}  // namespace

std::string_view message_kind_name(MessageKind type) noexcept {
    const auto i = static_cast<std::size_t>(type);
    return i < kNames.size() ? kNames[i] : std::string_view("?");
}

Result<AnyMessage> decode_any(MessageKind type, ByteView payload) {
    const auto i = static_cast<std::size_t>(type);
    if (i >= kDecoders.size())
        return make_error(Errc::InvalidArgument, "unknown message type {}", i);
    return kDecoders[i](payload);
}

void encode_any(const AnyMessage& message, Bytes& out) {
    std::visit([&](const auto& m) { m.encode_to(out); }, message);
}

std::size_t encoded_size_any(const AnyMessage& message) {
    return std::visit([](const auto& m) { return m.encoded_size(); }, message);
}

}  // namespace hs::rpc
