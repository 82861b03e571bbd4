#include "v9/protocol/noise.h"

#include <sodium.h>

#include <algorithm>
#include <initializer_list>

#include "common/crypto/blake2b.h"
#include "common/crypto/hkdf.h"
#include "v9/protocol/messages.h"
#include "common/util/varint.h"

namespace hs::protocol {
namespace {

constexpr std::string_view kProtocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
constexpr std::size_t kHashBytes = 64;    // BLAKE2b-512
constexpr std::size_t kMacBytes = 16;     // Poly1305 tag
using Digest = ByteArray<kHashBytes>;

void hash_parts(Digest& out, std::initializer_list<ByteView> parts) {
    crypto::Blake2b h(kHashBytes);
    for (ByteView p : parts) h.update(p);
    h.final(out);
}

void append_prefixed(Bytes& out, ByteView message) {
    varint::encode(out, message.size());
    append_bytes(out, message);
}

template <std::size_t N>
void wipe_array(ByteArray<N>& a) noexcept {
    sodium_memzero(a.data(), a.size());
}

}  // namespace

NoiseKeyPair noise_keypair_from_seed(ByteView seed) {
    HS_ASSERT(seed.size() == crypto_kx_SEEDBYTES);
    crypto::ensure_sodium();
    NoiseKeyPair kp;
    HS_ASSERT(crypto_kx_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data()) == 0);
    return kp;
}

NoiseKeyPair random_noise_keypair() {
    crypto::ensure_sodium();
    NoiseKeyPair kp;
    HS_ASSERT(crypto_kx_keypair(kp.public_key.data(), kp.secret_key.data()) == 0);
    return kp;
}

NoiseHandshake NoiseHandshake::initiator(const NoiseKeyPair& static_keys, const StreamNonce& nonce,
                                         const std::optional<NoiseKeyPair>& ephemeral) {
    return NoiseHandshake(true, static_keys, nonce, ephemeral);
}

NoiseHandshake NoiseHandshake::responder(const NoiseKeyPair& static_keys, const StreamNonce& nonce,
                                         const std::optional<NoiseKeyPair>& ephemeral) {
    return NoiseHandshake(false, static_keys, nonce, ephemeral);
}

NoiseHandshake::NoiseHandshake(bool initiator, const NoiseKeyPair& static_keys,
                               const StreamNonce& nonce,
                               const std::optional<NoiseKeyPair>& ephemeral)
    : m_initiator(initiator),
      m_static(static_keys),
      m_ephemeral(ephemeral ? *ephemeral : random_noise_keypair()),
      m_nonce(nonce) {
    msg::NoisePayload{Bytes(nonce.begin(), nonce.end())}.encode_to(m_payload);
    // InitializeSymmetric: the name fits HASHLEN, so h = name zero-padded and ck = h; then the
    // empty prologue is mixed in.
    std::copy(kProtocolName.begin(), kProtocolName.end(), m_h.begin());
    m_ck = m_h;
    mix_hash({});
    if (m_initiator) {
        (void)write_message(1);  // m1 has no DH and cannot fail
        m_step = Step::ReadM2;
    } else {
        m_step = Step::ReadM1;
    }
}

NoiseHandshake::NoiseHandshake(NoiseHandshake&& other) noexcept = default;
NoiseHandshake& NoiseHandshake::operator=(NoiseHandshake&& other) noexcept = default;

NoiseHandshake::~NoiseHandshake() { wipe(); }

void NoiseHandshake::wipe() noexcept {
    wipe_array(m_static.secret_key);
    wipe_array(m_ephemeral.secret_key);
    wipe_array(m_ck);
    wipe_array(m_k);
}

const crypto::SplitKeys& NoiseHandshake::split() const {
    HS_ASSERT(done());
    return m_split;
}

const StreamNonce& NoiseHandshake::remote_nonce() const {
    HS_ASSERT(done());
    return m_remote_nonce;
}

const ByteArray<64>& NoiseHandshake::handshake_hash() const {
    HS_ASSERT(done());
    return m_h;
}

TransportCipher NoiseHandshake::transport_cipher() const {
    HS_ASSERT(done());
    return TransportCipher(m_split, m_nonce, m_remote_nonce);
}

Bytes NoiseHandshake::take_output() { return std::exchange(m_output, Bytes{}); }

Status NoiseHandshake::fail(Error error) {
    m_step = Step::Failed;
    m_error = std::move(error);
    m_input.clear();
    wipe();
    return m_error;
}

