// v11::replication::Replicator (src/v11/replication): replicators over in-memory protomux pairs,
// with fake time. Full download, sparse ranges and gets, live appends, truncate + append
// followed, two readers (one from the other), lying peers (tampered block, bad upgrade
// signature, wrong capability, malformed message) cut off with the reader's storage unchanged,
// timeouts, and extensions both ways. Against JS hypercore 11: tests/interop/replicate_v11.test.js.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "common/crypto/sign.h"
#include "v11/compact/compact.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/memory_storage.h"
#include "v11/hypercore/messages.h"
#include "v11/replication/replicator.h"

namespace hs::v11::replication {
namespace {

namespace hc = hypercore;
namespace wire = hypercore::wire;

Bytes block_value(std::uint64_t i, std::size_t size = 0) {
    const std::string s = "block-" + std::to_string(i) + std::string(size, static_cast<char>('a' + i % 26));
    return Bytes(s.begin(), s.end());
}

hc::KeyPair key_pair(std::uint8_t seed) {
    const auto kp = crypto::keypair_from_seed(Bytes(32, seed));
    return hc::KeyPair{kp.public_key, kp.secret_key};
}

std::unique_ptr<hc::Core> make_writer(std::uint8_t seed = 1) {
    const auto kp = key_pair(seed);
    auto core = hc::Core::create(std::make_unique<hc::MemoryStorage>(), hc::default_manifest(kp.public_key), kp);
    EXPECT_TRUE(core.ok());
    return std::move(core).value();
}

std::unique_ptr<hc::Core> make_reader(const hc::Hash& key) {
    auto core = hc::Core::create_by_key(std::make_unique<hc::MemoryStorage>(), key);
    EXPECT_TRUE(core.ok());
    return std::move(core).value();
}

void append(hc::Core& core, std::uint64_t from, std::uint64_t to, std::size_t size = 0) {
    std::vector<Bytes> values;
    for (std::uint64_t i = from; i < to; ++i) values.push_back(block_value(i, size));
    std::vector<ByteView> views(values.begin(), values.end());
    ASSERT_TRUE(core.append(views).ok());
}

// Everything a reader stores, for "unchanged" checks.
struct Snapshot {
    std::uint64_t length = 0, fork = 0;
    std::vector<hc::BitRange> present;
    std::map<std::uint64_t, Bytes> blocks;
    bool operator==(const Snapshot& o) const {
        if (length != o.length || fork != o.fork || blocks != o.blocks || present.size() != o.present.size()) return false;
        for (std::size_t i = 0; i < present.size(); ++i)
            if (present[i].start != o.present[i].start || present[i].length != o.present[i].length) return false;
        return true;
    }
};
Snapshot snapshot(hc::Core& core) {
    Snapshot s;
    s.length = core.length();
    s.fork = core.fork();
    s.present = core.present_ranges();
    for (const auto& r : s.present)
        for (std::uint64_t i = r.start; i < r.start + r.length; ++i) s.blocks[i] = core.get(i).value();
    return s;
}

struct Node {
    std::unique_ptr<hc::Core> core;
    std::unique_ptr<Replicator> rep;
    std::vector<std::string> errors;
    std::vector<std::string> extension_messages;
    std::uint64_t downloaded = 0, uploaded = 0;

