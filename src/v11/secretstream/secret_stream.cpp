#include "v11/secretstream/secret_stream.h"

#include <algorithm>
#include <cstring>

namespace hs::v11 {
namespace {

void put_u24(Bytes& out, std::size_t n) {
    out.push_back(static_cast<std::uint8_t>(n & 0xff));
    out.push_back(static_cast<std::uint8_t>((n >> 8) & 0xff));
    out.push_back(static_cast<std::uint8_t>((n >> 16) & 0xff));
}

crypto::Hash32 keyed_over(ByteView key, std::initializer_list<ByteView> parts) {
    crypto::Blake2b h(32, key);
    for (ByteView p : parts) h.update(p);
    return h.final32();
}

}  // namespace

const SecretStreamNamespaces& secret_stream_namespaces() {
    static const SecretStreamNamespaces ns = [] {
        crypto::ensure_sodium();
        const std::string_view name = "hyperswarm/secret-stream";
        const crypto::Hash32 base = crypto::blake2b_256(
            ByteView(reinterpret_cast<const std::uint8_t*>(name.data()), name.size()));
        auto id = [&](std::uint8_t i) {
            crypto::Blake2b h(32);
            h.update(base).update(i);
            return h.final32();
        };
        return SecretStreamNamespaces{id(0), id(1), id(2)};
    }();
    return ns;
}

crypto::Hash32 stream_id(ByteView handshake_hash, bool initiator) {
    const auto& ns = secret_stream_namespaces();
    return keyed_over(handshake_hash, {initiator ? ns.initiator : ns.responder});
}

SecretStream::SecretStream(SecretStreamOptions options, Clock::time_point now)
    : m_options(std::move(options)), m_last_write(now), m_last_read(now) {
    crypto::ensure_sodium();
    start_handshake();
}

SecretStream::SecretStream(bool initiator, const SecretStreamKeys& keys,
                           SecretStreamOptions options, Clock::time_point now)
    : m_options(std::move(options)), m_last_write(now), m_last_read(now) {
    crypto::ensure_sodium();
    m_options.initiator = initiator;
    finish_handshake(keys);
}

SecretStream::~SecretStream() {
    sodium_memzero(&m_push, sizeof m_push);
    sodium_memzero(&m_pull, sizeof m_pull);
    sodium_memzero(m_box_tx.data(), m_box_tx.size());
    sodium_memzero(m_box_rx.data(), m_box_rx.size());
    sodium_memzero(m_rx_key.data(), m_rx_key.size());
}

void SecretStream::start_handshake() {
    noise::HandshakeOptions ho;
    ho.remote_static = m_options.remote_public_key;
    ho.ephemeral = m_options.ephemeral;
    m_handshake = m_options.initiator
                      ? noise::Handshake::initiator(m_options.pattern, m_options.static_keys, ho)
                      : noise::Handshake::responder(m_options.pattern, m_options.static_keys, ho);
    if (m_handshake->our_turn()) send_handshake_message();
}

bool SecretStream::send_handshake_message() {
    auto message = m_handshake->write_message();
    if (!message) {
        destroy(Error{Errc::HandshakeFailed, "Noise handshake failed: " + message.error().message});
        return false;
    }
    send_frame(*message);
    return true;
}

void SecretStream::send_frame(ByteView body) {
    put_u24(m_output.tail(), body.size());
    m_output.append(body);
    if (on_output) on_output();
}

void SecretStream::finish_handshake(const SecretStreamKeys& keys) {
    m_remote = keys.remote_public_key;
    m_hash = keys.handshake_hash;
    m_rx_key = keys.split.rx;
    Bytes setup(kSetupMessageBytes);
    const crypto::Hash32 id = stream_id(m_hash, m_options.initiator);
    std::copy(id.begin(), id.end(), setup.begin());
    crypto_secretstream_xchacha20poly1305_init_push(&m_push, setup.data() + 32,
                                                    keys.split.tx.data());
    // The datagram keys: ours over (our namespace || send), the peer's over (its || send).
    const auto& ns = secret_stream_namespaces();
    const auto& mine = m_options.initiator ? ns.initiator : ns.responder;
    const auto& theirs = m_options.initiator ? ns.responder : ns.initiator;
    m_box_tx = keyed_over(m_hash, {mine, ns.send});
    m_box_rx = keyed_over(m_hash, {theirs, ns.send});
    randombytes_buf(m_box_initial.data(), m_box_initial.size());
    m_box_counter = m_box_initial;
    send_frame(setup);
    m_keys_ready = true;
    m_handshake.reset();
    // What was written while the handshake ran goes out now, in order.
    ByteView waiting = m_waiting;
    while (waiting.size() >= 3) {
        const std::size_t n = waiting[0] | (waiting[1] << 8) | (waiting[2] << 16);
        encrypt_into_output(waiting.subspan(3, n));
        waiting = waiting.subspan(3 + n);
    }
    m_waiting.clear();
    m_waiting.shrink_to_fit();
}

void SecretStream::encrypt_into_output(ByteView message) {
    const std::size_t body = message.size() + kSecretStreamOverhead;
    put_u24(m_output.tail(), body);
    std::uint8_t* at = m_output.extend(body);
    crypto_secretstream_xchacha20poly1305_push(&m_push, at, nullptr,
                                               message.data(), message.size(), nullptr, 0,
                                               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    if (on_output) on_output();
}

Status SecretStream::write(ByteView message, Clock::time_point now) {
    if (m_closed) return make_error(Errc::Closed, "secret-stream: closed ({})", m_close_reason.message);
    if (message.size() > kMaxMessageBytes)
        return make_error(Errc::TooLarge,
                          "secret-stream: a message of {} bytes is larger than the {} bytes one "
                          "frame holds; split it",
                          message.size(), kMaxMessageBytes);
    m_last_write = now;
    if (!m_keys_ready) {
        put_u24(m_waiting, message.size());
        append_bytes(m_waiting, message);
        return {};
    }
    encrypt_into_output(message);
    return {};
}

Status SecretStream::receive(ByteView bytes, Clock::time_point now) {
    if (m_closed) return m_close_reason;
    if (!bytes.empty()) m_last_read = now;
    while (!bytes.empty() && !m_closed) {
        if (m_header_bytes < 3) {
            m_frame_len |= static_cast<std::size_t>(bytes[0]) << (8 * m_header_bytes);
            ++m_header_bytes;
            bytes = bytes.subspan(1);
            if (m_header_bytes == 3 && m_frame_len == 0) {
                m_header_bytes = 0;
                handle_frame({});  // an empty frame: invalid in every state, closes the stream
            }
            continue;
        }
        const std::size_t missing = m_frame_len - m_frame.size();
        if (m_frame.empty() && bytes.size() >= m_frame_len) {
            // The whole body is here: no copy.
            const ByteView body = bytes.first(m_frame_len);
            bytes = bytes.subspan(m_frame_len);
            m_header_bytes = 0;
            m_frame_len = 0;
            handle_frame(body);
            continue;
        }
        const std::size_t take = std::min(missing, bytes.size());
        append_bytes(m_frame, bytes.first(take));
        bytes = bytes.subspan(take);
        if (m_frame.size() == m_frame_len) {
            Bytes body = std::move(m_frame);
            m_frame = Bytes();
            m_header_bytes = 0;
            m_frame_len = 0;
            handle_frame(body);
        }
    }
    if (m_closed) return m_close_reason;
    return {};
}

void SecretStream::handle_frame(ByteView body) {
    if (m_handshake) {
        auto payload = m_handshake->read_message(body);
        if (!payload) {
            destroy(Error{Errc::HandshakeFailed, "Noise handshake failed: " + payload.error().message});
            return;
        }
        if (m_handshake->our_turn() && !send_handshake_message()) return;
        if (m_handshake->complete()) {
            SecretStreamKeys keys;
            keys.split = m_handshake->split();
            keys.handshake_hash = m_handshake->handshake_hash();
            keys.local_public_key = m_options.static_keys.public_key;
            keys.remote_public_key = *m_handshake->remote_static_key();
            finish_handshake(keys);
        }
        return;
    }
    if (!m_pull_ready) {
        if (body.size() != kSetupMessageBytes) {
            destroy(make_error(Errc::Protocol,
                               "secret-stream: the peer's setup message has {} bytes, not {}",
                               body.size(), kSetupMessageBytes));
            return;
        }
        const crypto::Hash32 expected = stream_id(m_hash, !m_options.initiator);
        if (sodium_memcmp(expected.data(), body.data(), expected.size()) != 0) {
            destroy(Error{Errc::Protocol,
                          "secret-stream: the peer's stream id does not match the handshake"});
            return;
        }
        // The peer pushes with its tx key, which is our rx key.
        if (crypto_secretstream_xchacha20poly1305_init_pull(&m_pull, body.data() + 32,
                                                            m_rx_key.data()) != 0) {
            destroy(Error{Errc::Protocol, "secret-stream: the peer's header is invalid"});
            return;
        }
        m_pull_ready = true;
        if (on_open) on_open();
        return;
    }
    if (body.size() < kSecretStreamOverhead) {
        destroy(make_error(Errc::Protocol,
                           "secret-stream: a message of {} bytes is shorter than its {}-byte tag",
                           body.size(), kSecretStreamOverhead));
        return;
    }
    Bytes& plain = m_plain;
    plain.resize(body.size() - kSecretStreamOverhead);
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&m_pull, plain.data(), nullptr, &tag,
                                                   body.data(), body.size(), nullptr, 0) != 0) {
        destroy(Error{Errc::VerificationFailed,
                      "secret-stream: a message did not decrypt (tampered with, reordered or "
                      "replayed)"});
        return;
    }
    if (plain.empty() && !m_options.deliver_empty_messages) return;  // a keep-alive
    if (on_message) on_message(plain);
    if (plain.capacity() > (1u << 20)) Bytes().swap(plain);  // keep no large buffer around
}

