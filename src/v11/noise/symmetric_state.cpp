#include "v11/noise/symmetric_state.h"

#include <sodium.h>

#include <algorithm>

#include "common/crypto/blake2b.h"
#include "common/crypto/hkdf.h"

namespace hs::v11::noise {
namespace {


template <std::size_t N>
void wipe_array(ByteArray<N>& a) noexcept {
    sodium_memzero(a.data(), a.size());
}

}  // namespace

SymmetricState::SymmetricState(std::string_view protocol_name) {
    HS_ASSERT(protocol_name.size() <= kHashBytes);
    std::copy(protocol_name.begin(), protocol_name.end(), m_h.begin());
    m_ck = m_h;
}

void SymmetricState::mix_hash(ByteView data) {
    crypto::Blake2b h(kHashBytes);
    h.update(m_h).update(data);
    h.final(m_h);
}

void SymmetricState::mix_key(ByteView input_key_material) {
    Digest ck;
    Digest temp_k;
    crypto::noise_hkdf2(m_ck, input_key_material, ck, temp_k);
    m_ck = ck;
    std::copy_n(temp_k.begin(), m_k.size(), m_k.begin());
    m_has_key = true;
    m_n = 0;
    wipe_array(ck);
    wipe_array(temp_k);
}

void SymmetricState::encrypt_and_hash(ByteView plaintext, Bytes& out) {
    const std::size_t start = out.size();
    if (!m_has_key) {
        append_bytes(out, plaintext);
    } else {
        HS_ASSERT(plaintext.size() + kMacBytes <= kMaxCiphertextBytes);
        crypto::noise_encrypt(out, m_k, m_n++, m_h, plaintext);
    }
    mix_hash(ByteView(out).subspan(start));
}

Result<Bytes> SymmetricState::decrypt_and_hash(ByteView ciphertext) {
    Bytes plaintext;
    if (!m_has_key) {
        plaintext = to_bytes(ciphertext);
    } else {
        if (ciphertext.size() < kMacBytes)
            return make_error(Errc::HandshakeFailed,
                              "Noise message: {} encrypted bytes are shorter than the {}-byte MAC",
                              ciphertext.size(), kMacBytes);
        if (ciphertext.size() > kMaxCiphertextBytes)
            return make_error(Errc::HandshakeFailed,
                              "Noise message: ciphertext of {} bytes exceeds the Noise limit of {}",
                              ciphertext.size(), kMaxCiphertextBytes);
        if (!crypto::noise_decrypt(plaintext, m_k, m_n++, m_h, ciphertext))
            return make_error(Errc::HandshakeFailed,
                              "Noise message failed authentication (tampered, or keys differ)");
    }
    mix_hash(ciphertext);
    return plaintext;
}

crypto::SplitKeys SymmetricState::split() const {
    Digest k1;
    Digest k2;
    crypto::noise_hkdf2(m_ck, {}, k1, k2);
    crypto::SplitKeys keys;
    std::copy_n(k1.begin(), keys.tx.size(), keys.tx.begin());
    std::copy_n(k2.begin(), keys.rx.size(), keys.rx.begin());
    wipe_array(k1);
    wipe_array(k2);
    return keys;
}

void SymmetricState::wipe() noexcept {
    wipe_array(m_ck);
    wipe_array(m_k);
    m_has_key = false;
}

}  // namespace hs::v11::noise
