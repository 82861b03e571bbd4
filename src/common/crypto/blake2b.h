// BLAKE2b (libsodium crypto_generichash): one-shot, keyed and incremental forms.
#pragma once

#include <sodium.h>

#include "common/util/bytes.h"

namespace hs::crypto {

using Hash32 = ByteArray<32>;

// Incremental BLAKE2b; the output length is fixed at construction (16..64 bytes).
class Blake2b {
public:
    explicit Blake2b(std::size_t out_bytes = 32, ByteView key = {});
    Blake2b& update(ByteView data);
    Blake2b& update(std::uint8_t byte) { return update(ByteView(&byte, 1)); }
    Blake2b& update_u64be(std::uint64_t v);
    void final(MutableByteView out);
    Hash32 final32();

private:
    crypto_generichash_state m_state;
    std::size_t m_out_bytes;
};

Hash32 blake2b_256(ByteView data);
Hash32 blake2b_256_keyed(ByteView data, ByteView key);

// Must be called before any other crypto use; cheap and idempotent.
void ensure_sodium();

}  // namespace hs::crypto
