// A writable feed and an empty reader of the same key, in one MemoryStorage: the two ends of
// most replication tests; and the options that open such a writer or reader on any storage.
#pragma once

#include <cstdint>
#include <memory>

#include "common/crypto/derive.h"
#include "v9/hypercore/feed.h"

namespace hs::testutil {

struct FeedPair {
    std::unique_ptr<hypercore::Feed> writer, reader;
};

// The key pair comes from a 32-byte seed of `seed` bytes, so tests are repeatable.
inline crypto::KeyPair seeded_keypair(std::uint8_t seed) {
    return crypto::keypair_from_seed(Bytes(32, seed));
}

// Options of the writable feed of seeded_keypair(seed) (key and secret key).
inline hypercore::FeedOptions seeded_writer_options(std::uint8_t seed) {
    const auto kp = seeded_keypair(seed);
    hypercore::FeedOptions o;
    o.key = kp.public_key;
    o.secret_key = kp.secret_key;
    return o;
}

// Options of a reader of that feed (the public key only).
inline hypercore::FeedOptions seeded_reader_options(std::uint8_t seed) {
    hypercore::FeedOptions o;
    o.key = seeded_keypair(seed).public_key;
    return o;
}

inline FeedPair make_feed_pair(hypercore::MemoryStorage& mem, std::uint8_t seed) {
    return {std::move(hypercore::Feed::open(mem.provider("w"), seeded_writer_options(seed)).value()),
            std::move(hypercore::Feed::open(mem.provider("r"), seeded_reader_options(seed)).value())};
}

}  // namespace hs::testutil
