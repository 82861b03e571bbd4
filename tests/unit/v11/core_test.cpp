// The second-generation Core (src/v11/hypercore/core.h) from writer to reader through proof() and
// verify_and_apply(): full and sparse downloads, upgrades, forks the reader follows, tampered
// proofs rejected with storage untouched, failed commits that leave no trace, reopening.
#include <gtest/gtest.h>

#include "unit/v11/core_helpers.h"
#include "v11/hypercore/bitfield.h"

namespace hs::v11::hypercore {
namespace {

using namespace testing;

std::vector<Bytes> make_blocks(std::uint64_t from, std::uint64_t n, std::uint8_t salt = 0) {
    std::vector<Bytes> out;
    for (std::uint64_t i = from; i < from + n; ++i) out.push_back(block_value(i, (i * 53) % 200 + (i % 4 == 0 ? 0 : 1), salt));
    return out;
}

Result<Applied> fetch(Core& reader, Core& writer, const ProofRequest& req) {
    auto p = writer.proof(req);
    if (!p) return p.error();
    return reader.verify_and_apply(*p);
}

void sync_upgrade(Core& reader, Core& writer) {
    if (reader.length() == writer.length() && reader.fork() == writer.fork()) return;
    auto a = fetch(reader, writer, upgrade_request(reader, writer));
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(reader.length(), writer.length());
    EXPECT_EQ(reader.fork(), writer.fork());
    EXPECT_EQ(reader.head(), writer.head());
}

void download(Core& reader, Core& writer, std::uint64_t index) {
    auto a = fetch(reader, writer, block_request(reader, writer, index));
    ASSERT_TRUE(a.ok()) << "block " << index << ": " << a.error().message;
    ASSERT_TRUE(reader.has(index));
    auto got = reader.get(index);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, *writer.get(index));
}

// Every block the reader has equals the writer's.
void expect_consistent(Core& reader, Core& writer) {
    for (std::uint64_t i = 0; i < reader.length(); ++i) {
        if (!reader.has(i)) continue;
        auto a = reader.get(i);
        ASSERT_TRUE(a.ok()) << a.error().message;
        ASSERT_TRUE(i < writer.length() && writer.has(i));
        EXPECT_EQ(*a, *writer.get(i)) << "block " << i;
    }
}

TEST(V11Core, WriterAppendsReadsSeeksAndReopens) {
    auto w = make_writer();
    ASSERT_TRUE(w.core);
    EXPECT_TRUE(w.core->writable());
    EXPECT_EQ(w.core->key(), core_key(default_manifest(key_pair(1).public_key)));
    const auto blocks = make_blocks(0, 37);
    ASSERT_EQ(*append(*w.core, {blocks.begin(), blocks.begin() + 10}), 10u);
    ASSERT_EQ(*append(*w.core, {blocks.begin() + 10, blocks.end()}), 37u);
    std::uint64_t offset = 0;
    for (std::uint64_t i = 0; i < blocks.size(); ++i) {
        EXPECT_TRUE(w.core->has(i));
        EXPECT_EQ(*w.core->get(i), blocks[i]);
        EXPECT_EQ(*w.core->byte_offset(i), offset);
        if (!blocks[i].empty()) {
            auto s = w.core->seek(offset + blocks[i].size() / 2);
            ASSERT_TRUE(s.ok());
            EXPECT_EQ(*s, (SeekResult{i, blocks[i].size() / 2}));
        }
        offset += blocks[i].size();
    }
    EXPECT_EQ(w.core->byte_length(), offset);
    EXPECT_EQ(*w.core->byte_offset(37), offset);
    EXPECT_FALSE(w.core->seek(offset + 1).ok());
    EXPECT_FALSE(w.core->get(37).ok());
    EXPECT_EQ(w.core->contiguous_length(), 37u);
    EXPECT_EQ(w.core->count(0, 100), 37u);
    // The head verifies, and storage reopens to the same core.
    const Verifier v(w.core->key(), *w.core->manifest(), false);
    EXPECT_TRUE(v.verify(w.core->head().root_hash, 37, 0, w.core->head().signature));
    const TreeHead head = w.core->head();
    w.core.reset();
    auto reopened = Core::open(std::make_unique<SharedStorage>(w.mem));
    ASSERT_TRUE(reopened.ok()) << reopened.error().message;
    EXPECT_EQ((*reopened)->head(), head);
    EXPECT_TRUE((*reopened)->writable());
    EXPECT_EQ(*(*reopened)->get(20), blocks[20]);
    ASSERT_TRUE(append(**reopened, make_blocks(37, 1)).ok());
    EXPECT_EQ((*reopened)->length(), 38u);
}

TEST(V11Core, ReaderDownloadsEverything) {
    auto w = make_writer();
    ASSERT_TRUE(append(*w.core, make_blocks(0, 50)).ok());
    auto r = make_reader(w.core->key());
    ASSERT_TRUE(r.core);
    EXPECT_FALSE(r.core->writable());
    sync_upgrade(*r.core, *w.core);
    ASSERT_TRUE(r.core->manifest().has_value());
    EXPECT_EQ(*r.core->manifest(), *w.core->manifest());
    EXPECT_EQ(r.core->contiguous_length(), 0u);
    for (std::uint64_t i = 0; i < 50; ++i) download(*r.core, *w.core, i);
    EXPECT_EQ(r.core->contiguous_length(), 50u);
    EXPECT_EQ(r.core->byte_length(), w.core->byte_length());
    for (std::uint64_t b = 0; b < w.core->byte_length(); b += 97) EXPECT_EQ(*r.core->seek(b), *w.core->seek(b));
    // The reader reopens from its storage and serves the same proofs as the writer.
    const TreeHead head = r.core->head();
    r.core.reset();
    auto reopened = Core::open(std::make_unique<SharedStorage>(r.mem));
    ASSERT_TRUE(reopened.ok()) << reopened.error().message;
    EXPECT_EQ((*reopened)->head(), head);
    EXPECT_FALSE((*reopened)->writable());
    ProofRequest req;
    req.block = RequestBlock{13, 2};
    req.upgrade = RequestUpgrade{7, 43};
    EXPECT_EQ(*(*reopened)->proof(req), *w.core->proof(req));
}

TEST(V11Core, SparseBlocksAndBlocksWithTheirUpgrade) {
    auto w = make_writer();
    ASSERT_TRUE(append(*w.core, make_blocks(0, 64)).ok());
    auto r = make_reader(w.core->key());
    // The first block request carries the upgrade (and the manifest).
    download(*r.core, *w.core, 40);
    EXPECT_EQ(r.core->length(), 64u);
    for (std::uint64_t i : {5u, 17u, 3u, 63u, 0u, 41u}) download(*r.core, *w.core, i);
    EXPECT_EQ(r.core->count(0, 64), 7u);
    EXPECT_EQ(r.core->find(0, true), 0u);
    EXPECT_EQ(r.core->find(1, true), 3u);
    EXPECT_EQ(r.core->find(40, false), 42u);
    EXPECT_EQ(r.core->contiguous_length(), 1u);
    const auto ranges = r.core->present_ranges();
    ASSERT_EQ(ranges.size(), 6u);
    EXPECT_EQ(ranges[4].start, 40u);
    EXPECT_EQ(ranges[4].length, 2u);
    EXPECT_FALSE(r.core->get(6).ok());
    EXPECT_EQ(r.core->get(6).error().code, Errc::NotFound);
    EXPECT_EQ(*r.core->byte_offset(41), *w.core->byte_offset(41));
    // A reader cannot serve what it lacks.
    ProofRequest req;
    req.block = RequestBlock{6, 0};
    EXPECT_EQ(r.core->proof(req).error().code, Errc::NotFound);
    // Asking again for a block it has changes nothing.
    const auto commits = r.mem->commits();
    auto again = fetch(*r.core, *w.core, block_request(*r.core, *w.core, 5));
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->block.has_value());
    EXPECT_GE(r.mem->commits(), commits);
    expect_consistent(*r.core, *w.core);
}

