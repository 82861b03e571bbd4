#include "v11/hypercore/manifest.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "v11/hypercore/codecs.h"
#include "v11/hypercore/multisig.h"

namespace hs::v11::hypercore {
namespace {

namespace c = compact;

// Flags of the version >= 1 layout.
constexpr std::uint64_t kManifestPatch = 1;
constexpr std::uint64_t kManifestPrologue = 2;
constexpr std::uint64_t kManifestLinked = 4;
constexpr std::uint64_t kManifestUserData = 8;
// The highest manifest version JS decodes.
constexpr std::uint64_t kMaxManifestVersion = 3;

// namespace('hypercore', 6): ns = H("hypercore"), id_i = H(ns || byte(i)).
const std::array<Hash, 6>& namespaces() {
    static const std::array<Hash, 6> ids = [] {
        const Hash ns = crypto::blake2b_256(as_bytes("hypercore"));
        std::array<Hash, 6> out;
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i] = crypto::Blake2b(32).update(ns).update(static_cast<std::uint8_t>(i)).final32();
        }
        return out;
    }();
    return ids;
}

Error bad(std::string_view what, std::uint64_t n) {
    return make_error(Errc::Protocol, "manifest: unknown {} {}", what, n);
}

struct SignerCodec {
    using Value = ManifestSigner;
    static void preencode(c::EncodeState& s, const ManifestSigner& m) {
        c::Uint::preencode(s, m.signature);
        s.end += 64;
    }
    static void encode(c::EncodeState& s, const ManifestSigner& m) {
        c::Uint::encode(s, m.signature);
        c::Fixed32::encode(s, m.namespace_);
        c::Fixed32::encode(s, m.public_key);
    }
    static Result<ManifestSigner> decode(c::DecodeState& s) {
        ManifestSigner m;
        HS_ASSIGN_OR_RETURN(m.signature, c::Uint::decode(s));
        if (m.signature != 0) return bad("signature id", m.signature);
        HS_ASSIGN_OR_RETURN(m.namespace_, c::Fixed32::decode(s));
        HS_ASSIGN_OR_RETURN(m.public_key, c::Fixed32::decode(s));
        return m;
    }
};
using SignerArray = c::Array<SignerCodec>;

Result<std::uint64_t> decode_hash_id(c::DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const std::uint64_t n, c::Uint::decode(s));
    if (n != 0) return bad("hash id", n);
    return n;
}

// Version 0 (after the version byte): uint hash id, uint type, then
//   type 0 (prologue only):   fixed32 prologue hash
//   type 1 (single signer):   signer
//   type 2 (multi-signer):    uint flags (bit 0 allow patch), uint quorum, array(signer)
enum class V0Type { Prologue, Single, Multi };

V0Type v0_type(const Manifest& m) {
    if (m.prologue && m.signers.empty()) return V0Type::Prologue;
    if (m.quorum == 1 && m.signers.size() == 1 && !m.allow_patch) return V0Type::Single;
    return V0Type::Multi;
}

std::uint64_t v1_flags(const Manifest& m) {
    return (m.allow_patch ? kManifestPatch : 0) | (m.prologue ? kManifestPrologue : 0) |
           (m.linked ? kManifestLinked : 0) | (m.user_data ? kManifestUserData : 0);
}

Result<Manifest> decode_v0(c::DecodeState& s) {
    Manifest m;
    m.version = 0;
    HS_ASSIGN_OR_RETURN(m.hash, decode_hash_id(s));
    HS_ASSIGN_OR_RETURN(const std::uint64_t type, c::Uint::decode(s));
    if (type > 2) return bad("version-0 manifest type", type);
    if (type == 0) {
        m.quorum = 0;
        ManifestPrologue p;
        HS_ASSIGN_OR_RETURN(p.hash, c::Fixed32::decode(s));
        m.prologue = p;  // the layout has no length: JS reads it as 0
        return m;
    }
    if (type == 1) {
        m.quorum = 1;
        HS_ASSIGN_OR_RETURN(ManifestSigner signer, SignerCodec::decode(s));
        m.signers.push_back(signer);
        return m;
    }
    HS_ASSIGN_OR_RETURN(const std::uint64_t flags, c::Uint::decode(s));
    m.allow_patch = (flags & 1) != 0;
    HS_ASSIGN_OR_RETURN(m.quorum, c::Uint::decode(s));
    HS_ASSIGN_OR_RETURN(m.signers, SignerArray::decode(s));
    return m;
}

}  // namespace

