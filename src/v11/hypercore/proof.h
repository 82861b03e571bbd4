// Merkle proofs of a second-generation core (docs/formats/hypercore-v11-tree.md "Proofs"): the
// node lists a peer sends for a ProofRequest, exactly the ones JS hypercore 11 sends (its
// verifier expects them in that order), and their verification against what a core already
// trusts. Sans-IO: nodes come from a NodeSource; block values and manifests are the core's job.
#pragma once

#include <cstdint>
#include <optional>

#include "common/util/error.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/tree.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore {

// The proof of `request` from a tree whose signed state is `tree` (fork, length, roots,
// signature) and whose nodes `source` reads. The block value is left empty and no manifest is
// attached. `prologue` is the manifest's prologue, if any (an upgrade then starts at 0 until
// the prologue's length). InvalidArgument for a request JS refuses (bad upgrade range, seek
// with a block inside the upgrade, nodes past the root); NotFound when a node is missing.
Result<Proof> generate_proof(const TreeBatch& tree, const NodeSource& source, const ProofRequest& request,
                             const std::optional<ManifestPrologue>& prologue = std::nullopt);

// Verifies `proof` against the local tree (`local`: fork, length, roots; `source`: its stored
// nodes) and returns the batch it would commit: its nodes, and with an upgrade the new roots,
// length, fork and signature (batch.upgraded). The signature is NOT checked here (see
// check_signature); a block or hash that is not part of the upgrade is checked against the
// stored node it hashes up to. REQUIRES: proof.fork == local.fork.
Result<TreeBatch> verify_proof(const TreeBatch& local, const NodeSource& source, const Proof& proof,
                               const std::optional<ManifestPrologue>& prologue = std::nullopt);

// Verifies a proof from another fork: it must carry an upgrade from 0 whose roots contain any
// block, hash or seek it also carries. Returns the new tree (from empty) with its nodes.
Result<TreeBatch> verify_reorg_proof(const Proof& proof,
                                     const std::optional<ManifestPrologue>& prologue = std::nullopt);

// VerificationFailed unless `verifier` accepts batch.signature over the batch's tree hash,
// length and fork.
Result<void> check_signature(const TreeBatch& batch, const Verifier& verifier);

// The length a peer's tree has after an upgrade proof (its additional nodes included).
std::uint64_t upgrade_length(const DataUpgrade& upgrade);

}  // namespace hs::v11::hypercore
