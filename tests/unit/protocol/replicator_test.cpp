// Two cores replicating over two in-memory Streams wired back to back.
#include "v9/protocol/replicator.h"

#include <gtest/gtest.h>

#include "testutil/feed_pair.h"

#include <random>

#include "common/crypto/derive.h"
#include "v9/hypercore/verify.h"

namespace hs::protocol {
namespace {

using hypercore::Feed;
using hypercore::FeedOptions;
using hypercore::MemoryStorage;

struct Events : StreamEvents {
    std::optional<Error> closed;
    std::function<void(Stream&, const crypto::Hash32&)> on_dk;
    void on_handshake(Stream&) override {}
    void on_discovery_key(Stream& s, const crypto::Hash32& dk) override {
        if (on_dk) on_dk(s, dk);
    }
    void on_close(Stream&, const Error& reason) override { closed = reason; }
};

struct Wire {
    Events ea, eb;
    Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
    std::unique_ptr<Stream> a, b;
    std::mt19937 rng{3};

    Wire() {
        StreamOptions oa;
        oa.initiator = true;
        oa.static_keys = random_noise_keypair();
        StreamOptions ob;
        ob.static_keys = random_noise_keypair();
        a = std::make_unique<Stream>(oa, ea, now);
        b = std::make_unique<Stream>(ob, eb, now);
    }
    // The uploading replicator on end a, the downloading one on end b; false if either refuses.
    bool link(FeedReplicator& up, FeedReplicator& down) {
        return up.add_stream(*a).ok() && down.add_stream(*b).ok();
    }
    // Moves bytes both ways in random chunks until neither side has output.
    void run(int max_rounds = 100000) {
        for (int i = 0; i < max_rounds; ++i) {
            bool moved = move(*a, *b) | move(*b, *a);
            if (!moved) return;
        }
        ADD_FAILURE() << "the streams never went quiet";
    }
    bool move(Stream& from, Stream& to) {
        auto out = from.pending_output();
        if (out.empty() || from.closed()) return false;
        const std::size_t n = std::min<std::size_t>(out.size(), 1 + rng() % 70000);
        Bytes chunk(out.begin(), out.begin() + n);
        from.consume_output(n);
        if (!to.closed()) (void)to.receive(chunk, now);
        return true;
    }
};

struct Cores {
    MemoryStorage mem;
    std::unique_ptr<Feed> writer, reader;
    std::vector<Bytes> blocks;
    explicit Cores(std::size_t n, std::size_t size = 100, std::uint8_t seed = 9) {
        auto pair = testutil::make_feed_pair(mem, seed);
        writer = std::move(pair.writer);
        reader = std::move(pair.reader);
        std::mt19937 rng(1);
        for (std::size_t i = 0; i < n; ++i) {
            Bytes b(size);
            for (auto& c : b) c = static_cast<std::uint8_t>(rng());
            blocks.push_back(b);
        }
        for (std::size_t i = 0; i < n; i += 50) {
            std::vector<ByteView> v(blocks.begin() + i, blocks.begin() + std::min(n, i + 50));
            EXPECT_TRUE(writer->append(v).ok());
        }
    }
};

TEST(Replicator, FullDownload) {
    Wire wire;
    Cores cores(3000);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    std::size_t downloaded = 0, uploaded = 0;
    down.on_download = [&](std::uint64_t, std::size_t) { ++downloaded; };
    up.on_upload = [&](std::uint64_t, std::size_t) { ++uploaded; };
    ASSERT_TRUE(wire.link(up, down));
    const auto id = down.download({0, 3000});
    wire.run();
    EXPECT_FALSE(wire.ea.closed.has_value());
    EXPECT_TRUE(down.done(id));
    EXPECT_TRUE(down.synced());
    EXPECT_EQ(downloaded, 3000u);
    EXPECT_EQ(uploaded, 3000u);
    EXPECT_EQ(cores.reader->length(), 3000u);
    for (std::size_t i = 0; i < 3000; i += 97) EXPECT_EQ(*cores.reader->get(i), cores.blocks[i]);
    EXPECT_TRUE(hypercore::verify_feed(*cores.reader).ok());
}

TEST(Replicator, SparseRangeOnly) {
    Wire wire;
    Cores cores(500);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    ASSERT_TRUE(wire.link(up, down));
    const auto id = down.download({100, 150});
    wire.run();
    EXPECT_TRUE(down.done(id));
    EXPECT_EQ(cores.reader->downloaded(0, 500), 50u);
    EXPECT_TRUE(cores.reader->has(100, 150));
    EXPECT_FALSE(cores.reader->has(99));
    EXPECT_FALSE(cores.reader->has(150));
}

TEST(Replicator, LiveAppendsPropagate) {
    Wire wire;
    Cores cores(10);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    ASSERT_TRUE(wire.link(up, down));
    down.download({0, std::nullopt});
    wire.run();
    EXPECT_EQ(cores.reader->length(), 10u);
    for (int round = 0; round < 5; ++round) {
        const std::uint64_t start = cores.writer->length();
        const ByteView batch[] = {as_bytes("live-a"), as_bytes("live-b")};
        ASSERT_TRUE(cores.writer->append(batch).ok());
        up.announce_append(start, 2);
        wire.run();
        EXPECT_EQ(cores.reader->length(), start + 2);
        EXPECT_EQ(*cores.reader->get(start + 1), to_bytes("live-b"));
    }
    EXPECT_TRUE(down.synced());
}

// hypercore 9 update(): a head download with `hash` fetches only the newest block's proof. The
// length grows (on_length fires) but no block is stored or reported, so a later download of
// that block still fetches it and reports it.
TEST(Replicator, HashOnlyHeadGrowsTheLengthWithoutTheBlock) {
    Wire wire;
    Cores cores(5);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    std::vector<std::uint64_t> downloads, uploads;
    int lengths = 0;
    down.on_download = [&](std::uint64_t i, std::size_t) { downloads.push_back(i); };
    down.on_length = [&] { ++lengths; };
    up.on_upload = [&](std::uint64_t i, std::size_t) { uploads.push_back(i); };
    ASSERT_TRUE(wire.link(up, down));
    DownloadRange head;
    head.start = 0;
    head.head = true;
    head.hash = true;
    const auto id = down.download(head);
    wire.run();
    EXPECT_EQ(cores.reader->length(), 5u);
    EXPECT_EQ(cores.reader->downloaded(0, 5), 0u);
    EXPECT_FALSE(cores.reader->has(4));
    EXPECT_EQ(lengths, 1);
    EXPECT_TRUE(downloads.empty());
    EXPECT_TRUE(uploads.empty());  // a hash-only answer is no upload (hypercore 9)
    down.undownload(id);

    const auto one = down.download({4, 5});
    wire.run();
    EXPECT_TRUE(down.done(one));
    EXPECT_EQ(downloads, std::vector<std::uint64_t>{4});
    EXPECT_EQ(uploads, std::vector<std::uint64_t>{4});
    EXPECT_EQ(*cores.reader->get(4), cores.blocks[4]);
    EXPECT_EQ(lengths, 1);  // the length did not grow again
}

// Without `hash` (update({hash: false})), the newest block itself is fetched.
TEST(Replicator, HeadWithDataFetchesTheNewestBlock) {
    Wire wire;
    Cores cores(5);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    std::vector<std::uint64_t> downloads;
    down.on_download = [&](std::uint64_t i, std::size_t) { downloads.push_back(i); };
    ASSERT_TRUE(wire.link(up, down));
    DownloadRange head;
    head.head = true;
    down.download(head);
    wire.run();
    EXPECT_EQ(cores.reader->length(), 5u);
    EXPECT_TRUE(cores.reader->has(4));
    EXPECT_EQ(downloads, std::vector<std::uint64_t>{4});
}

TEST(Replicator, BothDirectionsOnOneStream) {
    Wire wire;
    Cores one(40, 100, 1), two(60, 100, 2);
    // Each side writes one core and reads the other.
    FeedReplicator w1(*one.writer), r1(*one.reader), w2(*two.writer), r2(*two.reader);
    ASSERT_TRUE(w1.add_stream(*wire.a).ok());
    ASSERT_TRUE(r2.add_stream(*wire.a).ok());
    ASSERT_TRUE(r1.add_stream(*wire.b).ok());
    ASSERT_TRUE(w2.add_stream(*wire.b).ok());
    r1.download({0, 40});
    r2.download({0, 60});
    wire.run();
    EXPECT_EQ(one.reader->downloaded(0, 40), 40u);
    EXPECT_EQ(two.reader->downloaded(0, 60), 60u);
}

// A feed that claims `key` but holds `blocks` blocks signed with another key pair: none of its
// proofs verify. Its files live in `mem`.
std::unique_ptr<Feed> make_liar(MemoryStorage& mem, const crypto::PublicKey& key, int blocks) {
    const auto evil = crypto::keypair_from_seed(Bytes(32, 66));
    FeedOptions fo;
    fo.key = evil.public_key;
    fo.secret_key = evil.secret_key;
    {
        auto forged = std::move(Feed::open(mem.provider("forged"), fo).value());
        for (int i = 0; i < blocks; ++i) EXPECT_TRUE(forged->append(as_bytes("forged")).ok());
    }
    auto src = mem.provider("forged");
    auto dst = mem.provider("liar");
    for (const char* f : {"tree", "data", "bitfield", "signatures"}) {
        auto in = std::move(src->open(f).value());
        auto out = std::move(dst->open(f).value());
        Bytes all(*in->size());
        EXPECT_TRUE(in->read(0, all).ok());
        EXPECT_TRUE(out->write(0, all).ok());
    }
    FeedOptions lo;
    lo.key = key;
    return std::move(Feed::open(mem.provider("liar"), lo).value());
}

TEST(Replicator, WrongCoreDataClosesTheStreamAndStoresNothing) {
    Wire wire;
    Cores cores(20);
    MemoryStorage other;
    auto liar = make_liar(other, cores.writer->key(), 20);
    ASSERT_EQ(liar->length(), 20u);
    FeedReplicator up(*liar), down(*cores.reader);
    ASSERT_TRUE(wire.link(up, down));
    down.download({0, 20});
    wire.run();
    ASSERT_TRUE(wire.eb.closed.has_value());
    EXPECT_NE(wire.eb.closed->message.find("does not verify"), std::string::npos) << wire.eb.closed->message;
    EXPECT_EQ(cores.reader->downloaded(0, 20), 0u);
    EXPECT_EQ(cores.reader->length(), 0u);
}

// One lying peer is cut off; the honest peer on another stream still delivers everything.
TEST(Replicator, BadPeerDoesNotDisturbOthers) {
    Wire bad, good;
    Cores cores(200);
    MemoryStorage other;
    auto liar = make_liar(other, cores.writer->key(), 200);
    FeedReplicator liar_up(*liar), honest_up(*cores.writer), down(*cores.reader);
    ASSERT_TRUE(bad.link(liar_up, down));
    ASSERT_TRUE(good.link(honest_up, down));
    const auto id = down.download({0, 200});
    bad.run();  // the liar answers first: its stream closes
    ASSERT_TRUE(bad.eb.closed.has_value());
    good.run();
    EXPECT_FALSE(good.eb.closed.has_value());
    EXPECT_TRUE(down.done(id));
    EXPECT_EQ(cores.reader->downloaded(0, 200), 200u);
    EXPECT_TRUE(hypercore::verify_feed(*cores.reader).ok());
}

TEST(Replicator, UnansweredRequestsTimeOut) {
    Wire wire;
    Cores cores(50);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    ASSERT_TRUE(wire.link(up, down));
    wire.run();  // handshake, opens, wants and haves
    down.tick(wire.now);
    down.download({0, 50});
    // The requests reach the uploader, but its answers are lost.
    ASSERT_GT(wire.b->pending_output().size(), 0u);
    while (wire.move(*wire.b, *wire.a)) {
    }
    ASSERT_GT(wire.a->pending_output().size(), 0u);
    wire.a->consume_output(wire.a->pending_output().size());
    down.tick(wire.now + std::chrono::seconds(5));
    EXPECT_FALSE(wire.b->closed());
    down.tick(wire.now + kStreamTimeout + std::chrono::seconds(1));
    ASSERT_TRUE(wire.b->closed());
    ASSERT_TRUE(wire.eb.closed.has_value());
    EXPECT_NE(wire.eb.closed->message.find("Request timeout"), std::string::npos);
}

// A peer that requests without ever reading the answers is cut off before our buffered output
// passes a bound.
TEST(Replicator, RequestFloodClosesTheStream) {
    Wire wire;
    Cores cores(140, 1 << 20);  // 1 MiB blocks: one round of requests asks for 140 MiB
    FeedReplicator up(*cores.writer);
    ASSERT_TRUE(up.add_stream(*wire.a).ok());
    // The flooding side opens the core with a handler that only sends requests.
    struct Flooder : ChannelHandler {
        void on_remote_open(Channel&) override {}
        Status on_message(Channel&, const msg::Message&) override { return {}; }
        void on_close(Channel&) override {}
    } flooder;
    Channel* ch = wire.b->open(cores.writer->key(), flooder);
    ASSERT_NE(ch, nullptr);
    wire.run();
    for (std::uint64_t round = 0; round < 3 && !wire.a->closed(); ++round) {
        for (std::uint64_t i = 0; i < 140; ++i) {
            msg::Request r;
            r.index = i;
            ch->send(r);
        }
        // Deliver the requests; never read the answers.
        while (wire.move(*wire.b, *wire.a)) {
        }
    }
    ASSERT_TRUE(wire.a->closed());
    ASSERT_TRUE(wire.ea.closed.has_value());
    EXPECT_NE(wire.ea.closed->message.find("floods requests"), std::string::npos) << wire.ea.closed->message;
    EXPECT_LE(wire.a->output_bytes(), (std::size_t{128} << 20) + (std::size_t{2} << 20));
}

TEST(Replicator, CoreExtensionsByName) {
    Wire wire;
    Cores cores(3);
    FeedReplicator up(*cores.writer), down(*cores.reader);
    // Different registrations on each side: ids index the sender's sorted list.
    up.set_extensions({"zeta", "chat"});
    down.set_extensions({"chat", "alpha", "beta"});
    std::vector<std::string> got_down, got_up;
    down.on_extension = [&](std::string_view name, ByteView payload, Stream&) {
        got_down.push_back(std::string(name) + ":" + std::string(as_string(payload)));
    };
    up.on_extension = [&](std::string_view name, ByteView payload, Stream&) {
        got_up.push_back(std::string(name) + ":" + std::string(as_string(payload)));
    };
    ASSERT_TRUE(wire.link(up, down));
    wire.run();
    ASSERT_TRUE(up.send_extension("chat", as_bytes("hi from up")).ok());
    ASSERT_TRUE(up.send_extension("zeta", as_bytes("not registered there")).ok());
    ASSERT_TRUE(down.send_extension("chat", as_bytes("hi from down")).ok());
    EXPECT_EQ(down.send_extension("nope", as_bytes("x")).error().code, Errc::NotFound);
    wire.run();
    EXPECT_EQ(got_down, std::vector<std::string>{"chat:hi from up"});
    EXPECT_EQ(got_up, std::vector<std::string>{"chat:hi from down"});
}

}  // namespace
}  // namespace hs::protocol
