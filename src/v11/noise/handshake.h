// The second generation's Noise handshakes on Ed25519 keys (docs/formats/noise-v11.md):
//   Noise_XX_Ed25519_ChaChaPoly_BLAKE2b  (@hyperswarm/secret-stream)
//   Noise_IK_Ed25519_ChaChaPoly_BLAKE2b  (HyperDHT connect; the initiator knows the responder)
// byte for byte as noise-handshake 4 with noise-curve-ed 2 runs them. Sans-IO: whole messages in
// and out, no framing (secret-stream adds a u24 length, HyperDHT carries them in its messages),
// no sockets or timers. Not thread-safe; wipes its secrets when done, failed or destroyed.
//
// The sides take turns: the initiator writes message 0, the responder reads it and writes
// message 1, and so on (XX: 3 messages, IK: 2). After the last one both sides are complete() and
// split(), handshake_hash() and remote_static_key() describe the session.
#pragma once

#include <cstdint>
#include <optional>

#include "common/crypto/capability.h"
#include "common/crypto/sign.h"
#include "common/util/bytes.h"
#include "common/util/error.h"
#include "v11/noise/symmetric_state.h"

namespace hs::v11::noise {

enum class Pattern : std::uint8_t { XX, IK };

struct HandshakeOptions {
    // Mixed into the handshake hash first; secret-stream and HyperDHT use none.
    Bytes prologue;
    // IK initiator: the responder's static public key (required). Ignored otherwise.
    std::optional<crypto::PublicKey> remote_static;
    // A fixed ephemeral key pair, for known-answer tests; by default a random one is made.
    std::optional<crypto::KeyPair> ephemeral;
};

class Handshake {
public:
    // REQUIRES: for IK, options.remote_static is set.
    static Handshake initiator(Pattern pattern, const crypto::KeyPair& static_keys,
                               HandshakeOptions options = {});
    static Handshake responder(Pattern pattern, const crypto::KeyPair& static_keys,
                               HandshakeOptions options = {});

    Handshake(Handshake&&) noexcept = default;
    Handshake& operator=(Handshake&&) noexcept = default;
    Handshake(const Handshake&) = delete;
    Handshake& operator=(const Handshake&) = delete;
    ~Handshake() { wipe(); }

    // Our next message, carrying `payload` (encrypted once a key exists).
    // Errc::InvalidArgument if it is not our turn, or the handshake is complete or failed;
    // Errc::TooLarge (nothing changes) if the encrypted payload would exceed 65535 bytes;
    // Errc::HandshakeFailed (sticky) if a DH with the peer's keys fails.
    [[nodiscard]] Result<Bytes> write_message(ByteView payload = {});
    // The peer's next message; returns its payload.
    // Errc::InvalidArgument if it is not the peer's turn, or the handshake is complete or failed;
    // Errc::HandshakeFailed (sticky) if the message is too short for its keys, fails to
    // authenticate, carries an unusable key, or an encrypted part exceeds 65535 bytes.
    [[nodiscard]] Result<Bytes> read_message(ByteView message);

    Pattern pattern() const noexcept { return m_pattern; }
    bool is_initiator() const noexcept { return m_initiator; }
    bool complete() const noexcept { return m_state == State::Complete; }
    bool failed() const noexcept { return m_state == State::Failed; }
    // True when the next message is ours to write (false once complete or failed).
    bool our_turn() const noexcept;
    // Messages written or read so far.
    std::size_t message_index() const noexcept { return m_index; }

    // REQUIRES: complete(). Our transmit and receive keys (the initiator's tx is the responder's
    // rx and the reverse).
    const crypto::SplitKeys& split() const;
    // REQUIRES: complete(). The 64-byte handshake hash h.
    const Digest& handshake_hash() const;
    // The peer's static public key once known (IK initiator: from the start; otherwise once the
    // message carrying it authenticated).
    const std::optional<crypto::PublicKey>& remote_static_key() const noexcept {
        return m_remote_static;
    }
    const crypto::PublicKey& local_static_key() const noexcept { return m_static.public_key; }
    // The error that failed the handshake (Errc::Ok while it has not failed).
    const Error& error() const noexcept { return m_error; }

private:
    enum class State : std::uint8_t { Running, Complete, Failed };

    Handshake(Pattern pattern, bool initiator, const crypto::KeyPair& static_keys,
              HandshakeOptions options);

    Status mix_dh(std::uint8_t token);
    Error fail(Error error);
    void finish();
    void wipe() noexcept;

    Pattern m_pattern;
    bool m_initiator;
    State m_state = State::Running;
    std::size_t m_index = 0;
    SymmetricState m_symmetric;
    crypto::KeyPair m_static;
    std::optional<crypto::KeyPair> m_ephemeral;
    std::optional<crypto::PublicKey> m_remote_ephemeral;
    std::optional<crypto::PublicKey> m_remote_static;
    crypto::SplitKeys m_split;
    Digest m_hash{};
    Error m_error;
};

// The protocol name of `pattern`, e.g. "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b".
std::string_view protocol_name(Pattern pattern) noexcept;

}  // namespace hs::v11::noise