TEST(V11Core, UpgradesFollowTheWriter) {
    auto w = make_writer();
    auto r = make_reader(w.core->key());
    std::uint64_t events = 0;
    r.core->set_listener(CoreListener{[&](std::uint64_t len, std::uint64_t) { events = len; }, nullptr, nullptr});
    for (std::uint64_t step = 1; step <= 20; ++step) {
        ASSERT_TRUE(append(*w.core, make_blocks(w.core->length(), step % 5 + 1)).ok());
        if (step % 3 == 0) continue;  // the reader skips some heads
        sync_upgrade(*r.core, *w.core);
        EXPECT_EQ(events, w.core->length());
        download(*r.core, *w.core, w.core->length() - 1);
    }
    // An older upgrade than the reader's head is accepted without changing it.
    ProofRequest old;
    old.upgrade = RequestUpgrade{0, 3};
    auto p = w.core->proof(old);
    ASSERT_TRUE(p.ok());
    const auto before = r.core->head();
    auto a = r.core->verify_and_apply(*p);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_FALSE(a->upgraded);
    EXPECT_EQ(r.core->head(), before);
    expect_consistent(*r.core, *w.core);
}

TEST(V11Core, ReaderFollowsForks) {
    auto w = make_writer();
    ASSERT_TRUE(append(*w.core, make_blocks(0, 40)).ok());
    auto r = make_reader(w.core->key());
    sync_upgrade(*r.core, *w.core);
    for (std::uint64_t i = 0; i < 40; ++i) download(*r.core, *w.core, i);

    std::uint64_t truncated_to = 99, truncate_fork = 0;
    r.core->set_listener(CoreListener{nullptr, [&](std::uint64_t to, std::uint64_t f) {
                                          truncated_to = to;
                                          truncate_fork = f;
                                      },
                                      nullptr});
    ASSERT_TRUE(w.core->truncate(21).ok());
    EXPECT_EQ(w.core->fork(), 1u);
    EXPECT_EQ(w.core->length(), 21u);
    EXPECT_FALSE(w.core->has(21));
    ASSERT_TRUE(append(*w.core, make_blocks(21, 9, 77)).ok());

    // A proof of the old fork does not apply; the new fork's upgrade truncates the reader.
    ProofRequest stale;
    stale.fork = 0;
    stale.block = RequestBlock{3, 0};
    EXPECT_FALSE(w.core->proof(stale).ok());
    auto a = fetch(*r.core, *w.core, upgrade_request(*r.core, *w.core));
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_TRUE(a->upgraded);
    EXPECT_TRUE(a->truncated);
    EXPECT_LE(a->truncated_to, 21u);
    EXPECT_EQ(truncated_to, a->truncated_to);
    EXPECT_EQ(truncate_fork, 1u);
    EXPECT_EQ(r.core->head(), w.core->head());
    EXPECT_EQ(r.core->count(a->truncated_to, 100), 0u);
    EXPECT_EQ(r.core->count(0, a->truncated_to), a->truncated_to);
    for (std::uint64_t i = 0; i < 30; ++i)
        if (!r.core->has(i)) download(*r.core, *w.core, i);
    expect_consistent(*r.core, *w.core);
    EXPECT_EQ(r.core->byte_length(), w.core->byte_length());

    // A second fork, to a shorter length, with a block in the fork proof.
    ASSERT_TRUE(w.core->truncate(10).ok());
    ASSERT_TRUE(append(*w.core, make_blocks(10, 2, 5)).ok());
    truncated_to = 99;
    download(*r.core, *w.core, 11);
    // The fork proof carried block 11's path, which shows blocks 8 and 9 unchanged: only 10
    // and later are dropped.
    EXPECT_EQ(truncated_to, 10u);
    EXPECT_TRUE(r.core->has(9));
    EXPECT_EQ(r.core->fork(), 2u);
    EXPECT_EQ(r.core->length(), 12u);
    expect_consistent(*r.core, *w.core);
    auto reopened = Core::open(std::make_unique<SharedStorage>(r.mem));
    ASSERT_TRUE(reopened.ok()) << reopened.error().message;
    EXPECT_EQ((*reopened)->head(), w.core->head());
}