    explicit Node(std::unique_ptr<hc::Core> c, ReplicatorOptions options = {}) : core(std::move(c)) {
        ReplicatorEvents ev;
        ev.on_peer_error = [this](PeerId, const Error& e) { errors.push_back(e.message); };
        ev.on_download = [this](std::uint64_t, std::uint64_t, PeerId) { ++downloaded; };
        ev.on_upload = [this](std::uint64_t, std::uint64_t, PeerId) { ++uploaded; };
        rep = std::make_unique<Replicator>(*core, options, std::move(ev));
    }
};

const Bytes kHandshakeHash(64, 0x42);

// Two muxes wired to each other through queues; run() delivers until both are quiet.
struct Link {
    std::deque<Bytes> to_a, to_b;
    protomux::Mux a{[this](Bytes m) { to_b.push_back(std::move(m)); }};
    protomux::Mux b{[this](Bytes m) { to_a.push_back(std::move(m)); }};
    // Each may rewrite or drop (return false) a message in flight.
    std::function<bool(Bytes&)> filter_to_a, filter_to_b;
    bool step() {
        bool moved = false;
        if (!to_b.empty()) {
            Bytes m = std::move(to_b.front());
            to_b.pop_front();
            if (!filter_to_b || filter_to_b(m)) (void)b.receive(m);
            moved = true;
        }
        if (!to_a.empty()) {
            Bytes m = std::move(to_a.front());
            to_a.pop_front();
            if (!filter_to_a || filter_to_a(m)) (void)a.receive(m);
            moved = true;
        }
        return moved;
    }
};

struct Net {
    std::vector<std::unique_ptr<Link>> links;
    std::vector<std::pair<Node*, PeerId>> attached;
    Link& connect(Node& a, Node& b) {
        links.push_back(std::make_unique<Link>());
        Link& l = *links.back();
        attached.emplace_back(&a, a.rep->attach(l.a, true, kHandshakeHash, "b"));
        attached.emplace_back(&b, b.rep->attach(l.b, false, kHandshakeHash, "a"));
        return l;
    }
    void run(std::size_t max_steps = 1000000) {
        for (std::size_t i = 0; i < max_steps; ++i) {
            bool moved = false;
            for (auto& l : links) moved |= l->step();
            if (!moved) return;
        }
        ADD_FAILURE() << "the replicators never went quiet";
    }
    ~Net() {
        for (auto& [node, id] : attached) node->rep->detach(id);
    }
};

// ---- Decoding what flows, for the tampering tests -------------------------------------------

// Splits one transport message into (channel, type, payload) triples (batches included).
std::vector<std::tuple<std::uint64_t, std::uint64_t, Bytes>> split(ByteView m) {
    namespace c = compact;
    std::vector<std::tuple<std::uint64_t, std::uint64_t, Bytes>> out;
    c::DecodeState s(m);
    auto ch = c::Uint::decode(s);
    auto type = c::Uint::decode(s);
    if (!ch || !type) return out;
    if (*ch == 0 && *type == 0) {
        auto channel = c::Uint::decode(s);
        if (!channel) return out;
        std::uint64_t current = *channel;
        while (s.remaining() > 0) {
            auto len = c::Uint::decode(s);
            if (!len) return out;
            if (*len == 0) {
                auto next = c::Uint::decode(s);
                if (!next) return out;
                current = *next;
                continue;
            }
            auto body = s.take(*len, "batch item");
            if (!body) return out;
            c::DecodeState b(*body);
            auto t = c::Uint::decode(b);
            if (!t) return out;
            out.emplace_back(current, *t, Bytes(body->begin() + b.start, body->end()));
        }
        return out;
    }
    out.emplace_back(*ch, *type, Bytes(m.begin() + s.start, m.end()));
    return out;
}

Bytes frame(std::uint64_t channel, std::uint64_t type, const Bytes& payload) {
    namespace c = compact;
    Bytes out = c::encode<c::Uint>(channel);
    const Bytes t = c::encode<c::Uint>(type);
    out.insert(out.end(), t.begin(), t.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

// Rewrites every data message in `m` with `edit` (returns the new transport message: batches are
// sent again item by item, which protomux accepts as separate messages are equivalent).
std::vector<Bytes> rewrite_data(ByteView m, const std::function<void(wire::Data&)>& edit) {
    std::vector<Bytes> out;
    for (auto& [ch, type, payload] : split(m)) {
        if (ch != 0 && type == static_cast<std::uint64_t>(wire::Type::data)) {
            auto d = wire::decode_data(payload);
            edit(d);
            out.push_back(frame(ch, type, wire::encode(d)));
        } else if (ch != 0) {
            out.push_back(frame(ch, type, payload));
        } else {
            out.emplace_back(m.begin(), m.end());
            return out;
        }
    }
    return out;
}

// ---- Tests ----------------------------------------------------------------------------------

TEST(RangeSet, InsertEraseFindAndWords) {
    RangeSet s;
    s.insert(10, 20);
    s.insert(20, 25);  // touches: merges
    s.insert(5, 7);
    EXPECT_EQ(s.ranges(), 2u);
    EXPECT_TRUE(s.contains(24));
    EXPECT_FALSE(s.contains(25));
    EXPECT_EQ(s.next_set(7), 10u);
    EXPECT_EQ(s.next_unset(10), 25u);
    s.erase(12, 14);
    EXPECT_FALSE(s.contains(12));
    EXPECT_TRUE(s.contains(14));
    EXPECT_EQ(s.ranges(), 3u);
    s.assign_words(0, std::vector<std::uint32_t>{0x0000000f, 0});  // 0..3 set, 4..63 unset
    EXPECT_TRUE(s.contains(3));
    EXPECT_FALSE(s.contains(5));
    EXPECT_FALSE(s.contains(14));
    EXPECT_EQ(s.next_set(4), std::numeric_limits<std::uint64_t>::max());
}

TEST(Replication, FullDownload) {
    Node w(make_writer());
    append(*w.core, 0, 300, 100);
    Node r(make_reader(w.core->key()));
    Net net;
    net.connect(w, r);
    bool done = false;
    r.rep->download(0, 300, [&](Status s) { done = s.ok(); });
    net.run();
    EXPECT_TRUE(done);
    EXPECT_EQ(r.core->length(), 300u);
    EXPECT_EQ(r.core->contiguous_length(), 300u);
    EXPECT_EQ(r.core->get(123).value(), block_value(123, 100));
    EXPECT_TRUE(r.core->manifest().has_value());
    EXPECT_EQ(r.downloaded, 300u);
    EXPECT_EQ(w.uploaded, 300u);
    EXPECT_TRUE(r.errors.empty());
    EXPECT_TRUE(w.errors.empty());
}

TEST(Replication, UpdateThenGetSparse) {
    Node w(make_writer());
    append(*w.core, 0, 100);
    Node r(make_reader(w.core->key()));
    Net net;
    net.connect(w, r);
    bool upgraded = false;
    r.rep->update([&](bool u) { upgraded = u; });
    net.run();
    EXPECT_TRUE(upgraded);
    EXPECT_EQ(r.core->length(), 100u);
    EXPECT_EQ(r.core->count(0, 100), 0u);
    std::optional<Bytes> got;
    r.rep->get(57, [&](Result<Bytes> v) { got = v.value(); });
    bool range_done = false;
    r.rep->download(10, 20, [&](Status s) { range_done = s.ok(); });
    net.run();
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, block_value(57));
    EXPECT_TRUE(range_done);
    EXPECT_EQ(r.core->count(0, 100), 11u);  // 10..19 and 57, nothing else
    EXPECT_TRUE(r.core->has(57));
    EXPECT_FALSE(r.core->has(20));
}

TEST(Replication, LiveAppendsAreFollowed) {
    Node w(make_writer());
    append(*w.core, 0, 5);
    Node r(make_reader(w.core->key()));
    Net net;
    net.connect(w, r);
    r.rep->download(0, std::nullopt);
    net.run();
    EXPECT_EQ(r.core->contiguous_length(), 5u);
    for (std::uint64_t n = 5; n < 50; n += 5) {
        append(*w.core, n, n + 5);
        net.run();
        EXPECT_EQ(r.core->length(), n + 5);
        EXPECT_EQ(r.core->contiguous_length(), n + 5);
    }
    EXPECT_EQ(r.core->get(49).value(), block_value(49));
}

TEST(Replication, ReaderFollowsTruncateAndAppend) {
    Node w(make_writer());
    append(*w.core, 0, 10);
    Node r(make_reader(w.core->key()));
    Net net;
    net.connect(w, r);
    r.rep->download(0, std::nullopt);
    net.run();
    ASSERT_EQ(r.core->contiguous_length(), 10u);
    ASSERT_TRUE(w.core->truncate(6).ok());
    std::vector<Bytes> values{to_bytes("new-6"), to_bytes("new-7"), to_bytes("new-8")};
    std::vector<ByteView> views(values.begin(), values.end());
    ASSERT_TRUE(w.core->append(views).ok());
    net.run();
    EXPECT_EQ(r.core->fork(), w.core->fork());
    EXPECT_EQ(r.core->length(), 9u);
    EXPECT_EQ(r.core->get(5).value(), block_value(5));
    auto b7 = r.core->get(7);
    ASSERT_TRUE(b7.ok());
    EXPECT_EQ(*b7, to_bytes("new-7"));
    EXPECT_TRUE(r.errors.empty());
}

TEST(Replication, TwoReadersOneFromTheOther) {
    Node w(make_writer());
    append(*w.core, 0, 64);
    Node r1(make_reader(w.core->key()));
    Node r2(make_reader(w.core->key()));
    Net net;
    net.connect(w, r1);
    r1.rep->download(0, 64);
    net.run();
    ASSERT_EQ(r1.core->contiguous_length(), 64u);
    // r2 only meets r1.
    net.connect(r1, r2);
    bool done = false;
    r2.rep->download(0, 64, [&](Status s) { done = s.ok(); });
    net.run();
    EXPECT_TRUE(done);
    EXPECT_EQ(r2.core->get(63).value(), block_value(63));
    EXPECT_EQ(r1.uploaded, 64u);
}

TEST(Replication, TwoSeedersShareTheWork) {
    Node w(make_writer());
    append(*w.core, 0, 200);
    Node s(make_reader(w.core->key()));
    {
        Net net;
        net.connect(w, s);
        s.rep->download(0, 200);
        net.run();
    }
    ASSERT_EQ(s.core->contiguous_length(), 200u);
    Node r(make_reader(w.core->key()));
    Net net;
    net.connect(w, r);
    net.connect(s, r);
    bool done = false;
    r.rep->download(0, 200, [&](Status st) { done = st.ok(); });
    net.run();
    EXPECT_TRUE(done);
    EXPECT_EQ(r.downloaded, 200u);
    EXPECT_GT(w.uploaded, 200u);  // the first 200 went to s
    EXPECT_GT(s.uploaded, 0u);    // and s served some of r's
}

TEST(Replication, TamperedBlockCutsThePeerOffAndStoresNothing) {
    Node w(make_writer());
    append(*w.core, 0, 20);
    Node r(make_reader(w.core->key()));
    Net net;
    Link& l = net.connect(w, r);
    bool upgraded = false;
    r.rep->update([&](bool u) { upgraded = u; });
    net.run();
    ASSERT_TRUE(upgraded);
    const Snapshot before = snapshot(*r.core);
    l.filter_to_b = [&](Bytes& m) {
        auto parts = rewrite_data(m, [](wire::Data& d) {
            if (d.proof.block && !d.proof.block->value.empty()) d.proof.block->value[0] ^= 1;
        });
        for (std::size_t i = 1; i < parts.size(); ++i) (void)l.b.receive(parts[i]);
        m = parts.empty() ? m : parts[0];
        return true;
    };
    std::optional<Error> failed;
    r.rep->get(3, [&](Result<Bytes> v) { if (!v) failed = v.error(); }, std::chrono::seconds(5));
    net.run();
    EXPECT_EQ(snapshot(*r.core), before);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].find("failed verification"), std::string::npos) << r.errors[0];
    ASSERT_EQ(r.rep->peers().size(), 1u);
    EXPECT_TRUE(r.rep->peers()[0].cut_off);
    EXPECT_EQ(r.rep->opened_peers(), 0u);
    // The get times out (the only peer is gone).
    r.rep->tick(TimePoint{} + std::chrono::seconds(1));
    r.rep->tick(TimePoint{} + std::chrono::seconds(10));
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->code, Errc::NotFound);
}

