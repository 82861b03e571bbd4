// The merkle tree and proofs (src/v11/hypercore/tree.h, proof.h) against JS hypercore 11.37.1:
// tests/fixtures/v11/tree.json (written by make_tree.js beside it) holds, for a writer growing
// to 40 blocks and then forking, every head (roots, tree hash, byte length, signature) and the
// proofs JS generates for thousands of requests. We must rebuild the same heads, generate the
// same proofs node for node (or refuse where JS refused), accept every JS proof, and reject
// tampered ones.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/util/hex.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/memory_storage.h"
#include "v11/hypercore/proof.h"
#include "v11/hypercore/tree.h"

namespace hs::v11::hypercore {
namespace {

using nlohmann::json;

Bytes unhex(const json& j) {
    auto b = from_hex(j.get<std::string>());
    EXPECT_TRUE(b.has_value()) << j;
    return b ? *b : Bytes{};
}

Hash hash_of(const json& j) {
    Hash h{};
    const Bytes b = unhex(j);
    if (b.size() == 32) std::copy(b.begin(), b.end(), h.begin());
    return h;
}

TreeNode node_of(const json& j) { return TreeNode{j[0].get<std::uint64_t>(), j[1].get<std::uint64_t>(), hash_of(j[2])}; }

std::vector<TreeNode> nodes_of(const json& j) {
    std::vector<TreeNode> out;
    for (const auto& n : j) out.push_back(node_of(n));
    return out;
}

ProofRequest request_of(const json& j) {
    ProofRequest r;
    if (j.contains("block")) r.block = RequestBlock{j["block"]["index"], j["block"]["nodes"]};
    if (j.contains("hash")) r.hash = RequestBlock{j["hash"]["index"], j["hash"]["nodes"]};
    if (j.contains("seek")) r.seek = RequestSeek{j["seek"]["bytes"], j["seek"]["padding"]};
    if (j.contains("upgrade")) r.upgrade = RequestUpgrade{j["upgrade"]["start"], j["upgrade"]["length"]};
    return r;
}

Proof proof_of(const json& j) {
    Proof p;
    p.fork = j["fork"];
    if (j.contains("block")) p.block = DataBlock{j["block"]["index"], {}, nodes_of(j["block"]["nodes"])};
    if (j.contains("hash")) p.hash = DataHash{j["hash"]["index"], nodes_of(j["hash"]["nodes"])};
    if (j.contains("seek")) p.seek = DataSeek{j["seek"]["bytes"], nodes_of(j["seek"]["nodes"])};
    if (j.contains("upgrade")) {
        const auto& u = j["upgrade"];
        p.upgrade = DataUpgrade{u["start"], u["length"], nodes_of(u["nodes"]), nodes_of(u["additionalNodes"]),
                                unhex(u["signature"])};
    }
    return p;
}

const json& fixture();

// The fixture writer's verifier: default manifest of its public key.
const Verifier& verifier() {
    static const Verifier v = [] {
        PublicKey pub{};
        const Bytes b = unhex(fixture()["publicKey"]);
        std::copy(b.begin(), b.end(), pub.begin());
        const Manifest m = default_manifest(pub);
        return Verifier(core_key(m), m, false);
    }();
    return v;
}

const json& fixture() {
    static const json f = [] {
        std::ifstream in(std::string(HS_V11_FIXTURES) + "/tree.json");
        EXPECT_TRUE(in.good()) << "missing " << HS_V11_FIXTURES << "/tree.json";
        return json::parse(in);
    }();
    return f;
}

// A writer's tree in memory storage, grown block by block.
struct Writer {
    MemoryStorage storage;
    TreeBatch tree;