// Every way of spoiling a proof is refused and leaves the reader's storage as it was.
TEST(V11Core, TamperedProofsAreRejectedAndStoreNothing) {
    auto w = make_writer();
    ASSERT_TRUE(append(*w.core, make_blocks(0, 30)).ok());
    auto r = make_reader(w.core->key());
    sync_upgrade(*r.core, *w.core);
    download(*r.core, *w.core, 4);
    ASSERT_TRUE(append(*w.core, make_blocks(30, 7)).ok());

    std::vector<std::pair<std::string, std::function<void(Proof&)>>> spoilers = {
        {"block byte", [](Proof& p) { p.block->value.at(0) ^= 1; }},
        {"block longer", [](Proof& p) { p.block->value.push_back(9); }},
        {"block index", [](Proof& p) { p.block->index += 1; }},
        {"block node hash", [](Proof& p) { p.block->nodes.at(0).hash[3] ^= 1; }},
        {"block node size", [](Proof& p) { p.block->nodes.at(0).size += 1; }},
        {"block node dropped", [](Proof& p) { p.block->nodes.erase(p.block->nodes.begin()); }},
        {"upgrade node hash", [](Proof& p) { p.upgrade->nodes.at(0).hash[0] ^= 1; }},
        {"upgrade node size", [](Proof& p) { p.upgrade->nodes.at(0).size += 1; }},
        {"upgrade node dropped", [](Proof& p) { p.upgrade->nodes.pop_back(); }},
        {"signature", [](Proof& p) { p.upgrade->signature.at(20) ^= 1; }},
        {"no signature", [](Proof& p) { p.upgrade->signature.clear(); }},
        {"fork", [](Proof& p) { p.fork += 1; }},
        {"upgrade length", [](Proof& p) { p.upgrade->length += 1; }},
        {"upgrade start", [](Proof& p) { p.upgrade->start -= 1; }},
    };
    ProofRequest req = block_request(*r.core, *w.core, 33);
    ASSERT_TRUE(req.upgrade.has_value());
    auto good = w.core->proof(req);
    ASSERT_TRUE(good.ok());
    ASSERT_FALSE(good->block->nodes.empty());
    ASSERT_FALSE(good->upgrade->nodes.empty());
    const auto commits = r.mem->commits();
    const auto head = r.core->head();
    for (const auto& [what, spoil] : spoilers) {
        Proof bad = *good;
        spoil(bad);
        auto a = r.core->verify_and_apply(bad);
        EXPECT_FALSE(a.ok()) << what;
        EXPECT_EQ(r.mem->commits(), commits) << what;
        EXPECT_EQ(r.core->head(), head) << what;
        EXPECT_FALSE(r.core->has(33)) << what;
    }
    // A block proof without upgrade, spoiled, against a stored node.
    auto plain = w.core->proof(block_request(*r.core, *w.core, 9));
    ASSERT_TRUE(plain.ok());
    Proof bad = *plain;
    bad.block->value.at(0) ^= 0x40;
    EXPECT_FALSE(r.core->verify_and_apply(bad).ok());
    EXPECT_FALSE(r.core->has(9));
    // A manifest that does not hash to the key, for a reader that has none yet.
    auto fresh = make_reader(w.core->key());
    ProofRequest up = upgrade_request(*fresh.core, *w.core);
    auto p = w.core->proof(up);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p->manifest.has_value());
    Proof wrong = *p;
    wrong.manifest->signers[0].public_key[0] ^= 1;
    EXPECT_FALSE(fresh.core->verify_and_apply(wrong).ok());
    wrong.manifest.reset();  // then the key is taken as a compat signer key, which fails too
    EXPECT_FALSE(fresh.core->verify_and_apply(wrong).ok());
    EXPECT_FALSE(fresh.core->manifest().has_value());
    EXPECT_EQ(fresh.mem->commits(), 1u);  // only its creation
    // The untouched proofs still apply.
    ASSERT_TRUE(r.core->verify_and_apply(*good).ok());
    ASSERT_TRUE(r.core->verify_and_apply(*plain).ok());
    ASSERT_TRUE(fresh.core->verify_and_apply(*p).ok());
    expect_consistent(*r.core, *w.core);
}