TEST(Replication, BadUpgradeSignatureCutsThePeerOff) {
    Node w(make_writer());
    append(*w.core, 0, 20);
    Node r(make_reader(w.core->key()));
    const Snapshot before = snapshot(*r.core);
    Net net;
    Link& l = net.connect(w, r);
    l.filter_to_b = [&](Bytes& m) {
        auto parts = rewrite_data(m, [](wire::Data& d) {
            if (d.proof.upgrade && !d.proof.upgrade->signature.empty()) d.proof.upgrade->signature[5] ^= 0x80;
        });
        for (std::size_t i = 1; i < parts.size(); ++i) (void)l.b.receive(parts[i]);
        m = parts.empty() ? m : parts[0];
        return true;
    };
    r.rep->download(0, 20);
    net.run();
    EXPECT_EQ(snapshot(*r.core), before);
    EXPECT_EQ(r.core->length(), 0u);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_TRUE(r.rep->peers()[0].cut_off);
}

TEST(Replication, WrongCapabilityCutsThePeerOff) {
    Node w(make_writer());
    append(*w.core, 0, 20);
    Node r(make_reader(w.core->key()));
    const Snapshot before = snapshot(*r.core);
    Link l;
    // The writer believes in another handshake hash: its capability is wrong for the reader.
    const PeerId wp = w.rep->attach(l.a, true, Bytes(64, 0x01), "r");
    const PeerId rp = r.rep->attach(l.b, false, kHandshakeHash, "w");
    r.rep->download(0, 20);
    while (l.step()) {
    }
    EXPECT_EQ(snapshot(*r.core), before);
    ASSERT_FALSE(r.errors.empty());
    EXPECT_NE(r.errors[0].find("capability"), std::string::npos) << r.errors[0];
    EXPECT_FALSE(w.errors.empty());  // and the writer refuses the reader's (right) one likewise
    EXPECT_EQ(w.uploaded, 0u);
    r.rep->detach(rp);
    w.rep->detach(wp);
}

