#include "common/crypto/sign.h"

#include <sodium.h>

#include "common/crypto/blake2b.h"
#include "common/util/error.h"

namespace hs::crypto {

KeyPair keypair_from_seed(ByteView seed32) {
    ensure_sodium();
    HS_ASSERT(seed32.size() == crypto_sign_SEEDBYTES);
    KeyPair kp;
    crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed32.data());
    return kp;
}

KeyPair random_keypair() {
    ensure_sodium();
    KeyPair kp;
    crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
    return kp;
}

Signature sign_detached(ByteView message, const SecretKey& secret_key) {
    ensure_sodium();
    Signature sig;
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key.data());
    return sig;
}

bool verify_detached(const Signature& signature, ByteView message, const PublicKey& public_key) {
    ensure_sodium();
    return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                       public_key.data()) == 0;
}

void random_bytes(MutableByteView out) {
    ensure_sodium();
    randombytes_buf(out.data(), out.size());
}

}  // namespace hs::crypto
