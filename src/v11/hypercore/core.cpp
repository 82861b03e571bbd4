#include "v11/hypercore/core.h"

#include <algorithm>

#include "common/util/flat_tree.h"
#include "common/util/hex.h"
#include "v11/hypercore/bitfield.h"
#include "v11/hypercore/proof.h"
#include "v11/hypercore/tree.h"

namespace hs::v11::hypercore {

struct Core::State {
    std::unique_ptr<Storage> storage;
    Hash key{};
    Hash discovery_key{};
    std::optional<Verifier> verifier;
    bool compat = false;
    TreeHead head;
    TreeBatch tree;  // the signed tree: fork, length, byte length, roots, signature (no nodes)
    Bitfield bits;
    std::unique_ptr<CoreListener> listener;  // from set_listener(); most open cores have none

    // The writer's key pair lives in the storage header only (one copy per open core).
    const std::optional<KeyPair>& key_pair() const { return storage->header().key_pair; }
    // So does the manifest (the verifier keeps its own copy to check with).
    const std::optional<Manifest>& manifest() const { return storage->header().manifest; }
    std::string name() const { return to_hex(ByteView(discovery_key.data(), 8)); }
    NodeSource source(std::span<const TreeNode> overlay = {}) const { return NodeSource(storage.get(), overlay); }
    std::optional<ManifestPrologue> prologue() const { return manifest() ? manifest()->prologue : std::nullopt; }
    CoreHeader header_with(const TreeHead& h) const {
        CoreHeader c;
        c.key = key;
        c.manifest = manifest();
        c.key_pair = key_pair();
        c.head = h;
        return c;
    }
};

namespace {

bool is_signer(const Manifest& m, const PublicKey& pub) {
    return std::any_of(m.signers.begin(), m.signers.end(), [&](const ManifestSigner& s) { return s.public_key == pub; });
}

// JS isCompat: a single signer whose public key is the core key.
bool is_compat(const Hash& key, const Manifest& m) { return m.signers.size() == 1 && m.signers[0].public_key == key; }

TreeHead head_of(const TreeBatch& t) { return TreeHead{t.fork, t.length, t.hash(), t.signature}; }

}  // namespace

Core::Core(std::unique_ptr<State> state) : s_(std::move(state)) {}
Core::~Core() = default;

Result<std::unique_ptr<Core>> Core::create(std::unique_ptr<Storage> storage, Manifest manifest,
                                           std::optional<KeyPair> key_pair, bool compat) {
    if (!storage) return make_error(Errc::InvalidArgument, "core create: no storage");
    if (!all_zero(storage->header().key))
        return make_error(Errc::Exists, "core create: storage already holds core {}", to_hex(storage->header().key));
    if (compat && manifest.signers.size() != 1)
        return make_error(Errc::InvalidArgument, "core create: a compat core needs exactly one signer, the manifest has {}",
                          manifest.signers.size());
    if (key_pair && !is_signer(manifest, key_pair->public_key))
        return make_error(Errc::InvalidArgument, "core create: the key pair {} is not a signer of the manifest",
                          to_hex(key_pair->public_key));
    auto s = std::make_unique<State>();
    s->key = compat ? manifest.signers[0].public_key : core_key(manifest);
    s->discovery_key = hypercore::discovery_key(s->key);
    s->compat = compat;
    s->verifier.emplace(s->key, manifest, compat);
    s->tree = TreeBatch::from(0, 0, 0, {}, {});
    s->head = head_of(s->tree);
    s->storage = std::move(storage);
    Batch batch;
    batch.header = s->header_with(s->head);
    batch.header->key_pair = key_pair;
    batch.header->manifest = std::move(manifest);
    HS_TRY(s->storage->commit(batch));
    return std::unique_ptr<Core>(new Core(std::move(s)));
}

Result<std::unique_ptr<Core>> Core::create_by_key(std::unique_ptr<Storage> storage, const Hash& key) {
    if (!storage) return make_error(Errc::InvalidArgument, "core create: no storage");
    if (!all_zero(storage->header().key))
        return make_error(Errc::Exists, "core create: storage already holds core {}", to_hex(storage->header().key));
    if (all_zero(key)) return make_error(Errc::InvalidArgument, "core create: the key is all zeros");
    auto s = std::make_unique<State>();
    s->key = key;
    s->discovery_key = hypercore::discovery_key(key);
    s->tree = TreeBatch::from(0, 0, 0, {}, {});
    s->head = head_of(s->tree);
    s->storage = std::move(storage);
    Batch batch;
    batch.header = s->header_with(s->head);
    batch.header->key_pair.reset();
    HS_TRY(s->storage->commit(batch));
    return std::unique_ptr<Core>(new Core(std::move(s)));
}

Result<std::unique_ptr<Core>> Core::open(std::unique_ptr<Storage> storage) {
    if (!storage) return make_error(Errc::InvalidArgument, "core open: no storage");
    const CoreHeader& h = storage->header();
    if (all_zero(h.key)) return make_error(Errc::NotFound, "core open: the storage holds no core (create it first)");
    auto s = std::make_unique<State>();
    s->key = h.key;
    s->discovery_key = hypercore::discovery_key(h.key);
    const std::optional<Manifest>& manifest = h.manifest;
    const std::string name = to_hex(ByteView(s->discovery_key.data(), 8));
    if (manifest) {
        if (core_key(*manifest) != h.key && !is_compat(h.key, *manifest))
            return make_error(Errc::Corrupt, "core {}: the stored manifest does not give the stored key", name);
        s->compat = core_key(*manifest) != h.key;
        s->verifier.emplace(h.key, *manifest, s->compat);
    }
    auto roots = roots_at(h.head.length, NodeSource(storage.get()));
    if (!roots) return make_error(Errc::Corrupt, "core {}: the roots of length {}: {}", name, h.head.length, roots.error().message);
    // (The size is taken before the roots move: argument evaluation order is unspecified.)
    const std::uint64_t byte_length = total_size(*roots);
    s->tree = TreeBatch::from(h.head.fork, h.head.length, byte_length, std::move(*roots), h.head.signature);
    if (s->tree.hash() != h.head.root_hash)
        return make_error(Errc::Corrupt, "core {}: the stored roots do not hash to the stored head (length {})", name,
                          h.head.length);
    if (h.head.length > 0) {
        if (!s->verifier) return make_error(Errc::Corrupt, "core {}: a head of length {} but no manifest", name, h.head.length);
        if (!s->verifier->verify(s->tree.hash(), s->tree.length, s->tree.fork, s->tree.signature))
            return make_error(Errc::Corrupt, "core {}: the stored head's signature does not verify", name);
    }
    s->head = h.head;
    HS_ASSIGN_OR_RETURN(auto present, storage->present());
    for (const auto& r : present) s->bits.set_range(r.start, std::min(r.start + r.length, s->tree.length), true);
    s->storage = std::move(storage);
    return std::unique_ptr<Core>(new Core(std::move(s)));
}

const Hash& Core::key() const noexcept { return s_->key; }
const Hash& Core::discovery_key() const noexcept { return s_->discovery_key; }
const std::optional<Manifest>& Core::manifest() const noexcept { return s_->manifest(); }
bool Core::compat() const noexcept { return s_->compat; }
bool Core::writable() const noexcept { return s_->key_pair().has_value() && s_->verifier.has_value(); }
const TreeHead& Core::head() const noexcept { return s_->head; }
std::uint64_t Core::fork() const noexcept { return s_->tree.fork; }
std::uint64_t Core::length() const noexcept { return s_->tree.length; }
std::uint64_t Core::byte_length() const noexcept { return s_->tree.byte_length; }

bool Core::has(std::uint64_t index) const noexcept { return index < s_->tree.length && s_->bits.get(index); }
std::uint64_t Core::count(std::uint64_t start, std::uint64_t end) const noexcept {
    return s_->bits.count(start, std::min(end, s_->tree.length));
}
std::uint64_t Core::find(std::uint64_t start, bool value) const noexcept {
    return s_->bits.find(start, value, s_->tree.length);
}
std::uint64_t Core::contiguous_length() const noexcept { return s_->bits.find(0, false, s_->tree.length); }
std::vector<BitRange> Core::present_ranges() const { return s_->bits.ranges(); }

Result<Bytes> Core::get(std::uint64_t index) {
    if (index >= s_->tree.length)
        return make_error(Errc::NotFound, "core {}: block {} is past the length {}", s_->name(), index, s_->tree.length);
    if (!s_->bits.get(index))
        return make_error(Errc::NotFound, "core {}: block {} is not stored (download it first)", s_->name(), index);
    const auto source = s_->source();
    HS_ASSIGN_OR_RETURN(auto leaf, source.need(2 * index));
    HS_ASSIGN_OR_RETURN(auto offset, hypercore::byte_offset(s_->tree.roots, s_->tree.length, s_->tree.byte_length,
                                                             2 * index, source));
    HS_ASSIGN_OR_RETURN(auto value, s_->storage->block(index, offset, leaf.size));
    if (!value)
        return make_error(Errc::Corrupt, "core {}: block {} is marked present but storage has no value", s_->name(), index);
    return std::move(*value);
}

Result<SeekResult> Core::seek(std::uint64_t bytes) {
    HS_ASSIGN_OR_RETURN(auto s, seek_bytes(s_->tree.roots, bytes, 0, s_->source()));
    if (s.found) return SeekResult{s.index, s.offset};
    if (s.in_range)
        return make_error(Errc::NotFound, "core {}: byte {} lies in blocks {}..{}, whose tree nodes are not stored",
                          s_->name(), bytes, s.start, s.end);
    return make_error(Errc::NotFound, "core {}: byte {} is past the byte length {}", s_->name(), bytes,
                      s_->tree.byte_length);
}

Result<std::uint64_t> Core::byte_offset(std::uint64_t index) {
    if (index > s_->tree.length)
        return make_error(Errc::NotFound, "core {}: block {} is past the length {}", s_->name(), index, s_->tree.length);
    return hypercore::byte_offset(s_->tree.roots, s_->tree.length, s_->tree.byte_length, 2 * index, s_->source());
}

Result<std::uint64_t> Core::append(std::span<const ByteView> blocks) {
    if (!writable()) return make_error(Errc::NotWritable, "core {}: not writable (no key pair)", s_->name());
    if (blocks.empty()) return s_->tree.length;
    TreeBatch batch = s_->tree;
    Batch write;
    write.blocks.reserve(blocks.size());
    for (const auto& b : blocks) {
        write.blocks.push_back(BlockWrite{batch.length, batch.byte_length, Bytes(b.begin(), b.end())});
        batch.append(b);
    }
    batch.signature = s_->verifier->sign(batch.hash(), batch.length, batch.fork, s_->key_pair()->public_key,
                                         s_->key_pair()->secret_key);
    const TreeHead head = head_of(batch);
    write.nodes = std::move(batch.nodes);
    batch.nodes.clear();
    write.bits.push_back(BitRange{s_->tree.length, blocks.size(), true});
    write.header = s_->header_with(head);
    HS_TRY(s_->storage->commit(write));
    const std::uint64_t from = s_->tree.length;
    s_->tree = std::move(batch);
    s_->head = head;
    s_->bits.set_range(from, s_->tree.length, true);
    if (s_->listener && s_->listener->on_append) s_->listener->on_append(s_->tree.length, s_->tree.fork);
    return s_->tree.length;
}

Result<void> Core::truncate(std::uint64_t new_length) {
    if (!writable()) return make_error(Errc::NotWritable, "core {}: not writable (no key pair)", s_->name());
    if (new_length > s_->tree.length)
        return make_error(Errc::InvalidArgument, "core {}: cannot truncate length {} to {}", s_->name(), s_->tree.length,
                          new_length);
    HS_ASSIGN_OR_RETURN(auto batch, truncate_batch(s_->tree.length, s_->tree.roots, new_length, s_->tree.fork + 1,
                                                   s_->source()));
    batch.signature = s_->verifier->sign(batch.hash(), batch.length, batch.fork, s_->key_pair()->public_key,
                                         s_->key_pair()->secret_key);
    const TreeHead head = head_of(batch);
    Batch write;
    write.truncate_to = new_length;
    write.header = s_->header_with(head);
    HS_TRY(s_->storage->commit(write));
    s_->bits.set_range(new_length, s_->tree.length, false);
    s_->tree = std::move(batch);
    s_->head = head;
    if (s_->listener && s_->listener->on_truncate) s_->listener->on_truncate(new_length, s_->tree.fork);
    return {};
}

Result<Proof> Core::proof(const ProofRequest& request) {
    if (request.fork != s_->tree.fork)
        return make_error(Errc::NotFound, "core {}: the request is for fork {}, the core is at fork {}", s_->name(),
                          request.fork, s_->tree.fork);
    if (request.block && !has(request.block->index))
        return make_error(Errc::NotFound, "core {}: block {} is not stored", s_->name(), request.block->index);
    HS_ASSIGN_OR_RETURN(auto p, generate_proof(s_->tree, s_->source(), request, s_->prologue()));
    if (p.block) {
        HS_ASSIGN_OR_RETURN(p.block->value, get(p.block->index));
    }
    if (request.manifest && !s_->compat && s_->manifest()) p.manifest = s_->manifest();
    return p;
}

Result<std::uint64_t> Core::missing_nodes(std::uint64_t tree_index) {
    return hypercore::missing_nodes(tree_index, s_->tree.length, s_->source());
}

Result<Applied> Core::verify_and_apply(const Proof& proof) {
    State& s = *s_;
    auto fail = [&](const Error& e) {
        return Error{e.code == Errc::Ok ? Errc::VerificationFailed : e.code,
                     fmt::format("core {}: {}", s.name(), e.message)};
    };

    // The verifier: ours, or the one the proof's manifest (or, without one, the compat
    // assumption that the key is the signer) gives, if it matches the key.
    std::optional<Manifest> new_manifest;
    const Verifier* verifier = s.verifier ? &*s.verifier : nullptr;
    std::optional<Verifier> candidate;
    if (!verifier && proof.upgrade) {
        PublicKey as_pub{};
        std::copy(s.key.begin(), s.key.end(), as_pub.begin());
        Manifest m = proof.manifest ? *proof.manifest : default_manifest(as_pub);
        const bool hashes = core_key(m) == s.key;
        if (!hashes && !is_compat(s.key, m))
            return fail(Error{Errc::VerificationFailed, "the proof's manifest does not hash to the core key"});
        candidate.emplace(s.key, m, !hashes);
        verifier = &*candidate;
        new_manifest = std::move(m);
    }
    const std::optional<ManifestPrologue> prologue =
        s.manifest() ? s.manifest()->prologue : (new_manifest ? new_manifest->prologue : std::nullopt);

    Applied applied;
    TreeBatch batch;
    std::optional<std::uint64_t> truncate_to;
    if (proof.fork == s.tree.fork) {
        // An upgrade from below our length (asked for before we grew) is checked against our
        // tree as it was at its start, when we still have those roots.
        TreeBatch base = s.tree;
        if (proof.upgrade && proof.upgrade->start < s.tree.length) {
            auto roots = roots_at(proof.upgrade->start, s.source());
            if (!roots)
                return fail(Error{Errc::VerificationFailed,
                                  fmt::format("the upgrade starts at {}, below the length {}, and the roots there are "
                                              "not stored: ask again from the current length",
                                              proof.upgrade->start, s.tree.length)});
            const std::uint64_t base_bytes = total_size(*roots);
            base = TreeBatch::from(s.tree.fork, proof.upgrade->start, base_bytes, std::move(*roots), {});
        }
        auto v = verify_proof(base, s.source(), proof, prologue);
        if (!v) return fail(v.error());
        batch = std::move(*v);
        if (batch.upgraded && batch.length <= s.tree.length) {
            // An upgrade we already have: it must end on our own tree.
            bool same = true;
            if (batch.length == s.tree.length) {
                same = batch.roots == s.tree.roots;
            } else {
                for (const auto& r : batch.roots) {
                    auto stored = s.storage->node(r.index);
                    if (!stored) return fail(stored.error());
                    if (!*stored || **stored != r) {
                        same = false;
                        break;
                    }
                }
            }
            if (!same)
                return fail(Error{Errc::VerificationFailed,
                                  fmt::format("the proof's upgrade to length {} conflicts with the local tree of length {}",
                                              batch.length, s.tree.length)});
            auto nodes = std::move(batch.nodes);
            batch = TreeBatch::from(s.tree.fork, s.tree.length, s.tree.byte_length, s.tree.roots, s.tree.signature);
            batch.nodes = std::move(nodes);
        } else if (batch.upgraded) {
            if (!verifier) return fail(Error{Errc::VerificationFailed, "no manifest to check the upgrade's signature with"});
            if (auto r = check_signature(batch, *verifier); !r) return fail(r.error());
        }
    } else if (proof.fork > s.tree.fork) {
        auto v = verify_reorg_proof(proof, prologue);
        if (!v) return fail(v.error());
        batch = std::move(*v);
        if (!verifier) return fail(Error{Errc::VerificationFailed, "no manifest to check the fork's signature with"});
        if (auto r = check_signature(batch, *verifier); !r) return fail(r.error());
        // The new tree shares every root it has in common with ours. Inside the first root that
        // differs, the proof's own nodes (a block's path) narrow it down as JS does: where a left
        // child equals ours the difference is to its right; where no child is known, nothing
        // under the node is assumed shared.
        std::uint64_t ancestors = std::min(batch.length, s.tree.length);
        auto same_as_local = [&](const TreeNode& n) -> Result<bool> {
            if (flat::right_span(n.index) >= 2 * s.tree.length) return false;
            HS_ASSIGN_OR_RETURN(auto stored, s.storage->node(n.index));
            return stored && *stored == n;
        };
        for (const auto& r : batch.roots) {
            auto same = same_as_local(r);
            if (!same) return fail(same.error());
            if (*same) continue;
            TreeNode diff = r;
            while (diff.index & 1) {
                const TreeNode* left = batch.find(flat::left_child(diff.index));
                if (!left) break;
                auto left_same = same_as_local(*left);
                if (!left_same) return fail(left_same.error());
                if (!*left_same) {
                    diff = *left;
                    continue;
                }
                const TreeNode* right = batch.find(flat::right_child(diff.index));
                if (!right) {
                    diff = TreeNode{flat::right_child(diff.index), 0, {}};
                    break;
                }
                diff = *right;
            }
            ancestors = std::min(ancestors, flat::left_span(diff.index) / 2);
            break;
        }
        batch.ancestors = ancestors;
        truncate_to = ancestors;
    } else {
        return fail(Error{Errc::VerificationFailed,
                          fmt::format("the proof is for fork {}, older than the core's fork {}", proof.fork, s.tree.fork)});
    }

    // Everything verified: one batch with the block, the nodes and the new head.
    Batch write;
    write.truncate_to = truncate_to;
    std::optional<std::uint64_t> stored_block;
    if (proof.block) {
        const auto index = proof.block->index;
        const bool had = !truncate_to ? s.bits.get(index) : (index < *truncate_to && s.bits.get(index));
        if (index >= batch.length)
            return fail(Error{Errc::VerificationFailed, fmt::format("block {} is past the length {}", index, batch.length)});
        if (!had) {
            auto offset = hypercore::byte_offset(batch.roots, batch.length, batch.byte_length, 2 * index,
                                                 NodeSource(s.storage.get(), batch.nodes));
            if (!offset) return fail(offset.error());
            write.blocks.push_back(BlockWrite{index, *offset, proof.block->value});
            write.bits.push_back(BitRange{index, 1, true});
            stored_block = index;
        }
    }
    write.nodes = std::move(batch.nodes);
    batch.nodes.clear();
    const bool upgraded = batch.upgraded;
    // A manifest is kept once it hashes to the key, or (a compat guess) once a signature checked it.
    if (new_manifest && !upgraded && candidate->compat()) new_manifest.reset();
    const TreeHead head = upgraded ? head_of(batch) : s.head;
    const bool had_manifest = s.manifest().has_value();
    if (upgraded || new_manifest) {
        CoreHeader h = s.header_with(head);
        if (new_manifest && !had_manifest) h.manifest = new_manifest;
        write.header = std::move(h);
    }
    if (write.nodes.empty() && write.blocks.empty() && !write.header && !write.truncate_to) return applied;
    if (auto r = s.storage->commit(write); !r) return Error{r.error().code, fmt::format("core {}: {}", s.name(), r.error().message)};

    // Committed: now memory follows.
    const std::uint64_t old_length = s.tree.length;
    if (new_manifest && !had_manifest) {  // the commit stored it in the header
        s.compat = candidate->compat();
        s.verifier = std::move(candidate);
    }
    if (truncate_to) {
        s.bits.set_range(*truncate_to, std::max(old_length, *truncate_to), false);
        s.bits.set_range(*truncate_to, ~std::uint64_t{0} >> 2, false);
        applied.truncated = *truncate_to < old_length;
        applied.truncated_to = *truncate_to;
    }
    if (upgraded) {
        s.tree = std::move(batch);
        s.tree.ancestors = s.tree.length;
        s.head = head;
        applied.upgraded = true;
    }
    if (stored_block) {
        s.bits.set(*stored_block, true);
        applied.block = stored_block;
    }
    if (applied.truncated && s.listener && s.listener->on_truncate) s.listener->on_truncate(applied.truncated_to, s.tree.fork);
    if (upgraded && s.listener && s.listener->on_append) s.listener->on_append(s.tree.length, s.tree.fork);
    if (stored_block && s.listener && s.listener->on_download) s.listener->on_download(*stored_block, proof.block->value.size());
    return applied;
}

Result<void> Core::flush() { return s_->storage->flush(); }

void Core::set_listener(CoreListener listener) { s_->listener = std::make_unique<CoreListener>(std::move(listener)); }

}  // namespace hs::v11::hypercore