void SecretStream::receive_end() {
    if (m_end_seen || m_closed) return;
    m_end_seen = true;
    if (on_end) on_end();
}

Clock::time_point SecretStream::tick(Clock::time_point now) {
    if (m_closed) return Clock::time_point::max();
    auto next = Clock::time_point::max();
    if (m_options.timeout.count() > 0) {
        if (now - m_last_read >= m_options.timeout) {
            destroy(make_error(Errc::Closed, "secret-stream: nothing received for {} ms (timed out)",
                               m_options.timeout.count()));
            return Clock::time_point::max();
        }
        next = std::min(next, m_last_read + m_options.timeout);
    }
    if (m_options.keep_alive.count() > 0 && m_keys_ready) {
        if (now - m_last_write >= m_options.keep_alive) (void)send_keep_alive(now);
        next = std::min(next, m_last_write + m_options.keep_alive);
    }
    return next;
}

void SecretStream::destroy(Error reason) {
    if (m_closed) return;
    m_closed = true;
    m_close_reason = std::move(reason);
    m_output.clear();
    m_waiting.clear();
    m_frame.clear();
    m_handshake.reset();
    if (on_close) on_close(m_close_reason);
}

Result<Bytes> SecretStream::box_datagram(ByteView message) {
    if (!m_keys_ready) return make_error(Errc::InvalidArgument, "secret-stream: no keys before the handshake");
    sodium_increment(m_box_counter.data(), m_box_counter.size());
    if (m_box_counter == m_box_initial) {
        destroy(Error{Errc::Closed, "secret-stream: the datagram nonces are exhausted"});
        return m_close_reason;
    }
    ByteArray<crypto_secretbox_NONCEBYTES> nonce{};
    std::copy(m_box_counter.begin(), m_box_counter.end(), nonce.begin());
    Bytes envelope(8 + crypto_secretbox_MACBYTES + message.size());
    std::copy(m_box_counter.begin(), m_box_counter.end(), envelope.begin());
    crypto_secretbox_easy(envelope.data() + 8, message.data(), message.size(), nonce.data(),
                          m_box_tx.data());
    return envelope;
}

std::optional<Bytes> SecretStream::open_datagram(ByteView datagram) const {
    if (!m_keys_ready || datagram.size() < crypto_secretbox_NONCEBYTES) return std::nullopt;
    ByteArray<crypto_secretbox_NONCEBYTES> nonce{};
    std::copy(datagram.begin(), datagram.begin() + 8, nonce.begin());
    const ByteView cipher = datagram.subspan(8);
    Bytes plain(cipher.size() - crypto_secretbox_MACBYTES);
    if (crypto_secretbox_open_easy(plain.data(), cipher.data(), cipher.size(), nonce.data(),
                                   m_box_rx.data()) != 0)
        return std::nullopt;
    return plain;
}

}  // namespace hs::v11
