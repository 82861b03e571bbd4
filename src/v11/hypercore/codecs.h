// Private to hs_v11_hypercore_codec: the compact-encoding state codecs that the message codec
// (messages.cpp), the manifest codec (manifest.cpp) and the multisig codec (multisig.cpp) share,
// in the preencode/encode/decode shape of v11/compact/compact.h. Layouts:
// docs/formats/hypercore-v11.md.
#pragma once

#include "v11/compact/compact.h"
#include "v11/hypercore/decode_error.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore::detail {

// A tree node: {uint index, uint size, fixed32 hash}.
struct NodeCodec {
    using Value = TreeNode;
    static void preencode(compact::EncodeState& s, const TreeNode& n) {
        compact::Uint::preencode(s, n.index);
        compact::Uint::preencode(s, n.size);
        s.end += 32;
    }
    static void encode(compact::EncodeState& s, const TreeNode& n) {
        compact::Uint::encode(s, n.index);
        compact::Uint::encode(s, n.size);
        compact::Fixed32::encode(s, n.hash);
    }
    static Result<TreeNode> decode(compact::DecodeState& s) {
        TreeNode n;
        HS_ASSIGN_OR_RETURN(n.index, compact::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(n.size, compact::Uint::decode(s));
        HS_ASSIGN_OR_RETURN(n.hash, compact::Fixed32::decode(s));
        return n;
    }
};
using NodeArray = compact::Array<NodeCodec>;

// JS messages.manifest: the version-0 (compat) and version-1+ (flags) layouts. Encoding writes
// the hash and signature ids as the numbers they hold (only 0 is defined: JS refuses to encode
// others, and both decoders reject them).
struct ManifestCodec {
    using Value = Manifest;
    static void preencode(compact::EncodeState& s, const Manifest& m);
    static void encode(compact::EncodeState& s, const Manifest& m);
    static Result<Manifest> decode(compact::DecodeState& s);
};

// Decodes one value from the front of `bytes` (trailing bytes ignored, as JS's c.decode does)
// and throws compact::DecodeError, naming `what`, if it fails.
template <typename Codec>
typename Codec::Value decode_or_throw(ByteView bytes, std::string_view what) {
    compact::DecodeState s(bytes);
    auto r = Codec::decode(s);
    if (!r) {
        Error e = std::move(r).error();
        e.message = fmt::format("{}: {}", what, e.message);
        throw compact::DecodeError(std::move(e));
    }
    return std::move(r).value();
}

}  // namespace hs::v11::hypercore::detail