    void append(ByteView block) {
        TreeBatch b = tree;
        b.nodes.clear();
        b.append(block);
        Batch batch;
        batch.nodes = b.nodes;
        ASSERT_TRUE(storage.commit(batch).ok());
        b.nodes.clear();
        tree = std::move(b);
    }
    void truncate(std::uint64_t length, std::uint64_t fork) {
        auto b = truncate_batch(tree.length, tree.roots, length, fork, NodeSource(&storage));
        ASSERT_TRUE(b.ok()) << b.error().message;
        Batch batch;
        batch.truncate_to = length;
        ASSERT_TRUE(storage.commit(batch).ok());
        tree = std::move(*b);
    }
};

std::vector<Bytes> blocks_of(const json& j) {
    std::vector<Bytes> out;
    for (const auto& b : j) out.push_back(unhex(b));
    return out;
}

void expect_head(const Writer& w, const json& head) {
    ASSERT_EQ(w.tree.length, head["length"].get<std::uint64_t>());
    EXPECT_EQ(w.tree.byte_length, head["byteLength"].get<std::uint64_t>());
    EXPECT_EQ(w.tree.roots, nodes_of(head["roots"])) << "length " << w.tree.length;
    EXPECT_EQ(w.tree.hash(), hash_of(head["treeHash"])) << "length " << w.tree.length;
}

// Our proof for every request equals JS's (or both refuse).
void expect_same_proofs(Writer& w, const json& head) {
    w.tree.signature = unhex(head["signature"]);
    NodeSource source(&w.storage);
    for (const auto& entry : head["proofs"]) {
        const ProofRequest req = request_of(entry["request"]);
        auto ours = generate_proof(w.tree, source, req);
        if (entry.contains("error")) {
            EXPECT_FALSE(ours.ok()) << "length " << w.tree.length << " request " << entry["request"]
                                    << ": JS refused (" << entry["error"] << ")";
            continue;
        }
        ASSERT_TRUE(ours.ok()) << "length " << w.tree.length << " request " << entry["request"] << ": "
                               << ours.error().message;
        EXPECT_EQ(*ours, proof_of(entry["proof"])) << "length " << w.tree.length << " request " << entry["request"];
    }
}

// The local tree a requester of `req` had: the writer's tree at the upgrade's start.
TreeBatch local_for(const Writer& w, const Proof& proof) {
    const std::uint64_t length = proof.upgrade ? proof.upgrade->start : w.tree.length;
    auto roots = roots_at(length, NodeSource(const_cast<MemoryStorage*>(&w.storage)));
    EXPECT_TRUE(roots.ok());
    return TreeBatch::from(w.tree.fork, length, total_size(*roots), *roots, {});
}

// Every JS proof verifies against the requester's tree and gives the writer's head; tampered
// copies do not.
void expect_js_proofs_verify(Writer& w, const json& head, const std::vector<Bytes>& blocks, std::uint64_t& checked,
                             std::uint64_t& tampered) {
    NodeSource source(&w.storage);
    for (const auto& entry : head["proofs"]) {
        if (entry.contains("error")) continue;
        Proof proof = proof_of(entry["proof"]);
        if (proof.block) proof.block->value = blocks.at(proof.block->index);
        const TreeBatch local = local_for(w, proof);
        auto batch = verify_proof(local, source, proof);
        ASSERT_TRUE(batch.ok()) << "length " << w.tree.length << " request " << entry["request"] << ": "
                                << batch.error().message;
        ++checked;
        // Tampering is judged against a requester that stores only its roots when the proof
        // verifies against that alone (a proof shortened to end at a node the writer's full
        // storage has would still be a valid proof there).
        MemoryStorage roots_only;
        {
            Batch b;
            b.nodes = local.roots;
            ASSERT_TRUE(roots_only.commit(b).ok());
        }
        const NodeSource narrow(&roots_only);
        const NodeSource& judge = verify_proof(local, narrow, proof).ok() ? narrow : source;
        if (proof.upgrade) {
            EXPECT_TRUE(check_signature(*batch, verifier()).ok()) << entry["request"];
            EXPECT_EQ(batch->length, w.tree.length);
            EXPECT_EQ(batch->hash(), w.tree.hash());
            EXPECT_EQ(upgrade_length(*proof.upgrade), w.tree.length);
        }
        // A tampered proof either fails or (with an upgrade) yields another tree hash, which the
        // signature over the writer's tree hash then rejects.
        auto rejected = [&](const Proof& bad, const char* what) {
            auto r = verify_proof(local, judge, bad);
            const bool caught = !r.ok() || (bad.upgrade && r->upgraded && !check_signature(*r, verifier()).ok());
            EXPECT_TRUE(caught) << what << ", length " << w.tree.length << " request " << entry["request"];
            ++tampered;
        };
        auto each_part = [&](auto&& mutate, const char* what) {
            auto try_nodes = [&](auto member) {
                Proof bad = proof;
                auto* nodes = member(bad);
                if (!nodes || nodes->empty()) return;
                mutate(*nodes);
                rejected(bad, what);
            };
            try_nodes([](Proof& p) { return p.block ? &p.block->nodes : nullptr; });
            try_nodes([](Proof& p) { return p.hash ? &p.hash->nodes : nullptr; });
            try_nodes([](Proof& p) { return p.seek ? &p.seek->nodes : nullptr; });
            try_nodes([](Proof& p) { return p.upgrade ? &p.upgrade->nodes : nullptr; });
            try_nodes([](Proof& p) { return p.upgrade ? &p.upgrade->additional_nodes : nullptr; });
        };
        each_part([](std::vector<TreeNode>& n) { n.front().hash[5] ^= 1; }, "flipped hash");
        each_part([](std::vector<TreeNode>& n) { n.back().hash[0] ^= 0x80; }, "flipped last hash");
        each_part([](std::vector<TreeNode>& n) { n.front().size += 1; }, "wrong size");
        if (&judge == &narrow) each_part([](std::vector<TreeNode>& n) { n.erase(n.begin()); }, "dropped node");
        if (proof.block && !proof.block->value.empty()) {
            Proof bad = proof;
            bad.block->value[0] ^= 1;
            rejected(bad, "flipped block byte");
        }
        if (proof.block) {
            Proof bad = proof;
            bad.block->value.push_back(0);
            rejected(bad, "longer block");
        }
        if (proof.upgrade) {
            Proof bad = proof;
            bad.fork += 1;
            rejected(bad, "wrong fork");
            bad = proof;
            bad.upgrade->signature.at(10) ^= 4;
            rejected(bad, "flipped signature");
        }
    }
}

TEST(V11Tree, HashesMatchJsForEveryLength) {
    const auto& f = fixture();
    const auto blocks = blocks_of(f["blocks"]);
    Writer w;
    expect_head(w, f["heads"][0]);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        w.append(blocks[i]);
        expect_head(w, f["heads"][i + 1]);
    }
}

TEST(V11Tree, SignaturesEqualJs) {
    const auto& f = fixture();
    const auto blocks = blocks_of(f["blocks"]);
    SecretKey sk{};
    const Bytes skb = unhex(f["secretKey"]);
    std::copy(skb.begin(), skb.end(), sk.begin());
    EXPECT_EQ(to_hex(verifier().key()), f["key"].get<std::string>());
    Writer w;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        w.append(blocks[i]);
        const Bytes sig = verifier().sign(w.tree.hash(), w.tree.length, 0, verifier().manifest().signers[0].public_key, sk);
        EXPECT_EQ(to_hex(sig), f["heads"][i + 1]["signature"].get<std::string>()) << "length " << i + 1;
        EXPECT_TRUE(verifier().verify(w.tree.hash(), w.tree.length, 0, sig));
    }
}

