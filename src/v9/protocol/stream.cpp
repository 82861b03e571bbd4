// hypercore-protocol 8 stream: handshake, transport, frames and channels (docs/formats/wire.md,
// docs/behaviour/replication.md "Channels").
// The channel rules follow node_modules/hypercore-protocol/index.js (Channelizer) and the send
// queue node_modules/simple-hypercore-protocol/index.js; line numbers are cited where a rule is
// not obvious.
#include "v9/protocol/stream.h"

#include <algorithm>
#include <utility>

#include "common/crypto/capability.h"
#include "common/crypto/derive.h"
#include "v9/protocol/cipher.h"
#include "common/util/hex.h"

namespace hs::protocol {
namespace {

// consume_output() moves the unwritten tail to the front only once at least this much has been
// written and the written part is at least half the buffer: amortised O(1) per byte.
constexpr std::size_t kCompactBytes = 64 * 1024;

crypto::Hash32 to_hash32(ByteView b) noexcept {
    crypto::Hash32 h{};
    std::copy(b.begin(), b.end(), h.begin());
    return h;
}

Error with_context(const Error& e, std::uint64_t channel, std::uint8_t type) {
    return Error{e.code,
                 fmt::format("channel {} {}: {}", channel, message_type_name(type), e.message)};
}

}  // namespace

struct Stream::Impl {
    // A held Open: its capability needs the session's split keys, so it is encoded only when the
    // handshake completes (JS computes it in _sendNow, simple-hypercore-protocol/index.js:191).
    struct HeldOpen {
        std::size_t offset;  // position in `held` where the frame goes
        ChannelId id;
        crypto::PublicKey key;
        crypto::Hash32 discovery_key;
    };

    Impl(Stream& self_, StreamEvents& events_, Clock::time_point now_)
        : self(self_), events(events_), now(now_), last_recv(now_), last_send(now_) {}

    Stream& self;
    StreamEvents& events;

    std::optional<NoiseHandshake> handshake;  // reset (wiped) once done or closed
    std::optional<TransportCipher> cipher;    // set once the handshake is done
    crypto::SplitKeys split;
    std::optional<NoisePublicKey> remote_key;
    FrameDecoder decoder;
    std::vector<Frame> frames;  // scratch for one receive()
    Bytes scratch;              // decrypted copy of one receive()'s input

    Bytes out;  // wire bytes; [out_offset, size) not yet written
    std::size_t out_offset = 0;
    // Plaintext frames queued before the handshake completes (and during on_handshake, so that
    // they keep their order, as JS's _pending does).
    Bytes held;
    std::vector<HeldOpen> held_opens;
    bool holding = true;

    // Invariant: every open channel is in `channels`, `local[local_id]` and `by_dk`, and in
    // `remote` under its remote id once the remote opened it. Closed channels are in `graveyard`.
    std::vector<std::unique_ptr<Channel>> channels;
    std::vector<std::unique_ptr<Channel>> graveyard;
    std::vector<Channel*> local{nullptr};  // index = local id; 0 is never allocated
    std::map<ChannelId, Channel*> remote;
    std::map<crypto::Hash32, Channel*> by_dk;

    Clock::time_point now;  // the latest time we were told; stamps sends made between calls
    Clock::time_point last_recv;
    Clock::time_point last_send;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::function<void()> output_listener;
    Error close_reason;

    void advance(Clock::time_point t) noexcept { now = std::max(now, t); }

    void notify() {
        if (output_listener) output_listener();
    }

    // Appends raw wire bytes (handshake messages).
    void write_wire(ByteView bytes) {
        if (bytes.empty()) return;
        compact_if_drained();
        append_bytes(out, bytes);
        sent += bytes.size();
        last_send = now;
        notify();
    }

    // Encrypts out[start, size) in place and accounts for it.
    void seal(std::size_t start) {
        if (out.size() == start) return;
        cipher->encrypt(MutableByteView(out).subspan(start));
        sent += out.size() - start;
        last_send = now;
        notify();
    }

