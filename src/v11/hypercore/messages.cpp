#include "v11/hypercore/messages.h"

#include "v11/hypercore/codecs.h"

namespace hs::v11::hypercore::wire {
namespace {

namespace c = compact;
using detail::NodeArray;

// Each message as a state codec; the public encode/decode functions below wrap them.

struct HandshakeCodec {
    using Value = Handshake;
    static void preencode(c::EncodeState& s, const Handshake&) { s.end += 1 + 32; }
    static void encode(c::EncodeState& s, const Handshake& m) {
        c::Uint::encode(s, m.seeks ? 1 : 0);
        c::Fixed32::encode(s, m.capability);
    }
    static Result<Handshake> decode(c::DecodeState& s) {
        Handshake m;
        HS_ASSIGN_OR_RETURN(const std::uint64_t flags, c::Uint::decode(s));
        m.seeks = (flags & 1) != 0;
        HS_ASSIGN_OR_RETURN(m.capability, c::Fixed32::decode(s));
        return m;
    }
};

// sync: {uint flags, uint fork, uint length, uint remoteLength}; flags bit 0 canUpgrade,
// 1 uploading, 2 downloading, 3 hasManifest, 4 allowPush.
struct SyncCodec {
    using Value = Sync;
    static std::uint64_t flags(const Sync& m) {
        return (m.can_upgrade ? 1 : 0) | (m.uploading ? 2 : 0) | (m.downloading ? 4 : 0) |
               (m.has_manifest ? 8 : 0) | (m.allow_push ? 16 : 0);
    }
    static void preencode(c::EncodeState& s, const Sync& m) {
        s.end += 1;
        c::Uint::preencode(s, m.fork);
        c::Uint::preencode(s, m.length);
        c::Uint::preencode(s, m.remote_length);
    }
    static void encode(c::EncodeState& s, const Sync& m) {
        c::Uint::encode(s, flags(m));
        c::Uint::encode(s, m.fork);
        c::Uint::encode(s, m.length);
        c::Uint::encode(s, m.remote_length);
    }
    static Result<Sync> decode(c::DecodeState& s) {
        Sync m;
        HS_ASSIGN_OR_RETURN(const std::uint64_t f, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.fork, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.length, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.remote_length, c::Uint::decode(s));
        m.can_upgrade = (f & 1) != 0;
        m.uploading = (f & 2) != 0;
        m.downloading = (f & 4) != 0;
        m.has_manifest = (f & 8) != 0;
        m.allow_push = (f & 16) != 0;
        return m;
    }
};

// Two uints: request block/hash {index, nodes}, seek {bytes, padding}, upgrade {start, length}.
template <typename T, std::uint64_t T::*A, std::uint64_t T::*B>
struct PairCodec {
    using Value = T;
    static void preencode(c::EncodeState& s, const T& v) {
        c::Uint::preencode(s, v.*A);
        c::Uint::preencode(s, v.*B);
    }
    static void encode(c::EncodeState& s, const T& v) {
        c::Uint::encode(s, v.*A);
        c::Uint::encode(s, v.*B);
    }
    static Result<T> decode(c::DecodeState& s) {
        T v;
        HS_ASSIGN_OR_RETURN(v.*A, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(v.*B, c::Uint::decode(s));
        return v;
    }
};
using RequestBlockCodec = PairCodec<RequestBlock, &RequestBlock::index, &RequestBlock::nodes>;
using RequestSeekCodec = PairCodec<RequestSeek, &RequestSeek::bytes, &RequestSeek::padding>;
using RequestUpgradeCodec =
    PairCodec<RequestUpgrade, &RequestUpgrade::start, &RequestUpgrade::length>;

// Decodes an optional part when its flag bit is set.
template <typename Codec, typename T>
Status decode_if(c::DecodeState& s, std::uint64_t flags, std::uint64_t bit, std::optional<T>& out) {
    if ((flags & bit) == 0) return {};
    HS_ASSIGN_OR_RETURN(out, Codec::decode(s));
    return {};
}

// request: {uint flags, uint id, uint fork, [block], [hash], [seek], [upgrade], [uint priority]};
// flags bit 0 block, 1 hash, 2 seek, 3 upgrade, 4 manifest, 5 priority (sent only when non-zero).
struct RequestCodec {
    using Value = Request;
    static std::uint64_t flags(const Request& m) {
        const ProofRequest& p = m.proof;
        return (p.block ? 1 : 0) | (p.hash ? 2 : 0) | (p.seek ? 4 : 0) | (p.upgrade ? 8 : 0) |
               (p.manifest ? 16 : 0) | (m.priority != 0 ? 32 : 0);
    }
    static void preencode(c::EncodeState& s, const Request& m) {
        const ProofRequest& p = m.proof;
        s.end += 1;
        c::Uint::preencode(s, m.id);
        c::Uint::preencode(s, p.fork);
        if (p.block) RequestBlockCodec::preencode(s, *p.block);
        if (p.hash) RequestBlockCodec::preencode(s, *p.hash);
        if (p.seek) RequestSeekCodec::preencode(s, *p.seek);
        if (p.upgrade) RequestUpgradeCodec::preencode(s, *p.upgrade);
        if (m.priority != 0) c::Uint::preencode(s, m.priority);
    }
    static void encode(c::EncodeState& s, const Request& m) {
        const ProofRequest& p = m.proof;
        c::Uint::encode(s, flags(m));
        c::Uint::encode(s, m.id);
        c::Uint::encode(s, p.fork);
        if (p.block) RequestBlockCodec::encode(s, *p.block);
        if (p.hash) RequestBlockCodec::encode(s, *p.hash);
        if (p.seek) RequestSeekCodec::encode(s, *p.seek);
        if (p.upgrade) RequestUpgradeCodec::encode(s, *p.upgrade);
        if (m.priority != 0) c::Uint::encode(s, m.priority);
    }
    static Result<Request> decode(c::DecodeState& s) {
        Request m;
        ProofRequest& p = m.proof;
        HS_ASSIGN_OR_RETURN(const std::uint64_t f, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.id, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(p.fork, c::Uint::decode(s));
        HS_TRY(decode_if<RequestBlockCodec>(s, f, 1, p.block));
        HS_TRY(decode_if<RequestBlockCodec>(s, f, 2, p.hash));
        HS_TRY(decode_if<RequestSeekCodec>(s, f, 4, p.seek));
        HS_TRY(decode_if<RequestUpgradeCodec>(s, f, 8, p.upgrade));
        p.manifest = (f & 16) != 0;
        if (f & 32) {
            HS_ASSIGN_OR_RETURN(m.priority, c::Uint::decode(s));
        }
        return m;
    }
};

// One uint: cancel {request}.
struct CancelCodec {
    using Value = Cancel;
    static void preencode(c::EncodeState& s, const Cancel& m) { c::Uint::preencode(s, m.request); }
    static void encode(c::EncodeState& s, const Cancel& m) { c::Uint::encode(s, m.request); }
    static Result<Cancel> decode(c::DecodeState& s) {
        Cancel m;
        HS_ASSIGN_OR_RETURN(m.request, c::Uint::decode(s));
        return m;
    }
};

// data block {uint index, buffer value, nodes}.
struct DataBlockCodec {
    using Value = DataBlock;
    static void preencode(c::EncodeState& s, const DataBlock& b) {
        c::Uint::preencode(s, b.index);
        c::Buffer::preencode(s, b.value);
        NodeArray::preencode(s, b.nodes);
    }
    static void encode(c::EncodeState& s, const DataBlock& b) {
        c::Uint::encode(s, b.index);
        c::Buffer::encode(s, b.value);
        NodeArray::encode(s, b.nodes);
    }
    static Result<DataBlock> decode(c::DecodeState& s) {
        DataBlock b;
        HS_ASSIGN_OR_RETURN(b.index, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(const ByteView value, c::Buffer::decode(s));
        b.value = to_bytes(value);
        HS_ASSIGN_OR_RETURN(b.nodes, NodeArray::decode(s));
        return b;
    }
};

// data hash {uint index, nodes} and seek {uint bytes, nodes}.
template <typename T, std::uint64_t T::*A>
struct UintNodesCodec {
    using Value = T;
    static void preencode(c::EncodeState& s, const T& v) {
        c::Uint::preencode(s, v.*A);
        NodeArray::preencode(s, v.nodes);
    }
    static void encode(c::EncodeState& s, const T& v) {
        c::Uint::encode(s, v.*A);
        NodeArray::encode(s, v.nodes);
    }
    static Result<T> decode(c::DecodeState& s) {
        T v;
        HS_ASSIGN_OR_RETURN(v.*A, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(v.nodes, NodeArray::decode(s));
        return v;
    }
};
using DataHashCodec = UintNodesCodec<DataHash, &DataHash::index>;
using DataSeekCodec = UintNodesCodec<DataSeek, &DataSeek::bytes>;

// data upgrade {uint start, uint length, nodes, additionalNodes, optionalBuffer signature}:
// an empty signature is written as length 0 and read back as empty (JS null).
struct DataUpgradeCodec {
    using Value = DataUpgrade;
    static std::optional<ByteView> signature(const DataUpgrade& u) {
        if (u.signature.empty()) return std::nullopt;
        return ByteView(u.signature);
    }
    static void preencode(c::EncodeState& s, const DataUpgrade& u) {
        c::Uint::preencode(s, u.start);
        c::Uint::preencode(s, u.length);
        NodeArray::preencode(s, u.nodes);
        NodeArray::preencode(s, u.additional_nodes);
        c::OptionalBuffer::preencode(s, signature(u));
    }
    static void encode(c::EncodeState& s, const DataUpgrade& u) {
        c::Uint::encode(s, u.start);
        c::Uint::encode(s, u.length);
        NodeArray::encode(s, u.nodes);
        NodeArray::encode(s, u.additional_nodes);
        c::OptionalBuffer::encode(s, signature(u));
    }
    static Result<DataUpgrade> decode(c::DecodeState& s) {
        DataUpgrade u;
        HS_ASSIGN_OR_RETURN(u.start, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(u.length, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(u.nodes, NodeArray::decode(s));
        HS_ASSIGN_OR_RETURN(u.additional_nodes, NodeArray::decode(s));
        HS_ASSIGN_OR_RETURN(const std::optional<ByteView> sig, c::OptionalBuffer::decode(s));
        if (sig) u.signature = to_bytes(*sig);
        return u;
    }
};

// data: {uint flags, uint request, uint fork, [block], [hash], [seek], [upgrade], [manifest]};
// flags bit 0 block, 1 hash, 2 seek, 3 upgrade, 4 manifest.
struct DataCodec {
    using Value = Data;
    static std::uint64_t flags(const Proof& p) {
        return (p.block ? 1 : 0) | (p.hash ? 2 : 0) | (p.seek ? 4 : 0) | (p.upgrade ? 8 : 0) |
               (p.manifest ? 16 : 0);
    }
    static void preencode(c::EncodeState& s, const Data& m) {
        const Proof& p = m.proof;
        s.end += 1;
        c::Uint::preencode(s, m.request);
        c::Uint::preencode(s, p.fork);
        if (p.block) DataBlockCodec::preencode(s, *p.block);
        if (p.hash) DataHashCodec::preencode(s, *p.hash);
        if (p.seek) DataSeekCodec::preencode(s, *p.seek);
        if (p.upgrade) DataUpgradeCodec::preencode(s, *p.upgrade);
        if (p.manifest) detail::ManifestCodec::preencode(s, *p.manifest);
    }
    static void encode(c::EncodeState& s, const Data& m) {
        const Proof& p = m.proof;
        c::Uint::encode(s, flags(p));
        c::Uint::encode(s, m.request);
        c::Uint::encode(s, p.fork);
        if (p.block) DataBlockCodec::encode(s, *p.block);
        if (p.hash) DataHashCodec::encode(s, *p.hash);
        if (p.seek) DataSeekCodec::encode(s, *p.seek);
        if (p.upgrade) DataUpgradeCodec::encode(s, *p.upgrade);
        if (p.manifest) detail::ManifestCodec::encode(s, *p.manifest);
    }
    static Result<Data> decode(c::DecodeState& s) {
        Data m;
        Proof& p = m.proof;
        HS_ASSIGN_OR_RETURN(const std::uint64_t f, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.request, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(p.fork, c::Uint::decode(s));
        HS_TRY(decode_if<DataBlockCodec>(s, f, 1, p.block));
        HS_TRY(decode_if<DataHashCodec>(s, f, 2, p.hash));
        HS_TRY(decode_if<DataSeekCodec>(s, f, 4, p.seek));
        HS_TRY(decode_if<DataUpgradeCodec>(s, f, 8, p.upgrade));
        HS_TRY(decode_if<detail::ManifestCodec>(s, f, 16, p.manifest));
        return m;
    }
};

// noData: {uint request, uint flags (bit 0: a reason follows), [uint reason]}. The flags are
// always written; a body that ends after the request decodes with reason 0.
struct NoDataCodec {
    using Value = NoData;
    static void preencode(c::EncodeState& s, const NoData& m) {
        c::Uint::preencode(s, m.request);
        s.end += 1;
        if (m.reason != 0) c::Uint::preencode(s, m.reason);
    }
    static void encode(c::EncodeState& s, const NoData& m) {
        c::Uint::encode(s, m.request);
        c::Uint::encode(s, m.reason != 0 ? 1 : 0);
        if (m.reason != 0) c::Uint::encode(s, m.reason);
    }
    static Result<NoData> decode(c::DecodeState& s) {
        NoData m;
        HS_ASSIGN_OR_RETURN(m.request, c::Uint::decode(s));
        std::uint64_t f = 0;
        if (s.remaining() > 0) {
            HS_ASSIGN_OR_RETURN(f, c::Uint::decode(s));
        }
        if (f & 1) {
            HS_ASSIGN_OR_RETURN(m.reason, c::Uint::decode(s));
        }
        return m;
    }
};

// want and unwant: {uint start, uint length, [uint flags (bit 0 any)]}; the flags are written only
// when non-zero and read only when bytes remain.
struct WantCodec {
    using Value = Want;
    static void preencode(c::EncodeState& s, const Want& m) {
        c::Uint::preencode(s, m.start);
        c::Uint::preencode(s, m.length);
        if (m.any) s.end += 1;
    }
    static void encode(c::EncodeState& s, const Want& m) {
        c::Uint::encode(s, m.start);
        c::Uint::encode(s, m.length);
        if (m.any) c::Uint::encode(s, 1);
    }
    static Result<Want> decode(c::DecodeState& s) {
        Want m;
        HS_ASSIGN_OR_RETURN(m.start, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.length, c::Uint::decode(s));
        if (s.remaining() > 0) {
            HS_ASSIGN_OR_RETURN(const std::uint64_t f, c::Uint::decode(s));
            m.any = (f & 1) != 0;
        }
        return m;
    }
};

// bitfield: {uint start, uint32array bitfield}.
struct BitfieldCodec {
    using Value = Bitfield;
    static void preencode(c::EncodeState& s, const Bitfield& m) {
        c::Uint::preencode(s, m.start);
        c::Uint32Array::preencode(s, m.bitfield);
    }
    static void encode(c::EncodeState& s, const Bitfield& m) {
        c::Uint::encode(s, m.start);
        c::Uint32Array::encode(s, m.bitfield);
    }
    static Result<Bitfield> decode(c::DecodeState& s) {
        Bitfield m;
        HS_ASSIGN_OR_RETURN(m.start, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(m.bitfield, c::Uint32Array::decode(s));
        return m;
    }
};

// range: {uint flags (bit 0 drop, bit 1 length is 1), uint start, [uint length unless bit 1]}.
struct RangeCodec {
    using Value = Range;
    static void preencode(c::EncodeState& s, const Range& m) {
        s.end += 1;
        c::Uint::preencode(s, m.start);
        if (m.length != 1) c::Uint::preencode(s, m.length);
    }
    static void encode(c::EncodeState& s, const Range& m) {
        c::Uint::encode(s, (m.drop ? 1 : 0) | (m.length == 1 ? 2 : 0));
        c::Uint::encode(s, m.start);
        if (m.length != 1) c::Uint::encode(s, m.length);
    }
    static Result<Range> decode(c::DecodeState& s) {
        Range m;
        HS_ASSIGN_OR_RETURN(const std::uint64_t f, c::Uint::decode(s));
        m.drop = (f & 1) != 0;
        HS_ASSIGN_OR_RETURN(m.start, c::Uint::decode(s));
        if (f & 2) {
            m.length = 1;
        } else {
            HS_ASSIGN_OR_RETURN(m.length, c::Uint::decode(s));
        }
        return m;
    }
};

// extension: {string name, raw message (the rest of the body)}.
struct ExtensionCodec {
    using Value = Extension;
    static void preencode(c::EncodeState& s, const Extension& m) {
        c::String::preencode(s, m.name);
        c::Raw::preencode(s, m.message);
    }
    static void encode(c::EncodeState& s, const Extension& m) {
        c::String::encode(s, m.name);
        c::Raw::encode(s, m.message);
    }
    static Result<Extension> decode(c::DecodeState& s) {
        Extension m;
        HS_ASSIGN_OR_RETURN(m.name, c::String::decode(s));
        HS_ASSIGN_OR_RETURN(const ByteView rest, c::Raw::decode(s));
        m.message = to_bytes(rest);
        return m;
    }
};

template <typename Codec>
typename Codec::Value decode_body(ByteView bytes, std::string_view what) {
    return detail::decode_or_throw<Codec>(bytes, what);
}

}  // namespace

Bytes encode(const Handshake& m) { return c::encode<HandshakeCodec>(m); }
Bytes encode(const Sync& m) { return c::encode<SyncCodec>(m); }
Bytes encode(const Request& m) { return c::encode<RequestCodec>(m); }
Bytes encode(const Cancel& m) { return c::encode<CancelCodec>(m); }
Bytes encode(const Data& m) { return c::encode<DataCodec>(m); }
Bytes encode(const NoData& m) { return c::encode<NoDataCodec>(m); }
Bytes encode_want(const Want& m) { return c::encode<WantCodec>(m); }
Bytes encode_unwant(const Want& m) { return c::encode<WantCodec>(m); }
Bytes encode(const Bitfield& m) { return c::encode<BitfieldCodec>(m); }
Bytes encode(const Range& m) { return c::encode<RangeCodec>(m); }
Bytes encode(const Extension& m) { return c::encode<ExtensionCodec>(m); }

Handshake decode_handshake(ByteView b) {
    return decode_body<HandshakeCodec>(b, "hypercore handshake");
}
Sync decode_sync(ByteView b) { return decode_body<SyncCodec>(b, "hypercore sync message"); }
Request decode_request(ByteView b) {
    return decode_body<RequestCodec>(b, "hypercore request message");
}
Cancel decode_cancel(ByteView b) { return decode_body<CancelCodec>(b, "hypercore cancel message"); }
Data decode_data(ByteView b) { return decode_body<DataCodec>(b, "hypercore data message"); }
NoData decode_no_data(ByteView b) {
    return decode_body<NoDataCodec>(b, "hypercore noData message");
}
Want decode_want(ByteView b) { return decode_body<WantCodec>(b, "hypercore want message"); }
Want decode_unwant(ByteView b) { return decode_body<WantCodec>(b, "hypercore unwant message"); }
Bitfield decode_bitfield(ByteView b) {
    return decode_body<BitfieldCodec>(b, "hypercore bitfield message");
}
Range decode_range(ByteView b) { return decode_body<RangeCodec>(b, "hypercore range message"); }
Extension decode_extension(ByteView b) {
    return decode_body<ExtensionCodec>(b, "hypercore extension message");
}

}  // namespace hs::v11::hypercore::wire