Result<std::size_t> NoiseHandshake::receive(ByteView in) {
    if (m_step == Step::Failed) return m_error;
    if (m_step == Step::Done)
        return make_error(Errc::InvalidArgument, "handshake already complete");

    append_bytes(m_input, in);
    std::size_t pos = 0;
    while (m_step != Step::Done) {
        ByteView rest = ByteView(m_input).subspan(pos);
        ByteView after_prefix = rest;
        const auto length = varint::decode(after_prefix);
        if (!length) {
            // 65535 needs 3 varint bytes; 3 bytes without an end are already too long.
            if (rest.size() >= 3)
                return fail(make_error(Errc::HandshakeFailed, "invalid handshake length prefix"))
                    .error();
            break;
        }
        if (*length > kMaxNoiseMessageBytes)
            return fail(make_error(Errc::HandshakeFailed,
                                   "handshake message of {} bytes exceeds {}", *length,
                                   kMaxNoiseMessageBytes))
                .error();
        if (after_prefix.size() < *length) break;
        const ByteView message = after_prefix.first(static_cast<std::size_t>(*length));
        pos += (rest.size() - after_prefix.size()) + message.size();
        if (auto st = read_message(message); !st) return std::move(st).error();
    }

    if (m_step == Step::Done) {
        // Everything after the last handshake message is transport data, all of it from `in`.
        const std::size_t leftover = m_input.size() - pos;
        m_input.clear();
        m_input.shrink_to_fit();
        return in.size() - leftover;
    }
    m_input.erase(m_input.begin(), m_input.begin() + static_cast<std::ptrdiff_t>(pos));
    return in.size();
}

void NoiseHandshake::mix_hash(ByteView data) { hash_parts(m_h, {m_h, data}); }

void NoiseHandshake::mix_key(ByteView input_key_material) {
    Digest temp_k;
    crypto::noise_hkdf2(m_ck, input_key_material, m_ck, temp_k);
    std::copy_n(temp_k.begin(), m_k.size(), m_k.begin());  // HASHLEN 64: truncate to 32
    m_has_key = true;
    m_n = 0;
    wipe_array(temp_k);
}

void NoiseHandshake::encrypt_and_hash(ByteView plaintext, Bytes& out) {
    const std::size_t start = out.size();
    if (!m_has_key) {
        append_bytes(out, plaintext);
    } else {
        crypto::noise_encrypt(out, m_k, m_n++, m_h, plaintext);
    }
    mix_hash(ByteView(out).subspan(start));
}

Status NoiseHandshake::decrypt_and_hash(ByteView ciphertext, Bytes& plaintext) {
    plaintext.clear();
    if (!m_has_key) {
        append_bytes(plaintext, ciphertext);
    } else {
        if (ciphertext.size() < kMacBytes)
            return make_error(Errc::HandshakeFailed, "handshake ciphertext shorter than its MAC");
        if (!crypto::noise_decrypt(plaintext, m_k, m_n++, m_h, ciphertext))
            return make_error(Errc::HandshakeFailed, "handshake message failed authentication");
    }
    mix_hash(ciphertext);
    return {};
}

Status NoiseHandshake::dh(const ByteArray<32>& secret, const NoisePublicKey& remote,
                          ByteArray<32>& out) {
    if (crypto_scalarmult(out.data(), secret.data(), remote.data()) != 0)
        return make_error(Errc::HandshakeFailed, "remote key gives an all-zero shared secret");
    return {};
}

