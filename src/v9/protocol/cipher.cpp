#include "v9/protocol/cipher.h"

#include <sodium.h>

#include <algorithm>

#include "common/crypto/blake2b.h"

namespace hs::protocol {

// XSalsa20 is Salsa20 under the subkey HSalsa20(key, nonce[0:16]) with nonce[16:24]; doing the
// HSalsa20 step once here saves it on every apply() (libsodium's xsalsa20_xor_ic repeats it).
XSalsa20Xor::XSalsa20Xor(const StreamKey& key, const StreamNonce& nonce) noexcept {
    crypto::ensure_sodium();
    crypto_core_hsalsa20(m_subkey.data(), nonce.data(), key.data(), nullptr);
    std::copy(nonce.begin() + 16, nonce.end(), m_nonce_tail.begin());
}

XSalsa20Xor::~XSalsa20Xor() {
    sodium_memzero(m_subkey.data(), m_subkey.size());
    sodium_memzero(m_block.data(), m_block.size());
}

void XSalsa20Xor::load_block(std::uint64_t block) noexcept {
    if (m_block_index == block) return;
    m_block.fill(0);
    crypto_stream_salsa20_xor_ic(m_block.data(), m_block.data(), m_block.size(),
                                 m_nonce_tail.data(), block, m_subkey.data());
    m_block_index = block;
}

void XSalsa20Xor::apply(MutableByteView data) noexcept {
    std::uint8_t* p = data.data();
    std::size_t n = data.size();
    // Finish the current block from the cached keystream.
    if (const std::size_t offset = m_position % 64; offset != 0 && n > 0) {
        load_block(m_position / 64);
        const std::size_t take = std::min(n, 64 - offset);
        for (std::size_t i = 0; i < take; ++i) p[i] ^= m_block[offset + i];
        p += take;
        n -= take;
        m_position += take;
    }
    // Whole blocks straight through libsodium.
    if (const std::size_t whole = n - n % 64; whole > 0) {
        crypto_stream_salsa20_xor_ic(p, p, whole, m_nonce_tail.data(), m_position / 64,
                                     m_subkey.data());
        p += whole;
        n -= whole;
        m_position += whole;
    }
    // Start of a block; its keystream stays cached for the next call.
    if (n > 0) {
        load_block(m_position / 64);
        for (std::size_t i = 0; i < n; ++i) p[i] ^= m_block[i];
        m_position += n;
    }
}

}  // namespace hs::protocol