namespace detail {

void ManifestCodec::preencode(c::EncodeState& s, const Manifest& m) {
    c::Uint::preencode(s, m.version);
    c::Uint::preencode(s, m.hash);
    if (m.version == 0) {
        s.end += 1;  // type
        switch (v0_type(m)) {
            case V0Type::Prologue:
                s.end += 32;
                return;
            case V0Type::Single:
                SignerCodec::preencode(s, m.signers[0]);
                return;
            case V0Type::Multi:
                c::Uint::preencode(s, m.allow_patch ? 1 : 0);
                c::Uint::preencode(s, m.quorum);
                SignerArray::preencode(s, m.signers);
                return;
        }
    }
    c::Uint::preencode(s, v1_flags(m));
    c::Uint::preencode(s, m.quorum);
    SignerArray::preencode(s, m.signers);
    if (m.prologue) {
        s.end += 32;
        c::Uint::preencode(s, m.prologue->length);
    }
    if (m.linked) c::Array<c::Fixed32>::preencode(s, *m.linked);
    if (m.user_data) c::Buffer::preencode(s, *m.user_data);
}

void ManifestCodec::encode(c::EncodeState& s, const Manifest& m) {
    c::Uint::encode(s, m.version);
    if (m.version == 0) {
        c::Uint::encode(s, m.hash);
        switch (v0_type(m)) {
            case V0Type::Prologue:
                c::Uint::encode(s, 0);
                c::Fixed32::encode(s, m.prologue->hash);
                return;
            case V0Type::Single:
                c::Uint::encode(s, 1);
                SignerCodec::encode(s, m.signers[0]);
                return;
            case V0Type::Multi:
                c::Uint::encode(s, 2);
                c::Uint::encode(s, m.allow_patch ? 1 : 0);
                c::Uint::encode(s, m.quorum);
                SignerArray::encode(s, m.signers);
                return;
        }
    }
    c::Uint::encode(s, v1_flags(m));
    c::Uint::encode(s, m.hash);
    c::Uint::encode(s, m.quorum);
    SignerArray::encode(s, m.signers);
    if (m.prologue) {
        c::Fixed32::encode(s, m.prologue->hash);
        c::Uint::encode(s, m.prologue->length);
    }
    if (m.linked) c::Array<c::Fixed32>::encode(s, *m.linked);
    if (m.user_data) c::Buffer::encode(s, *m.user_data);
}

Result<Manifest> ManifestCodec::decode(c::DecodeState& s) {
    HS_ASSIGN_OR_RETURN(const std::uint64_t version, c::Uint::decode(s));
    if (version == 0) return decode_v0(s);
    if (version > kMaxManifestVersion) return bad("version", version);
    Manifest m;
    m.version = version;
    HS_ASSIGN_OR_RETURN(const std::uint64_t flags, c::Uint::decode(s));
    HS_ASSIGN_OR_RETURN(m.hash, decode_hash_id(s));
    HS_ASSIGN_OR_RETURN(m.quorum, c::Uint::decode(s));
    HS_ASSIGN_OR_RETURN(m.signers, SignerArray::decode(s));
    m.allow_patch = (flags & kManifestPatch) != 0;
    if (flags & kManifestPrologue) {
        ManifestPrologue p;
        HS_ASSIGN_OR_RETURN(p.hash, c::Fixed32::decode(s));
        HS_ASSIGN_OR_RETURN(p.length, c::Uint::decode(s));
        m.prologue = p;
    }
    if (flags & kManifestLinked) {
        HS_ASSIGN_OR_RETURN(m.linked, c::Array<c::Fixed32>::decode(s));
    }
    if (flags & kManifestUserData) {
        HS_ASSIGN_OR_RETURN(const ByteView data, c::Buffer::decode(s));
        m.user_data = to_bytes(data);
    }
    return m;
}

}  // namespace detail

