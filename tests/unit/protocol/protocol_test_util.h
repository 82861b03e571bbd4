// Helpers shared by the protocol tests: hex literals, filled buffers and the known-answer
// handshake keys (docs/known-answers.md).
#pragma once

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "v9/protocol/noise.h"
#include "common/util/hex.h"

namespace hs::protocol::test {

// Hex with optional spaces (as printed in docs/known-answers.md). Aborts the test binary on bad
// hex, which only a typo in a test literal can cause.
inline Bytes unhex(std::string_view text) {
    std::string compact;
    for (char c : text)
        if (c != ' ' && c != '\n') compact.push_back(c);
    auto b = from_hex(compact);
    if (!b) std::abort();
    return *b;
}

inline Bytes filled(std::uint8_t v, std::size_t n) { return Bytes(n, v); }

template <std::size_t N>
ByteArray<N> filled_array(std::uint8_t v) {
    ByteArray<N> a;
    a.fill(v);
    return a;
}

inline Bytes concat(std::initializer_list<ByteView> parts) {
    Bytes out;
    for (auto p : parts) append_bytes(out, p);
    return out;
}

// docs/known-answers.md: static keys from seeds 11.. / 22.., ephemeral from 33.. / 44.., nonces
// 55.. / 66..
inline NoiseHandshake kat_initiator() {
    return NoiseHandshake::initiator(noise_keypair_from_seed(filled(0x11, 32)),
                                     filled_array<24>(0x55),
                                     noise_keypair_from_seed(filled(0x33, 32)));
}
inline NoiseHandshake kat_responder() {
    return NoiseHandshake::responder(noise_keypair_from_seed(filled(0x22, 32)),
                                     filled_array<24>(0x66),
                                     noise_keypair_from_seed(filled(0x44, 32)));
}

// docs/known-answers.md "Core keys and hashes".
inline constexpr std::string_view kCorePublicKey =
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
inline constexpr std::string_view kCoreDiscoveryKey =
    "c1feb82a2b3ba065ffed9f6addcf19ac250793bcab748986a1b4272c62da20e6";

}  // namespace hs::protocol::test
