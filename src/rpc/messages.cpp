#include "rpc/messages.h"

#include <array>
#include <tuple>
#include <type_traits>
#include <utility>

#include "rpc/pb.h"

namespace hs::rpc {
namespace {

// ---- Schema tables: (field number, member) in declaration order = ascending field number ----

template <typename M, typename T>
struct FieldDef {
    std::uint32_t number;
    T M::*member;
};
template <typename M, typename T>
constexpr FieldDef<M, T> field(std::uint32_t number, T M::*member) {
    return {number, member};
}

template <typename M>
struct Schema;  // static constexpr std::string_view kName; static constexpr auto kFields

#define HS_SCHEMA(Type, ...)                                          \
    template <>                                                       \
    struct Schema<Type> {                                             \
        static constexpr std::string_view kName = #Type;              \
        static constexpr auto kFields = std::make_tuple(__VA_ARGS__); \
    }

template <>
struct Schema<Void> {
    static constexpr std::string_view kName = "Void";
    static constexpr auto kFields = std::tuple<>();
};
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

// ---- Field kinds, from the member's C++ type ----

template <typename T>
struct OptionalOf {
    using type = void;
};
template <typename T>
struct OptionalOf<std::optional<T>> {
    using type = T;
};
template <typename T>
struct RepeatedOf {
    using type = void;
};
template <typename T>
struct RepeatedOf<std::vector<T>> {
    using type = T;
};
template <>
struct RepeatedOf<Bytes> {  // a bytes scalar, not a repeated uint8
    using type = void;
};

template <typename T>
inline constexpr bool kIsOptional = !std::is_void_v<typename OptionalOf<T>::type>;
template <typename T>
inline constexpr bool kIsRepeated = !std::is_void_v<typename RepeatedOf<T>::type>;
template <typename T>
inline constexpr bool kIsRequired = !kIsOptional<T> && !kIsRepeated<T>;

template <typename T>
concept Message = requires {
    Schema<T>::kFields;
};

template <typename T>
constexpr pb::WireType wire_type_of() {
    if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, bool> ||
                  std::is_same_v<T, std::int32_t>) {
        return pb::WireType::Varint;
    } else {
        static_assert(std::is_same_v<T, Bytes> || std::is_same_v<T, BytesRef> ||
                      std::is_same_v<T, std::string> || Message<T>);
        return pb::WireType::LengthDelimited;
    }
}

// ---- Encoding ----

template <Message M>
std::size_t body_size(const M& m);
template <Message M>
void encode_body(const M& m, Bytes& out);

// Size of one value without its tag.
template <typename T>
std::size_t value_size(const T& v) {
    if constexpr (std::is_same_v<T, std::uint64_t>) {
        return varint::encoding_length(v);
    } else if constexpr (std::is_same_v<T, bool>) {
        return 1;
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
        return varint::encoding_length(pb::int32_wire_value(v));
    } else if constexpr (std::is_same_v<T, Bytes> || std::is_same_v<T, BytesRef> ||
                         std::is_same_v<T, std::string>) {
        return pb::length_delimited_size(v.size());
    } else {
        return pb::length_delimited_size(body_size(v));
    }
}

template <typename T>
void put_value(const T& v, Bytes& out) {
    if constexpr (std::is_same_v<T, std::uint64_t>) {
        varint::encode(out, v);
    } else if constexpr (std::is_same_v<T, bool>) {
        pb::put_bool(out, v);
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
        pb::put_int32(out, v);
    } else if constexpr (std::is_same_v<T, Bytes> || std::is_same_v<T, BytesRef>) {
        pb::put_length_delimited(out, ByteView(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
        pb::put_length_delimited(out, as_bytes(v));
    } else {
        varint::encode(out, body_size(v));
        encode_body(v, out);
    }
}

template <typename T>
std::size_t field_size(std::uint32_t number, const T& v) {
    if constexpr (kIsOptional<T>) {
        return v ? pb::tag_size(number) + value_size(*v) : 0;
    } else if constexpr (kIsRepeated<T>) {
        std::size_t n = 0;
        for (const auto& e : v) n += pb::tag_size(number) + value_size(e);
        return n;
    } else {
        return pb::tag_size(number) + value_size(v);
    }
}

template <typename T>
void put_field(std::uint32_t number, const T& v, Bytes& out) {
    if constexpr (kIsOptional<T>) {
        if (!v) return;
        using U = typename OptionalOf<T>::type;
        pb::put_tag(out, number, wire_type_of<U>());
        put_value(*v, out);
    } else if constexpr (kIsRepeated<T>) {
        using U = typename RepeatedOf<T>::type;
        for (const auto& e : v) {  // unpacked, as the JS encoder writes it
            pb::put_tag(out, number, wire_type_of<U>());
            put_value(e, out);
        }
    } else {
        pb::put_tag(out, number, wire_type_of<T>());
        put_value(v, out);
    }
}

template <Message M>
std::size_t body_size(const M& m) {
    return std::apply(
        [&](const auto&... f) {
            return (std::size_t{0} + ... + field_size(f.number, m.*(f.member)));
        },
        Schema<M>::kFields);
}

// The JS encoder writes fields in declaration order, which is ascending in this schema.
template <Message M>
constexpr bool fields_ascending() {
    return std::apply(
        [](const auto&... f) {
            std::uint32_t previous = 0;
            bool ascending = true;
            ((ascending = ascending && f.number > previous, previous = f.number), ...);
            (void)previous;  // unused for Void
            return ascending;
        },
        Schema<M>::kFields);
}

template <Message M>
void encode_body(const M& m, Bytes& out) {
    static_assert(fields_ascending<M>());
    std::apply([&](const auto&... f) { (put_field(f.number, m.*(f.member), out), ...); },
               Schema<M>::kFields);
}

// ---- Decoding ----

template <Message M>
Result<M> decode_body(ByteView in);

Error wire_mismatch(std::string_view message, std::uint64_t field) {
    return make_error(Errc::Protocol, "rpc message {}: field {} has the wrong wire type", message,
                      field);
}

template <typename T>
Status read_value(pb::Reader& r, T& out) {
    if constexpr (std::is_same_v<T, std::uint64_t>) {
        HS_ASSIGN_OR_RETURN(out, r.read_varint());
    } else if constexpr (std::is_same_v<T, bool>) {
        HS_ASSIGN_OR_RETURN(out, r.read_bool());
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
        HS_ASSIGN_OR_RETURN(out, r.read_int32());
    } else if constexpr (std::is_same_v<T, Bytes>) {
        HS_ASSIGN_OR_RETURN(const ByteView v, r.read_length_delimited());
        out.assign(v.begin(), v.end());  // bounded by the input already received
    } else if constexpr (std::is_same_v<T, BytesRef>) {
        HS_ASSIGN_OR_RETURN(const ByteView v, r.read_length_delimited());
        out = BytesRef::borrow(v);  // a view into the input: no copy
    } else if constexpr (std::is_same_v<T, std::string>) {
        HS_ASSIGN_OR_RETURN(out, r.read_string());
    } else {
        HS_ASSIGN_OR_RETURN(const ByteView v, r.read_length_delimited());
        HS_ASSIGN_OR_RETURN(out, decode_body<T>(v));  // replaces, as the JS decoder does
    }
    return {};
}

template <typename M, typename T>
Status read_field(pb::Reader& r, pb::WireType wire, std::uint64_t number, T& out) {
    if constexpr (kIsOptional<T>) {
        using U = typename OptionalOf<T>::type;
        if (wire != wire_type_of<U>()) return wire_mismatch(Schema<M>::kName, number);
        U value{};
        HS_TRY(read_value(r, value));
        out = std::move(value);
    } else if constexpr (kIsRepeated<T>) {
        using U = typename RepeatedOf<T>::type;
        if constexpr (wire_type_of<U>() == pb::WireType::Varint) {
            if (wire == pb::WireType::LengthDelimited) {  // packed: accepted, never written
                HS_ASSIGN_OR_RETURN(const ByteView packed, r.read_length_delimited());
                pb::Reader inner(packed);
                while (!inner.done()) {
                    U value{};
                    HS_TRY(read_value(inner, value));
                    out.push_back(std::move(value));
                }
                return {};
            }
        }
        if (wire != wire_type_of<U>()) return wire_mismatch(Schema<M>::kName, number);
        U value{};
        HS_TRY(read_value(r, value));
        out.push_back(std::move(value));  // each element consumed >= 1 input byte
    } else {
        if (wire != wire_type_of<T>()) return wire_mismatch(Schema<M>::kName, number);
        HS_TRY(read_value(r, out));
    }
    return {};
}

template <typename F>
struct MemberOf;
template <typename M, typename T>
struct MemberOf<FieldDef<M, T>> {
    using type = T;
};

// Bit I is set when field I of M is required.
template <Message M, std::size_t... I>
constexpr std::uint64_t required_mask(std::index_sequence<I...>) {
    using Fields = std::remove_cvref_t<decltype(Schema<M>::kFields)>;
    return (std::uint64_t{0} | ... |
            (kIsRequired<typename MemberOf<std::tuple_element_t<I, Fields>>::type>
                 ? std::uint64_t{1} << I
                 : std::uint64_t{0}));
}

// Reads the value of `tag` into the field of `m` with that number, if M has one (field index
// >= I), and marks it found. Returns false for an unknown field number; `status` gets the result.
template <Message M, std::size_t I = 0>
bool read_known_field(pb::Reader& r, const pb::Tag& tag, M& m, std::uint64_t& found,
                      Status& status) {
    using Fields = std::remove_cvref_t<decltype(Schema<M>::kFields)>;
    if constexpr (I == std::tuple_size_v<Fields>) {
        return false;
    } else {
        const auto& f = std::get<I>(Schema<M>::kFields);
        if (f.number != tag.field) return read_known_field<M, I + 1>(r, tag, m, found, status);
        found |= std::uint64_t{1} << I;
        status = read_field<M>(r, tag.wire, tag.field, m.*(f.member));
        return true;
    }
}

template <Message M>
Result<M> decode_body(ByteView in) {
    using Fields = std::remove_cvref_t<decltype(Schema<M>::kFields)>;
    constexpr std::size_t kCount = std::tuple_size_v<Fields>;
    static_assert(kCount < 64);
    constexpr std::uint64_t kRequired = required_mask<M>(std::make_index_sequence<kCount>{});

    M m{};
    std::uint64_t found = 0;
    pb::Reader r(in);
    while (!r.done()) {
        HS_ASSIGN_OR_RETURN(const pb::Tag tag, r.read_tag());
        Status status;
        const bool known = read_known_field<M>(r, tag, m, found, status);
        if (!known) status = r.skip(tag.wire);
        if (!status) return std::move(status).error();
    }
    if ((found & kRequired) != kRequired) {
        return make_error(Errc::Protocol,
                          "rpc message {}: a required field is missing (Decoded message is not "
                          "valid)",
                          Schema<M>::kName);
    }
    return m;
}

template <>
Result<Void> decode_body<Void>(ByteView) {
    return Void{};  // hrpc's NULL encoding ignores the payload
}

}  // namespace

#define HS_RPC_DEFINE(Type)                                             \
    void Type::encode_to(Bytes& out) const { encode_body(*this, out); } \
    std::size_t Type::encoded_size() const { return body_size(*this); } \
    Result<Type> Type::decode(ByteView& in) {                           \
        auto m = decode_body<Type>(in);                                 \
        if (m) in = in.subspan(in.size());                              \
        return m;                                                       \
    }

HS_RPC_DEFINE(Void)
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
        Schema<std::variant_alternative_t<I, AnyMessage>>::kName...};
}

constexpr auto kDecoders = make_decoders(std::make_index_sequence<kMessageTypeCount>{});
constexpr auto kNames = make_names(std::make_index_sequence<kMessageTypeCount>{});

}  // namespace

std::string_view message_type_name(MessageType type) noexcept {
    const auto i = static_cast<std::size_t>(type);
    return i < kNames.size() ? kNames[i] : std::string_view("?");
}

Result<AnyMessage> decode_any(MessageType type, ByteView payload) {
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