TEST(Replication, MalformedMessageCutsThePeerOff) {
    Node w(make_writer());
    append(*w.core, 0, 4);
    Node r(make_reader(w.core->key()));
    Net net;
    Link& l = net.connect(w, r);
    net.run();
    ASSERT_EQ(r.rep->opened_peers(), 1u);
    // A sync of one byte 0xff (a uint that needs 8 more bytes) on the reader's channel.
    std::uint64_t channel = 0;
    l.filter_to_b = [&](Bytes& m) {
        for (auto& [ch, type, payload] : split(m))
            if (ch != 0) channel = ch;
        return true;
    };
    append(*w.core, 4, 5);
    net.run();
    ASSERT_NE(channel, 0u);
    l.to_b.push_back(frame(channel, 0, Bytes{0xff}));
    net.run();
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].find("malformed"), std::string::npos);
}

TEST(Replication, UnansweredRequestsTimeOutAndGoElsewhere) {
    Node w(make_writer());
    append(*w.core, 0, 10);
    Node s(make_reader(w.core->key()));
    {
        Net net;
        net.connect(w, s);
        s.rep->download(0, 10);
        net.run();
    }
    Node r(make_reader(w.core->key()));
    r.rep->tick(TimePoint{} + std::chrono::seconds(100));
    Net net;
    Link& silent = net.connect(w, r);
    bool upgraded = false;
    r.rep->update([&](bool u) { upgraded = u; });
    net.run();
    ASSERT_TRUE(upgraded);
    // From now on the writer's answers are lost.
    silent.filter_to_b = [](Bytes& m) {
        for (auto& [ch, type, payload] : split(m))
            if (type == static_cast<std::uint64_t>(wire::Type::data)) return false;
        return true;
    };
    std::optional<Bytes> got;
    r.rep->get(4, [&](Result<Bytes> v) { if (v) got = *v; });
    net.run();
    EXPECT_FALSE(got);
    net.connect(s, r);
    net.run();
    // The block is in flight with the writer; once that request times out, s serves it.
    r.rep->tick(TimePoint{} + std::chrono::seconds(100) + std::chrono::seconds(30));
    net.run();
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, block_value(4));
}

