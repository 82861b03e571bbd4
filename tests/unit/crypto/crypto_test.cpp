// Known answers (docs/known-answers.md).
#include <gtest/gtest.h>

#include "common/crypto/derive.h"
#include "common/util/hex.h"

namespace hs::crypto {
namespace {

Bytes filled(std::uint8_t v, std::size_t n = 32) { return Bytes(n, v); }

TEST(Crypto, SeedKeyPairAndDiscoveryKey) {
    const auto kp = keypair_from_seed(filled(1));
    EXPECT_EQ(to_hex(kp.public_key), "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
    EXPECT_EQ(to_hex(discovery_key(kp.public_key)),
              "c1feb82a2b3ba065ffed9f6addcf19ac250793bcab748986a1b4272c62da20e6");
}

TEST(Crypto, Corestore5NamedCore) {
    const auto master = filled(2);
    EXPECT_EQ(to_hex(corestore_seed(master, as_bytes("default"))),
              "36dd1421c3c2381adf24b71feabd27d7490eddf27877e81fae7ba591f9badaa9");
    EXPECT_EQ(to_hex(corestore_keypair(master, as_bytes("default")).public_key),
              "daa97e230be28c214560d9749671d7284cb4b193804906cf9bee29615729a5da");
}

TEST(Crypto, HyperspaceDerivations) {
    const auto master = filled(2);
    EXPECT_EQ(to_hex(derive_key("@hypercore-protocol/hyperspace", master, as_bytes("replication-keypair"))),
              "599fa689d54db988a00814f8e2d049d322cf4cfaf7742bd9abb6f241000ad261");
    EXPECT_EQ(to_hex(derive_key("@hypercore-protocol/hyperspace", master, as_bytes("swarm-id"))),
              "6f665b56bfd15912d0a4da7f6428cc409b765e8053fbf5a14f1827130cdc7593");
    EXPECT_EQ(to_hex(corestore_seed(master, as_bytes("@hyperspace:internal"))),
              "ce52aca086364e1439d92288637c1421dd44be1771a4f0e6197e3274f4f7562e");
    const auto internal = corestore_keypair(master, as_bytes("@hyperspace:internal"));
    EXPECT_EQ(to_hex(internal.public_key), "9b5e1ca32db35e49ba0bb5766948c3a25e5ee81cbe237c0f38a5c4025a69acd8");
    EXPECT_EQ(to_hex(discovery_key(internal.public_key)),
              "ebaf4ac4916da1d39414640658dfb1a169c917ddc601785bea3c31c58d95776f");
}

TEST(Crypto, SignAndVerify) {
    const auto kp = keypair_from_seed(filled(1));
    const auto msg = as_bytes("hello");
    auto sig = sign_detached(msg, kp.secret_key);
    EXPECT_TRUE(verify_detached(sig, msg, kp.public_key));
    sig[0] ^= 1;
    EXPECT_FALSE(verify_detached(sig, msg, kp.public_key));
}

}  // namespace
}  // namespace hs::crypto
