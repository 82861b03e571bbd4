#include "v11/hypercore/multisig.h"

#include "v11/hypercore/codecs.h"

namespace hs::v11::hypercore::multisig {
namespace {

namespace c = compact;

struct InputCodec {
    using Value = Input;
    static void preencode(c::EncodeState& s, const Input& in) {
        c::Uint::preencode(s, in.signer);
        s.end += 64;
        c::Uint::preencode(s, in.patch);
    }
    static void encode(c::EncodeState& s, const Input& in) {
        c::Uint::encode(s, in.signer);
        c::Fixed64::encode(s, in.signature);
        c::Uint::encode(s, in.patch);
    }
    static Result<Input> decode(c::DecodeState& s) {
        Input in;
        HS_ASSIGN_OR_RETURN(in.signer, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(in.signature, c::Fixed64::decode(s));
        HS_ASSIGN_OR_RETURN(in.patch, c::Uint::decode(s));
        return in;
    }
};

struct Codec {
    using Value = MultiSignature;
    static void preencode(c::EncodeState& s, const MultiSignature& m) {
        c::Array<InputCodec>::preencode(s, m.proofs);
        detail::NodeArray::preencode(s, m.patch);
    }
    static void encode(c::EncodeState& s, const MultiSignature& m) {
        c::Array<InputCodec>::encode(s, m.proofs);
        detail::NodeArray::encode(s, m.patch);
    }
    static Result<MultiSignature> decode(c::DecodeState& s) {
        MultiSignature m;
        HS_ASSIGN_OR_RETURN(m.proofs, c::Array<InputCodec>::decode(s));
        HS_ASSIGN_OR_RETURN(m.patch, detail::NodeArray::decode(s));
        return m;
    }
};

struct PatchV0Codec {
    using Value = PatchV0;
    static void preencode(c::EncodeState& s, const PatchV0& p) {
        c::Uint::preencode(s, p.start);
        c::Uint::preencode(s, p.length);
        c::Array<c::Uint>::preencode(s, p.nodes);
    }
    static void encode(c::EncodeState& s, const PatchV0& p) {
        c::Uint::encode(s, p.start);
        c::Uint::encode(s, p.length);
        c::Array<c::Uint>::encode(s, p.nodes);
    }
    static Result<PatchV0> decode(c::DecodeState& s) {
        PatchV0 p;
        HS_ASSIGN_OR_RETURN(p.start, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(p.length, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(p.nodes, c::Array<c::Uint>::decode(s));
        return p;
    }
};

// {uint flags (bit 0: a patch follows), uint signer, fixed64 signature, [patch]}.
struct InputV0Codec {
    using Value = InputV0;
    static void preencode(c::EncodeState& s, const InputV0& in) {
        s.end += 1;
        c::Uint::preencode(s, in.signer);
        s.end += 64;
        if (in.patch) PatchV0Codec::preencode(s, *in.patch);
    }
    static void encode(c::EncodeState& s, const InputV0& in) {
        c::Uint::encode(s, in.patch ? 1 : 0);
        c::Uint::encode(s, in.signer);
        c::Fixed64::encode(s, in.signature);
        if (in.patch) PatchV0Codec::encode(s, *in.patch);
    }
    static Result<InputV0> decode(c::DecodeState& s) {
        InputV0 in;
        HS_ASSIGN_OR_RETURN(const std::uint64_t flags, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(in.signer, c::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(in.signature, c::Fixed64::decode(s));
        if (flags & 1) {
            HS_ASSIGN_OR_RETURN(in.patch, PatchV0Codec::decode(s));
        }
        return in;
    }
};

struct CodecV0 {
    using Value = MultiSignatureV0;
    static void preencode(c::EncodeState& s, const MultiSignatureV0& m) {
        c::Array<InputV0Codec>::preencode(s, m.proofs);
        detail::NodeArray::preencode(s, m.patch);
    }
    static void encode(c::EncodeState& s, const MultiSignatureV0& m) {
        c::Array<InputV0Codec>::encode(s, m.proofs);
        detail::NodeArray::encode(s, m.patch);
    }
    static Result<MultiSignatureV0> decode(c::DecodeState& s) {
        MultiSignatureV0 m;
        HS_ASSIGN_OR_RETURN(m.proofs, c::Array<InputV0Codec>::decode(s));
        HS_ASSIGN_OR_RETURN(m.patch, detail::NodeArray::decode(s));
        return m;
    }
};

}  // namespace

Bytes encode(const MultiSignature& m) { return c::encode<Codec>(m); }
MultiSignature decode(ByteView b) {
    return detail::decode_or_throw<Codec>(b, "multisig signature");
}
Bytes encode_v0(const MultiSignatureV0& m) { return c::encode<CodecV0>(m); }
MultiSignatureV0 decode_v0(ByteView b) {
    return detail::decode_or_throw<CodecV0>(b, "version-0 multisig signature");
}

Bytes assemble(const std::vector<std::pair<std::uint64_t, Signature>>& inputs) {
    MultiSignature m;
    for (const auto& [signer, signature] : inputs) m.proofs.push_back({signer, signature, 0});
    return encode(m);
}

}  // namespace hs::v11::hypercore::multisig
