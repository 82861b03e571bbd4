#include "common/crypto/derive.h"

#include <string>

namespace hs::crypto {

Hash32 derive_key(std::string_view ns, ByteView master_key, ByteView input) {
    std::string prefix = std::to_string(ns.size());
    prefix += '\n';
    prefix += ns;
    return Blake2b(32, master_key).update(as_bytes(prefix)).update(input).final32();
}

Hash32 discovery_key(const PublicKey& public_key) {
    return blake2b_256_keyed(as_bytes("hypercore"), public_key);
}

Hash32 corestore_seed(ByteView master_key, ByteView name) {
    return derive_key("corestore", master_key, name);
}

KeyPair corestore_keypair(ByteView master_key, ByteView name) {
    return keypair_from_seed(corestore_seed(master_key, name));
}

}  // namespace hs::crypto
