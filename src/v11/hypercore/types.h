// The values a second-generation core (hypercore 10/11) is made of and that its replication
// messages carry: tree nodes, manifests, proofs and their requests. Shared by the codec
// (messages.h), the merkle tree and its proofs (tree.h, proof.h), the core (core.h), its storage
// (storage/) and the replicator, so that each of them speaks the same types. Plain data: no
// behaviour here. The wire layouts are in docs/formats/hypercore-v11.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/util/bytes.h"

namespace hs::v11::hypercore {

using Hash = ByteArray<32>;
using PublicKey = ByteArray<32>;
using SecretKey = ByteArray<64>;
using Signature = ByteArray<64>;

// One node of the merkle tree: leaves at even flat-tree indexes, parents at odd ones; size is
// the byte length of the blocks under it. On the wire: {uint index, uint size, fixed32 hash}.
struct TreeNode {
    std::uint64_t index = 0;
    std::uint64_t size = 0;
    Hash hash{};
    friend bool operator==(const TreeNode&, const TreeNode&) = default;
};

// The signed head of a core: what a signature commits to.
struct TreeHead {
    std::uint64_t fork = 0;
    std::uint64_t length = 0;
    Hash root_hash{};  // hash of the roots (the "tree hash")
    Bytes signature;   // empty for an unsigned (or not yet signed) head
    friend bool operator==(const TreeHead&, const TreeHead&) = default;
};

// ---- Manifests ------------------------------------------------------------------------------

struct ManifestSigner {
    std::uint64_t signature = 0;  // 0 = ed25519 (the only one defined)
    Hash namespace_{};
    PublicKey public_key{};
    friend bool operator==(const ManifestSigner&, const ManifestSigner&) = default;
};

struct ManifestPrologue {
    Hash hash{};
    std::uint64_t length = 0;
    friend bool operator==(const ManifestPrologue&, const ManifestPrologue&) = default;
};

struct Manifest {
    std::uint64_t version = 1;  // 0 = the compat/v0 layout, 1.. = the flags layout
    std::uint64_t hash = 0;     // 0 = blake2b (the only one defined)
    bool allow_patch = false;
    std::uint64_t quorum = 1;
    std::vector<ManifestSigner> signers;
    std::optional<ManifestPrologue> prologue;
    std::optional<std::vector<Hash>> linked;
    std::optional<Bytes> user_data;
    friend bool operator==(const Manifest&, const Manifest&) = default;
};

// ---- Requests (what a reader asks for) -------------------------------------------------------

struct RequestBlock {  // also used for "hash" requests
    std::uint64_t index = 0;
    std::uint64_t nodes = 0;  // how many tree nodes the requester already has (skip them)
    friend bool operator==(const RequestBlock&, const RequestBlock&) = default;
};
struct RequestSeek {
    std::uint64_t bytes = 0;
    std::uint64_t padding = 0;
    friend bool operator==(const RequestSeek&, const RequestSeek&) = default;
};
struct RequestUpgrade {
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    friend bool operator==(const RequestUpgrade&, const RequestUpgrade&) = default;
};

// The proof-bearing part of a request message (id and priority live in the message).
struct ProofRequest {
    std::uint64_t fork = 0;
    std::optional<RequestBlock> block;
    std::optional<RequestBlock> hash;
    std::optional<RequestSeek> seek;
    std::optional<RequestUpgrade> upgrade;
    bool manifest = false;
    friend bool operator==(const ProofRequest&, const ProofRequest&) = default;
};

// ---- Proofs (what a writer or seeder answers) ------------------------------------------------

struct DataBlock {
    std::uint64_t index = 0;
    Bytes value;
    std::vector<TreeNode> nodes;
    friend bool operator==(const DataBlock&, const DataBlock&) = default;
};
struct DataHash {
    std::uint64_t index = 0;
    std::vector<TreeNode> nodes;
    friend bool operator==(const DataHash&, const DataHash&) = default;
};
struct DataSeek {
    std::uint64_t bytes = 0;
    std::vector<TreeNode> nodes;
    friend bool operator==(const DataSeek&, const DataSeek&) = default;
};
struct DataUpgrade {
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::vector<TreeNode> nodes;
    std::vector<TreeNode> additional_nodes;
    Bytes signature;
    friend bool operator==(const DataUpgrade&, const DataUpgrade&) = default;
};

// The proof-bearing part of a data message (request id lives in the message).
struct Proof {
    std::uint64_t fork = 0;
    std::optional<DataBlock> block;
    std::optional<DataHash> hash;
    std::optional<DataSeek> seek;
    std::optional<DataUpgrade> upgrade;
    std::optional<Manifest> manifest;
    friend bool operator==(const Proof&, const Proof&) = default;
};

}  // namespace hs::v11::hypercore
