// Fuzz target: a second-generation reader Core (src/v11/hypercore) fed proofs that writers
// generated for fuzzer-chosen requests and that the fuzzer then mutated. Two writers share one
// key: A at fork 0 (24 blocks), B forked from it (truncated to 15, then 25 blocks on fork 1).
// Invariants: nothing crashes; whatever the reader stores was verified: its head is the head
// of the writer on its fork (or empty) with a valid signature, every tree node it holds equals that writer's node,
// every block it has equals that writer's block, and it reopens from its storage.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/crypto/sign.h"
#include "fuzz_check.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/memory_storage.h"

namespace {
namespace hc = hs::v11::hypercore;
using hs::Bytes;
using hs::ByteView;
using hs::fuzz::require;

// Forwards to a MemoryStorage the harness keeps, to inspect it after the core used it.
class Shared final : public hc::Storage {
public:
    explicit Shared(std::shared_ptr<hc::MemoryStorage> m) : m_(std::move(m)) {}
    const hc::CoreHeader& header() const override { return m_->header(); }
    hs::Result<std::optional<hc::TreeNode>> node(std::uint64_t i) override { return m_->node(i); }
    hs::Result<std::optional<Bytes>> block(std::uint64_t i, std::uint64_t o, std::uint64_t s) override {
        return m_->block(i, o, s);
    }
    hs::Result<std::vector<hc::BitRange>> present() override { return m_->present(); }
    hs::Result<void> commit(const hc::Batch& b) override { return m_->commit(b); }
    hs::Result<void> flush() override { return m_->flush(); }

private:
    std::shared_ptr<hc::MemoryStorage> m_;
};

struct Writer {
    std::shared_ptr<hc::MemoryStorage> mem = std::make_shared<hc::MemoryStorage>();
    std::unique_ptr<hc::Core> core;
};

Bytes value(std::uint64_t i, std::uint8_t salt) {
    Bytes b((i * 29 + salt) % 90);
    for (std::size_t j = 0; j < b.size(); ++j) b[j] = static_cast<std::uint8_t>(i + j * 3 + salt);
    return b;
}

void append(hc::Core& c, std::uint64_t n, std::uint8_t salt) {
    for (std::uint64_t k = 0; k < n; ++k) {
        const Bytes b = value(c.length(), salt);
        const ByteView v(b);
        require(c.append(std::span<const ByteView>(&v, 1)).ok());
    }
}

struct Writers {
    Writer a, b;
    Writers() {
        const auto kp = hs::crypto::keypair_from_seed(Bytes(32, 9));
        const hc::KeyPair pair{kp.public_key, kp.secret_key};
        const auto manifest = hc::default_manifest(pair.public_key);
        a.core = std::move(hc::Core::create(std::make_unique<Shared>(a.mem), manifest, pair).value());
        b.core = std::move(hc::Core::create(std::make_unique<Shared>(b.mem), manifest, pair).value());
        append(*a.core, 24, 0);
        append(*b.core, 24, 0);
        require(b.core->truncate(15).ok());
        append(*b.core, 10, 50);
    }
};

Writers& writers() {
    static Writers w;
    return w;
}

class Input {
public:
    Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
    bool empty() const { return i_ >= n_; }
    std::uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
    std::uint64_t small(std::uint64_t mod) { return mod == 0 ? 0 : byte() % mod; }

private:
    const std::uint8_t* d_;
    std::size_t n_;
    std::size_t i_ = 0;
};

hc::ProofRequest make_request(Input& in, const hc::Core& reader, const hc::Core& writer) {
    hc::ProofRequest r;
    r.fork = in.small(8) == 0 ? in.small(3) : writer.fork();
    const std::uint64_t len = writer.length();
    const std::uint8_t parts = in.byte();
    if (parts & 1) r.block = hc::RequestBlock{in.small(len + 2), in.small(6)};
    if (parts & 2) r.hash = hc::RequestBlock{in.small(2 * len + 2), in.small(6)};
    if (parts & 4) r.seek = hc::RequestSeek{in.small(255) * 8 + in.small(8), 0};
    if (parts & 8) {
        const std::uint64_t start = (parts & 16) ? in.small(len + 1) : (reader.fork() == writer.fork() ? reader.length() : 0);
        const std::uint64_t length = (parts & 32) ? in.small(len + 1) : (len > start ? len - start : 0);
        r.upgrade = hc::RequestUpgrade{start, length};
    }
    r.manifest = (parts & 64) != 0;
    return r;
}

std::vector<hc::TreeNode>* pick_nodes(Input& in, hc::Proof& p) {
    switch (in.small(5)) {
    case 0: return p.block ? &p.block->nodes : nullptr;
    case 1: return p.hash ? &p.hash->nodes : nullptr;
    case 2: return p.seek ? &p.seek->nodes : nullptr;
    case 3: return p.upgrade ? &p.upgrade->nodes : nullptr;
    default: return p.upgrade ? &p.upgrade->additional_nodes : nullptr;
    }
}

void mutate(Input& in, hc::Proof& p) {
    const auto n = in.small(4);
    for (std::uint64_t k = 0; k < n; ++k) {
        switch (in.small(12)) {
        case 0:
            if (p.block && !p.block->value.empty()) p.block->value[in.small(p.block->value.size())] ^= in.byte() | 1;
            break;
        case 1:
            if (p.block) p.block->value.push_back(in.byte());
            break;
        case 2:
            if (p.block) p.block->index = in.small(40);
            break;
        case 3: {
            auto* nodes = pick_nodes(in, p);
            if (nodes && !nodes->empty()) (*nodes)[in.small(nodes->size())].hash[in.small(32)] ^= in.byte() | 1;
            break;
        }
        case 4: {
            auto* nodes = pick_nodes(in, p);
            if (nodes && !nodes->empty()) (*nodes)[in.small(nodes->size())].size += in.small(5) + 1;
            break;
        }
        case 5: {
            auto* nodes = pick_nodes(in, p);
            if (nodes && !nodes->empty()) (*nodes)[in.small(nodes->size())].index = in.small(80);
            break;
        }
        case 6: {
            auto* nodes = pick_nodes(in, p);
            if (nodes && !nodes->empty()) nodes->erase(nodes->begin() + static_cast<std::ptrdiff_t>(in.small(nodes->size())));
            break;
        }
        case 7: {
            auto* nodes = pick_nodes(in, p);
            if (nodes && !nodes->empty()) nodes->push_back((*nodes)[in.small(nodes->size())]);
            break;
        }
        case 8:
            if (p.upgrade && !p.upgrade->signature.empty())
                p.upgrade->signature[in.small(p.upgrade->signature.size())] ^= in.byte() | 1;
            break;
        case 9:
            if (p.upgrade) {
                p.upgrade->start = in.small(30);
                p.upgrade->length = in.small(30);
            }
            break;
        case 10: p.fork = in.small(3); break;
        default:
            if (p.manifest && !p.manifest->signers.empty()) p.manifest->signers[0].public_key[in.small(32)] ^= 1;
            else p.manifest.reset();
            break;
        }
    }
}

// Everything the reader holds agrees with the writer on its fork.
void check(hc::Core& reader, const std::shared_ptr<hc::MemoryStorage>& mem) {
    const Writers& w = writers();
    if (reader.length() == 0) {
        require(reader.present_ranges().empty());
        return;
    }
    const Writer& ref = reader.fork() == w.a.core->fork() ? w.a : w.b;
    require(reader.fork() == ref.core->fork());
    // The same signed tree (the signature bytes may differ where the multisig encoding has
    // fields the signature does not cover; it must still verify).
    const hc::TreeHead& h = reader.head();
    require(h.length == ref.core->head().length && h.root_hash == ref.core->head().root_hash);
    require(reader.manifest().has_value());
    const hc::Verifier v(reader.key(), *reader.manifest(), reader.compat());
    require(v.verify(h.root_hash, h.length, h.fork, h.signature));
    for (const auto& [index, node] : mem->nodes()) {
        auto it = ref.mem->nodes().find(index);
        require(it != ref.mem->nodes().end() && it->second == node);
    }
    for (const auto& r : reader.present_ranges())
        for (std::uint64_t i = r.start; i < r.start + r.length; ++i) {
            auto got = reader.get(i);
            require(got.ok());
            require(*got == ref.mem->blocks().at(i));
        }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Writers& w = writers();
    Input in(data, size);
    auto mem = std::make_shared<hc::MemoryStorage>();
    auto reader = std::move(hc::Core::create_by_key(std::make_unique<Shared>(mem), w.a.core->key()).value());
    for (int step = 0; step < 64 && !in.empty(); ++step) {
        hc::Core& writer = (in.byte() & 1) ? *w.b.core : *w.a.core;
        const hc::ProofRequest req = make_request(in, *reader, writer);
        auto proof = writer.proof(req);
        if (!proof) continue;
        hc::Proof p = std::move(*proof);
        mutate(in, p);
        (void)reader->verify_and_apply(p);
        check(*reader, mem);
    }
    reader.reset();
    auto reopened = hc::Core::open(std::make_unique<Shared>(mem));
    require(reopened.ok());
    check(**reopened, mem);
    return 0;
}
