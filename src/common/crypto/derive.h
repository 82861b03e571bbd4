// Key derivations shared by hypercore 9, corestore 5 and hyperspace (docs/behaviour/storage.md
// "Key derivation").
#pragma once

#include <string_view>

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"

namespace hs::crypto {

// derive-key: H_master(ascii(decimal(len(ns))) "\n" ns || input).
Hash32 derive_key(std::string_view ns, ByteView master_key, ByteView input);
// H_publicKey("hypercore"): the name of a core on the wire, the DHT and disk.
Hash32 discovery_key(const PublicKey& public_key);
// The seed and key pair of a corestore 5 named core.
Hash32 corestore_seed(ByteView master_key, ByteView name);
KeyPair corestore_keypair(ByteView master_key, ByteView name);

}  // namespace hs::crypto
