// DNS message codec for multicast DNS (RFC 1035 §4, RFC 6762): header, questions and resource
// records, compatible with what the JS stack sends and accepts (dns-packet 5.6.1 as used by
// multicast-dns 7.2.5; docs/formats/mdns.md). Sans-IO and synchronous; no sockets, no Asio.
//
// Names are dotted strings of raw label bytes ("abc.hyperswarm.local"; the root is "."). Decoding
// follows compression pointers, which must point strictly backwards (as dns-packet requires), so a
// name always terminates; encoding never compresses. Record data is interpreted for A, AAAA, SRV,
// TXT and the single-name types (PTR, CNAME, NS, DNAME); anything else is kept as raw RDATA bytes
// (whose embedded names, if compressed, only make sense in the packet they came from).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::swarm::dns {

// Record and question types we name (others pass through as numbers).
namespace type {
constexpr std::uint16_t kA = 1;
constexpr std::uint16_t kNs = 2;
constexpr std::uint16_t kCname = 5;
constexpr std::uint16_t kPtr = 12;
constexpr std::uint16_t kTxt = 16;
constexpr std::uint16_t kAaaa = 28;
constexpr std::uint16_t kSrv = 33;
constexpr std::uint16_t kDname = 39;
constexpr std::uint16_t kOpt = 41;
constexpr std::uint16_t kAny = 255;
}  // namespace type

constexpr std::uint16_t kClassIn = 1;
// Header flag bits (the 16-bit flags word; the opcode and rcode are inside it).
constexpr std::uint16_t kFlagResponse = 1u << 15;       // QR
constexpr std::uint16_t kFlagAuthoritative = 1u << 10;  // AA, set by multicast-dns on responses
constexpr std::uint16_t kFlagTruncated = 1u << 9;       // TC

constexpr std::size_t kHeaderBytes = 12;
// Wire limits of RFC 1035 §2.3.4 (dns-packet rejects names longer than 254 label bytes).
constexpr std::size_t kMaxLabelBytes = 63;
constexpr std::size_t kMaxNameBytes = 255;  // including the final zero byte
// A UDP datagram cannot be larger; we never decode or produce more.
constexpr std::size_t kMaxPacketBytes = 65535;
// Questions + answers + authorities + additionals accepted in one decoded packet: bounds the
// work and memory a single datagram can cost. Real mDNS packets carry a handful.
constexpr std::size_t kMaxEntries = 512;
// Compression pointers followed while decoding one name (they must also point backwards).
constexpr int kMaxPointerJumps = 64;

struct Question {
    std::string name;
    std::uint16_t type = 0;
    std::uint16_t klass = kClassIn;  // without the top bit
    bool unicast_response = false;   // the top bit of the class (mDNS "QU")

    friend bool operator==(const Question&, const Question&) = default;
};

struct SrvData {
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::string target;

    friend bool operator==(const SrvData&, const SrvData&) = default;
};

struct AData {
    ByteArray<4> address{};
    friend bool operator==(const AData&, const AData&) = default;
};
struct AaaaData {
    ByteArray<16> address{};
    friend bool operator==(const AaaaData&, const AaaaData&) = default;
};
// TXT: a list of character strings (each at most 255 bytes). Empty RDATA decodes to no strings.
struct TxtData {
    std::vector<Bytes> strings;
    friend bool operator==(const TxtData&, const TxtData&) = default;
};
// PTR, CNAME, NS, DNAME: one domain name.
struct NameData {
    std::string name;
    friend bool operator==(const NameData&, const NameData&) = default;
};
// Any other type: the RDATA bytes as received.
struct RawData {
    Bytes bytes;
    friend bool operator==(const RawData&, const RawData&) = default;
};

using RecordData = std::variant<RawData, AData, AaaaData, SrvData, TxtData, NameData>;

struct Record {
    std::string name;
    std::uint16_t type = 0;
    std::uint16_t klass = kClassIn;  // without the top bit
    bool cache_flush = false;        // the top bit of the class (mDNS)
    std::uint32_t ttl = 0;
    // Must match `type` when encoding (AData for kA, ...; RawData fits any type).
    RecordData data;

    friend bool operator==(const Record&, const Record&) = default;
};

struct Packet {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;  // the whole flags word, including QR (kFlagResponse)
    std::vector<Question> questions;
    std::vector<Record> answers;
    std::vector<Record> authorities;
    std::vector<Record> additionals;

    bool is_response() const noexcept { return (flags & kFlagResponse) != 0; }

    // Appends the wire form (no compression). Errc::InvalidArgument for a name with an empty or
    // over-long label or over kMaxNameBytes, a TXT string over 255 bytes, data that does not match
    // the record type; Errc::TooLarge past kMaxPacketBytes or 65535 entries in a section.
    // On error `out` keeps its previous contents.
    [[nodiscard]] Status encode_to(Bytes& out) const;
    // Decodes one whole message (all of `in`; bytes after the last record are ignored, as
    // dns-packet does) and consumes it. Errc::Protocol for truncation, bad labels, bad or forward
    // compression pointers, RDATA that does not match its type or length; Errc::TooLarge for
    // counts that cannot fit the message, more than kMaxEntries entries or an input larger than
    // kMaxPacketBytes.
    static Result<Packet> decode(ByteView& in);

    friend bool operator==(const Packet&, const Packet&) = default;
};

// Encodes `name` on its own (uncompressed labels + zero byte). Errors as Packet::encode_to.
[[nodiscard]] Status encode_name(std::string_view name, Bytes& out);
// ASCII case-insensitive comparison of two dotted names (RFC 1035 §2.3.3), ignoring one trailing
// dot on either side.
bool same_name(std::string_view a, std::string_view b) noexcept;

}  // namespace hs::swarm::dns
