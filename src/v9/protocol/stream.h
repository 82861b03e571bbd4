// One hypercore-protocol 8 stream (docs/formats/wire.md, docs/behaviour/replication.md), sans-IO:
// Noise XX handshake, XSalsa20 transport, frames, and the channels of the cores replicated on it.
// No sockets and no timers: the owner feeds received bytes to receive(), writes
// pending_output() to the socket, and calls tick() with the current time for keep-alives and
// the idle timeout. Not thread-safe: the network thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/sign.h"
#include "v9/protocol/framing.h"
#include "v9/protocol/messages.h"
#include "v9/protocol/noise.h"

namespace hs::protocol {

using ChannelId = std::uint64_t;
using Clock = std::chrono::steady_clock;

inline constexpr std::chrono::seconds kKeepAliveInterval{10};
inline constexpr std::chrono::seconds kStreamTimeout{20};

class Stream;
class Channel;

// Receives what arrives on one channel. Owned by whoever opened the channel (e.g. a
// Replicator); it must outlive the channel or close it first.
class ChannelHandler {
public:
    virtual ~ChannelHandler() = default;
    // The remote opened its side (with a capability that verified).
    virtual void on_remote_open(Channel& channel) = 0;
    // Any message other than Open/Close for this channel. Returning an error closes the whole
    // stream with that error (a misbehaving peer).
    virtual Status on_message(Channel& channel, const msg::Message& message) = 0;
    // The channel closed (remote Close, local close, or the stream ended). No further calls.
    virtual void on_close(Channel& channel) = 0;
};

// One core on one stream. Created by Stream::open(); lives until on_close.
class Channel {
public:
    const crypto::PublicKey& key() const noexcept { return m_key; }
    const crypto::Hash32& discovery_key() const noexcept { return m_discovery_key; }
    ChannelId local_id() const noexcept { return m_local_id; }
    // The id the remote sends this channel's frames on, once it opened its side.
    const std::optional<ChannelId>& remote_id() const noexcept { return m_remote_id; }
    bool remote_opened() const noexcept { return m_remote_id.has_value(); }
    bool closed() const noexcept { return m_closed; }
    Stream& stream() noexcept { return *m_stream; }

