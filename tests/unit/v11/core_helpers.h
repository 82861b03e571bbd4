// What the v11 Core tests share: a Storage that forwards to a MemoryStorage the test keeps (to
// inspect it, fail its commits and reopen it), deterministic key pairs and blocks, and the
// requests a reader makes to catch up with a writer (as the JS replicator shapes them).
#pragma once

#include <memory>
#include <string>

#include "common/crypto/sign.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/memory_storage.h"

namespace hs::v11::hypercore::testing {

class SharedStorage final : public Storage {
public:
    explicit SharedStorage(std::shared_ptr<MemoryStorage> m) : m_(std::move(m)) {}
    const CoreHeader& header() const override { return m_->header(); }
    Result<std::optional<TreeNode>> node(std::uint64_t i) override { return m_->node(i); }
    Result<std::optional<Bytes>> block(std::uint64_t i, std::uint64_t o, std::uint64_t s) override {
        return m_->block(i, o, s);
    }
    Result<std::vector<BitRange>> present() override { return m_->present(); }
    Result<void> commit(const Batch& b) override { return m_->commit(b); }
    Result<void> flush() override { return m_->flush(); }

private:
    std::shared_ptr<MemoryStorage> m_;
};

inline KeyPair key_pair(std::uint8_t seed) {
    Bytes s(32, seed);
    const auto kp = crypto::keypair_from_seed(s);
    return KeyPair{kp.public_key, kp.secret_key};
}

inline Bytes block_value(std::uint64_t i, std::size_t size, std::uint8_t salt = 0) {
    Bytes b(size);
    for (std::size_t j = 0; j < size; ++j) b[j] = static_cast<std::uint8_t>(i * 131 + j * 7 + salt);
    return b;
}

struct Side {
    std::shared_ptr<MemoryStorage> mem = std::make_shared<MemoryStorage>();
    std::unique_ptr<Core> core;
};

inline Side make_writer(std::uint8_t seed = 1, bool compat = false) {
    Side w;
    const auto kp = key_pair(seed);
    const Manifest m = compat ? compat_manifest(kp.public_key) : default_manifest(kp.public_key);
    auto c = Core::create(std::make_unique<SharedStorage>(w.mem), m, kp, compat);
    if (c) w.core = std::move(*c);
    return w;
}

inline Side make_reader(const Hash& key) {
    Side r;
    auto c = Core::create_by_key(std::make_unique<SharedStorage>(r.mem), key);
    if (c) r.core = std::move(*c);
    return r;
}

inline Result<std::uint64_t> append(Core& c, const std::vector<Bytes>& blocks) {
    std::vector<ByteView> views(blocks.begin(), blocks.end());
    return c.append(views);
}

// The upgrade request a reader sends to reach the writer's head (from 0 on another fork).
inline ProofRequest upgrade_request(const Core& reader, const Core& writer) {
    ProofRequest r;
    r.fork = writer.fork();
    const bool same_fork = reader.fork() == writer.fork();
    const std::uint64_t start = same_fork ? reader.length() : 0;
    r.upgrade = RequestUpgrade{start, writer.length() - start};
    r.manifest = !reader.manifest().has_value();
    return r;
}

// The request for block `index` the reader sends (with the upgrade when the block is past its
// length, as the JS replicator pushes blocks).
inline ProofRequest block_request(Core& reader, const Core& writer, std::uint64_t index) {
    ProofRequest r;
    r.fork = writer.fork();
    if (index >= reader.length() || reader.fork() != writer.fork()) {
        r = upgrade_request(reader, writer);
        r.block = RequestBlock{index, 0};
        if (r.upgrade && index < r.upgrade->start) {
            auto n = reader.missing_nodes(2 * index);
            r.block->nodes = n ? *n : 0;
        }
        return r;
    }
    auto n = reader.missing_nodes(2 * index);
    r.block = RequestBlock{index, n ? *n : 0};
    return r;
}

}  // namespace hs::v11::hypercore::testing
