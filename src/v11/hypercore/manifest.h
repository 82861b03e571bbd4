// Manifests, core keys and the signatures over a core's tree head (hypercore 10/11), as the JS
// verifier computes and checks them (docs/formats/hypercore-v11.md "Manifests and signatures").
#pragma once

#include <cstdint>
#include <optional>

#include "common/util/bytes.h"
#include "v11/hypercore/decode_error.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore {

// hypercore's six namespace hashes: H(H("hypercore") || byte(i)).
const Hash& ns_tree();
const Hash& ns_replicate_initiator();
const Hash& ns_replicate_responder();
const Hash& ns_manifest();
const Hash& ns_default_namespace();
const Hash& ns_default_encryption();

// The manifest codec (JS messages.manifest); decode throws compact::DecodeError on bad input.
Bytes encode_manifest(const Manifest&);
Manifest decode_manifest(ByteView);

// H(MANIFEST || encode(manifest)).
Hash manifest_hash(const Manifest&);
// {version 1, blake2b, quorum 1, one ed25519 signer in the default namespace}.
Manifest default_manifest(const PublicKey&);
// The manifest a compat core (key = the signer's public key) is verified with.
Manifest compat_manifest(const PublicKey&);
// The core key a manifest gives: the manifest hash (compat cores use the public key instead).
Hash core_key(const Manifest&);
// The key's discovery key: H_key("hypercore").
Hash discovery_key(const Hash& key);

// The replication capability: H_handshakeHash((initiator ? REPLICATE_INITIATOR :
// REPLICATE_RESPONDER) || key).
Hash replication_capability(bool initiator, const Hash& key, ByteView handshake_hash);

// The bytes a signer signs: version >= 1: TREE || manifest hash || tree hash || u64LE length ||
// u64LE fork (112 bytes); compat: TREE || tree hash || length || fork (80 bytes).
Bytes tree_signable(const Hash& manifest_hash, const Hash& tree_hash, std::uint64_t length, std::uint64_t fork);
Bytes tree_signable_compat(const Hash& tree_hash, std::uint64_t length, std::uint64_t fork);

// Checks and makes the signature of a head as the JS Verifier does: compat and version-0
// manifests, prologues, single-signer and quorum multi-signer manifests. `key` is the core key
// (the manifest hash, or the public key of a compat core).
class Verifier {
public:
    Verifier(Hash key, Manifest manifest, bool compat);
    // A compat core is one whose key is its single signer's public key.
    static Verifier for_key(const Hash& key, const Manifest& manifest);

    bool compat() const noexcept { return compat_; }
    const Manifest& manifest() const noexcept { return manifest_; }
    const Hash& key() const noexcept { return key_; }

    bool verify(const Hash& tree_hash, std::uint64_t length, std::uint64_t fork, ByteView signature) const;
    // The signature a single-signer writer attaches (a one-input multisig for version >= 1 with
    // one signer, as JS assembles it). Throws if `public_key` is not a declared signer.
    Bytes sign(const Hash& tree_hash, std::uint64_t length, std::uint64_t fork, const PublicKey& public_key,
               const SecretKey& secret_key) const;

private:
    Hash key_;
    Manifest manifest_;
    bool compat_;
};

}  // namespace hs::v11::hypercore
