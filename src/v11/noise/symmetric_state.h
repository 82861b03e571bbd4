// The Noise symmetric state (Noise spec §5.1-5.2) as noise-handshake 4 runs it
// (docs/formats/noise-v11.md): HASH = BLAKE2b-512, HASHLEN 64, HKDF = HMAC-BLAKE2b, cipher =
// IETF ChaCha20-Poly1305 with the nonce 4 zero bytes || LE64(n), keys = the first 32 bytes of
// each 64-byte HKDF output. Not thread-safe; wipes its secrets on destruction.
#pragma once

#include <string_view>

#include "common/crypto/capability.h"
#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::v11::noise {

inline constexpr std::size_t kHashBytes = 64;
inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kMacBytes = 16;
// noise-handshake refuses any ciphertext (keyed encryption output) longer than this.
inline constexpr std::size_t kMaxCiphertextBytes = 65535;

using Digest = ByteArray<kHashBytes>;

class SymmetricState {
public:
    // InitializeSymmetric: h = the name zero-padded to 64 bytes, ck = h, no key.
    // REQUIRES: protocol_name.size() <= 64 (both of our names are 35 bytes).
    explicit SymmetricState(std::string_view protocol_name);
    SymmetricState(SymmetricState&&) noexcept = default;
    SymmetricState& operator=(SymmetricState&&) noexcept = default;
    SymmetricState(const SymmetricState&) = delete;
    SymmetricState& operator=(const SymmetricState&) = delete;
    ~SymmetricState() { wipe(); }

    // h = BLAKE2b-512(h || data).
    void mix_hash(ByteView data);
    // (ck, k) = HKDF(ck, input_key_material); the cipher nonce restarts at 0.
    void mix_key(ByteView input_key_material);
    bool has_key() const noexcept { return m_has_key; }
    // The size encrypt_and_hash will append for a plaintext of n bytes.
    std::size_t ciphertext_size(std::size_t n) const noexcept {
        return m_has_key ? n + kMacBytes : n;
    }

    // Appends EncryptWithAd(h, plaintext) (the plaintext itself before any key) and mixes it
    // into h. REQUIRES: ciphertext_size(plaintext.size()) <= kMaxCiphertextBytes when keyed.
    void encrypt_and_hash(ByteView plaintext, Bytes& out);
    // The plaintext of `ciphertext` (with h as associated data), which is then mixed into h.
    // Errc::HandshakeFailed if it is shorter than a MAC, longer than kMaxCiphertextBytes, or
    // does not authenticate; the state must then be abandoned.
    [[nodiscard]] Result<Bytes> decrypt_and_hash(ByteView ciphertext);

    // Split(): HKDF(ck, empty) -> the first 32 bytes of each output, in order (k1, k2).
    crypto::SplitKeys split() const;
    const Digest& handshake_hash() const noexcept { return m_h; }

    void wipe() noexcept;

private:
    Digest m_ck{};
    Digest m_h{};
    ByteArray<kKeyBytes> m_k{};
    bool m_has_key = false;
    std::uint64_t m_n = 0;
};

}  // namespace hs::v11::noise