    void compact_if_drained() noexcept {
        if (out_offset == out.size()) {
            out.clear();
            out_offset = 0;
        }
    }

    void send_message(ChannelId id, const msg::Message& message) {
        if (self.m_closed) return;
        if (holding) {
            msg::encode_frame(held, id, message);
            return;
        }
        compact_if_drained();
        const std::size_t start = out.size();
        msg::encode_frame(out, id, message);
        seal(start);
    }

    msg::Open make_open(const crypto::PublicKey& key, const crypto::Hash32& dk) const {
        const auto cap = crypto::capability(key, split);
        return msg::Open{Bytes(dk.begin(), dk.end()), Bytes(cap.begin(), cap.end())};
    }

    void send_open(ChannelId id, const crypto::PublicKey& key, const crypto::Hash32& dk) {
        if (self.m_closed) return;
        if (holding) {
            held_opens.push_back(HeldOpen{held.size(), id, key, dk});
            return;
        }
        compact_if_drained();
        const std::size_t start = out.size();
        msg::encode_frame(out, id, make_open(key, dk));
        seal(start);
    }

    void flush_held() {
        holding = false;
        compact_if_drained();
        const std::size_t start = out.size();
        std::size_t cursor = 0;
        for (const auto& h : held_opens) {
            out.insert(out.end(), held.begin() + static_cast<std::ptrdiff_t>(cursor),
                       held.begin() + static_cast<std::ptrdiff_t>(h.offset));
            cursor = h.offset;
            msg::encode_frame(out, h.id, make_open(h.key, h.discovery_key));
        }
        out.insert(out.end(), held.begin() + static_cast<std::ptrdiff_t>(cursor), held.end());
        held = Bytes();
        held_opens = {};
        seal(start);
    }

    ChannelId lowest_free_local_id() const noexcept {
        for (std::size_t i = 1; i < local.size(); ++i)
            if (local[i] == nullptr) return i;
        return local.size();
    }

    Status fail(Error error) {
        self.close(error);
        return error;
    }

    Status closed_status() const {
        return close_reason.code != Errc::Ok ? Status(close_reason)
                                             : Status(make_error(Errc::Closed, "stream is closed"));
    }

    // Closes one channel: optionally sends Close{} on its local id, unlinks it, runs on_close.
    void close_channel(Channel& ch, bool send_close) {
        if (ch.m_closed) return;
        if (send_close) send_message(ch.m_local_id, msg::Close{});
        ch.m_closed = true;
        if (ch.m_local_id < local.size() && local[ch.m_local_id] == &ch)
            local[ch.m_local_id] = nullptr;
        while (local.size() > 1 && local.back() == nullptr) local.pop_back();
        if (ch.m_remote_id) {
            auto it = remote.find(*ch.m_remote_id);
            if (it != remote.end() && it->second == &ch) remote.erase(it);
        }
        if (auto it = by_dk.find(ch.m_discovery_key); it != by_dk.end() && it->second == &ch)
            by_dk.erase(it);
        auto pos = std::find_if(channels.begin(), channels.end(),
                                [&](const auto& p) { return p.get() == &ch; });
        if (pos != channels.end()) {
            graveyard.push_back(std::move(*pos));
            channels.erase(pos);
        }
        ch.m_handler->on_close(ch);
    }

    void attach_remote(Channel& ch, ChannelId remote_id) {
        ch.m_remote_id = remote_id;
        remote[remote_id] = &ch;
    }

    bool capability_ok(const Channel& ch, const msg::Open& open) const {
        const ByteView received = open.capability ? ByteView(*open.capability) : ByteView();
        return crypto::verify_remote_capability(ch.m_key, split, received);
    }

