// Producing proofs on one feed and verifying/inserting them on another (the replication path).
#include <gtest/gtest.h>

#include "testutil/feed_pair.h"

#include <random>

#include "common/crypto/derive.h"
#include "v9/hypercore/feed.h"
#include "v9/hypercore/verify.h"

namespace hs::hypercore {
namespace {

struct Pair {
    MemoryStorage mem;
    std::unique_ptr<Feed> writer;
    std::unique_ptr<Feed> reader;
    SparseBitset remote;  // what the writer knows the reader has
    std::vector<Bytes> blocks;

    explicit Pair(std::size_t n, std::size_t batch = 1) {
        auto pair = testutil::make_feed_pair(mem, 3);
        writer = std::move(pair.writer);
        reader = std::move(pair.reader);
        std::mt19937 rng(11);
        for (std::size_t i = 0; i < n; ++i) {
            Bytes b(1 + rng() % 64);
            for (auto& c : b) c = static_cast<std::uint8_t>(rng());
            blocks.push_back(b);
        }
        for (std::size_t i = 0; i < n; i += batch) {
            std::vector<ByteView> v(blocks.begin() + i, blocks.begin() + std::min(n, i + batch));
            EXPECT_TRUE(writer->append(v).ok());
        }
    }

    // Requests block i the way a peer does: digest from the reader, proof from the writer.
    Result<PutResult> transfer(std::uint64_t i) {
        auto proof = writer->proof(i, reader->digest(i), false, remote);
        if (!proof) return std::move(proof).error();
        auto data = writer->get(i);
        if (!data) return std::move(data).error();
        return reader->put(i, ByteView(*data), *proof);
    }
};

TEST(Proof, FullCopyInOrder) {
    Pair p(100, 3);
    for (std::uint64_t i = 0; i < 100; ++i) {
        auto r = p.transfer(i);
        ASSERT_TRUE(r.ok()) << "block " << i << ": " << r.error().message;
        EXPECT_TRUE(r->new_block);
    }
    EXPECT_EQ(p.reader->length(), 100u);
    EXPECT_EQ(p.reader->byte_length(), p.writer->byte_length());
    for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(*p.reader->get(i), p.blocks[i]);
    EXPECT_TRUE(verify_feed(*p.reader).ok());
}

TEST(Proof, SparseRandomOrderThenReopen) {
    Pair p(257);
    std::vector<std::uint64_t> order(257);
    for (std::uint64_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(5));
    order.resize(60);
    for (auto i : order) {
        auto r = p.transfer(i);
        ASSERT_TRUE(r.ok()) << "block " << i << ": " << r.error().message;
    }
    EXPECT_EQ(p.reader->length(), 257u);  // the signed length is known from the first proof
    for (auto i : order) EXPECT_EQ(*p.reader->get(i), p.blocks[i]);
    EXPECT_EQ(p.reader->downloaded(0, 257), 60u);
    // Seek works across the stored parts; the reader reopens to the same state.
    FeedOptions o;
    o.key = p.writer->key();
    auto again = Feed::open(p.mem.provider("r"), o);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->length(), 257u);
    for (auto i : order) EXPECT_EQ(*(*again)->get(i), p.blocks[i]);
    EXPECT_TRUE(verify_feed(**again).ok());
}

TEST(Proof, LiveGrowthSignedLengthAdvances) {
    Pair p(10);
    ASSERT_TRUE(p.transfer(9).ok());
    EXPECT_EQ(p.reader->length(), 10u);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.writer->append(as_bytes("live")).ok());
    auto r = p.transfer(14);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->appended);
    EXPECT_EQ(p.reader->length(), 15u);
    EXPECT_EQ(*p.reader->get(14), to_bytes("live"));
}

TEST(Proof, BadDataIsRejectedAndNothingStored) {
    Pair p(20);
    auto proof = p.writer->proof(5, p.reader->digest(5), false, p.remote);
    ASSERT_TRUE(proof.ok());
    Bytes bad = p.blocks[5];
    bad[0] ^= 1;
    auto r = p.reader->put(5, ByteView(bad), *proof);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::VerificationFailed);
    EXPECT_FALSE(p.reader->has(5));
    EXPECT_EQ(p.reader->length(), 0u);
    EXPECT_FALSE(p.reader->node(10).ok());
}

TEST(Proof, BadSignatureIsRejected) {
    Pair p(8);
    auto proof = p.writer->proof(2, 0, false, p.remote);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(proof->signature.has_value());
    (*proof->signature)[10] ^= 0x80;
    auto r = p.reader->put(2, ByteView(p.blocks[2]), *proof);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("signature"), std::string::npos);
    EXPECT_FALSE(p.reader->has(2));
}

TEST(Proof, MissingSignatureIsRejectedOnceLive) {
    Pair p(8);
    ASSERT_TRUE(p.transfer(0).ok());
    // Block 7 would verify against the reader's trusted root; a block past the signed length
    // needs a signature.
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(p.writer->append(as_bytes("more")).ok());
    SparseBitset fresh;
    auto proof = p.writer->proof(12, 0, false, fresh);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(proof->signature.has_value());
    proof->signature.reset();
    auto r = p.reader->put(12, as_bytes("more"), *proof);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("Remote did not include a signature"), std::string::npos);
}

