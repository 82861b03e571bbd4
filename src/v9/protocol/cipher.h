// Transport encryption of hypercore-protocol 8 (docs/formats/wire.md "Transport"):
// after the handshake each direction is one continuous XSalsa20 keystream XORed over every byte.
// No MAC: integrity comes from the merkle proofs and signatures.
#pragma once

#include <cstdint>

#include "common/crypto/capability.h"
#include "common/util/bytes.h"

namespace hs::protocol {

inline constexpr std::size_t kStreamKeyBytes = 32;
inline constexpr std::size_t kStreamNonceBytes = 24;
using StreamKey = ByteArray<kStreamKeyBytes>;
using StreamNonce = ByteArray<kStreamNonceBytes>;

// One direction: XSalsa20(key, nonce) with a running byte position, so that any chunking of the
// same bytes gives the same output (crypto_stream_xsalsa20_xor_ic with the offset inside the
// current 64-byte block carried over). Not thread-safe. Wipes its key material on destruction.
class XSalsa20Xor {
public:
    XSalsa20Xor(const StreamKey& key, const StreamNonce& nonce) noexcept;
    ~XSalsa20Xor();
    XSalsa20Xor(XSalsa20Xor&&) noexcept = default;  // copies are refused: two users of one
    XSalsa20Xor& operator=(XSalsa20Xor&&) noexcept = default;  // keystream would reuse it

    // XORs the next data.size() keystream bytes into `data`.
    void apply(MutableByteView data) noexcept;
    // Bytes of keystream used so far.
    std::uint64_t position() const noexcept { return m_position; }

private:
    void load_block(std::uint64_t block) noexcept;

    ByteArray<32> m_subkey{};     // HSalsa20(key, nonce[0:16]), computed once
    ByteArray<8> m_nonce_tail{};  // nonce[16:24]
    ByteArray<64> m_block{};      // keystream of block m_block_index (partial-block cache)
    std::uint64_t m_block_index = ~std::uint64_t{0};
    std::uint64_t m_position = 0;
};

// Both directions of one session: we encrypt with (split.tx, our nonce) and decrypt with
// (split.rx, the remote nonce).
class TransportCipher {
public:
    TransportCipher(const crypto::SplitKeys& split, const StreamNonce& local_nonce,
                    const StreamNonce& remote_nonce) noexcept
        : m_tx(split.tx, local_nonce), m_rx(split.rx, remote_nonce) {}

    void encrypt(MutableByteView data) noexcept { m_tx.apply(data); }
    void decrypt(MutableByteView data) noexcept { m_rx.apply(data); }
    std::uint64_t sent_bytes() const noexcept { return m_tx.position(); }
    std::uint64_t received_bytes() const noexcept { return m_rx.position(); }

private:
    XSalsa20Xor m_tx;
    XSalsa20Xor m_rx;
};

}  // namespace hs::protocol
