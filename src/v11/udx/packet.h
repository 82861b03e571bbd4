// UDX datagrams (docs/formats/udx.md): the 20-byte header, the selective-ack blocks and the
// payload, decoded without copying. Sans-IO, no allocation beyond the block list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/util/bytes.h"

namespace hs::v11::udx {

inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::uint8_t kMagic = 0xFF;
inline constexpr std::uint8_t kVersion = 1;
// At most this many selective-ack blocks are sent, and read, per datagram.
inline constexpr std::size_t kMaxSackBlocks = 50;

// Type bits of byte 2 (0 = a pure acknowledgement).
enum TypeBits : std::uint8_t {
    kData = 1,
    kEnd = 2,
    kSack = 4,
    kMessage = 8,
    kDestroy = 16,
    kHeartbeat = 32,
};

struct Header {
    std::uint8_t type = 0;
    std::uint8_t data_offset = 0;  // bytes between the header and the data (probe padding)
    std::uint32_t stream_id = 0;   // the receiver's local id
    std::uint32_t rwnd = 0;        // the sender's receive window, in bytes
    std::uint32_t seq = 0;         // the packet's sequence number (DATA, END, DESTROY consume one)
    std::uint32_t ack = 0;         // the next sequence number the sender expects
};

// [start, end): packets start..end-1 were received.
struct SackBlock {
    std::uint32_t start = 0;
    std::uint32_t end = 0;
    bool operator==(const SackBlock&) const = default;
};

struct Packet {
    Header header;
    std::vector<SackBlock> sacks;  // only with kSack; blocks are not validated here
    ByteView data;                 // what follows data_offset (borrowed from the datagram)
};

enum class DecodeError {
    kTooShort,       // under 20 bytes
    kBadMagic,       // first byte is not 0xFF
    kBadVersion,     // second byte is not 1
    kBadDataOffset,  // data_offset points past the end of the datagram
};
std::string_view to_string(DecodeError e) noexcept;

// Decodes one datagram; `why` (optional) receives the reason when it returns nullopt.
std::optional<Packet> decode(ByteView datagram, DecodeError* why = nullptr);

// The stream id of a datagram that starts with a UDX header, without decoding the rest.
std::optional<std::uint32_t> peek_stream_id(ByteView datagram) noexcept;

void encode_header(const Header& h, std::uint8_t out[kHeaderSize]) noexcept;
// header + blocks (kSack is set in the type when `sacks` is not empty) + data.
Bytes encode(Header h, std::span<const SackBlock> sacks, ByteView data);
// The same into `out` (resized; its capacity is reused, so a kept buffer allocates once).
void encode_into(Bytes& out, Header h, std::span<const SackBlock> sacks, ByteView data);

}  // namespace hs::v11::udx
