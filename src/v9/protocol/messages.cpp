// Message bodies through the shared proto2 codec (wire/schema.h): one schema table per message,
// with hypercore-protocol's decoding rules as a Dialect. Only the non-protobuf Extension body is
// written by hand.
#include "v9/protocol/messages.h"

#include "common/util/varint.h"
#include "common/wire/schema.h"

namespace hs::protocol {

std::string_view message_type_name(std::uint8_t type) noexcept {
    static constexpr std::string_view kNames[16] = {
        "Open",   "Options", "Status", "Have",    "Unhave",  "Want",    "Unwant",  "Request",
        "Cancel", "Data",    "Close",  "type 11", "type 12", "type 13", "type 14", "Extension"};
    return type < 16 ? kNames[type] : "invalid type";
}

namespace msg {

using wire::field;

// Schema tables (simple-hypercore-protocol 2.1.2 schema.proto, docs/formats/wire.md "Messages"):
// field numbers and rules as in the JS schema. Options.extensions is read as raw bytes (names
// are compared byte for byte, never UTF-8 checked).
constexpr auto schema_of(std::type_identity<NoisePayload>) {
    return wire::schema("NoisePayload", field(1, &NoisePayload::nonce));
}
constexpr auto schema_of(std::type_identity<Open>) {
    return wire::schema("Open", field(1, &Open::discovery_key), field(2, &Open::capability));
}
constexpr auto schema_of(std::type_identity<Options>) {
    return wire::schema("Options", field(1, &Options::extensions).limit_count(kMaxExtensionNames),
                        field(2, &Options::ack));
}
constexpr auto schema_of(std::type_identity<PeerStatus>) {
    return wire::schema("Status", field(1, &PeerStatus::uploading),
                        field(2, &PeerStatus::downloading));
}
constexpr auto schema_of(std::type_identity<Have>) {
    return wire::schema("Have", field(1, &Have::start), field(2, &Have::length),
                        field(3, &Have::bitfield), field(4, &Have::ack));
}
constexpr auto schema_of(std::type_identity<Unhave>) {
    return wire::schema("Unhave", field(1, &Unhave::start), field(2, &Unhave::length));
}
constexpr auto schema_of(std::type_identity<Want>) {
    return wire::schema("Want", field(1, &Want::start), field(2, &Want::length));
}
constexpr auto schema_of(std::type_identity<Unwant>) {
    return wire::schema("Unwant", field(1, &Unwant::start), field(2, &Unwant::length));
}
constexpr auto schema_of(std::type_identity<Request>) {
    return wire::schema("Request", field(1, &Request::index), field(2, &Request::bytes),
                        field(3, &Request::hash), field(4, &Request::nodes));
}
constexpr auto schema_of(std::type_identity<Cancel>) {
    return wire::schema("Cancel", field(1, &Cancel::index), field(2, &Cancel::bytes),
                        field(3, &Cancel::hash));
}
constexpr auto schema_of(std::type_identity<Node>) {
    return wire::schema("Node", field(1, &Node::index), field(2, &Node::hash),
                        field(3, &Node::size));
}
constexpr auto schema_of(std::type_identity<Data>) {
    return wire::schema("Data", field(1, &Data::index), field(2, &Data::value),
                        field(3, &Data::nodes).limit_count(kMaxDataNodes),
                        field(4, &Data::signature));
}
constexpr auto schema_of(std::type_identity<Close>) {
    return wire::schema("Close", field(1, &Close::discovery_key));
}

namespace {

// The decoding rules of the libprotobuf (lite) parser this codec replaced, which peers have been
// tested against: a bool is any varint; a known field with the wrong wire type is skipped like an
// unknown field (so a required field sent only that way is missing); field number 0 fails; groups
// and wire types 6/7 fail (the JS decoder throws on them too); strings are raw bytes.
constexpr wire::Dialect kProtocol{.name = "hypercore-protocol",
                                  .bools = wire::BoolRule::Varint,
                                  .mismatch = wire::WireMismatch::SkipAsUnknown,
                                  .text = wire::TextRule::Raw,
                                  .reject_field_zero = true};

template <typename M>
Result<M> decode_body(ByteView& in) {
    if (in.size() > kMaxFrameBodyBytes)
        return make_error(Errc::FrameTooLarge, "{}: body of {} bytes exceeds {}",
                          wire::detail::kSchema<M>.name, in.size(), kMaxFrameBodyBytes);
    auto m = wire::decode<kProtocol, M>(in);
    if (m) in = in.subspan(in.size());
    return m;
}

}  // namespace

#define HS_PROTOCOL_CODEC(Type)                                                      \
    void Type::encode_to(Bytes& out) const { wire::encode<kProtocol>(*this, out); } \
    Result<Type> Type::decode(ByteView& in) { return decode_body<Type>(in); }

HS_PROTOCOL_CODEC(Open)
HS_PROTOCOL_CODEC(Options)
HS_PROTOCOL_CODEC(PeerStatus)
HS_PROTOCOL_CODEC(Have)
HS_PROTOCOL_CODEC(Unhave)
HS_PROTOCOL_CODEC(Want)
HS_PROTOCOL_CODEC(Unwant)
HS_PROTOCOL_CODEC(Request)
HS_PROTOCOL_CODEC(Cancel)
HS_PROTOCOL_CODEC(Data)
HS_PROTOCOL_CODEC(Close)
HS_PROTOCOL_CODEC(NoisePayload)

#undef HS_PROTOCOL_CODEC

void Data::own() {
    if (value) value->own();
    for (Node& n : nodes) n.hash.own();
    if (signature) signature->own();
}

void own(Message& message) {
    if (auto* data = std::get_if<Data>(&message)) data->own();
}

void Extension::encode_to(Bytes& out) const {
    varint::encode(out, id);
    append_bytes(out, payload);
}

Result<Extension> Extension::decode(ByteView& in) {
    if (in.size() > kMaxFrameBodyBytes)
        return make_error(Errc::FrameTooLarge, "Extension: body of {} bytes exceeds {}", in.size(),
                          kMaxFrameBodyBytes);
    ByteView rest = in;
    const auto id = varint::decode(rest);
    if (!id)
        return make_error(Errc::Protocol, "Extension: body does not start with a valid varint id");
    Extension m{*id, hs::to_bytes(rest)};
    in = in.subspan(in.size());
    return m;
}

namespace {
template <typename M>
Result<Message> decode_as(ByteView body) {
    auto m = M::decode(body);
    if (!m) return std::move(m).error();
    return Message(std::move(m).value());
}
}  // namespace

Result<Message> decode_message(std::uint8_t type, ByteView body) {
    switch (type) {
        case 0: return decode_as<Open>(body);
        case 1: return decode_as<Options>(body);
        case 2: return decode_as<PeerStatus>(body);
        case 3: return decode_as<Have>(body);
        case 4: return decode_as<Unhave>(body);
        case 5: return decode_as<Want>(body);
        case 6: return decode_as<Unwant>(body);
        case 7: return decode_as<Request>(body);
        case 8: return decode_as<Cancel>(body);
        case 9: return decode_as<Data>(body);
        case 10: return decode_as<Close>(body);
        case 11:
        case 12:
        case 13:
        case 14: return Message(Ignored{type});
        case 15: return decode_as<Extension>(body);
        default: return make_error(Errc::Protocol, "message type {} is out of range", type);
    }
}

MessageType type_of(const Message& message) {
    return std::visit(
        [](const auto& m) -> MessageType {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, Ignored>) {
                return static_cast<MessageType>(m.type);
            } else {
                return M::kType;
            }
        },
        message);
}

void encode_frame(Bytes& out, std::uint64_t channel, const Message& message) {
    std::visit(
        [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, Ignored>) {
                protocol::encode_frame(out, channel, m.type, ByteView());
            } else {
                encode_frame(out, channel, m);
            }
        },
        message);
}

}  // namespace msg
}  // namespace hs::protocol
