// The Noise DH function on Ed25519 keys, as noise-curve-ed computes it
// (docs/formats/noise-v11.md "DH"): key pairs are ordinary Ed25519 signing key pairs, so a peer's
// Noise static key is also its identity key.
#pragma once

#include "common/crypto/sign.h"
#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::v11::noise {

inline constexpr std::size_t kDhBytes = 32;
using DhOutput = ByteArray<kDhBytes>;

// scalar = clamp(SHA-512(seed)[0..32]) with seed = local.secret_key[0..32]; the result is the
// Ed25519 point scalar * remote, unclamped (crypto_scalarmult_ed25519_noclamp).
// Errc::HandshakeFailed if `remote` is not a canonical point of the prime-order subgroup, has
// small order, or the product is the identity (libsodium refuses these; so does the JS peer).
[[nodiscard]] Result<DhOutput> dh(const crypto::PublicKey& remote, const crypto::SecretKey& local);

}  // namespace hs::v11::noise