TEST(V11Tree, ProofsEqualJsProofs) {
    const auto& f = fixture();
    const auto blocks = blocks_of(f["blocks"]);
    Writer w;
    expect_same_proofs(w, f["heads"][0]);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        w.append(blocks[i]);
        expect_same_proofs(w, f["heads"][i + 1]);
    }
    w.truncate(30, 1);
    for (const auto& b : blocks_of(f["forkBlocks"])) w.append(b);
    expect_head(w, f["forkHead"]);
    expect_same_proofs(w, f["forkHead"]);
}

TEST(V11Tree, JsProofsVerifyAndTamperedOnesDoNot) {
    const auto& f = fixture();
    const auto blocks = blocks_of(f["blocks"]);
    Writer w;
    std::uint64_t checked = 0, tampered = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        w.append(blocks[i]);
        expect_js_proofs_verify(w, f["heads"][i + 1], blocks, checked, tampered);
    }
    EXPECT_GT(checked, 3000u);
    EXPECT_GT(tampered, 10000u);
}

TEST(V11Tree, ForkProofRebuildsTheNewTreeFromNothing) {
    const auto& f = fixture();
    const auto& head = f["forkHead"];
    auto fork_blocks = blocks_of(f["forkBlocks"]);
    auto blocks = blocks_of(f["blocks"]);
    blocks.resize(30);
    for (auto& b : fork_blocks) blocks.push_back(b);
    std::uint64_t n = 0;
    for (const auto& entry : head["proofs"]) {
        if (entry.contains("error")) continue;
        Proof proof = proof_of(entry["proof"]);
        if (!proof.upgrade || proof.upgrade->start != 0) continue;
        if (proof.block) proof.block->value = blocks.at(proof.block->index);
        auto batch = verify_reorg_proof(proof);
        ASSERT_TRUE(batch.ok()) << entry["request"] << ": " << batch.error().message;
        EXPECT_EQ(batch->fork, 1u);
        EXPECT_EQ(batch->length, 35u);
        EXPECT_EQ(batch->hash(), hash_of(head["treeHash"]));
        ++n;
        if (proof.block) {
            proof.block->value.push_back(1);
            EXPECT_FALSE(verify_reorg_proof(proof).ok() &&
                         verify_reorg_proof(proof)->hash() == hash_of(head["treeHash"]));
        }
    }
    EXPECT_GT(n, 5u);
    Proof none;
    none.fork = 1;
    EXPECT_FALSE(verify_reorg_proof(none).ok());
}

