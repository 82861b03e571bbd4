#include "v9/hypercore/feed.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>

#include "common/crypto/derive.h"
#include "v9/hypercore/sleep.h"
#include "v9/hypercore/verify.h"
#include "testutil/feed_pair.h"
#include "testutil/temp_dir.h"
#include "common/util/hex.h"

namespace hs::hypercore {
namespace {

using testutil::read_file;
using testutil::TempDir;

constexpr std::uint8_t kSeed = 1;  // of the key pair (testutil/feed_pair.h)
crypto::KeyPair seed_keypair() { return testutil::seeded_keypair(kSeed); }
FeedOptions writer_options() { return testutil::seeded_writer_options(kSeed); }

std::unique_ptr<Feed> open_dir(const std::filesystem::path& dir, FeedOptions o = writer_options(),
                               bool read_only = false) {
    auto f = Feed::open(directory_storage(dir, {read_only, true}), o);
    if (!f) ADD_FAILURE() << f.error().message;
    return f ? std::move(f).value() : nullptr;
}

// Flips the bits `mask` of byte `offset` of `file` in dir, then verifies the feed there, opened
// read-only (nullopt when it does not open).
std::optional<VerifyReport> flip_and_verify(const std::filesystem::path& dir, const char* file,
                                            std::size_t offset, std::uint8_t mask) {
    auto bytes = read_file(dir / file);
    bytes.at(offset) ^= mask;
    testutil::write_file(dir / file, bytes);
    auto feed = open_dir(dir, {}, true);
    if (!feed) return std::nullopt;
    return verify_feed(*feed);
}

TEST(Hashes, KnownAnswers) {
    const Node hello{0, leaf_hash(as_bytes("hello")), 5};
    const Node world{2, leaf_hash(as_bytes("world")), 5};
    EXPECT_EQ(to_hex(hello.hash), "6717b25f24d96ccbc95166bacbb671d59eb4263ee5e1aa0f6b1520815cbee80b");
    EXPECT_EQ(to_hex(world.hash), "b49340bf69887822e1c282929e2c81125ec7aedb902b34f7ca3ba1db7aabdea5");
    const Node p = parent_node(hello, world);
    EXPECT_EQ(p.index, 1u);
    EXPECT_EQ(p.size, 10u);
    EXPECT_EQ(to_hex(p.hash), "408f1fc979c28158324b753394dc4630723761a06fc7202df5d95ad27028a130");
    EXPECT_EQ(to_hex(tree_hash({p})), "12d099ee8540c4f87add3a1f526f1118e97996dbff60f6d408202cea23631de5");
    EXPECT_EQ(to_hex(signable({p}, 2)),
              "12d099ee8540c4f87add3a1f526f1118e97996dbff60f6d408202cea23631de50000000000000002");
}

TEST(Feed, OnDiskBytesMatchReference) {
    TempDir dir;
    auto feed = open_dir(dir.path());
    ASSERT_TRUE(feed);
    const ByteView blocks[] = {as_bytes("hello"), as_bytes("world")};
    ASSERT_TRUE(feed->append(blocks).ok());
    // Batch of two: one signature, for length 2 (slot 1); slot 0 stays blank.
    const auto sigs = read_file(dir.path() / "signatures");
    ASSERT_EQ(sigs.size(), 32u + 128u);
    EXPECT_TRUE(all_zero(ByteView(sigs).subspan(32, 64)));
    EXPECT_EQ(to_hex(ByteView(sigs).subspan(96, 64)),
              "fa5a79581c66668fba92c19f56773d49ba6e07a1fc32bb9e15a3c7cedaea7eb2cf89d87063b08a942bfedf28e832"
              "cbf3d0a49b42176afde698286bd714fd0b0c");
    ASSERT_TRUE(feed->append(as_bytes("!")).ok());

    const auto tree = read_file(dir.path() / "tree");
    EXPECT_EQ(to_hex(ByteView(tree).first(32)),
              "0502570200002807424c414b4532620000000000000000000000000000000000");
    ASSERT_EQ(tree.size(), 32u + 5 * 40);
    EXPECT_EQ(to_hex(ByteView(tree).subspan(32, 40)),
              "6717b25f24d96ccbc95166bacbb671d59eb4263ee5e1aa0f6b1520815cbee80b0000000000000005");
    EXPECT_EQ(to_hex(ByteView(tree).subspan(72, 40)),
              "408f1fc979c28158324b753394dc4630723761a06fc7202df5d95ad27028a130000000000000000a");
    EXPECT_TRUE(all_zero(ByteView(tree).subspan(32 + 3 * 40, 40)));
    EXPECT_EQ(to_hex(ByteView(tree).subspan(32 + 4 * 40 + 32, 8)), "0000000000000001");

    EXPECT_EQ(read_file(dir.path() / "data"), to_bytes("helloworld!"));
    EXPECT_EQ(read_file(dir.path() / "key"), to_bytes(seed_keypair().public_key));
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "secret_key") &&
                 std::filesystem::file_size(dir.path() / "secret_key") > 0);