TEST(Replication, ExtensionsBothWays) {
    Node w(make_writer());
    append(*w.core, 0, 1);
    Node r(make_reader(w.core->key()));
    std::vector<std::string> at_w, at_r;
    w.rep->register_extension("chat", [&](PeerId, ByteView m) { at_w.emplace_back(m.begin(), m.end()); });
    r.rep->register_extension("chat", [&](PeerId, ByteView m) { at_r.emplace_back(m.begin(), m.end()); });
    r.rep->register_extension("other", [&](PeerId, ByteView m) { at_r.push_back("other:" + std::string(m.begin(), m.end())); });
    Net net;
    net.connect(w, r);
    net.run();
    w.rep->broadcast_extension("chat", to_bytes("hello reader"));
    w.rep->broadcast_extension("chat", to_bytes("again"));  // sent with the name left out
    w.rep->broadcast_extension("other", to_bytes("x"));
    w.rep->broadcast_extension("unknown", to_bytes("dropped"));
    const auto peers = r.rep->peers();
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_TRUE(r.rep->send_extension("chat", peers[0].id, to_bytes("hello writer")));
    net.run();
    EXPECT_EQ(at_r, (std::vector<std::string>{"hello reader", "again", "other:x"}));
    EXPECT_EQ(at_w, (std::vector<std::string>{"hello writer"}));
}

TEST(Replication, CancelledGetAndDownloadReport) {
    Node w(make_writer());
    append(*w.core, 0, 3);
    Node r(make_reader(w.core->key()));
    std::optional<Errc> get_error, range_error;
    const RequestId g = r.rep->get(1, [&](Result<Bytes> v) { if (!v) get_error = v.error().code; });
    const RequestId d = r.rep->download(0, 3, [&](Status s) { if (!s) range_error = s.error().code; });
    r.rep->cancel(g);
    r.rep->cancel(d);
    EXPECT_EQ(get_error, Errc::Closed);
    EXPECT_EQ(range_error, Errc::Closed);
}

}  // namespace
}  // namespace hs::v11::replication
