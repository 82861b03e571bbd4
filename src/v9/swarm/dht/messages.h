// dht-rpc 4 and @hyperswarm/dht 4 wire messages (docs/formats/dht.md). Sans-IO: no sockets, no
// Asio, safe to run on untrusted bytes (fuzz/dht_message_fuzz.cpp).
//
// Every struct has an encode_to(Bytes&) / decode(ByteView) pair. Encoders write the fields in the
// order of the JS schema declaration so our datagrams are byte-identical to the JS ones; decoders
// accept any field order, skip unknown fields, let the last occurrence of a field win (proto2) and
// fail with Errc::Protocol (malformed) or Errc::TooLarge (past a kMax limit). Decoders never throw.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::swarm::dht {

using NodeId = ByteArray<32>;

inline constexpr std::size_t kIdBytes = 32;
inline constexpr std::size_t kPeerBytes = 6;            // IPv4(4) || u16 BE port
inline constexpr std::size_t kLocalPeerBytes = 4;       // last two IPv4 octets || u16 BE port
inline constexpr std::size_t kNodeBytes = 38;           // id(32) || IPv4(4) || u16 BE port
inline constexpr std::size_t kMaxMessageBytes = 65536;  // larger than any UDP datagram
inline constexpr std::size_t kMaxStringBytes = 1024;    // command and error strings
inline constexpr std::uint64_t kProtocolVersion = 1;

// IPv4 host as 4 bytes in network order plus a port. Ordered so it can key maps.
struct Peer {
    std::array<std::uint8_t, 4> host{};
    std::uint16_t port = 0;
    auto operator<=>(const Peer&) const = default;
    std::string to_string() const;    // "a.b.c.d:port"
    std::string host_string() const;  // "a.b.c.d", what the token hashes
};

struct NodeRecord {
    NodeId id{};
    Peer peer;
    bool operator==(const NodeRecord&) const = default;
};

// 6-byte peer records. decode_peer needs exactly 6 bytes; decode_peers a multiple of 6.
void encode_peer(Bytes& out, const Peer& peer);
Bytes encode_peer(const Peer& peer);
Result<Peer> decode_peer(ByteView in);
Result<std::vector<Peer>> decode_peers(ByteView in);
// 38-byte node records (closerNodes). The length must be a multiple of 38.
void encode_nodes(Bytes& out, const std::vector<NodeRecord>& nodes);
Result<std::vector<NodeRecord>> decode_nodes(ByteView in);

enum class PacketType : std::uint64_t { Query = 1, Update = 2, Response = 3 };

// dht-rpc `Message` (dht-rpc/schema.proto). `type` and `rid` are required. `type` keeps any
// number the peer sent (the node ignores unknown types), so decode/encode round trips exactly.
struct Message {
    std::optional<std::uint64_t> version;  // 11
    std::uint64_t type = 0;                // 1 (PacketType)
    std::uint64_t rid = 0;                 // 2
    std::optional<Bytes> to;               // 10
    std::optional<Bytes> id;               // 3
    std::optional<Bytes> target;           // 4
    std::optional<Bytes> closer_nodes;     // 5
    std::optional<Bytes> roundtrip_token;  // 6
    std::optional<std::string> command;    // 7
    std::optional<std::string> error;      // 8
    std::optional<Bytes> value;            // 9

    bool operator==(const Message&) const = default;
    void encode_to(Bytes& out) const;
    Bytes encode() const;
    static Result<Message> decode(ByteView in);
};

// dht-rpc `Holepunch`: the value of a `_holepunch` query.
struct Holepunch {
    std::optional<Bytes> from;  // 2
    std::optional<Bytes> to;    // 3
    bool operator==(const Holepunch&) const = default;
    void encode_to(Bytes& out) const;
    static Result<Holepunch> decode(ByteView in);
};

// @hyperswarm/dht `PeersInput`: the value of a `peers` query or update.
struct PeersInput {
    std::optional<std::uint32_t> port;   // 1; 0 or absent: use the UDP source port
    std::optional<Bytes> local_address;  // 2; 6 bytes
    std::optional<bool> unannounce;      // 3
    bool operator==(const PeersInput&) const = default;
    void encode_to(Bytes& out) const;
    static Result<PeersInput> decode(ByteView in);
};

// @hyperswarm/dht `PeersOutput`: the value of a `peers` response.
struct PeersOutput {
    std::optional<Bytes> peers;        // 1; 6-byte records
    std::optional<Bytes> local_peers;  // 2; 4-byte records
    bool operator==(const PeersOutput&) const = default;
    void encode_to(Bytes& out) const;
    static Result<PeersOutput> decode(ByteView in);
};

// XOR distance ordering: true when `a` is strictly closer to `target` than `b`.
bool closer(const NodeId& target, const NodeId& a, const NodeId& b) noexcept;

}  // namespace hs::swarm::dht