    // Remote Open (hypercore-protocol/index.js:92-114).
    Status on_open(ChannelId remote_id, const msg::Open& open) {
        if (open.discovery_key.size() != crypto::Hash32{}.size()) {
            // No core has such a discovery key: refuse it the way an unknown key is refused.
            send_message(lowest_free_local_id(), msg::Close{open.discovery_key});
            return {};
        }
        if (remote.contains(remote_id))
            return fail(make_error(Errc::Protocol,
                                   "Open on remote channel {}, which is already open", remote_id));
        const crypto::Hash32 dk = to_hash32(open.discovery_key);

        if (auto it = by_dk.find(dk); it != by_dk.end()) {
            Channel& ch = *it->second;
            if (ch.m_remote_id)
                return fail(make_error(Errc::Protocol,
                                       "second Open for discovery key {} (remote channels {}, {})",
                                       to_hex(dk), *ch.m_remote_id, remote_id));
            attach_remote(ch, remote_id);
            if (!capability_ok(ch, open))
                return fail(make_error(Errc::VerificationFailed,
                                       "Invalid remote channel capability (discovery key {})",
                                       to_hex(dk)));
            ch.m_handler->on_remote_open(ch);
            return self.m_closed ? closed_status() : Status();
        }

        // Unknown: the owner may open it now (corestore/index.js:296-304 does so when the core
        // exists locally); otherwise refuse with Close{discoveryKey} on an unattached local id
        // (hypercore-protocol/index.js:538-547).
        events.on_discovery_key(self, dk);
        if (self.m_closed) return closed_status();
        if (auto it = by_dk.find(dk);
            it != by_dk.end() && !it->second->m_remote_id && !remote.contains(remote_id)) {
            Channel& ch = *it->second;
            attach_remote(ch, remote_id);
            if (!capability_ok(ch, open)) {
                // Opened in answer to the remote: a bad capability closes just this channel
                // (hypercore/lib/replicate.js:70-76).
                close_channel(ch, true);
                return self.m_closed ? closed_status() : Status();
            }
            ch.m_handler->on_remote_open(ch);
            return self.m_closed ? closed_status() : Status();
        }
        send_message(lowest_free_local_id(), msg::Close{Bytes(dk.begin(), dk.end())});
        return {};
    }

    // Remote Close (hypercore-protocol/index.js:178-204): by the remote id, else by discovery key.
    void on_close(ChannelId remote_id, const msg::Close& close) {
        Channel* ch = nullptr;
        if (auto it = remote.find(remote_id); it != remote.end()) {
            ch = it->second;
            remote.erase(it);
        } else if (close.discovery_key && close.discovery_key->size() == crypto::Hash32{}.size()) {
            if (auto d = by_dk.find(to_hash32(*close.discovery_key)); d != by_dk.end())
                ch = d->second;
        }
        if (ch != nullptr) close_channel(*ch, true);
    }

    Status dispatch(const Frame& frame) {
        auto decoded = msg::decode_message(frame.type, frame.body);
        if (!decoded) return fail(with_context(decoded.error(), frame.channel, frame.type));
        msg::Message& message = *decoded;

        if (auto* open = std::get_if<msg::Open>(&message)) return on_open(frame.channel, *open);
        if (auto* close = std::get_if<msg::Close>(&message)) {
            on_close(frame.channel, *close);
            return self.m_closed ? closed_status() : Status();
        }
        if (std::holds_alternative<msg::Ignored>(message)) return {};

        auto it = remote.find(frame.channel);
        if (it == remote.end()) {
            // Channel 0 without a remote channel 0: stream-level extensions (index.js:116-121,
            // 171-176). Anything else on an unknown id is ignored.
            if (frame.channel == 0) {
                if (auto* options = std::get_if<msg::Options>(&message)) {
                    events.on_stream_options(self, *options);
                } else if (auto* ext = std::get_if<msg::Extension>(&message)) {
                    events.on_stream_extension(self, ext->id, ext->payload);
                }
            }
            return self.m_closed ? closed_status() : Status();
        }
        Channel& ch = *it->second;
        Status st = ch.m_handler->on_message(ch, message);
        if (!st) return fail(std::move(st).error());
        return self.m_closed ? closed_status() : Status();
    }

