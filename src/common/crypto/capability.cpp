#include "common/crypto/capability.h"

#include <sodium.h>

namespace hs::crypto {
namespace {

constexpr std::string_view kCapabilityDomain = "hypercore capability";

Hash32 keyed_capability(const PublicKey& key, const ByteArray<32>& mac_key,
                        const ByteArray<32>& bound_key) {
    return Blake2b(32, mac_key)
        .update(as_bytes(kCapabilityDomain))
        .update(bound_key)
        .update(key)
        .final32();
}

}  // namespace

Hash32 capability(const PublicKey& key, const SplitKeys& split) {
    return keyed_capability(key, split.rx, split.tx);
}

Hash32 remote_capability(const PublicKey& key, const SplitKeys& split) {
    return keyed_capability(key, split.tx, split.rx);
}

bool verify_remote_capability(const PublicKey& key, const SplitKeys& split, ByteView received) {
    if (received.size() != 32) return false;
    const Hash32 expected = remote_capability(key, split);
    return sodium_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

}  // namespace hs::crypto
