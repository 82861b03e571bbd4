#include "v11/udx/packet.h"

namespace hs::v11::udx {
namespace {

std::uint32_t get_u32le(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
void put_u32le(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

}  // namespace

std::string_view to_string(DecodeError e) noexcept {
    switch (e) {
        case DecodeError::kTooShort: return "datagram shorter than the 20-byte UDX header";
        case DecodeError::kBadMagic: return "first byte is not the UDX magic 0xFF";
        case DecodeError::kBadVersion: return "UDX version is not 1";
        case DecodeError::kBadDataOffset: return "data offset points past the end of the datagram";
    }
    return "unknown UDX decode error";
}

std::optional<std::uint32_t> peek_stream_id(ByteView d) noexcept {
    if (d.size() < kHeaderSize || d[0] != kMagic || d[1] != kVersion) return std::nullopt;
    return get_u32le(d.data() + 4);
}

std::optional<Packet> decode(ByteView d, DecodeError* why) {
    auto fail = [&](DecodeError e) -> std::optional<Packet> {
        if (why) *why = e;
        return std::nullopt;
    };
    if (d.size() < kHeaderSize) return fail(DecodeError::kTooShort);
    if (d[0] != kMagic) return fail(DecodeError::kBadMagic);
    if (d[1] != kVersion) return fail(DecodeError::kBadVersion);
    Packet p;
    p.header.type = d[2];
    p.header.data_offset = d[3];
    p.header.stream_id = get_u32le(d.data() + 4);
    p.header.rwnd = get_u32le(d.data() + 8);
    p.header.seq = get_u32le(d.data() + 12);
    p.header.ack = get_u32le(d.data() + 16);
    const ByteView rest = d.subspan(kHeaderSize);
    if (p.header.data_offset > rest.size()) return fail(DecodeError::kBadDataOffset);
    if (p.header.type & kSack) {
        // The blocks fill the bytes before data_offset, or the whole rest when there is none.
        const std::size_t area = p.header.data_offset > 0 && p.header.data_offset < rest.size()
                                     ? p.header.data_offset
                                     : rest.size();
        std::size_t n = area / 8;
        if (n > kMaxSackBlocks) n = kMaxSackBlocks;
        p.sacks.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t* b = rest.data() + i * 8;
            p.sacks.push_back({get_u32le(b), get_u32le(b + 4)});
        }
    }
    p.data = rest.subspan(p.header.data_offset);
    return p;
}

void encode_header(const Header& h, std::uint8_t out[kHeaderSize]) noexcept {
    out[0] = kMagic;
    out[1] = kVersion;
    out[2] = h.type;
    out[3] = h.data_offset;
    put_u32le(out + 4, h.stream_id);
    put_u32le(out + 8, h.rwnd);
    put_u32le(out + 12, h.seq);
    put_u32le(out + 16, h.ack);
}

Bytes encode(Header h, std::span<const SackBlock> sacks, ByteView data) {
    Bytes out;
    encode_into(out, h, sacks, data);
    return out;
}

void encode_into(Bytes& out, Header h, std::span<const SackBlock> sacks, ByteView data) {
    if (!sacks.empty()) h.type |= kSack;
    out.resize(kHeaderSize + sacks.size() * 8 + data.size());
    encode_header(h, out.data());
    std::uint8_t* p = out.data() + kHeaderSize;
    for (const SackBlock& b : sacks) {
        put_u32le(p, b.start);
        put_u32le(p + 4, b.end);
        p += 8;
    }
    if (!data.empty()) std::memcpy(p, data.data(), data.size());
}

}  // namespace hs::v11::udx