Status NoiseHandshake::read_message(ByteView message) {
    // Tokens per step (XX): m1 "e", m2 "e, ee, s, es", m3 "s, se"; then the payload.
    ByteArray<32> shared{};
    auto mix_dh = [&](const ByteArray<32>& secret, const NoisePublicKey& remote) -> Status {
        HS_TRY(dh(secret, remote, shared));
        mix_key(shared);
        wipe_array(shared);
        return {};
    };
    auto read_e = [&]() -> Status {
        if (message.size() < kNoiseKeyBytes)
            return make_error(Errc::HandshakeFailed,
                              "handshake message too short for an ephemeral key");
        NoisePublicKey re;
        std::copy_n(message.begin(), re.size(), re.begin());
        message = message.subspan(re.size());
        m_remote_ephemeral = re;
        mix_hash(re);
        return {};
    };
    auto read_s = [&]() -> Status {
        const std::size_t n = kNoiseKeyBytes + (m_has_key ? kMacBytes : 0);
        if (message.size() < n)
            return make_error(Errc::HandshakeFailed,
                              "handshake message too short for a static key");
        Bytes rs;
        HS_TRY(decrypt_and_hash(message.first(n), rs));
        message = message.subspan(n);
        NoisePublicKey key;
        std::copy(rs.begin(), rs.end(), key.begin());
        m_remote_static = key;
        return {};
    };

    Status st;
    switch (m_step) {
        case Step::ReadM1:  // responder
            st = read_e();
            break;
        case Step::ReadM2:  // initiator
            st = read_e();
            if (st) st = mix_dh(m_ephemeral.secret_key, *m_remote_ephemeral);  // ee
            if (st) st = read_s();
            if (st) st = mix_dh(m_ephemeral.secret_key, *m_remote_static);  // es
            break;
        case Step::ReadM3:  // responder
            st = read_s();
            if (st) st = mix_dh(m_ephemeral.secret_key, *m_remote_static);  // se
            break;
        default: st = make_error(Errc::HandshakeFailed, "unexpected handshake message");
    }
    Bytes payload;
    if (st) st = decrypt_and_hash(message, payload);
    wipe_array(shared);
    if (!st) return fail(std::move(st).error());
    if (!payload.empty()) m_remote_payload = std::move(payload);

    switch (m_step) {
        case Step::ReadM1:
            HS_TRY(write_message(2));
            m_step = Step::ReadM3;
            return {};
        case Step::ReadM2: HS_TRY(write_message(3)); return finish();
        default:  // ReadM3
            return finish();
    }
}

Status NoiseHandshake::write_message(int index) {
    // Tokens (XX): m1 "e" (initiator), m2 "e, ee, s, es" (responder), m3 "s, se" (initiator).
    Bytes message;
    ByteArray<32> shared{};
    Status st;
    if (index == 1 || index == 2) {
        append_bytes(message, m_ephemeral.public_key);
        mix_hash(m_ephemeral.public_key);
    }
    if (index == 2) {
        st = dh(m_ephemeral.secret_key, *m_remote_ephemeral, shared);  // ee
        if (st) {
            mix_key(shared);
            encrypt_and_hash(m_static.public_key, message);
            st = dh(m_static.secret_key, *m_remote_ephemeral, shared);  // es (responder side)
        }
        if (st) mix_key(shared);
    } else if (index == 3) {
        encrypt_and_hash(m_static.public_key, message);
        st = dh(m_static.secret_key, *m_remote_ephemeral, shared);  // se (initiator side)
        if (st) mix_key(shared);
    }
    wipe_array(shared);
    if (!st) return fail(std::move(st).error());
    encrypt_and_hash(m_payload, message);
    append_prefixed(m_output, message);
    return {};
}

Status NoiseHandshake::finish() {
    // Split: initiator tx = k1, rx = k2; responder the reverse; 32 of the 64 bytes each.
    Digest k1;
    Digest k2;
    crypto::noise_hkdf2(m_ck, {}, k1, k2);
    const Digest& tx = m_initiator ? k1 : k2;
    const Digest& rx = m_initiator ? k2 : k1;
    std::copy_n(tx.begin(), 32, m_split.tx.begin());
    std::copy_n(rx.begin(), 32, m_split.rx.begin());
    wipe_array(k1);
    wipe_array(k2);

    if (m_remote_payload.empty())
        return fail(
            make_error(Errc::HandshakeFailed, "remote did not include a handshake payload"));
    ByteView payload = m_remote_payload;
    auto decoded = msg::NoisePayload::decode(payload);
    if (!decoded)
        return fail(make_error(Errc::HandshakeFailed, "could not parse remote payload: {}",
                               decoded.error().message));
    if (decoded->nonce.size() != kStreamNonceBytes)
        return fail(make_error(Errc::HandshakeFailed, "remote payload nonce has {} bytes, not {}",
                               decoded->nonce.size(), kStreamNonceBytes));
    std::copy(decoded->nonce.begin(), decoded->nonce.end(), m_remote_nonce.begin());
    m_step = Step::Done;
    wipe_array(m_static.secret_key);
    wipe_array(m_ephemeral.secret_key);
    wipe_array(m_ck);
    wipe_array(m_k);
    return {};
}

}  // namespace hs::protocol
