#include "v9/swarm/dht/messages.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/wire/schema.h"

namespace hs::swarm::dht {
namespace {

// dht-rpc 4's decoding rules (docs/formats/dht.md): a bool is exactly one byte (as
// protocol-buffers-encodings reads it), a known field with the wrong wire type fails, strings are
// kept as raw bytes, no field is longer than a datagram, and fields are written in the JS schema's
// declaration order (not ascending: `version` = 11 comes first).
constexpr wire::Dialect kDht{.name = "dht",
                             .bools = wire::BoolRule::OneByte,
                             .mismatch = wire::WireMismatch::Reject,
                             .text = wire::TextRule::Raw,
                             .max_field_bytes = kMaxMessageBytes,
                             .ascending_fields = false};

Error malformed(std::string_view what) {
    return make_error(Errc::Protocol, "dht: malformed {}", what);
}

}  // namespace

std::string Peer::host_string() const {
    return fmt::format("{}.{}.{}.{}", host[0], host[1], host[2], host[3]);
}
std::string Peer::to_string() const { return fmt::format("{}:{}", host_string(), port); }

void encode_peer(Bytes& out, const Peer& peer) {
    out.insert(out.end(), peer.host.begin(), peer.host.end());
    out.push_back(static_cast<std::uint8_t>(peer.port >> 8));
    out.push_back(static_cast<std::uint8_t>(peer.port));
}
Bytes encode_peer(const Peer& peer) {
    Bytes out;
    encode_peer(out, peer);
    return out;
}
Result<Peer> decode_peer(ByteView in) {
    if (in.size() != kPeerBytes) return malformed("peer (not 6 bytes)");
    Peer p;
    std::copy_n(in.begin(), 4, p.host.begin());
    p.port = get_u16be(in.data() + 4);
    return p;
}
Result<std::vector<Peer>> decode_peers(ByteView in) {
    if (in.size() % kPeerBytes) return malformed("peer list (not a multiple of 6 bytes)");
    std::vector<Peer> out;
    out.reserve(in.size() / kPeerBytes);
    for (std::size_t i = 0; i < in.size(); i += kPeerBytes) {
        HS_ASSIGN_OR_RETURN(Peer p, decode_peer(in.subspan(i, kPeerBytes)));
        out.push_back(p);
    }
    return out;
}
void encode_nodes(Bytes& out, const std::vector<NodeRecord>& nodes) {
    for (const auto& n : nodes) {
        out.insert(out.end(), n.id.begin(), n.id.end());
        encode_peer(out, n.peer);
    }
}
Result<std::vector<NodeRecord>> decode_nodes(ByteView in) {
    if (in.size() % kNodeBytes) return malformed("node list (not a multiple of 38 bytes)");
    std::vector<NodeRecord> out;
    out.reserve(in.size() / kNodeBytes);
    for (std::size_t i = 0; i < in.size(); i += kNodeBytes) {
        NodeRecord n;
        std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(i), kIdBytes, n.id.begin());
        HS_ASSIGN_OR_RETURN(n.peer, decode_peer(in.subspan(i + kIdBytes, kPeerBytes)));
        out.push_back(n);
    }
    return out;
}

using wire::field;

constexpr auto schema_of(std::type_identity<Message>) {
    return wire::schema("Message", field(11, &Message::version), field(1, &Message::type),
                        field(2, &Message::rid), field(10, &Message::to), field(3, &Message::id),
                        field(4, &Message::target), field(5, &Message::closer_nodes),
                        field(6, &Message::roundtrip_token),
                        field(7, &Message::command).limit_bytes(kMaxStringBytes),
                        field(8, &Message::error).limit_bytes(kMaxStringBytes),
                        field(9, &Message::value));
}
constexpr auto schema_of(std::type_identity<Holepunch>) {
    return wire::schema("Holepunch", field(2, &Holepunch::from), field(3, &Holepunch::to));
}
constexpr auto schema_of(std::type_identity<PeersInput>) {
    return wire::schema("PeersInput", field(1, &PeersInput::port),
                        field(2, &PeersInput::local_address), field(3, &PeersInput::unannounce));
}
constexpr auto schema_of(std::type_identity<PeersOutput>) {
    return wire::schema("PeersOutput", field(1, &PeersOutput::peers),
                        field(2, &PeersOutput::local_peers));
}

void Message::encode_to(Bytes& out) const { wire::encode<kDht>(*this, out); }
Bytes Message::encode() const {
    Bytes out;
    encode_to(out);
    return out;
}
Result<Message> Message::decode(ByteView in) {
    if (in.size() > kMaxMessageBytes)
        return make_error(Errc::TooLarge, "dht: message of {} bytes", in.size());
    return wire::decode<kDht, Message>(in);
}

void Holepunch::encode_to(Bytes& out) const { wire::encode<kDht>(*this, out); }
Result<Holepunch> Holepunch::decode(ByteView in) { return wire::decode<kDht, Holepunch>(in); }

void PeersInput::encode_to(Bytes& out) const { wire::encode<kDht>(*this, out); }
Result<PeersInput> PeersInput::decode(ByteView in) { return wire::decode<kDht, PeersInput>(in); }

void PeersOutput::encode_to(Bytes& out) const { wire::encode<kDht>(*this, out); }
Result<PeersOutput> PeersOutput::decode(ByteView in) {
    return wire::decode<kDht, PeersOutput>(in);
}

bool closer(const NodeId& target, const NodeId& a, const NodeId& b) noexcept {
    for (std::size_t i = 0; i < kIdBytes; ++i) {
        const auto da = static_cast<std::uint8_t>(target[i] ^ a[i]);
        const auto db = static_cast<std::uint8_t>(target[i] ^ b[i]);
        if (da != db) return da < db;
    }
    return false;
}

}  // namespace hs::swarm::dht