    const auto bits = read_file(dir.path() / "bitfield");
    EXPECT_EQ(to_hex(ByteView(bits).first(32)), "05025700000e0000" + std::string(48, '0'));
    ASSERT_EQ(bits.size(), 32u + 3584);
    EXPECT_EQ(bits[32], 0xe0);
    EXPECT_EQ(bits[32 + 1024], 0xe8);
    EXPECT_EQ(bits[32 + 1025], 0x00);
    EXPECT_EQ(to_hex(ByteView(bits).subspan(32 + 3072, 4)), "40400040");
    EXPECT_EQ(to_hex(ByteView(read_file(dir.path() / "signatures")).first(32)),
              "050257010000400745643235353139" + std::string(34, '0'));
}

TEST(Feed, AppendGetSeekHasAndReopen) {
    TempDir dir;
    std::vector<Bytes> blocks;
    std::mt19937 rng(7);
    {
        auto feed = open_dir(dir.path());
        ASSERT_TRUE(feed);
        EXPECT_TRUE(feed->writable());
        for (int i = 0; i < 300; ++i) {
            Bytes b(rng() % 200);
            for (auto& c : b) c = static_cast<std::uint8_t>(rng());
            blocks.push_back(b);
        }
        // Mix single appends and batches.
        for (std::size_t i = 0; i < blocks.size();) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 7, blocks.size() - i);
            std::vector<ByteView> views(blocks.begin() + i, blocks.begin() + i + n);
            auto first = feed->append(views);
            ASSERT_TRUE(first.ok());
            EXPECT_EQ(*first, i);
            i += n;
        }
        EXPECT_EQ(feed->length(), blocks.size());
    }
    auto feed = open_dir(dir.path());
    ASSERT_TRUE(feed);
    ASSERT_EQ(feed->length(), blocks.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        auto got = feed->get(i);
        ASSERT_TRUE(got.ok()) << got.error().message;
        EXPECT_EQ(*got, blocks[i]);
        if (!blocks[i].empty()) {
            auto s = feed->seek(total + blocks[i].size() - 1);
            ASSERT_TRUE(s.ok());
            EXPECT_EQ(s->index, i);
            EXPECT_EQ(s->offset, blocks[i].size() - 1);
        }
        total += blocks[i].size();
    }
    EXPECT_EQ(feed->byte_length(), total);
    EXPECT_FALSE(feed->seek(total).ok());
    EXPECT_TRUE(feed->has(0, blocks.size()));
    EXPECT_EQ(feed->downloaded(10, 20), 10u);
    EXPECT_FALSE(feed->has(blocks.size()));
    EXPECT_EQ(feed->get(blocks.size()).error().code, Errc::NotFound);
    EXPECT_TRUE(verify_feed(*feed).ok());
    // Appending after reopen continues the same log.
    ASSERT_TRUE(feed->append(as_bytes("more")).ok());
    EXPECT_EQ(*feed->get(blocks.size()), to_bytes("more"));
    EXPECT_TRUE(verify_feed(*feed).ok());
}

TEST(Feed, OversizedBlockRejectedBeforeAnyWrite) {
    TempDir dir;
    auto feed = open_dir(dir.path());
    ASSERT_TRUE(feed);
    ASSERT_TRUE(feed->append(as_bytes("a")).ok());
    const auto tree_before = read_file(dir.path() / "tree");
    Bytes big(kMaxBlockBytes + 1);
    const ByteView batch[] = {as_bytes("b"), big};
    auto r = feed->append(batch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::TooLarge);
    EXPECT_EQ(feed->length(), 1u);
    EXPECT_EQ(read_file(dir.path() / "tree"), tree_before);
    EXPECT_EQ(read_file(dir.path() / "data"), to_bytes("a"));
}

TEST(Feed, ReadOnlyWithoutSecretKey) {
    TempDir dir;
    {
        auto feed = open_dir(dir.path());
        ASSERT_TRUE(feed->append(as_bytes("x")).ok());
    }
    auto feed = open_dir(dir.path(), testutil::seeded_reader_options(kSeed));
    ASSERT_TRUE(feed);
    EXPECT_FALSE(feed->writable());
    auto r = feed->append(as_bytes("y"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::NotWritable);
}

TEST(Feed, WrongKeyIsRefused) {
    TempDir dir;
    { ASSERT_TRUE(open_dir(dir.path())); }
    FeedOptions o;
    o.key = crypto::keypair_from_seed(Bytes(32, 9)).public_key;
    auto f = Feed::open(directory_storage(dir.path()), o);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.error().message.find("Another hypercore is stored here"), std::string::npos);
}