TEST(V11Core, FailedCommitsLeaveNoTrace) {
    auto w = make_writer();
    ASSERT_TRUE(append(*w.core, make_blocks(0, 12)).ok());
    const auto head = w.core->head();
    const auto nodes = w.mem->nodes().size();
    w.mem->fail_commit(1);
    auto failed = append(*w.core, make_blocks(12, 3));
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, Errc::Io);
    EXPECT_EQ(w.core->head(), head);
    EXPECT_EQ(w.core->length(), 12u);
    EXPECT_FALSE(w.core->has(12));
    EXPECT_EQ(w.mem->nodes().size(), nodes);
    w.mem->fail_commit(1);
    EXPECT_FALSE(w.core->truncate(5).ok());
    EXPECT_EQ(w.core->head(), head);
    EXPECT_TRUE(w.core->has(8));
    ASSERT_TRUE(append(*w.core, make_blocks(12, 3)).ok());

    auto r = make_reader(w.core->key());
    const auto req = block_request(*r.core, *w.core, 7);
    r.mem->fail_commit(1);
    auto a = fetch(*r.core, *w.core, req);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(r.core->length(), 0u);
    EXPECT_FALSE(r.core->manifest().has_value());
    EXPECT_FALSE(r.core->has(7));
    EXPECT_TRUE(r.mem->nodes().empty());
    ASSERT_TRUE(fetch(*r.core, *w.core, req).ok());
    EXPECT_EQ(r.core->length(), 15u);
    EXPECT_EQ(*r.core->get(7), *w.core->get(7));
}

