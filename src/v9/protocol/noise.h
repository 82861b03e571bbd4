// The Noise handshake of hypercore-protocol 8 (docs/formats/wire.md "Handshake"):
// Noise_XX_25519_ChaChaPoly_BLAKE2b with an empty prologue, each message sent as
// varint(len) || message, each carrying the payload NoisePayload{nonce} (the sender's 24-byte
// XSalsa20 nonce for the transport). Sans-IO: bytes in, bytes out, no sockets or timers.
#pragma once

#include <cstdint>
#include <optional>

#include "common/crypto/capability.h"
#include "v9/protocol/cipher.h"
#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::protocol {

inline constexpr std::size_t kNoiseKeyBytes = 32;
// Noise's limit on one handshake message; a larger length prefix fails the handshake.
inline constexpr std::size_t kMaxNoiseMessageBytes = 65535;

using NoisePublicKey = ByteArray<kNoiseKeyBytes>;

// An X25519 key pair as libsodium crypto_kx makes it.
struct NoiseKeyPair {
    NoisePublicKey public_key{};
    ByteArray<kNoiseKeyBytes> secret_key{};
};

// crypto_kx_seed_keypair: secret = BLAKE2b-256(seed), public = X25519(secret, base point).
// REQUIRES: seed.size() == 32.
NoiseKeyPair noise_keypair_from_seed(ByteView seed);
// crypto_kx_keypair: a fresh random key pair.
NoiseKeyPair random_noise_keypair();

// One side of the XX handshake. Not thread-safe. Wipes its secrets on destruction.
//
// Initiator: m1 is in take_output() right after construction; after receiving m2 it outputs m3
// and is done. Responder: after receiving m1 it outputs m2; after receiving m3 it is done.
// Once done, split(), remote_nonce() and remote_static_key() describe the session.
class NoiseHandshake {
public:
    // `nonce` is our NoisePayload nonce (the XSalsa20 nonce of what we will send). A fixed
    // `ephemeral` key pair is for known-answer tests; by default a random one is made.
    static NoiseHandshake initiator(const NoiseKeyPair& static_keys, const StreamNonce& nonce,
                                    const std::optional<NoiseKeyPair>& ephemeral = std::nullopt);
    static NoiseHandshake responder(const NoiseKeyPair& static_keys, const StreamNonce& nonce,
                                    const std::optional<NoiseKeyPair>& ephemeral = std::nullopt);

    NoiseHandshake(NoiseHandshake&& other) noexcept;
    NoiseHandshake& operator=(NoiseHandshake&& other) noexcept;
    NoiseHandshake(const NoiseHandshake&) = delete;
    NoiseHandshake& operator=(const NoiseHandshake&) = delete;
    ~NoiseHandshake();

    // Feeds bytes from the peer, in any chunking. Returns how many bytes of `in` were handshake
    // bytes: all of them until the handshake completes; when it completes, the rest of `in` is
    // the start of the encrypted transport and belongs to the caller.
    // Errc::HandshakeFailed for a bad length prefix, a malformed or unauthenticated message, a
    // bad DH result, or a missing, undecodable or wrong-size remote payload; the handshake then
    // stays failed. Errc::InvalidArgument if called after done().
    [[nodiscard]] Result<std::size_t> receive(ByteView in);

    // Wire bytes to send, in order (moved out; empty when there is nothing new).
    Bytes take_output();
    bool has_output() const noexcept { return !m_output.empty(); }

    bool done() const noexcept { return m_step == Step::Done; }
    bool failed() const noexcept { return m_step == Step::Failed; }
    bool is_initiator() const noexcept { return m_initiator; }

    // REQUIRES: done(). Our tx/rx transport keys.
    const crypto::SplitKeys& split() const;
    // REQUIRES: done(). The peer's NoisePayload nonce: the XSalsa20 nonce of what it sends.
    const StreamNonce& remote_nonce() const;
    // REQUIRES: done(). The Noise handshake hash h (64 bytes).
    const ByteArray<64>& handshake_hash() const;
    // The peer's static public key, once its message carrying it authenticated (initiator: after
    // m2, responder: after m3).
    const std::optional<NoisePublicKey>& remote_static_key() const noexcept {
        return m_remote_static;
    }
    const NoisePublicKey& local_static_key() const noexcept { return m_static.public_key; }
    const StreamNonce& local_nonce() const noexcept { return m_nonce; }

    // Convenience for the transport: a TransportCipher for this session. REQUIRES: done().
    TransportCipher transport_cipher() const;

private:
    enum class Step : std::uint8_t { ReadM1, ReadM2, ReadM3, Done, Failed };

    NoiseHandshake(bool initiator, const NoiseKeyPair& static_keys, const StreamNonce& nonce,
                   const std::optional<NoiseKeyPair>& ephemeral);

    Status read_message(ByteView message);
    Status write_message(int index);  // index 1..3: appends m<index> to m_output
    Status finish();
    Status fail(Error error);
    void wipe() noexcept;

    // Symmetric state (Noise spec §5.2) with BLAKE2b-512 as HASH and ChaCha20-Poly1305 as cipher.
    void mix_hash(ByteView data);
    void mix_key(ByteView input_key_material);
    void encrypt_and_hash(ByteView plaintext, Bytes& out);
    Status decrypt_and_hash(ByteView ciphertext, Bytes& plaintext);
    Status dh(const ByteArray<32>& secret, const NoisePublicKey& remote, ByteArray<32>& out);

    bool m_initiator = false;
    Step m_step = Step::Failed;
    NoiseKeyPair m_static;
    NoiseKeyPair m_ephemeral;
    StreamNonce m_nonce{};
    Bytes m_payload;  // encoded NoisePayload{m_nonce}

    ByteArray<64> m_ck{};  // chaining key
    ByteArray<64> m_h{};   // handshake hash
    ByteArray<32> m_k{};   // cipher key (valid when m_has_key)
    bool m_has_key = false;
    std::uint64_t m_n = 0;  // cipher nonce

    std::optional<NoisePublicKey> m_remote_ephemeral;
    std::optional<NoisePublicKey> m_remote_static;
    Bytes m_remote_payload;  // the last non-empty payload received (JS keeps the same)
    StreamNonce m_remote_nonce{};
    crypto::SplitKeys m_split;

    Bytes m_input;   // unparsed handshake bytes (at most one partial message)
    Bytes m_output;  // wire bytes not yet taken
    Error m_error;
};

}  // namespace hs::protocol