TEST(V11Tree, ByteOffsetsAndSeeks) {
    const auto blocks = blocks_of(fixture()["blocks"]);
    Writer w;
    for (const auto& b : blocks) w.append(b);
    NodeSource source(&w.storage);
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        auto off = byte_offset(w.tree.roots, w.tree.length, w.tree.byte_length, 2 * i, source);
        ASSERT_TRUE(off.ok()) << off.error().message;
        EXPECT_EQ(*off, offset) << "block " << i;
        for (std::uint64_t k = 0; k < blocks[i].size(); k += 7) {
            auto s = seek_bytes(w.tree.roots, offset + k, 0, source);
            ASSERT_TRUE(s.ok());
            if (k == 0) {
                // an exact block boundary: the first block starting there (empty ones skipped)
                ASSERT_TRUE(s->found);
                EXPECT_EQ(s->offset, 0u);
                continue;
            }
            ASSERT_TRUE(s->found) << offset + k;
            EXPECT_EQ(s->index, i);
            EXPECT_EQ(s->offset, k);
        }
        offset += blocks[i].size();
    }
    auto end = seek_bytes(w.tree.roots, offset, 0, source);
    ASSERT_TRUE(end.ok());
    EXPECT_TRUE(end->found);
    EXPECT_EQ(end->index, blocks.size());
    auto past = seek_bytes(w.tree.roots, offset + 1, 0, source);
    ASSERT_TRUE(past.ok());
    EXPECT_FALSE(past->found);
    EXPECT_FALSE(past->in_range);
    // with the nodes below the roots missing, a seek names the blocks that hold the byte
    MemoryStorage empty;
    auto partial = seek_bytes(w.tree.roots, 100, 0, NodeSource(&empty));
    ASSERT_TRUE(partial.ok());
    EXPECT_FALSE(partial->found);
    EXPECT_TRUE(partial->in_range);
    EXPECT_EQ(partial->start, 0u);
    EXPECT_EQ(partial->end, 32u);
}

}  // namespace
}  // namespace hs::v11::hypercore

namespace hs::v11::hypercore {
namespace {

// A reader Core (opened by the JS writer's key) applies the proofs JS generated: the upgrade to
// 40 (with the manifest the replicator would attach), then blocks, then the fork's upgrade.
TEST(V11Tree, CoreReaderAppliesJsProofs) {
    const auto& f = fixture();
    const auto blocks = blocks_of(f["blocks"]);
    Hash key = hash_of(f["key"]);
    auto reader = Core::create_by_key(std::make_unique<MemoryStorage>(), key);
    ASSERT_TRUE(reader.ok());
    Core& r = **reader;
    const json& head = f["heads"][40];
    const Manifest manifest = verifier().manifest();
    std::uint64_t applied_blocks = 0;
    for (const auto& entry : head["proofs"]) {
        const json& req = entry["request"];
        if (entry.contains("error") || !req.contains("upgrade") || req.contains("block") || req.contains("hash") ||
            req.contains("seek") || req["upgrade"]["start"] != 0)
            continue;
        Proof p = proof_of(entry["proof"]);
        p.manifest = manifest;
        auto a = r.verify_and_apply(p);
        ASSERT_TRUE(a.ok()) << a.error().message;
        break;
    }
    ASSERT_EQ(r.length(), 40u);
    EXPECT_EQ(r.head().root_hash, hash_of(head["treeHash"]));
    EXPECT_EQ(r.head().signature, unhex(head["signature"]));
    for (const auto& entry : head["proofs"]) {
        const json& req = entry["request"];
        if (entry.contains("error") || !req.contains("block") || req.size() != 1) continue;
        Proof p = proof_of(entry["proof"]);
        const auto i = p.block->index;
        p.block->value = blocks.at(i);
        auto a = r.verify_and_apply(p);
        if (!a.ok()) continue;  // proofs that end at a node this reader does not store yet
        ++applied_blocks;
        ASSERT_TRUE(r.has(i));
        EXPECT_EQ(*r.get(i), blocks[i]);
    }
    EXPECT_GT(applied_blocks, 5u);
    // The fork: the JS writer truncated to 30 and appended 5 other blocks.
    const json& fh = f["forkHead"];
    for (const auto& entry : fh["proofs"]) {
        const json& req = entry["request"];
        if (entry.contains("error") || !req.contains("upgrade") || req.size() != 1 || req["upgrade"]["start"] != 0 ||
            req["upgrade"]["length"] != 35)
            continue;
        auto a = r.verify_and_apply(proof_of(entry["proof"]));
        ASSERT_TRUE(a.ok()) << a.error().message;
        EXPECT_TRUE(a->truncated);
        EXPECT_LE(a->truncated_to, 30u);
        break;
    }
    EXPECT_EQ(r.fork(), 1u);
    EXPECT_EQ(r.length(), 35u);
    EXPECT_EQ(r.head().root_hash, hash_of(fh["treeHash"]));
    for (std::uint64_t i = 0; i < 35; ++i)
        if (r.has(i)) EXPECT_EQ(*r.get(i), blocks[i]) << i;
}

}  // namespace
}  // namespace hs::v11::hypercore
