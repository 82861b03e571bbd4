#include "v11/noise/curve_ed25519.h"

#include <sodium.h>

#include "common/crypto/blake2b.h"

namespace hs::v11::noise {

Result<DhOutput> dh(const crypto::PublicKey& remote, const crypto::SecretKey& local) {
    crypto::ensure_sodium();
    // libsodium's Ed25519 secret key is seed || public key; the signing scalar is the clamped
    // first half of SHA-512(seed).
    ByteArray<crypto_hash_sha512_BYTES> expanded{};
    crypto_hash_sha512(expanded.data(), local.data(), 32);
    expanded[0] &= 248;
    expanded[31] &= 127;
    expanded[31] |= 64;
    DhOutput out{};
    const int rc = crypto_scalarmult_ed25519_noclamp(out.data(), expanded.data(), remote.data());
    sodium_memzero(expanded.data(), expanded.size());
    if (rc != 0) {
        sodium_memzero(out.data(), out.size());
        return make_error(Errc::HandshakeFailed,
                          "Noise DH failed: the remote key is not a usable Ed25519 point "
                          "(off the curve, small order or not in the prime-order subgroup)");
    }
    return out;
}

}  // namespace hs::v11::noise
