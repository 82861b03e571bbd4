#include "v11/storage/oplog.h"

#include <cstring>

#include "common/util/varint.h"
#include "v11/storage/crc32c.h"

namespace hs::v11::storage {
namespace {

using hypercore::CoreHeader;
using hypercore::Manifest;
using hypercore::TreeHead;

constexpr std::size_t kMaxSigners = 1024;
constexpr std::size_t kMaxLinked = 1024;
constexpr std::size_t kMaxUserData = 1 << 20;
constexpr std::size_t kMaxSignature = 1 << 20;

void put_u32le(Bytes& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64le(Bytes& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_u32le(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
void write_u32le(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Bounds-checked reading from the front; any failure sets `bad` and later reads return zeros.
struct Reader {
    ByteView in;
    bool bad = false;
    std::uint64_t uint() {
        if (bad) return 0;
        auto v = varint::decode(in);
        if (!v) bad = true;
        return v.value_or(0);
    }
    std::uint8_t u8() {
        if (bad || in.empty()) return bad = true, 0;
        const auto v = in[0];
        in = in.subspan(1);
        return v;
    }
    std::uint64_t u64le() {
        if (bad || in.size() < 8) return bad = true, 0;
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t{in[i]} << (8 * i);
        in = in.subspan(8);
        return v;
    }
    template <std::size_t N>
    void fixed(ByteArray<N>& out) {
        if (bad || in.size() < N) {
            bad = true;
            return;
        }
        std::memcpy(out.data(), in.data(), N);
        in = in.subspan(N);
    }
    ByteView take(std::uint64_t n) {
        if (bad || n > in.size()) return bad = true, ByteView{};
        auto v = in.first(static_cast<std::size_t>(n));
        in = in.subspan(static_cast<std::size_t>(n));
        return v;
    }
    // A count that must not exceed `max`.
    std::uint64_t count(std::uint64_t max) {
        const auto n = uint();
        if (n > max) bad = true;
        return bad ? 0 : n;
    }
};

void encode_manifest(Bytes& out, const Manifest& m) {
    varint::encode(out, m.version);
    varint::encode(out, m.hash);
    out.push_back(m.allow_patch ? 1 : 0);
    varint::encode(out, m.quorum);
    varint::encode(out, m.signers.size());
    for (const auto& s : m.signers) {
        varint::encode(out, s.signature);
        append_bytes(out, s.namespace_);
        append_bytes(out, s.public_key);
    }
    const std::uint8_t flags = (m.prologue ? 1 : 0) | (m.linked ? 2 : 0) | (m.user_data ? 4 : 0);
    out.push_back(flags);
    if (m.prologue) {
        append_bytes(out, m.prologue->hash);
        varint::encode(out, m.prologue->length);
    }
    if (m.linked) {
        varint::encode(out, m.linked->size());
        for (const auto& h : *m.linked) append_bytes(out, h);
    }
    if (m.user_data) {
        varint::encode(out, m.user_data->size());
        append_bytes(out, *m.user_data);
    }
}

Manifest decode_manifest(Reader& r) {
    Manifest m;
    m.version = r.uint();
    m.hash = r.uint();
    const auto patch = r.u8();
    if (patch > 1) r.bad = true;
    m.allow_patch = patch == 1;
    m.quorum = r.uint();
    const auto n = r.count(kMaxSigners);
    for (std::uint64_t i = 0; i < n && !r.bad; ++i) {
        hypercore::ManifestSigner s;
        s.signature = r.uint();
        r.fixed(s.namespace_);
        r.fixed(s.public_key);
        m.signers.push_back(s);
    }
    const auto flags = r.u8();
    if (flags & ~7u) r.bad = true;
    if (flags & 1) {
        hypercore::ManifestPrologue p;
        r.fixed(p.hash);
        p.length = r.uint();
        m.prologue = p;
    }
    if (flags & 2) {
        const auto k = r.count(kMaxLinked);
        std::vector<hypercore::Hash> linked(static_cast<std::size_t>(k));
        for (auto& h : linked) r.fixed(h);
        m.linked = std::move(linked);
    }
    if (flags & 4) m.user_data = to_bytes(r.take(r.count(kMaxUserData)));
    return m;
}

TreeHead decode_head(Reader& r) {
    TreeHead h;
    h.fork = r.uint();
    h.length = r.uint();
    r.fixed(h.root_hash);
    h.signature = to_bytes(r.take(r.count(kMaxSignature)));
    return h;
}

CoreHeader decode_header(Reader& r) {
    CoreHeader h;
    r.fixed(h.key);
    const auto flags = r.u8();
    if (flags & ~3u) r.bad = true;
    if (flags & 1) h.manifest = decode_manifest(r);
    if (flags & 2) {
        hypercore::KeyPair kp;
        r.fixed(kp.public_key);
        r.fixed(kp.secret_key);
        h.key_pair = kp;
    }
    h.head = decode_head(r);
    return h;
}

Error corrupt(const std::string& file, std::string_view what) {
    return make_error(Errc::Corrupt,
                      "{}: {} although its checksum matches (written by a newer or broken "
                      "version?); restore the core's folder from a backup, or delete the folder "
                      "to drop the core",
                      file, what);
}

}  // namespace

void encode_prologue(Bytes& out, const Prologue& p) {
    out.insert(out.end(), std::begin(kOplogMagic), std::end(kOplogMagic));
    out.push_back(static_cast<std::uint8_t>(kOplogVersion));
    out.push_back(static_cast<std::uint8_t>(kOplogVersion >> 8));
    out.push_back(0);
    out.push_back(0);
    put_u32le(out, p.slot_bytes);
    put_u64le(out, p.salt);
}

std::optional<Prologue> decode_prologue(ByteView in) {
    if (in.size() < kPrologueBytes || std::memcmp(in.data(), kOplogMagic, 8) != 0) return std::nullopt;
    const std::uint16_t version = static_cast<std::uint16_t>(in[8] | in[9] << 8);
    if (version != kOplogVersion || in[10] != 0 || in[11] != 0) return std::nullopt;
    Prologue p;
    p.slot_bytes = get_u32le(in.data() + 12);
    if (p.slot_bytes < kMinSlotBytes || p.slot_bytes > kMaxSlotBytes) return std::nullopt;
    for (int i = 0; i < 8; ++i) p.salt |= std::uint64_t{in[16 + i]} << (8 * i);
    return p;
}

std::size_t begin_frame(Bytes& out) {
    const auto at = out.size();
    out.resize(at + kFrameBytes);
    return at;
}

std::uint32_t salt_crc(std::uint64_t salt) {
    std::uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(salt >> (8 * i));
    return crc32c(ByteView(b, 8));
}

void seal_frame(Bytes& out, std::size_t frame_at, std::uint64_t salt) {
    const auto len = static_cast<std::uint32_t>(out.size() - frame_at - kFrameBytes);
    write_u32le(out.data() + frame_at, len);
    std::uint32_t crc = crc32c(ByteView(out.data() + frame_at, 4), salt_crc(salt));
    crc = crc32c(ByteView(out.data() + frame_at + kFrameBytes, len), crc);
    write_u32le(out.data() + frame_at + 4, crc);
}

std::uint32_t frame_length(ByteView header8) { return get_u32le(header8.data()); }

bool frame_valid(ByteView header8, ByteView body, std::uint64_t salt) {
    if (header8.size() < kFrameBytes || body.size() != frame_length(header8)) return false;
    std::uint32_t crc = crc32c(header8.first(4), salt_crc(salt));
    crc = crc32c(body, crc);
    return crc == get_u32le(header8.data() + 4);
}

void encode_head(Bytes& out, const TreeHead& h) {
    varint::encode(out, h.fork);
    varint::encode(out, h.length);
    append_bytes(out, h.root_hash);
    varint::encode(out, h.signature.size());
    append_bytes(out, h.signature);
}

void encode_header(Bytes& out, const CoreHeader& h) {
    append_bytes(out, h.key);
    out.push_back(static_cast<std::uint8_t>((h.manifest ? 1 : 0) | (h.key_pair ? 2 : 0)));
    if (h.manifest) encode_manifest(out, *h.manifest);
    if (h.key_pair) {
        append_bytes(out, h.key_pair->public_key);
        append_bytes(out, h.key_pair->secret_key);
    }
    encode_head(out, h.head);
}

std::vector<std::size_t> encode_entry(Bytes& out, std::uint64_t checkpoint, const hypercore::Batch& b,
                                      const std::vector<bool>& redo, bool full_header) {
    std::vector<std::size_t> value_at;
    put_u64le(out, checkpoint);
    std::uint8_t flags = b.truncate_to ? kEntryTruncate : 0;
    if (b.header) flags |= full_header ? kEntryFullHeader : kEntryHead;
    out.push_back(flags);
    if (b.truncate_to) varint::encode(out, *b.truncate_to);
    varint::encode(out, b.nodes.size());
    for (const auto& n : b.nodes) {
        varint::encode(out, n.index);
        varint::encode(out, n.size);
        append_bytes(out, n.hash);
    }
    varint::encode(out, b.bits.size());
    for (const auto& r : b.bits) {
        varint::encode(out, r.start);
        varint::encode(out, r.length);
        out.push_back(r.value ? 1 : 0);
    }
    std::size_t n_redo = 0;
    for (bool r : redo) n_redo += r ? 1 : 0;
    varint::encode(out, n_redo);
    for (std::size_t i = 0; i < b.blocks.size(); ++i) {
        if (!redo[i]) continue;
        varint::encode(out, b.blocks[i].index);
        varint::encode(out, b.blocks[i].byte_offset);
        varint::encode(out, b.blocks[i].value.size());
        value_at.push_back(out.size());
        append_bytes(out, b.blocks[i].value);
    }
    if (b.header) {
        if (full_header)
            encode_header(out, *b.header);
        else
            encode_head(out, b.header->head);
    }
    return value_at;
}

Result<DecodedEntry> decode_entry(ByteView body, const std::string& file) {
    Reader r{body};
    DecodedEntry e;
    e.checkpoint = r.u64le();
    const auto flags = r.u8();
    if (flags & ~7u || (flags & kEntryFullHeader && flags & kEntryHead)) r.bad = true;
    if (flags & kEntryTruncate) e.truncate_to = r.uint();
    const auto n_nodes = r.count(body.size() / 34);
    e.nodes.reserve(static_cast<std::size_t>(n_nodes));
    for (std::uint64_t i = 0; i < n_nodes && !r.bad; ++i) {
        hypercore::TreeNode n;
        n.index = r.uint();
        n.size = r.uint();
        r.fixed(n.hash);
        e.nodes.push_back(n);
    }
    const auto n_bits = r.count(body.size() / 3);
    e.bits.reserve(static_cast<std::size_t>(n_bits));
    for (std::uint64_t i = 0; i < n_bits && !r.bad; ++i) {
        hypercore::BitRange b;
        b.start = r.uint();
        b.length = r.uint();
        const auto v = r.u8();
        if (v > 1) r.bad = true;
        b.value = v == 1;
        e.bits.push_back(b);
    }
    const auto n_redo = r.count(body.size() / 3);
    for (std::uint64_t i = 0; i < n_redo && !r.bad; ++i) {
        RedoBlock b;
        b.index = r.uint();
        b.byte_offset = r.uint();
        b.size = r.uint();
        b.value_at = body.size() - r.in.size();
        r.take(b.size);
        e.redo.push_back(b);
    }
    if (flags & kEntryFullHeader) e.header = decode_header(r);
    if (flags & kEntryHead) e.head = decode_head(r);
    if (r.bad || !r.in.empty()) return corrupt(file, "an oplog entry does not decode");
    return e;
}

void encode_slot(Bytes& out, std::uint64_t checkpoint, const CoreHeader& header) {
    put_u64le(out, checkpoint);
    encode_header(out, header);
}

Result<std::pair<std::uint64_t, CoreHeader>> decode_slot(ByteView body, const std::string& file) {
    Reader r{body};
    const auto checkpoint = r.u64le();
    auto header = decode_header(r);
    if (r.bad || !r.in.empty()) return corrupt(file, "a header slot does not decode");
    return std::pair{checkpoint, std::move(header)};
}

}  // namespace hs::v11::storage