    // Queues one message on this channel (encrypted into the stream's output). Messages sent
    // before the handshake completes are held and sent right after it. A no-op once the channel
    // is closed. Open is the stream's business and is ignored here; Close acts as close().
    void send(const msg::Message& message);
    // Sends Close and closes the channel locally (on_close runs). A no-op if already closed.
    void close();

private:
    friend class Stream;
    Channel(Stream& stream, const crypto::PublicKey& key, ChannelId local_id, ChannelHandler& handler);
    Stream* m_stream;
    crypto::PublicKey m_key{};
    crypto::Hash32 m_discovery_key{};
    ChannelId m_local_id;
    std::optional<ChannelId> m_remote_id;
    ChannelHandler* m_handler;
    bool m_closed = false;
};

// Stream-level notifications to the stream's owner (e.g. the networker or `hyp replicate`).
class StreamEvents {
public:
    virtual ~StreamEvents() = default;
    // Noise handshake done; the remote's static public key is known.
    virtual void on_handshake(Stream& stream) = 0;
    // The remote opened a channel for a discovery key we have not opened. The owner may call
    // stream.open(key, handler) for it now (the core exists locally); otherwise the stream
    // answers with Close{discoveryKey}.
    virtual void on_discovery_key(Stream& stream, const crypto::Hash32& discovery_key) = 0;
    // A stream-level extension message (channel 0 when the remote has no channel 0).
    virtual void on_stream_extension(Stream&, std::uint64_t /*id*/, ByteView /*payload*/) {}
    virtual void on_stream_options(Stream&, const msg::Options&) {}
    // The stream failed (protocol error, bad capability, timeout) or ended; it is unusable.
    virtual void on_close(Stream& stream, const Error& reason) = 0;
};

struct StreamOptions {
    bool initiator = false;
    NoiseKeyPair static_keys;  // the daemon's replication key pair
    std::optional<StreamNonce> nonce;              // random if absent (tests fix it)
    std::optional<NoiseKeyPair> ephemeral_keys;    // random if absent (tests fix it)
    std::size_t max_output_bytes = 64 << 20;       // past this, the owner should stop reading
};

// Lifetime of what the stream hands out: a Channel stays at its address from open() until the
// first receive() or tick() after its on_close ran (so a handler may still look at it while the
// call that closed it unwinds). Callbacks run synchronously inside receive(), tick(), open(),
// close() and Channel calls; they may send, open and close, but must not call receive() or
// tick() (re-entrancy) and must not destroy the Stream.

class Stream {
public:
    // `events` must outlive the stream. The initiator's first handshake message is in
    // pending_output() right away.
    Stream(StreamOptions options, StreamEvents& events, Clock::time_point now);
    // Closes the channels that are still open (their handlers' on_close runs) but does not call
    // events.on_close: the owner is the one destroying the stream.
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Consumes all of `in` (bytes from the socket). An error closes the stream (events.on_close
    // runs with it) and is returned; on a closed stream it returns Errc::Closed.
    // Reasons: Errc::HandshakeFailed (Noise), Errc::Protocol / Errc::FrameTooLarge (frames and
    // message bodies, naming the channel and message type), Errc::VerificationFailed ("Invalid
    // remote channel capability"), or whatever a ChannelHandler returned.
    Status receive(ByteView in, Clock::time_point now);
    // Bytes to write to the socket, and how many were written. The view stays valid until the
    // next call that sends or consumes. consume_output(n) REQUIRES n <= pending_output().size()
    // (larger values are clamped).
    ByteView pending_output() const noexcept;
    void consume_output(std::size_t n) noexcept;
    // Output not yet written: pending_output() plus what waits for the handshake.
    std::size_t output_bytes() const noexcept;
    // True while pending_output() exceeds StreamOptions::max_output_bytes: the owner should stop
    // reading until it has written more. Output held for the handshake does not count, since
    // only reading (the handshake) can release it.
    bool output_over_limit() const noexcept {
        return pending_output().size() > m_options.max_output_bytes;
    }
    // Called synchronously whenever bytes are added to pending_output() and once when the stream
    // closes (for the I/O pump to wake its writer). It must not call back into the stream.
    void set_output_listener(std::function<void()> listener);
    // Transport totals (handshake bytes included), like JS bytesSent / bytesReceived.
    std::uint64_t bytes_sent() const noexcept;
    std::uint64_t bytes_received() const noexcept;
    // Sends a keep-alive after kKeepAliveInterval without sending; fails the stream after
    // kStreamTimeout without receiving. Returns the next time tick() wants to run.
    Clock::time_point tick(Clock::time_point now);

    bool handshake_done() const noexcept;
    bool closed() const noexcept { return m_closed; }
    const std::optional<NoisePublicKey>& remote_public_key() const noexcept;
    const NoisePublicKey& local_public_key() const noexcept {
        return m_options.static_keys.public_key;
    }
    bool is_initiator() const noexcept { return m_options.initiator; }
    // Why the stream closed (code Errc::Ok while open).
    const Error& close_reason() const noexcept;

    // Opens a channel for `key` (sends Open with our capability) on the lowest free local id
    // >= 1. Returns nullptr if a channel for that key is already open on this stream, or if the
    // stream is closed. If the remote already opened that key (only possible from inside
    // StreamEvents::on_discovery_key), its capability is checked when that call returns.
    Channel* open(const crypto::PublicKey& key, ChannelHandler& handler);
    // The open channel for a discovery key, or nullptr.
    Channel* find(const crypto::Hash32& discovery_key) noexcept;
    // Open channels.
    std::size_t channel_count() const noexcept;

    // Stream-level extensions: Options{extensions} and Extension frames on channel 0.
    void send_stream_options(const msg::Options& options);
    void send_stream_extension(std::uint64_t id, ByteView payload);

    // Ends the stream with `reason` (closes every channel, events.on_close runs once).
    void close(Error reason);

private:
    friend class Channel;
    // Implementation detail; see stream.cpp.
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    StreamOptions m_options;
    bool m_closed = false;
};

}  // namespace hs::protocol
