#include "common/crypto/hkdf.h"

#include <sodium.h>

#include "common/crypto/blake2b.h"
#include "common/util/error.h"

namespace hs::crypto {
namespace {

constexpr std::size_t kHashBytes = 64;    // BLAKE2b-512
constexpr std::size_t kBlockBytes = 128;  // BLAKE2b block: the HMAC pad size

template <std::size_t N>
void wipe(ByteArray<N>& a) noexcept {
    sodium_memzero(a.data(), a.size());
}

}  // namespace

Digest64 hmac_blake2b(ByteView key, std::initializer_list<ByteView> parts) {
    HS_ASSERT(key.size() <= kBlockBytes);
    ByteArray<kBlockBytes> inner_pad{};
    ByteArray<kBlockBytes> outer_pad{};
    for (std::size_t i = 0; i < kBlockBytes; ++i) {
        const std::uint8_t k = i < key.size() ? key[i] : 0;
        inner_pad[i] = k ^ 0x36;
        outer_pad[i] = k ^ 0x5c;
    }
    Blake2b inner(kHashBytes);
    inner.update(inner_pad);
    for (ByteView p : parts) inner.update(p);
    Digest64 inner_hash;
    inner.final(inner_hash);
    Blake2b outer(kHashBytes);
    outer.update(outer_pad).update(inner_hash);
    Digest64 out;
    outer.final(out);
    wipe(inner_pad);
    wipe(outer_pad);
    wipe(inner_hash);
    return out;
}

namespace {
ByteArray<crypto_aead_chacha20poly1305_ietf_NPUBBYTES> noise_nonce(std::uint64_t n) {
    ByteArray<crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};  // 4 zero bytes || LE64(n)
    for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return nonce;
}
}  // namespace

void noise_encrypt(Bytes& out, const ByteArray<32>& key, std::uint64_t n, ByteView ad,
                   ByteView plaintext) {
    const std::size_t start = out.size();
    out.resize(start + plaintext.size() + kNoiseMacBytes);
    unsigned long long written = 0;
    const auto nonce = noise_nonce(n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + start, &written, plaintext.data(),
                                              plaintext.size(), ad.data(), ad.size(), nullptr,
                                              nonce.data(), key.data());
    HS_ASSERT(written == plaintext.size() + kNoiseMacBytes);
}

bool noise_decrypt(Bytes& plaintext, const ByteArray<32>& key, std::uint64_t n, ByteView ad,
                   ByteView ciphertext) {
    HS_ASSERT(ciphertext.size() >= kNoiseMacBytes);
    plaintext.resize(ciphertext.size() - kNoiseMacBytes);
    unsigned long long written = 0;
    const auto nonce = noise_nonce(n);
    return crypto_aead_chacha20poly1305_ietf_decrypt(plaintext.data(), &written, nullptr,
                                                     ciphertext.data(), ciphertext.size(),
                                                     ad.data(), ad.size(), nonce.data(),
                                                     key.data()) == 0;
}

void noise_hkdf2(const Digest64& chaining_key, ByteView input_key_material, Digest64& out1,
                 Digest64& out2) {
    Digest64 temp = hmac_blake2b(chaining_key, {input_key_material});
    const std::uint8_t one = 0x01;
    const std::uint8_t two = 0x02;
    Digest64 o1 = hmac_blake2b(temp, {ByteView(&one, 1)});
    out2 = hmac_blake2b(temp, {o1, ByteView(&two, 1)});
    out1 = o1;
    wipe(temp);
    wipe(o1);
}

}  // namespace hs::crypto
