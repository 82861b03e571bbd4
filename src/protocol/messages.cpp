// Message bodies via the libprotobuf (lite) code generated from proto/hypercore_protocol.proto.
// The generated types stay in this file. libprotobuf writes proto2 exactly as the JS encoder does
// for this schema (checked byte for byte against JS fixtures in tests/unit/protocol), so only the
// non-protobuf Extension body is written by hand.
#include "protocol/messages.h"

#include <cstring>
#include <limits>

#include "proto/hypercore_protocol.pb.h"
#include "util/varint.h"

namespace hs::protocol {

std::string_view message_type_name(std::uint8_t type) noexcept {
    static constexpr std::string_view kNames[16] = {
        "Open",   "Options", "Status", "Have",    "Unhave",  "Want",    "Unwant",  "Request",
        "Cancel", "Data",    "Close",  "type 11", "type 12", "type 13", "type 14", "Extension"};
    return type < 16 ? kNames[type] : "invalid type";
}

namespace msg {
namespace {

// Walks the top-level fields once before libprotobuf allocates anything. Rejects what the JS
// decoder throws on (groups, wire types 6 and 7), field number 0 and truncated fields, and checks
// the number of occurrences of `counted_field` against `limit`.
hs::Status scan_fields(ByteView body, std::string_view name, std::uint64_t counted_field = 0,
                       std::size_t limit = 0) {
    std::size_t count = 0;
    while (!body.empty()) {
        const auto tag = varint::decode(body);
        if (!tag) return make_error(Errc::Protocol, "{}: truncated field tag", name);
        const std::uint64_t field = *tag >> 3;
        if (field == 0) return make_error(Errc::Protocol, "{}: field number 0", name);
        switch (*tag & 7) {
            case 0:
                if (!varint::decode(body))
                    return make_error(Errc::Protocol, "{}: truncated varint", name);
                break;
            case 1:
            case 5: {
                const std::size_t n = (*tag & 7) == 1 ? 8 : 4;
                if (body.size() < n)
                    return make_error(Errc::Protocol, "{}: truncated fixed field", name);
                body = body.subspan(n);
                break;
            }
            case 2: {
                const auto len = varint::decode(body);
                if (!len || *len > body.size())
                    return make_error(Errc::Protocol, "{}: truncated length-delimited field", name);
                body = body.subspan(static_cast<std::size_t>(*len));
                break;
            }
            default:
                return make_error(Errc::Protocol, "{}: unsupported wire type {}", name, *tag & 7);
        }
        if (field == counted_field && ++count > limit)
            return make_error(Errc::Protocol, "{}: more than {} elements of field {}", name, limit,
                              field);
    }
    return {};
}

template <typename P>
hs::Status parse(P& p, ByteView& in, std::string_view name, std::uint64_t counted_field = 0,
                 std::size_t limit = 0) {
    static_assert(kMaxFrameBodyBytes <= static_cast<std::size_t>(std::numeric_limits<int>::max()));
    if (in.size() > kMaxFrameBodyBytes)
        return make_error(Errc::FrameTooLarge, "{}: body of {} bytes exceeds {}", name, in.size(),
                          kMaxFrameBodyBytes);
    HS_TRY(scan_fields(in, name, counted_field, limit));
    if (!in.empty() && !p.ParsePartialFromArray(in.data(), static_cast<int>(in.size())))
        return make_error(Errc::Protocol, "{}: malformed body", name);
    if (!p.IsInitialized()) return make_error(Errc::Protocol, "{}: missing required field", name);
    in = in.subspan(in.size());
    return {};
}

template <typename P>
void serialize(const P& p, Bytes& out) {
    const std::size_t n = p.ByteSizeLong();
    const std::size_t start = out.size();
    out.resize(start + n);
    p.SerializeWithCachedSizesToArray(out.data() + start);
}

Bytes to_bytes(const std::string& s) {
    Bytes out(s.size());  // one memcpy: a char -> uint8_t range copy goes byte by byte
    if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
    return out;
}

void set_bytes(std::string* field, const Bytes& b) {
    field->assign(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

void Open::encode_to(Bytes& out) const {
    pb::Open p;
    set_bytes(p.mutable_discoverykey(), discovery_key);
    if (capability) set_bytes(p.mutable_capability(), *capability);
    serialize(p, out);
}

Result<Open> Open::decode(ByteView& in) {
    pb::Open p;
    HS_TRY(parse(p, in, "Open"));
    Open m;
    m.discovery_key = to_bytes(p.discoverykey());
    if (p.has_capability()) m.capability = to_bytes(p.capability());
    return m;
}

void Options::encode_to(Bytes& out) const {
    pb::Options p;
    for (const auto& name : extensions) p.add_extensions(name);
    if (ack) p.set_ack(*ack);
    serialize(p, out);
}

Result<Options> Options::decode(ByteView& in) {
    pb::Options p;
    HS_TRY(parse(p, in, "Options", 1, kMaxExtensionNames));
    Options m;
    m.extensions.assign(p.extensions().begin(), p.extensions().end());
    if (p.has_ack()) m.ack = p.ack();
    return m;
}

void Status::encode_to(Bytes& out) const {
    pb::Status p;
    if (uploading) p.set_uploading(*uploading);
    if (downloading) p.set_downloading(*downloading);
    serialize(p, out);
}

Result<Status> Status::decode(ByteView& in) {
    pb::Status p;
    HS_TRY(parse(p, in, "Status"));
    Status m;
    if (p.has_uploading()) m.uploading = p.uploading();
    if (p.has_downloading()) m.downloading = p.downloading();
    return m;
}

void Have::encode_to(Bytes& out) const {
    pb::Have p;
    p.set_start(start);
    if (length) p.set_length(*length);
    if (bitfield) set_bytes(p.mutable_bitfield(), *bitfield);
    if (ack) p.set_ack(*ack);
    serialize(p, out);
}

Result<Have> Have::decode(ByteView& in) {
    pb::Have p;
    HS_TRY(parse(p, in, "Have"));
    Have m;
    m.start = p.start();
    if (p.has_length()) m.length = p.length();
    if (p.has_bitfield()) m.bitfield = to_bytes(p.bitfield());
    if (p.has_ack()) m.ack = p.ack();
    return m;
}

// Unhave, Want and Unwant share one shape: required start, optional length.
namespace {
template <typename M, typename P>
void encode_range(const M& m, Bytes& out) {
    P p;
    p.set_start(m.start);
    if (m.length) p.set_length(*m.length);
    serialize(p, out);
}

template <typename M, typename P>
Result<M> decode_range(ByteView& in, std::string_view name) {
    P p;
    HS_TRY(parse(p, in, name));
    M m;
    m.start = p.start();
    if (p.has_length()) m.length = p.length();
    return m;
}
}  // namespace

void Unhave::encode_to(Bytes& out) const { encode_range<Unhave, pb::Unhave>(*this, out); }
Result<Unhave> Unhave::decode(ByteView& in) {
    return decode_range<Unhave, pb::Unhave>(in, "Unhave");
}
void Want::encode_to(Bytes& out) const { encode_range<Want, pb::Want>(*this, out); }
Result<Want> Want::decode(ByteView& in) { return decode_range<Want, pb::Want>(in, "Want"); }
void Unwant::encode_to(Bytes& out) const { encode_range<Unwant, pb::Unwant>(*this, out); }
Result<Unwant> Unwant::decode(ByteView& in) {
    return decode_range<Unwant, pb::Unwant>(in, "Unwant");
}

void Request::encode_to(Bytes& out) const {
    pb::Request p;
    p.set_index(index);
    if (bytes) p.set_bytes(*bytes);
    if (hash) p.set_hash(*hash);
    if (nodes) p.set_nodes(*nodes);
    serialize(p, out);
}

Result<Request> Request::decode(ByteView& in) {
    pb::Request p;
    HS_TRY(parse(p, in, "Request"));
    Request m;
    m.index = p.index();
    if (p.has_bytes()) m.bytes = p.bytes();
    if (p.has_hash()) m.hash = p.hash();
    if (p.has_nodes()) m.nodes = p.nodes();
    return m;
}

void Cancel::encode_to(Bytes& out) const {
    pb::Cancel p;
    p.set_index(index);
    if (bytes) p.set_bytes(*bytes);
    if (hash) p.set_hash(*hash);
    serialize(p, out);
}

Result<Cancel> Cancel::decode(ByteView& in) {
    pb::Cancel p;
    HS_TRY(parse(p, in, "Cancel"));
    Cancel m;
    m.index = p.index();
    if (p.has_bytes()) m.bytes = p.bytes();
    if (p.has_hash()) m.hash = p.hash();
    return m;
}

void Data::encode_to(Bytes& out) const {
    pb::Data p;
    p.set_index(index);
    if (value) set_bytes(p.mutable_value(), *value);
    p.mutable_nodes()->Reserve(static_cast<int>(nodes.size()));
    for (const Node& n : nodes) {
        pb::Data::Node* pn = p.add_nodes();
        pn->set_index(n.index);
        set_bytes(pn->mutable_hash(), n.hash);
        pn->set_size(n.size);
    }
    if (signature) set_bytes(p.mutable_signature(), *signature);
    serialize(p, out);
}

Result<Data> Data::decode(ByteView& in) {
    pb::Data p;
    HS_TRY(parse(p, in, "Data", 3, kMaxDataNodes));
    Data m;
    m.index = p.index();
    if (p.has_value()) m.value = to_bytes(p.value());
    m.nodes.reserve(static_cast<std::size_t>(p.nodes_size()));
    for (const auto& pn : p.nodes())
        m.nodes.push_back(Node{pn.index(), to_bytes(pn.hash()), pn.size()});
    if (p.has_signature()) m.signature = to_bytes(p.signature());
    return m;
}

void Close::encode_to(Bytes& out) const {
    pb::Close p;
    if (discovery_key) set_bytes(p.mutable_discoverykey(), *discovery_key);
    serialize(p, out);
}

Result<Close> Close::decode(ByteView& in) {
    pb::Close p;
    HS_TRY(parse(p, in, "Close"));
    Close m;
    if (p.has_discoverykey()) m.discovery_key = to_bytes(p.discoverykey());
    return m;
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

void NoisePayload::encode_to(Bytes& out) const {
    pb::NoisePayload p;
    set_bytes(p.mutable_nonce(), nonce);
    serialize(p, out);
}

Result<NoisePayload> NoisePayload::decode(ByteView& in) {
    pb::NoisePayload p;
    HS_TRY(parse(p, in, "NoisePayload"));
    return NoisePayload{to_bytes(p.nonce())};
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
        case 2: return decode_as<Status>(body);
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
