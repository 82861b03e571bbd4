// @hyperswarm/secret-stream 6 (docs/formats/secret-stream.md), sans-IO: a Noise handshake on
// Ed25519 keys (XX; IK when the initiator knows the responder), then libsodium secretstream
// (XChaCha20-Poly1305) messages, each framed as u24 LE length || body, over any reliable duplex
// (TCP, UDX). Bytes in (receive), bytes out (pending_output / consume_output), no sockets, no
// timers: the owner calls tick() for keep-alives and the receive timeout. One per connection;
// not thread-safe.
//
// Order on the wire: the handshake messages (35, 99, 67 bytes framed, for XX), then each side's
// 56-byte setup message (its stream id, then its secretstream header), then messages. A side
// sends its setup message as soon as its own handshake is complete; messages written before
// that wait in the output, in order.
//
// Failures close the stream with a typed reason (Errc::HandshakeFailed, Errc::Protocol for a
// bad setup message or frame, Errc::VerificationFailed for a message that does not decrypt,
// Errc::Closed when destroyed or timed out); nothing is delivered after a failure and the
// receive buffer never holds more than one partial frame (at most 2^24 - 1 bytes, allocated as
// the bytes arrive).
#pragma once

#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/util/output_buffer.h"
#include "v11/noise/handshake.h"

namespace hs::v11 {

using Clock = std::chrono::steady_clock;

// The largest frame body (u24); a message's plaintext may be 17 bytes less.
inline constexpr std::size_t kMaxFrameBody = (1u << 24) - 1;
inline constexpr std::size_t kSecretStreamOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;  // 17
inline constexpr std::size_t kMaxMessageBytes = kMaxFrameBody - kSecretStreamOverhead;
// The setup message: stream id (32) || secretstream header (24).
inline constexpr std::size_t kSetupMessageBytes =
    32 + crypto_secretstream_xchacha20poly1305_HEADERBYTES;

// The three namespaces of hypercore-crypto namespace('hyperswarm/secret-stream', 3):
// [initiator, responder, send].
struct SecretStreamNamespaces {
    crypto::Hash32 initiator, responder, send;
};
const SecretStreamNamespaces& secret_stream_namespaces();
// A side's stream id: BLAKE2b-256 keyed by the handshake hash over that side's namespace.
crypto::Hash32 stream_id(ByteView handshake_hash, bool initiator);

struct SecretStreamOptions {
    bool initiator = false;
    crypto::KeyPair static_keys;  // our identity (Ed25519)
    noise::Pattern pattern = noise::Pattern::XX;
    // IK initiator: the responder's public key (required).
    std::optional<crypto::PublicKey> remote_public_key;
    // A fixed ephemeral key pair (known-answer tests).
    std::optional<crypto::KeyPair> ephemeral;
    // Empty messages are keep-alives. JS delivers them unless keep-alives are on (its
    // filterZeroByteMessages); we drop them unless this is set.
    bool deliver_empty_messages = false;
    // tick(): send an empty message after this long without writing (0: never).
    std::chrono::milliseconds keep_alive{0};
    // tick(): close the stream after this long without receiving anything (0: never).
    std::chrono::milliseconds timeout{0};
};

// What a finished handshake leaves (for a stream set up from a handshake made elsewhere, as
// HyperDHT does with IK).
struct SecretStreamKeys {
    crypto::SplitKeys split;  // our tx, our rx
    noise::Digest handshake_hash{};
    crypto::PublicKey local_public_key{};
    crypto::PublicKey remote_public_key{};
};

class SecretStream {
public:
    // Starts the handshake (an initiator's first message is in the output at once).
    SecretStream(SecretStreamOptions options, Clock::time_point now);
    // Skips the handshake: sends the setup message at once.
    SecretStream(bool initiator, const SecretStreamKeys& keys, SecretStreamOptions options,
                 Clock::time_point now);
    ~SecretStream();
    SecretStream(const SecretStream&) = delete;
    SecretStream& operator=(const SecretStream&) = delete;

    // Bytes from the transport. Messages (on_message) and the open event (on_open) run from
    // inside this call. Returns the failure when this input failed the stream.
    Status receive(ByteView bytes, Clock::time_point now);
    // The transport ended its read side (half-close by the peer): on_end runs once.
    void receive_end();