const Hash& ns_tree() { return namespaces()[0]; }
const Hash& ns_replicate_initiator() { return namespaces()[1]; }
const Hash& ns_replicate_responder() { return namespaces()[2]; }
const Hash& ns_manifest() { return namespaces()[3]; }
const Hash& ns_default_namespace() { return namespaces()[4]; }
const Hash& ns_default_encryption() { return namespaces()[5]; }

Bytes encode_manifest(const Manifest& m) { return c::encode<detail::ManifestCodec>(m); }

Manifest decode_manifest(ByteView bytes) {
    return detail::decode_or_throw<detail::ManifestCodec>(bytes, "manifest");
}

Hash manifest_hash(const Manifest& m) {
    return crypto::Blake2b(32).update(ns_manifest()).update(encode_manifest(m)).final32();
}

Manifest default_manifest(const PublicKey& public_key) {
    Manifest m;
    m.version = 1;
    m.hash = 0;
    m.allow_patch = false;
    m.quorum = 1;
    m.signers.push_back({0, ns_default_namespace(), public_key});
    return m;
}

// JS hypercore gives a compat core (one created without a manifest, key = public key) the
// default signer manifest, version 1 included; the Verifier treats it as compat (version 0 rules,
// the 80-byte signable, plain 64-byte signatures) because the key is that signer's public key.
Manifest compat_manifest(const PublicKey& public_key) { return default_manifest(public_key); }

Hash core_key(const Manifest& m) { return manifest_hash(m); }

Hash discovery_key(const Hash& key) {
    return crypto::blake2b_256_keyed(as_bytes("hypercore"), key);
}

Hash replication_capability(bool initiator, const Hash& key, ByteView handshake_hash) {
    return crypto::Blake2b(32, handshake_hash)
        .update(initiator ? ns_replicate_initiator() : ns_replicate_responder())
        .update(key)
        .final32();
}

