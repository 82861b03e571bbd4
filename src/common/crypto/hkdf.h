// HMAC-BLAKE2b-512 and the two-output Noise HKDF over it (docs/formats/wire.md "Handshake",
// docs/formats/noise-v11.md): the key schedule both generations' Noise handshakes use
// (hypercore-protocol 8's XX over X25519, and the Ed25519 XX/IK of secret-stream and HyperDHT).
#pragma once

#include <initializer_list>

#include "common/util/bytes.h"

namespace hs::crypto {

using Digest64 = ByteArray<64>;

// HMAC-BLAKE2b-512 (RFC 2104 with BLAKE2b's 128-byte block) over the concatenation of `parts`,
// as the npm hmac-blake2b computes it. REQUIRES: key.size() <= 128. Wipes its pads.
Digest64 hmac_blake2b(ByteView key, std::initializer_list<ByteView> parts);

// Noise's ChaChaPoly cipher (IETF ChaCha20-Poly1305, nonce = 4 zero bytes || LE64(n)) with the
// handshake hash as associated data, as both generations' handshakes use it.
inline constexpr std::size_t kNoiseMacBytes = 16;
// Appends encrypt(plaintext) || tag to `out`.
void noise_encrypt(Bytes& out, const ByteArray<32>& key, std::uint64_t n, ByteView ad,
                   ByteView plaintext);
// Decrypts `ciphertext` (REQUIRES: at least kNoiseMacBytes) into `plaintext`; false when it does
// not authenticate.
[[nodiscard]] bool noise_decrypt(Bytes& plaintext, const ByteArray<32>& key, std::uint64_t n,
                                 ByteView ad, ByteView ciphertext);

// Noise HKDF with two outputs (Noise spec §4.3, HASHLEN 64): temp = HMAC(ck, ikm),
// out1 = HMAC(temp, 0x01), out2 = HMAC(temp, out1 || 0x02). `out1` may be `chaining_key`.
void noise_hkdf2(const Digest64& chaining_key, ByteView input_key_material, Digest64& out1,
                 Digest64& out2);

}  // namespace hs::crypto
