#include "common/crypto/blake2b.h"

#include "common/util/error.h"

namespace hs::crypto {

void ensure_sodium() {
    static const bool ready = sodium_init() >= 0;
    HS_ASSERT(ready);
}

Blake2b::Blake2b(std::size_t out_bytes, ByteView key) : m_out_bytes(out_bytes) {
    ensure_sodium();
    HS_ASSERT(crypto_generichash_init(&m_state, key.empty() ? nullptr : key.data(), key.size(),
                                      out_bytes) == 0);
}

Blake2b& Blake2b::update(ByteView data) {
    crypto_generichash_update(&m_state, data.data(), data.size());
    return *this;
}

Blake2b& Blake2b::update_u64be(std::uint64_t v) {
    std::uint8_t buf[8];
    put_u64be(buf, v);
    return update(ByteView(buf, 8));
}

void Blake2b::final(MutableByteView out) {
    HS_ASSERT(out.size() == m_out_bytes);
    crypto_generichash_final(&m_state, out.data(), out.size());
}

Hash32 Blake2b::final32() {
    Hash32 out;
    final(out);
    return out;
}

Hash32 blake2b_256(ByteView data) { return Blake2b(32).update(data).final32(); }

Hash32 blake2b_256_keyed(ByteView data, ByteView key) {
    return Blake2b(32, key).update(data).final32();
}

}  // namespace hs::crypto
