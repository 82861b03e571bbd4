// A writable feed and an empty reader of the same key, in one MemoryStorage: the two ends of
// most replication tests.
#pragma once

#include <cstdint>
#include <memory>

#include "crypto/derive.h"
#include "hypercore/feed.h"

namespace hs::testutil {

struct FeedPair {
    std::unique_ptr<hypercore::Feed> writer, reader;
};

// The key pair comes from a 32-byte seed of `seed` bytes, so tests are repeatable.
inline FeedPair make_feed_pair(hypercore::MemoryStorage& mem, std::uint8_t seed) {
    const auto kp = crypto::keypair_from_seed(Bytes(32, seed));
    hypercore::FeedOptions w;
    w.key = kp.public_key;
    w.secret_key = kp.secret_key;
    hypercore::FeedOptions r;
    r.key = kp.public_key;
    return {std::move(hypercore::Feed::open(mem.provider("w"), w).value()),
            std::move(hypercore::Feed::open(mem.provider("r"), r).value())};
}

}  // namespace hs::testutil
