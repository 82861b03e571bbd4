// Ed25519 key pairs and detached signatures (libsodium crypto_sign).
#pragma once

#include "common/util/bytes.h"

namespace hs::crypto {

using PublicKey = ByteArray<32>;
using SecretKey = ByteArray<64>;  // libsodium layout: seed || public key
using Signature = ByteArray<64>;

struct KeyPair {
    PublicKey public_key{};
    SecretKey secret_key{};
};

KeyPair keypair_from_seed(ByteView seed32);
KeyPair random_keypair();
Signature sign_detached(ByteView message, const SecretKey& secret_key);
bool verify_detached(const Signature& signature, ByteView message, const PublicKey& public_key);
void random_bytes(MutableByteView out);

}  // namespace hs::crypto