TEST(V11Core, CompatCoreAndCreateChecks) {
    auto w = make_writer(3, true);
    ASSERT_TRUE(w.core);
    EXPECT_TRUE(w.core->compat());
    EXPECT_EQ(w.core->key(), key_pair(3).public_key);
    ASSERT_TRUE(append(*w.core, make_blocks(0, 9)).ok());
    auto r = make_reader(w.core->key());
    auto p = w.core->proof(upgrade_request(*r.core, *w.core));
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->manifest.has_value());  // JS sends no manifest for compat cores
    ASSERT_TRUE(r.core->verify_and_apply(*p).ok());
    EXPECT_TRUE(r.core->compat());
    download(*r.core, *w.core, 8);

    // Storage that holds a core refuses a second create; a key pair must be a signer.
    auto again = Core::create(std::make_unique<SharedStorage>(w.mem), default_manifest(key_pair(3).public_key), key_pair(3));
    EXPECT_EQ(again.error().code, Errc::Exists);
    auto not_signer = Core::create(std::make_unique<MemoryStorage>(), default_manifest(key_pair(3).public_key), key_pair(4));
    EXPECT_FALSE(not_signer.ok());
    EXPECT_EQ(Core::open(std::make_unique<MemoryStorage>()).error().code, Errc::NotFound);
    EXPECT_EQ(r.core->append(std::vector<ByteView>{}).ok(), false);
}

TEST(V11Core, BitfieldEdges) {
    Bitfield b;
    b.set_range(3, 200, true);
    EXPECT_EQ(b.count(0, 1000), 197u);
    EXPECT_EQ(b.find(0, true, 1000), 3u);
    EXPECT_EQ(b.find(3, false, 1000), 200u);
    b.set_range(64, 128, false);
    EXPECT_EQ(b.count(0, 1000), 133u);
    EXPECT_EQ(b.find(60, false, 1000), 64u);
    EXPECT_EQ(b.find(64, true, 1000), 128u);
    ASSERT_EQ(b.ranges().size(), 2u);
    EXPECT_EQ(b.ranges()[1].start, 128u);
    EXPECT_EQ(b.ranges()[1].length, 72u);
    b.set_range(0, 1000, false);
    EXPECT_EQ(b.total(), 0u);
    EXPECT_TRUE(b.ranges().empty());
    EXPECT_EQ(b.find(5, false, 10), 5u);
    EXPECT_EQ(b.find(5, true, 10), 10u);
}

}  // namespace
}  // namespace hs::v11::hypercore
