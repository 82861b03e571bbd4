// Roundtrip tokens (dht-rpc 4 lib/io.js): token = BLAKE2b-256(secret || ascii(host)), unkeyed.
// Two 32-byte secrets; rotate() makes the current one previous and draws a new current one (the
// node calls it every 5 minutes). A token is valid for the host if it matches either secret, so a
// token lives 5 to 10 minutes. Ports are not hashed: a token belongs to an IP address.
#pragma once

#include "v9/swarm/dht/messages.h"

namespace hs::swarm::dht {

class TokenSecrets {
public:
    TokenSecrets();  // two random secrets
    TokenSecrets(const ByteArray<32>& current, const ByteArray<32>& previous);

    // The token we hand to `host` in responses (from the current secret).
    Bytes token(const Peer& host) const;
    bool valid(const Peer& host, ByteView token) const;
    void rotate();
    // The same with the new current secret given (the node draws it from its random source).
    void rotate(const ByteArray<32>& next);

private:
    static Bytes token_with(const ByteArray<32>& secret, const Peer& host);
    ByteArray<32> m_current{};
    ByteArray<32> m_previous{};
};

}  // namespace hs::swarm::dht
