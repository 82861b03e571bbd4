#include "swarm/dht/messages.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/varint.h"

namespace hs::swarm::dht {
namespace {

enum Wire : std::uint8_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

Error malformed(std::string_view what) {
    return make_error(Errc::Protocol, "dht: malformed {}", what);
}

// Bounds-checked proto2 reader over untrusted bytes; every read checks the remaining length.
class Reader {
public:
    explicit Reader(ByteView in) : m_in(in) {}
    bool done() const noexcept { return m_in.empty(); }

    Result<std::pair<std::uint64_t, std::uint8_t>> tag() {
        auto v = varint::decode(m_in);
        if (!v) return malformed("field tag");
        return std::pair<std::uint64_t, std::uint8_t>{*v >> 3, static_cast<std::uint8_t>(*v & 7)};
    }
    Result<std::uint64_t> u64() {
        auto v = varint::decode(m_in);
        if (!v) return malformed("varint");
        return *v;
    }
    Result<ByteView> bytes(std::size_t max) {
        auto n = varint::decode(m_in);
        if (!n) return malformed("length");
        if (*n > m_in.size()) return malformed("length (past the end)");
        if (*n > max)
            return make_error(Errc::TooLarge, "dht: field of {} bytes exceeds {}", *n, max);
        ByteView out = m_in.first(static_cast<std::size_t>(*n));
        m_in = m_in.subspan(static_cast<std::size_t>(*n));
        return out;
    }
    // protocol-buffers-encodings decodes a bool from exactly one byte.
    Result<bool> boolean() {
        if (m_in.empty()) return malformed("bool");
        const bool v = m_in[0] != 0;
        m_in = m_in.subspan(1);
        return v;
    }
    Status skip(std::uint8_t wire) {
        switch (wire) {
            case kVarint: {
                HS_TRY(u64());
                return {};
            }
            case kFixed64: return advance(8);
            case kFixed32: return advance(4);
            case kBytes: {
                HS_TRY(bytes(kMaxMessageBytes));
                return {};
            }
            default: return malformed("wire type");
        }
    }

private:
    Status advance(std::size_t n) {
        if (m_in.size() < n) return malformed("fixed field");
        m_in = m_in.subspan(n);
        return {};
    }
    ByteView m_in;
};

Status expect_wire(std::uint8_t got, std::uint8_t want) {
    if (got != want) return malformed("wire type for a known field");
    return {};
}

void put_tag(Bytes& out, std::uint32_t field, std::uint8_t wire) {
    varint::encode(out, (std::uint64_t{field} << 3) | wire);
}
void put_varint(Bytes& out, std::uint32_t field, std::uint64_t v) {
    put_tag(out, field, kVarint);
    varint::encode(out, v);
}
void put_bytes(Bytes& out, std::uint32_t field, ByteView v) {
    put_tag(out, field, kBytes);
    varint::encode(out, v.size());
    append_bytes(out, v);
}
void put_opt(Bytes& out, std::uint32_t field, const std::optional<Bytes>& v) {
    if (v) put_bytes(out, field, *v);
}
void put_opt(Bytes& out, std::uint32_t field, const std::optional<std::string>& v) {
    if (v) put_bytes(out, field, as_bytes(*v));
}

Result<Bytes> read_bytes(Reader& r, std::uint8_t wire, std::size_t max = kMaxMessageBytes) {
    HS_TRY(expect_wire(wire, kBytes));
    HS_ASSIGN_OR_RETURN(ByteView v, r.bytes(max));
    return to_bytes(v);
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

void Message::encode_to(Bytes& out) const {
    if (version) put_varint(out, 11, *version);
    put_varint(out, 1, type);
    put_varint(out, 2, rid);
    put_opt(out, 10, to);
    put_opt(out, 3, id);
    put_opt(out, 4, target);
    put_opt(out, 5, closer_nodes);
    put_opt(out, 6, roundtrip_token);
    put_opt(out, 7, command);
    put_opt(out, 8, error);
    put_opt(out, 9, value);
}
Bytes Message::encode() const {
    Bytes out;
    encode_to(out);
    return out;
}

Result<Message> Message::decode(ByteView in) {
    if (in.size() > kMaxMessageBytes)
        return make_error(Errc::TooLarge, "dht: message of {} bytes", in.size());
    Message m;
    bool have_type = false, have_rid = false;
    Reader r(in);
    while (!r.done()) {
        HS_ASSIGN_OR_RETURN(auto tag, r.tag());
        const auto [field, wire] = tag;
        if (field == 11) {
            HS_TRY(expect_wire(wire, kVarint));
            HS_ASSIGN_OR_RETURN(m.version, r.u64());
        } else if (field == 1) {
            HS_TRY(expect_wire(wire, kVarint));
            HS_ASSIGN_OR_RETURN(m.type, r.u64());
            have_type = true;
        } else if (field == 2) {
            HS_TRY(expect_wire(wire, kVarint));
            HS_ASSIGN_OR_RETURN(m.rid, r.u64());
            have_rid = true;
        } else if (field == 10) {
            HS_ASSIGN_OR_RETURN(m.to, read_bytes(r, wire));
        } else if (field == 3) {
            HS_ASSIGN_OR_RETURN(m.id, read_bytes(r, wire));
        } else if (field == 4) {
            HS_ASSIGN_OR_RETURN(m.target, read_bytes(r, wire));
        } else if (field == 5) {
            HS_ASSIGN_OR_RETURN(m.closer_nodes, read_bytes(r, wire));
        } else if (field == 6) {
            HS_ASSIGN_OR_RETURN(m.roundtrip_token, read_bytes(r, wire));
        } else if (field == 7 || field == 8) {
            HS_ASSIGN_OR_RETURN(Bytes b, read_bytes(r, wire, kMaxStringBytes));
            (field == 7 ? m.command : m.error) = std::string(as_string(b));
        } else if (field == 9) {
            HS_ASSIGN_OR_RETURN(m.value, read_bytes(r, wire));
        } else {
            HS_TRY(r.skip(wire));
        }
    }
    if (!have_type || !have_rid) return malformed("message (type or rid missing)");
    return m;
}

void Holepunch::encode_to(Bytes& out) const {
    put_opt(out, 2, from);
    put_opt(out, 3, to);
}
Result<Holepunch> Holepunch::decode(ByteView in) {
    Holepunch h;
    Reader r(in);
    while (!r.done()) {
        HS_ASSIGN_OR_RETURN(auto tag, r.tag());
        const auto [field, wire] = tag;
        if (field == 2) {
            HS_ASSIGN_OR_RETURN(h.from, read_bytes(r, wire));
        } else if (field == 3) {
            HS_ASSIGN_OR_RETURN(h.to, read_bytes(r, wire));
        } else {
            HS_TRY(r.skip(wire));
        }
    }
    return h;
}

void PeersInput::encode_to(Bytes& out) const {
    if (port) put_varint(out, 1, *port);
    put_opt(out, 2, local_address);
    if (unannounce) {
        put_tag(out, 3, kVarint);
        out.push_back(*unannounce ? 1 : 0);
    }
}
Result<PeersInput> PeersInput::decode(ByteView in) {
    PeersInput p;
    Reader r(in);
    while (!r.done()) {
        HS_ASSIGN_OR_RETURN(auto tag, r.tag());
        const auto [field, wire] = tag;
        if (field == 1) {
            HS_TRY(expect_wire(wire, kVarint));
            HS_ASSIGN_OR_RETURN(std::uint64_t v, r.u64());
            if (v > 0xffffffffu) return malformed("uint32 (out of range)");
            p.port = static_cast<std::uint32_t>(v);
        } else if (field == 2) {
            HS_ASSIGN_OR_RETURN(p.local_address, read_bytes(r, wire));
        } else if (field == 3) {
            HS_TRY(expect_wire(wire, kVarint));
            HS_ASSIGN_OR_RETURN(p.unannounce, r.boolean());
        } else {
            HS_TRY(r.skip(wire));
        }
    }
    return p;
}

void PeersOutput::encode_to(Bytes& out) const {
    put_opt(out, 1, peers);
    put_opt(out, 2, local_peers);
}
Result<PeersOutput> PeersOutput::decode(ByteView in) {
    PeersOutput p;
    Reader r(in);
    while (!r.done()) {
        HS_ASSIGN_OR_RETURN(auto tag, r.tag());
        const auto [field, wire] = tag;
        if (field == 1) {
            HS_ASSIGN_OR_RETURN(p.peers, read_bytes(r, wire));
        } else if (field == 2) {
            HS_ASSIGN_OR_RETURN(p.local_peers, read_bytes(r, wire));
        } else {
            HS_TRY(r.skip(wire));
        }
    }
    return p;
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
