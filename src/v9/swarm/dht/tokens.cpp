#include "v9/swarm/dht/tokens.h"

#include <algorithm>

#include <sodium.h>

#include "common/crypto/blake2b.h"

namespace hs::swarm::dht {

TokenSecrets::TokenSecrets() {
    crypto::ensure_sodium();
    randombytes_buf(m_current.data(), m_current.size());
    randombytes_buf(m_previous.data(), m_previous.size());
}

TokenSecrets::TokenSecrets(const ByteArray<32>& current, const ByteArray<32>& previous)
    : m_current(current), m_previous(previous) {}

Bytes TokenSecrets::token_with(const ByteArray<32>& secret, const Peer& host) {
    crypto::Blake2b h(32);
    h.update(secret);
    h.update(as_bytes(host.host_string()));
    const auto out = h.final32();
    return Bytes(out.begin(), out.end());
}

Bytes TokenSecrets::token(const Peer& host) const { return token_with(m_current, host); }

bool TokenSecrets::valid(const Peer& host, ByteView token) const {
    if (token.size() != 32) return false;
    const auto eq = [&](const Bytes& t) { return std::equal(t.begin(), t.end(), token.begin()); };
    return eq(token_with(m_current, host)) || eq(token_with(m_previous, host));
}

void TokenSecrets::rotate() {
    m_previous = m_current;
    randombytes_buf(m_current.data(), m_current.size());
}

void TokenSecrets::rotate(const ByteArray<32>& next) {
    m_previous = m_current;
    m_current = next;
}

}  // namespace hs::swarm::dht