TEST(Proof, TamperedProofNodeIsRejected) {
    Pair p(16);
    auto proof = p.writer->proof(3, 0, false, p.remote);
    ASSERT_TRUE(proof.ok());
    ASSERT_FALSE(proof->nodes.empty());
    proof->nodes[0].hash[0] ^= 1;
    EXPECT_FALSE(p.reader->put(3, ByteView(p.blocks[3]), *proof).ok());
    proof = p.writer->proof(3, 0, false, p.remote);
    proof->nodes[0].size += 1;
    EXPECT_FALSE(p.reader->put(3, ByteView(p.blocks[3]), *proof).ok());
    EXPECT_EQ(p.reader->downloaded(0, 16), 0u);
}

TEST(Proof, DigestShrinksProofs) {
    Pair p(64);
    ASSERT_TRUE(p.transfer(0).ok());
    ASSERT_TRUE(p.transfer(1).ok());
    // The reader now has the leaf of block 1's sibling: its digest says so, so the proof for
    // a neighbour needs fewer nodes than a digest-less one.
    SparseBitset fresh;
    auto full = p.writer->proof(2, 0, false, fresh);
    SparseBitset fresh2;
    auto small = p.writer->proof(2, p.reader->digest(2), false, fresh2);
    ASSERT_TRUE(full.ok() && small.ok());
    EXPECT_LT(small->nodes.size(), full->nodes.size());
    EXPECT_TRUE(p.reader->put(2, ByteView(p.blocks[2]), *small).ok());
    EXPECT_EQ(p.reader->digest(2), 1u);
}

TEST(Proof, UnknownBlockHasNoProof) {
    Pair p(4);
    EXPECT_EQ(p.writer->proof(4, 0, false, p.remote).error().code, Errc::NotFound);
    EXPECT_EQ(p.writer->proof(std::uint64_t{1} << 62, 0, false, p.remote).error().code, Errc::NotFound);
}

// A static (non-live) feed: no signatures; its key is the tree hash of its final roots.
TEST(Proof, StaticFeedReadsAndReplicates) {
    MemoryStorage mem;
    const auto kp = crypto::keypair_from_seed(Bytes(32, 8));
    FeedOptions w;
    w.key = kp.public_key;
    w.secret_key = kp.secret_key;
    auto writer = std::move(Feed::open(mem.provider("w"), w).value());
    for (int i = 0; i < 13; ++i) ASSERT_TRUE(writer->append(as_bytes("static block " + std::to_string(i))).ok());
    const auto roots = writer->roots(13);
    ASSERT_TRUE(roots.ok());
    crypto::PublicKey static_key;
    const auto th = tree_hash(*roots);
    std::copy(th.begin(), th.end(), static_key.begin());

    // Lay out the same tree, data and bitfield under the static key, with no signatures.
    auto src = mem.provider("w");
    auto dst = mem.provider("s");
    for (const char* f : {"tree", "data", "bitfield"}) {
        auto in = std::move(src->open(f).value());
        auto out = std::move(dst->open(f).value());
        Bytes all(*in->size());
        ASSERT_TRUE(in->read(0, all).ok());
        ASSERT_TRUE(out->write(0, all).ok());
    }
    ASSERT_TRUE((*dst->open("key"))->write(0, static_key).ok());

    FeedOptions so;
    so.key = static_key;
    auto feed = std::move(Feed::open(mem.provider("s"), so).value());
    EXPECT_FALSE(feed->live());
    EXPECT_EQ(feed->length(), 13u);
    EXPECT_EQ(*feed->get(12), to_bytes("static block 12"));
    EXPECT_TRUE(verify_feed(*feed).ok());

    // Proofs from a static feed carry no signature; the reader checks the tree hash instead.
    auto reader = std::move(Feed::open(mem.provider("r"), so).value());
    SparseBitset remote;
    for (std::uint64_t i : {5u, 0u, 12u}) {
        auto proof = feed->proof(i, reader->digest(i), false, remote);
        ASSERT_TRUE(proof.ok());
        EXPECT_FALSE(proof->signature.has_value());
        auto r = reader->put(i, ByteView(*feed->get(i)), *proof);
        ASSERT_TRUE(r.ok()) << r.error().message;
    }
    EXPECT_EQ(reader->length(), 13u);
    EXPECT_EQ(*reader->get(5), to_bytes("static block 5"));
    // A tampered static proof fails the checksum.
    auto reader2 = std::move(Feed::open(mem.provider("r2"), so).value());
    SparseBitset remote2;
    auto proof = feed->proof(3, 0, false, remote2);
    proof->nodes.back().hash[1] ^= 1;
    auto bad = reader2->put(3, ByteView(*feed->get(3)), *proof);
    ASSERT_FALSE(bad.ok());
    EXPECT_FALSE(reader2->has(3));
}

}  // namespace
}  // namespace hs::hypercore
