// The multi-signature encodings of hypercore 10/11 (JS messages.multiSignature and
// multiSignaturev0): what a signature over a tree head is when a manifest has several signers, or
// one signer in a version >= 1 manifest. Layouts: docs/formats/hypercore-v11.md "Multisig".
// Decoders throw compact::DecodeError on malformed input and ignore trailing bytes, as JS does.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/util/bytes.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore::multisig {

// Version >= 1 manifests: {uint signer, fixed64 signature, uint patch}; `patch` is the number of
// blocks the signer's head is ahead of the signed one (0 = none), its nodes in the shared list.
struct Input {
    std::uint64_t signer = 0;
    Signature signature{};
    std::uint64_t patch = 0;
    friend bool operator==(const Input&, const Input&) = default;
};
struct MultiSignature {
    std::vector<Input> proofs;
    std::vector<TreeNode> patch;  // the union of the inputs' patch nodes, first seen first
    friend bool operator==(const MultiSignature&, const MultiSignature&) = default;
};

// Version-0 manifests: each input carries its own patch {start, length, indexes into `patch`}.
struct PatchV0 {
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::vector<std::uint64_t> nodes;
    friend bool operator==(const PatchV0&, const PatchV0&) = default;
};
struct InputV0 {
    std::uint64_t signer = 0;
    Signature signature{};
    std::optional<PatchV0> patch;
    friend bool operator==(const InputV0&, const InputV0&) = default;
};
struct MultiSignatureV0 {
    std::vector<InputV0> proofs;
    std::vector<TreeNode> patch;
    friend bool operator==(const MultiSignatureV0&, const MultiSignatureV0&) = default;
};

Bytes encode(const MultiSignature&);
MultiSignature decode(ByteView);
Bytes encode_v0(const MultiSignatureV0&);
MultiSignatureV0 decode_v0(ByteView);

// JS multisig.assemble for inputs without patches: {signer i, signature i, patch 0} each, no
// nodes. A single-signer version >= 1 core signs with assemble({{0, signature}}) (68 bytes).
Bytes assemble(const std::vector<std::pair<std::uint64_t, Signature>>& inputs);

}  // namespace hs::v11::hypercore::multisig