TEST(Feed, ReadOnlyOpenWritesNothing) {
    TempDir dir;
    {
        auto feed = open_dir(dir.path());
        ASSERT_TRUE(feed->append(as_bytes("x")).ok());
    }
    const auto before = read_file(dir.path() / "tree");
    const auto mtime = std::filesystem::last_write_time(dir.path() / "tree");
    auto feed = open_dir(dir.path(), {}, true);
    ASSERT_TRUE(feed);
    EXPECT_EQ(feed->length(), 1u);
    EXPECT_EQ(*feed->get(0), to_bytes("x"));
    EXPECT_EQ(feed->append(as_bytes("y")).error().code, Errc::NotWritable);
    EXPECT_EQ(read_file(dir.path() / "tree"), before);
    EXPECT_EQ(std::filesystem::last_write_time(dir.path() / "tree"), mtime);
}

TEST(Feed, ReadOnlyOpenOfMissingCoreFails) {
    TempDir dir;
    auto f = Feed::open(directory_storage(dir.path() / "nothing", {true, true}), {});
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Errc::NotFound);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "nothing"));
}

TEST(Feed, MemoryStorageKeepsDataAcrossReopen) {
    MemoryStorage mem;
    {
        auto f = Feed::open(mem.provider("a"), writer_options());
        ASSERT_TRUE(f.ok());
        ASSERT_TRUE((*f)->append(as_bytes("hello")).ok());
        ASSERT_TRUE((*f)->append(as_bytes("world")).ok());
    }
    auto f = Feed::open(mem.provider("a"), testutil::seeded_reader_options(kSeed));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->length(), 2u);
    EXPECT_EQ(*(*f)->get(1), to_bytes("world"));
    EXPECT_TRUE(verify_feed(**f).ok());
}

TEST(Feed, CorruptDataIsReportedByVerify) {
    TempDir dir;
    {
        auto feed = open_dir(dir.path());
        const ByteView blocks[] = {as_bytes("hello"), as_bytes("world")};
        ASSERT_TRUE(feed->append(blocks).ok());
    }
    const auto report = flip_and_verify(dir.path(), "data", 7, 0x40);
    ASSERT_TRUE(report);
    ASSERT_EQ(report->problems.size(), 1u);
    EXPECT_EQ(report->problems[0].file, "data");
    EXPECT_NE(report->problems[0].message.find("block 1"), std::string::npos);
}

TEST(Feed, CorruptSignatureIsReportedByVerify) {
    TempDir dir;
    {
        auto feed = open_dir(dir.path());
        ASSERT_TRUE(feed->append(as_bytes("hello")).ok());
    }
    const auto report = flip_and_verify(dir.path(), "signatures", 40, 1);
    ASSERT_TRUE(report);
    ASSERT_FALSE(report->ok());
    EXPECT_EQ(report->problems[0].file, "signatures");
}

TEST(Feed, TruncatedFilesGiveErrorsNamingTheFile) {
    TempDir dir;
    {
        auto feed = open_dir(dir.path());
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(feed->append(as_bytes("block")).ok());
    }
    // Truncated data: blocks past the end fail with an error naming the data file.
    std::filesystem::resize_file(dir.path() / "data", 20);
    {
        auto feed = open_dir(dir.path(), {}, true);
        ASSERT_TRUE(feed);
        EXPECT_TRUE(feed->get(3).ok());
        auto r = feed->get(5);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::Corrupt);
        EXPECT_NE(r.error().message.find("data file"), std::string::npos);
        EXPECT_FALSE(verify_feed(*feed).ok());
    }
    // A garbage tree header is refused with an error naming the tree file.
    auto tree = read_file(dir.path() / "tree");
    tree[0] = 0;
    testutil::write_file(dir.path() / "tree", tree);
    auto f = Feed::open(directory_storage(dir.path(), {true, true}), {});
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.error().message.find("tree"), std::string::npos);
}

TEST(Feed, TruncatedTreeStillOpensAShorterLog) {
    TempDir dir;
    {
        auto feed = open_dir(dir.path());
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(feed->append(as_bytes("block")).ok());
    }
    // Cut the last leaf (node 4): the roots of length 3 cannot be read; like hypercore 9, the
    // open retries once with length 2.
    std::filesystem::resize_file(dir.path() / "tree", 32 + 40 * 4);
    {
        auto feed = open_dir(dir.path(), {}, true);
        ASSERT_TRUE(feed);
        EXPECT_EQ(feed->length(), 2u);
        EXPECT_EQ(*feed->get(1), to_bytes("block"));
    }
    // Cut more: no length can be read; the error names the tree file.
    std::filesystem::resize_file(dir.path() / "tree", 32 + 40 * 1);
    auto f = Feed::open(directory_storage(dir.path(), {true, true}), {});
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Errc::Corrupt);
    EXPECT_NE(f.error().message.find("tree file"), std::string::npos);
}

}  // namespace
}  // namespace hs::hypercore