namespace {
void put_u64le(Bytes& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
}  // namespace

Bytes tree_signable(const Hash& manifest_hash, const Hash& tree_hash, std::uint64_t length,
                    std::uint64_t fork) {
    Bytes out;
    out.reserve(112);
    append_bytes(out, ns_tree());
    append_bytes(out, manifest_hash);
    append_bytes(out, tree_hash);
    put_u64le(out, length);
    put_u64le(out, fork);
    return out;
}

Bytes tree_signable_compat(const Hash& tree_hash, std::uint64_t length, std::uint64_t fork) {
    Bytes out;
    out.reserve(80);
    append_bytes(out, ns_tree());
    append_bytes(out, tree_hash);
    put_u64le(out, length);
    put_u64le(out, fork);
    return out;
}

// ---- Verifier -------------------------------------------------------------------------------

Verifier::Verifier(Hash key, Manifest manifest, bool compat)
    : key_(key), manifest_(std::move(manifest)), compat_(compat) {}

Verifier Verifier::for_key(const Hash& key, const Manifest& manifest) {
    const bool compat = manifest.signers.size() == 1 && manifest.signers[0].public_key == key;
    return Verifier(key, manifest, compat);
}

namespace {

// What the JS Verifier derives from its manifest: a compat core behaves as version 0, quorum 1,
// no patches and no prologue whatever its manifest says.
struct Effective {
    std::uint64_t version;
    std::uint64_t quorum;
    bool allow_patch;
    const ManifestPrologue* prologue;
};

Effective effective(const Manifest& m, bool compat) {
    if (compat) return {0, 1, false, nullptr};
    return {m.version, m.quorum, m.allow_patch, m.prologue ? &*m.prologue : nullptr};
}

// The bytes signer `signer` signs: compat cores sign the 80-byte compat layout; a version-0
// (non-compat) manifest puts the signer's namespace where version >= 1 puts the core key.
Bytes signable_for(const Hash& key, const ManifestSigner& signer, bool compat,
                   std::uint64_t version, const Hash& tree_hash, std::uint64_t length,
                   std::uint64_t fork) {
    if (compat) return tree_signable_compat(tree_hash, length, fork);
    return tree_signable(version == 0 ? signer.namespace_ : key, tree_hash, length, fork);
}

bool verify_one(const ManifestSigner& signer, ByteView message, ByteView signature) {
    if (signer.signature != 0 || signature.size() != 64) return false;
    Signature sig;
    std::copy(signature.begin(), signature.end(), sig.begin());
    return crypto::verify_detached(sig, message, signer.public_key);
}

}  // namespace

bool Verifier::verify(const Hash& tree_hash, std::uint64_t length, std::uint64_t fork,
                      ByteView signature) const {
    const Effective e = effective(manifest_, compat_);
    const auto& signers = manifest_.signers;

    if (e.version == 0) {
        if (signature.empty()) return false;
        if (compat_ || (!e.allow_patch && signers.size() == 1)) {
            if (signers.empty()) return false;
            return verify_one(signers[0],
                              signable_for(key_, signers[0], compat_, 0, tree_hash, length, fork),
                              signature);
        }
    } else if (e.prologue != nullptr && length <= e.prologue->length) {
        // A head inside the prologue needs no signature: it is what the manifest fixed.
        return length == e.prologue->length && tree_hash == e.prologue->hash;
    }

    // Multi-signer (quorum) verification.
    if (signature.empty() || e.quorum == 0) return false;
    std::vector<multisig::Input> proofs;
    try {
        if (e.version >= 1) {
            proofs = multisig::decode(signature).proofs;
        } else {
            for (const auto& p : multisig::decode_v0(signature).proofs) {
                proofs.push_back({p.signer, p.signature, p.patch ? p.patch->length : 0});
            }
        }
    } catch (const compact::DecodeError&) {
        return false;  // JS throws out of verify here; either way the head is not accepted
    }
    if (proofs.size() < e.quorum) return false;

    std::vector<bool> tried(signers.size(), false);
    for (std::uint64_t i = 0; i < e.quorum; ++i) {
        const multisig::Input& in = proofs[i];
        // A patched input signs a longer head of the same tree: checking it needs the upgrade
        // proof rebuilt from the patch nodes and verified against the tree (JS verifyUpgrade on a
        // clone of the batch). This codec has no tree, so such signatures are rejected here.
        if (in.patch != 0 && e.allow_patch) return false;
        if (in.signer >= signers.size() || tried[in.signer]) return false;
        tried[in.signer] = true;
        const ManifestSigner& s = signers[in.signer];
        if (!verify_one(s, signable_for(key_, s, false, e.version, tree_hash, length, fork),
                        in.signature)) {
            return false;
        }
    }
    return true;
}

Bytes Verifier::sign(const Hash& tree_hash, std::uint64_t length, std::uint64_t fork,
                     const PublicKey& public_key, const SecretKey& secret_key) const {
    const Effective e = effective(manifest_, compat_);
    const auto& signers = manifest_.signers;
    for (const ManifestSigner& s : signers) {
        if (s.public_key != public_key) continue;
        const Bytes message = signable_for(key_, s, compat_, e.version, tree_hash, length, fork);
        const Signature signature = crypto::sign_detached(message, secret_key);
        if (signers.size() != 1 || e.version == 0) return Bytes(signature.begin(), signature.end());
        return multisig::assemble({{0, signature}});
    }
    throw std::invalid_argument(
        "hypercore verifier: the public key is not a declared signer of "
        "this core's manifest; sign with one of its signers' key pairs");
}

}  // namespace hs::v11::hypercore
