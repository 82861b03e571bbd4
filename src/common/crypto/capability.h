// Channel capabilities of hypercore-protocol 8 (docs/formats/wire.md "Capability").
// A capability proves to the peer that we know a core's public key without sending the key; it
// is bound to one Noise session through the split keys.
#pragma once

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"

namespace hs::crypto {

// The transport keys of one Noise session from our side: the first 32 bytes of Noise's split
// outputs (initiator tx = k1, rx = k2; responder the other way round).
struct SplitKeys {
    ByteArray<32> tx{};
    ByteArray<32> rx{};
};

// What we send in Open: BLAKE2b-256 keyed with rx over "hypercore capability" || tx || key.
Hash32 capability(const PublicKey& key, const SplitKeys& split);
// What the peer must send for `key`: the same formula with tx and rx swapped.
Hash32 remote_capability(const PublicKey& key, const SplitKeys& split);
// Constant-time check of a received Open.capability; false unless it is exactly the 32 bytes of
// remote_capability(key, split).
bool verify_remote_capability(const PublicKey& key, const SplitKeys& split, ByteView received);

}  // namespace hs::crypto
