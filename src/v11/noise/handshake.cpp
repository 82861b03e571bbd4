#include "v11/noise/handshake.h"

#include <sodium.h>

#include <algorithm>
#include <span>

#include "v11/noise/curve_ed25519.h"

namespace hs::v11::noise {
namespace {

// Handshake tokens (Noise spec §7).
enum Token : std::uint8_t { E, S, EE, ES, SE, SS };

// The message patterns; message i is the initiator's when i is even. IK also has the
// pre-message "<- s" (the responder's static key, mixed in at initialisation).
constexpr Token kXX0[] = {E};
constexpr Token kXX1[] = {E, EE, S, ES};
constexpr Token kXX2[] = {S, SE};
constexpr Token kIK0[] = {E, ES, S, SS};
constexpr Token kIK1[] = {E, EE, SE};

std::span<const Token> tokens(Pattern pattern, std::size_t index) {
    if (pattern == Pattern::XX) {
        switch (index) {
            case 0: return kXX0;
            case 1: return kXX1;
            default: return kXX2;
        }
    }
    return index == 0 ? std::span<const Token>(kIK0) : std::span<const Token>(kIK1);
}

constexpr std::size_t message_count(Pattern pattern) { return pattern == Pattern::XX ? 3 : 2; }

constexpr std::size_t kKeyBytes32 = 32;

}  // namespace

std::string_view protocol_name(Pattern pattern) noexcept {
    return pattern == Pattern::XX ? "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b"
                                  : "Noise_IK_Ed25519_ChaChaPoly_BLAKE2b";
}

Handshake Handshake::initiator(Pattern pattern, const crypto::KeyPair& static_keys,
                               HandshakeOptions options) {
    return Handshake(pattern, true, static_keys, std::move(options));
}

Handshake Handshake::responder(Pattern pattern, const crypto::KeyPair& static_keys,
                               HandshakeOptions options) {
    return Handshake(pattern, false, static_keys, std::move(options));
}

Handshake::Handshake(Pattern pattern, bool initiator, const crypto::KeyPair& static_keys,
                     HandshakeOptions options)
    : m_pattern(pattern),
      m_initiator(initiator),
      m_symmetric(protocol_name(pattern)),
      m_static(static_keys),
      m_ephemeral(std::move(options.ephemeral)) {
    m_symmetric.mix_hash(options.prologue);
    if (m_pattern == Pattern::IK) {
        // Pre-message "<- s": both sides mix the responder's static key.
        if (m_initiator) {
            HS_ASSERT(options.remote_static.has_value());
            m_remote_static = options.remote_static;
            m_symmetric.mix_hash(*m_remote_static);
        } else {
            m_symmetric.mix_hash(m_static.public_key);
        }
    }
}

bool Handshake::our_turn() const noexcept {
    return m_state == State::Running && ((m_index % 2 == 0) == m_initiator);
}

const crypto::SplitKeys& Handshake::split() const {
    HS_ASSERT(complete());
    return m_split;
}

const Digest& Handshake::handshake_hash() const {
    HS_ASSERT(complete());
    return m_hash;
}

Error Handshake::fail(Error error) {
    m_state = State::Failed;
    m_error = error;
    wipe();
    return error;
}

void Handshake::wipe() noexcept {
    sodium_memzero(m_static.secret_key.data(), m_static.secret_key.size());
    if (m_ephemeral) sodium_memzero(m_ephemeral->secret_key.data(), m_ephemeral->secret_key.size());
    m_symmetric.wipe();
}

void Handshake::finish() {
    const crypto::SplitKeys keys = m_symmetric.split();
    m_split.tx = m_initiator ? keys.tx : keys.rx;
    m_split.rx = m_initiator ? keys.rx : keys.tx;
    m_hash = m_symmetric.handshake_hash();
    m_state = State::Complete;
    wipe();
}

// ee, es, se, ss: which of our keys meets which of the peer's depends on the role (Noise spec
// §7.1: "es" is the initiator's ephemeral with the responder's static, and so on).
Status Handshake::mix_dh(std::uint8_t token) {
    bool local_static = false;
    bool remote_static = false;
    switch (token) {
        case EE: break;
        case ES:
            local_static = !m_initiator;
            remote_static = m_initiator;
            break;
        case SE:
            local_static = m_initiator;
            remote_static = !m_initiator;
            break;
        default:  // SS
            local_static = true;
            remote_static = true;
            break;
    }
    const std::optional<crypto::PublicKey>& remote =
        remote_static ? m_remote_static : m_remote_ephemeral;
    HS_ASSERT(remote.has_value() && (local_static || m_ephemeral.has_value()));
    const crypto::SecretKey& local = local_static ? m_static.secret_key : m_ephemeral->secret_key;
    auto shared = dh(*remote, local);
    if (!shared) return std::move(shared).error();
    m_symmetric.mix_key(*shared);
    sodium_memzero(shared->data(), shared->size());
    return {};
}

Result<Bytes> Handshake::write_message(ByteView payload) {
    if (m_state == State::Failed)
        return make_error(Errc::InvalidArgument, "Noise handshake already failed: {}",
                          m_error.message);
    if (m_state == State::Complete)
        return make_error(Errc::InvalidArgument, "Noise handshake already complete");
    if (!our_turn())
        return make_error(Errc::InvalidArgument,
                          "Noise handshake: message {} is the peer's to send", m_index);
    const auto message_tokens = tokens(m_pattern, m_index);
    // Whether the payload will be encrypted: a key exists already, or a DH token comes first.
    const bool keyed =
        m_symmetric.has_key() ||
        std::any_of(message_tokens.begin(), message_tokens.end(), [](Token t) { return t >= EE; });
    if (keyed && payload.size() + kMacBytes > kMaxCiphertextBytes)
        return make_error(Errc::TooLarge,
                          "Noise handshake payload of {} bytes exceeds the {}-byte limit",
                          payload.size(), kMaxCiphertextBytes - kMacBytes);

    Bytes message;
    for (const Token token : message_tokens) {
        switch (token) {
            case E:
                if (!m_ephemeral) m_ephemeral = crypto::random_keypair();
                m_symmetric.mix_hash(m_ephemeral->public_key);
                append_bytes(message, m_ephemeral->public_key);
                break;
            case S: m_symmetric.encrypt_and_hash(m_static.public_key, message); break;
            default:
                if (auto st = mix_dh(token); !st) return fail(std::move(st).error());
                break;
        }
    }
    m_symmetric.encrypt_and_hash(payload, message);
    ++m_index;
    if (m_index == message_count(m_pattern)) finish();
    return message;
}

Result<Bytes> Handshake::read_message(ByteView message) {
    if (m_state == State::Failed)
        return make_error(Errc::InvalidArgument, "Noise handshake already failed: {}",
                          m_error.message);
    if (m_state == State::Complete)
        return make_error(Errc::InvalidArgument, "Noise handshake already complete");
    if (our_turn())
        return make_error(Errc::InvalidArgument,
                          "Noise handshake: message {} is ours to send, not to read", m_index);
    const std::size_t index = m_index;
    auto need = [&](std::size_t n, std::string_view what) -> Status {
        if (message.size() >= n) return {};
        return make_error(Errc::HandshakeFailed,
                          "Noise {} message {}: {} bytes left, too short for the {} ({} bytes)",
                          protocol_name(m_pattern).substr(6, 2), index, message.size(), what, n);
    };
    for (const Token token : tokens(m_pattern, m_index)) {
        switch (token) {
            case E: {
                if (auto st = need(kKeyBytes32, "ephemeral key"); !st)
                    return fail(std::move(st).error());
                crypto::PublicKey re;
                std::copy_n(message.begin(), re.size(), re.begin());
                message = message.subspan(re.size());
                m_remote_ephemeral = re;
                m_symmetric.mix_hash(re);
                break;
            }
            case S: {
                const std::size_t n = m_symmetric.ciphertext_size(kKeyBytes32);
                if (auto st = need(n, "static key"); !st) return fail(std::move(st).error());
                auto rs = m_symmetric.decrypt_and_hash(message.first(n));
                if (!rs) return fail(std::move(rs).error());
                message = message.subspan(n);
                crypto::PublicKey key;
                std::copy_n(rs->begin(), key.size(), key.begin());
                m_remote_static = key;
                break;
            }
            default:
                if (auto st = mix_dh(token); !st) return fail(std::move(st).error());
                break;
        }
    }
    auto payload = m_symmetric.decrypt_and_hash(message);
    if (!payload) return fail(std::move(payload).error());
    ++m_index;
    if (m_index == message_count(m_pattern)) finish();
    return std::move(payload).value();
}

}  // namespace hs::v11::noise