    // Encrypts and queues one message (kept in order behind the handshake if it is not done).
    // Errc::TooLarge above kMaxMessageBytes (nothing queued); Errc::Closed once closed.
    Status write(ByteView message, Clock::time_point now);
    // Queues an empty message.
    Status send_keep_alive(Clock::time_point now) { return write({}, now); }
    // Our half-close: after the pending output, the owner shuts the transport's write side.
    void end() { m_ended = true; }
    bool ended() const noexcept { return m_ended; }
    // end() was called and everything written before it is in the output (messages written
    // during the handshake join the output when it completes): once the output drains, the
    // owner may shut the transport's write side.
    bool ready_to_end() const noexcept { return m_ended && m_keys_ready; }

    ByteView pending_output() const noexcept { return m_output.pending(); }
    void consume_output(std::size_t n) { m_output.consume(n); }
    // Moves all pending output out at once (a pump that writes it itself, without a copy).
    Bytes take_output() { return m_output.take(); }
    // Writers should wait while this much is queued (back-pressure).
    bool output_over_limit(std::size_t limit = 4u << 20) const noexcept {
        return pending_output().size() > limit;
    }

    // Keep-alive and timeout; returns when it next wants to run (time_point::max(): never).
    Clock::time_point tick(Clock::time_point now);

    // Closes with `reason` (idempotent: the first reason stays). Pending output is dropped.
    void destroy(Error reason);

    // Unordered datagrams (UDX MESSAGE): crypto_secretbox with per-direction keys from the
    // handshake hash and an 8-byte counter nonce. REQUIRES: open().
    Result<Bytes> box_datagram(ByteView message);
    // nullopt when the datagram does not open (dropped, as JS does).
    std::optional<Bytes> open_datagram(ByteView datagram) const;

    bool handshake_done() const noexcept { return m_keys_ready; }
    // Our handshake is done and the peer's setup message arrived: messages flow both ways.
    bool open() const noexcept { return m_keys_ready && m_pull_ready; }
    bool closed() const noexcept { return m_closed; }
    const Error& close_reason() const noexcept { return m_close_reason; }
    bool initiator() const noexcept { return m_options.initiator; }
    // Once the handshake is done.
    const std::optional<crypto::PublicKey>& remote_public_key() const noexcept { return m_remote; }
    const crypto::PublicKey& local_public_key() const noexcept {
        return m_options.static_keys.public_key;
    }
    const noise::Digest& handshake_hash() const noexcept { return m_hash; }

    std::function<void(ByteView message)> on_message;
    std::function<void()> on_open;  // the peer's setup message arrived
    std::function<void()> on_end;
    std::function<void(const Error&)> on_close;
    std::function<void()> on_output;  // output was added (the writer wakes up)

private:
    void start_handshake();
    // Writes our next handshake message; false (and closed) when that fails.
    bool send_handshake_message();
    void send_frame(ByteView body);
    void handle_frame(ByteView body);
    void finish_handshake(const SecretStreamKeys& keys);
    void encrypt_into_output(ByteView message);

    SecretStreamOptions m_options;
    std::optional<noise::Handshake> m_handshake;
    bool m_keys_ready = false;
    bool m_pull_ready = false;
    bool m_closed = false;
    bool m_ended = false;
    bool m_end_seen = false;
    Error m_close_reason;
    std::optional<crypto::PublicKey> m_remote;
    noise::Digest m_hash{};
    crypto_secretstream_xchacha20poly1305_state m_push{};
    crypto_secretstream_xchacha20poly1305_state m_pull{};
    ByteArray<32> m_rx_key{};
    ByteArray<32> m_box_tx{}, m_box_rx{};
    ByteArray<8> m_box_counter{}, m_box_initial{};
    Bytes m_waiting;  // plaintexts written before the handshake finished: u24 len || bytes
    OutputBuffer m_output;
    Bytes m_plain;            // the last decrypted message (reused)
    Bytes m_frame;            // the partial frame being received (header bytes, then body)
    std::size_t m_frame_len = 0;
    std::size_t m_header_bytes = 0;
    Clock::time_point m_last_write{};
    Clock::time_point m_last_read{};
};

}  // namespace hs::v11