    Status receive_transport(ByteView in) {
        scratch.assign(in.begin(), in.end());
        cipher->decrypt(scratch);
        frames.clear();
        Status decoded = decoder.push(scratch, frames);
        // Frames before a bad one are delivered first, as JS does.
        for (const Frame& f : frames) {
            if (Status st = dispatch(f); !st) return st;
        }
        frames.clear();
        if (!decoded) return fail(std::move(decoded).error());
        return {};
    }

    Status finish_handshake() {
        split = handshake->split();
        remote_key = handshake->remote_static_key();
        cipher.emplace(handshake->transport_cipher());
        handshake.reset();
        // Sends made inside on_handshake queue behind the held ones (JS _pending order).
        events.on_handshake(self);
        if (self.m_closed) return closed_status();
        flush_held();
        return {};
    }
};

// ---------------------------------------------------------------------------------------------
// Channel

Channel::Channel(Stream& stream, const crypto::PublicKey& key, ChannelId local_id,
                 ChannelHandler& handler)
    : m_stream(&stream),
      m_key(key),
      m_discovery_key(crypto::discovery_key(key)),
      m_local_id(local_id),
      m_handler(&handler) {}

void Channel::send(const msg::Message& message) {
    if (m_closed) return;
    if (std::holds_alternative<msg::Open>(message)) return;
    if (std::holds_alternative<msg::Close>(message)) {
        close();
        return;
    }
    m_stream->m_impl->send_message(m_local_id, message);
}

void Channel::close() {
    if (m_closed) return;
    m_stream->m_impl->close_channel(*this, true);
}

// ---------------------------------------------------------------------------------------------
// Stream

Stream::Stream(StreamOptions options, StreamEvents& events, Clock::time_point now)
    : m_impl(std::make_unique<Impl>(*this, events, now)), m_options(std::move(options)) {
    StreamNonce nonce{};
    if (m_options.nonce) {
        nonce = *m_options.nonce;
    } else {
        crypto::random_bytes(nonce);
    }
    m_impl->handshake.emplace(
        m_options.initiator
            ? NoiseHandshake::initiator(m_options.static_keys, nonce, m_options.ephemeral_keys)
            : NoiseHandshake::responder(m_options.static_keys, nonce, m_options.ephemeral_keys));
    m_impl->write_wire(m_impl->handshake->take_output());
}

Stream::~Stream() {
    if (m_closed) return;
    m_closed = true;
    auto open = std::move(m_impl->channels);
    m_impl->channels.clear();
    for (auto& ch : open) {
        ch->m_closed = true;
        ch->m_handler->on_close(*ch);
    }
}

Status Stream::receive(ByteView in, Clock::time_point now) {
    Impl& s = *m_impl;
    if (m_closed) return s.closed_status();
    s.graveyard.clear();
    s.advance(now);
    if (!in.empty()) {
        s.last_recv = s.now;
        s.received += in.size();
    }
    if (s.handshake) {
        auto consumed = s.handshake->receive(in);
        if (!consumed) {
            const Error& e = consumed.error();
            return s.fail(Error{e.code, "Noise handshake error: " + e.message});
        }
        s.write_wire(s.handshake->take_output());
        if (!s.handshake->done()) return {};
        if (Status st = s.finish_handshake(); !st) return st;
        in = in.subspan(*consumed);
        if (in.empty()) return {};
    }
    return s.receive_transport(in);
}

ByteView Stream::pending_output() const noexcept {
    return ByteView(m_impl->out).subspan(m_impl->out_offset);
}

void Stream::consume_output(std::size_t n) noexcept {
    Impl& s = *m_impl;
    s.out_offset += std::min(n, s.out.size() - s.out_offset);
    if (s.out_offset == s.out.size()) {
        s.out.clear();
        s.out_offset = 0;
    } else if (s.out_offset >= kCompactBytes && s.out_offset * 2 >= s.out.size()) {
        s.out.erase(s.out.begin(), s.out.begin() + static_cast<std::ptrdiff_t>(s.out_offset));
        s.out_offset = 0;
    }
}

std::size_t Stream::output_bytes() const noexcept {
    // A held Open is about 70 bytes once encoded.
    return m_impl->out.size() - m_impl->out_offset + m_impl->held.size() +
           m_impl->held_opens.size() * 72;
}

void Stream::set_output_listener(std::function<void()> listener) {
    m_impl->output_listener = std::move(listener);
}

std::uint64_t Stream::bytes_sent() const noexcept { return m_impl->sent; }
std::uint64_t Stream::bytes_received() const noexcept { return m_impl->received; }

Clock::time_point Stream::tick(Clock::time_point now) {
    Impl& s = *m_impl;
    if (m_closed) return Clock::time_point::max();
    s.graveyard.clear();
    s.advance(now);
    // hypercore-protocol/index.js:361-365: ETIMEDOUT after 20 s without receiving; a keep-alive
    // after 10 s without sending (simple-hypercore-protocol/index.js:129-138: never while
    // handshaking or with queued messages).
    if (s.now - s.last_recv >= kStreamTimeout) {
        close(make_error(Errc::Io, "ETIMEDOUT: nothing received for {} s", kStreamTimeout.count()));
        return Clock::time_point::max();
    }
    if (!s.holding && s.now - s.last_send >= kKeepAliveInterval) {
        s.compact_if_drained();
        const std::size_t start = s.out.size();
        s.out.push_back(kKeepAliveByte);
        s.seal(start);
    }
    Clock::time_point next = s.last_recv + kStreamTimeout;
    if (!s.holding) next = std::min(next, s.last_send + kKeepAliveInterval);
    return next;
}

bool Stream::handshake_done() const noexcept { return m_impl->cipher.has_value(); }

const std::optional<NoisePublicKey>& Stream::remote_public_key() const noexcept {
    return m_impl->remote_key;
}

const Error& Stream::close_reason() const noexcept { return m_impl->close_reason; }

Channel* Stream::open(const crypto::PublicKey& key, ChannelHandler& handler) {
    Impl& s = *m_impl;
    if (m_closed) return nullptr;
    const crypto::Hash32 dk = crypto::discovery_key(key);
    if (s.by_dk.contains(dk)) return nullptr;
    const ChannelId id = s.lowest_free_local_id();
    auto owned = std::unique_ptr<Channel>(new Channel(*this, key, id, handler));
    Channel* ch = owned.get();
    if (id == s.local.size()) {
        s.local.push_back(ch);
    } else {
        s.local[id] = ch;
    }
    s.by_dk[dk] = ch;
    s.channels.push_back(std::move(owned));
    s.send_open(id, key, dk);
    return ch;
}

Channel* Stream::find(const crypto::Hash32& discovery_key) noexcept {
    auto it = m_impl->by_dk.find(discovery_key);
    return it == m_impl->by_dk.end() ? nullptr : it->second;
}

std::size_t Stream::channel_count() const noexcept { return m_impl->by_dk.size(); }

void Stream::send_stream_options(const msg::Options& options) { m_impl->send_message(0, options); }

void Stream::send_stream_extension(std::uint64_t id, ByteView payload) {
    m_impl->send_message(0, msg::Extension{id, to_bytes(payload)});
}

void Stream::close(Error reason) {
    Impl& s = *m_impl;
    if (m_closed) return;
    if (reason.code == Errc::Ok) reason.code = Errc::Closed;
    m_closed = true;
    s.close_reason = reason;
    s.handshake.reset();
    // JS destroy sends nothing; each channel's handler hears on_close.
    auto open = std::move(s.channels);
    s.channels.clear();
    s.local.assign(1, nullptr);
    s.remote.clear();
    s.by_dk.clear();
    for (auto& ch : open) ch->m_closed = true;
    for (auto& ch : open) ch->m_handler->on_close(*ch);
    for (auto& ch : open) s.graveyard.push_back(std::move(ch));
    s.events.on_close(*this, s.close_reason);
    s.notify();
}

}  // namespace hs::protocol
