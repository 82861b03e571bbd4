#include "v9/hypercore/feed.h"

#include <algorithm>

#include "common/crypto/derive.h"
#include "v9/hypercore/sleep.h"
#include "common/util/hex.h"

namespace hs::hypercore {
namespace {

// The largest flat-tree index we accept from storage or peers: keeps 2*index and spans far from
// overflow (2^62 blocks is beyond any real log).
constexpr std::uint64_t kMaxBlockIndex = std::uint64_t{1} << 60;

std::uint64_t sum_sizes(const std::vector<Node>& nodes) {
    std::uint64_t total = 0;
    for (const auto& n : nodes) total += n.size;
    return total;
}

Status read_exact(RandomAccess& file, std::uint64_t offset, MutableByteView out, std::size_t& got) {
    HS_ASSIGN_OR_RETURN(got, file.read(offset, out));
    return {};
}

}  // namespace

Feed::~Feed() = default;

std::string Feed::describe() const {
    return fmt::format("core {} ({})", to_hex(m_key), m_storage ? m_storage->describe() : "closed");
}

Error Feed::corrupt(std::string_view file, std::string_view what) const {
    return make_error(Errc::Corrupt, "{}: {} file: {}", describe(), file, what);
}

Result<std::unique_ptr<Feed>> Feed::open(std::unique_ptr<StorageProvider> storage,
                                          FeedOptions options) {
    std::unique_ptr<Feed> feed(new Feed());
    feed->m_storage = std::move(storage);
    HS_TRY(feed->load(options));
    return feed;
}

Status Feed::load(const FeedOptions& options) {
    auto& st = *m_storage;
    m_read_only = st.read_only();
    const std::string where = st.describe();
    HS_ASSIGN_OR_RETURN(m_key_file, st.open("key"));
    HS_ASSIGN_OR_RETURN(m_secret_key_file, st.open("secret_key"));
    HS_ASSIGN_OR_RETURN(m_tree_file, st.open("tree"));
    HS_ASSIGN_OR_RETURN(m_data_file, st.open("data"));
    HS_ASSIGN_OR_RETURN(m_bitfield_file, st.open("bitfield"));
    HS_ASSIGN_OR_RETURN(m_signatures_file, st.open("signatures"));

    // key
    std::optional<crypto::PublicKey> stored_key;
    {
        crypto::PublicKey k{};
        std::size_t got = 0;
        HS_TRY(read_exact(*m_key_file, 0, k, got));
        if (got == k.size()) stored_key = k;
        else if (got != 0)
            return make_error(Errc::Corrupt, "{}: key file is truncated ({} of 32 bytes)", where, got);
    }
    if (stored_key && options.key && *stored_key != *options.key)
        return make_error(Errc::Exists,
                          "Another hypercore is stored here: {} holds {} but {} was asked for", where,
                          to_hex(*stored_key), to_hex(*options.key));

    if (stored_key) {
        m_key = *stored_key;
    } else if (options.key) {
        m_key = *options.key;
    } else if (options.create_if_missing && !m_read_only) {
        auto kp = crypto::random_keypair();
        m_key = kp.public_key;
        m_secret_key = kp.secret_key;
    } else {
        return make_error(Errc::NotFound, "No hypercore is stored here: {} has no key file", where);
    }
    m_discovery_key = crypto::discovery_key(m_key);

    // headers
    struct HeaderCheck {
        RandomAccess* file;
        sleep::FileType type;
        const char* name;
    };
    const HeaderCheck checks[] = {{m_bitfield_file.get(), sleep::FileType::Bitfield, "bitfield"},
                                  {m_signatures_file.get(), sleep::FileType::Signatures, "signatures"},
                                  {m_tree_file.get(), sleep::FileType::Tree, "tree"}};
    for (const auto& c : checks) {
        ByteArray<sleep::kHeaderBytes> h{};
        std::size_t got = 0;
        HS_TRY(read_exact(*c.file, 0, h, got));
        if (got > 0) {
            auto s = sleep::check_header(ByteView(h.data(), got), c.type, c.name);
            if (!s) return corrupt(c.name, s.error().message);
        }
        if (!m_read_only && got < sleep::kHeaderBytes) HS_TRY(c.file->write(0, sleep::header(c.type)));
    }

    // bitfield pages
    {
        HS_ASSIGN_OR_RETURN(const std::uint64_t size, m_bitfield_file->size());
        if (size > sleep::kHeaderBytes) {
            Bytes body(size - sleep::kHeaderBytes);
            std::size_t got = 0;
            HS_TRY(read_exact(*m_bitfield_file, sleep::kHeaderBytes, body, got));
            body.resize(got);
            m_bitfield = Bitfield(body);
        }
    }

    // secret key
    if (options.secret_key) {
        m_secret_key = options.secret_key;
    } else if (!m_secret_key) {
        crypto::SecretKey sk{};
        std::size_t got = 0;
        HS_TRY(read_exact(*m_secret_key_file, 0, sk, got));
        if (got == sk.size()) m_secret_key = sk;
    }
    if (m_secret_key && !std::equal(m_key.begin(), m_key.end(), m_secret_key->begin() + 32))
        return make_error(Errc::InvalidArgument, "{}: the secret key does not belong to key {}",
                          where, to_hex(m_key));

    if (!m_read_only) {
        if (!stored_key) HS_TRY(m_key_file->write(0, m_key));
        if (options.store_secret_key && m_secret_key) {
            crypto::SecretKey sk{};
            std::size_t got = 0;
            HS_TRY(read_exact(*m_secret_key_file, 0, sk, got));
            if (got != sk.size() || sk != *m_secret_key) HS_TRY(m_secret_key_file->write(0, *m_secret_key));
        }
    }

    // length, liveness, roots (one retry with length - 1, like hypercore 9)
    m_length = tree().blocks();
    for (int attempt = 0;; ++attempt) {
        auto r = roots(m_length);
        if (r) {
            m_byte_length = sum_sizes(*r);
            // A static feed's key is the tree hash of its roots; a live feed's key is a public
            // key, which no tree hash equals. The signature slot alone cannot tell: a live
            // feed's slot may be blank after a torn write.
            m_live = m_length == 0 || signature(m_length).ok() || tree_hash(*r) != m_key;
            if (writable()) m_merkle.emplace(std::move(r).value());
            break;
        }
        if (attempt > 0 || m_length == 0)
            return corrupt("tree", fmt::format("cannot read the roots for length {}: {}", m_length,
                                               r.error().message));
        --m_length;
    }
    if (writable()) {
        // A writer killed (or failing) mid-append may have left a signature past the length; it
        // would not match the blocks appended next, so drop it.
        HS_ASSIGN_OR_RETURN(const std::uint64_t sig_size, m_signatures_file->size());
        if (sig_size > sleep::signature_offset(m_length))
            HS_TRY(m_signatures_file->truncate(sleep::signature_offset(m_length)));
        // The slot for the length itself must verify. If it does not, the bitfield claims more
        // than was ever signed: bits of an append that failed (or was cut short) reached the
        // disk while its signature did not survive. Fall back to the longest signed length
        // within kSignedLengthSearch blocks; only if there is none, sign the stored roots again
        // (a torn slot at the length itself).
        if (m_live && m_length) {
            auto signed_at = [&](std::uint64_t len) {
                auto sig = signature(len);
                if (!sig) return false;
                auto r = roots(len);
                return r && verify_roots_signature(*r, len, *sig, m_key);
            };
            if (!signed_at(m_length)) {
                constexpr std::uint64_t kSignedLengthSearch = 1 << 16;
                std::uint64_t len = m_length - 1;
                const std::uint64_t floor = m_length > kSignedLengthSearch ? m_length - kSignedLengthSearch : 0;
                while (len > floor && !signed_at(len)) --len;
                if (len > floor) {
                    auto r = roots(len);
                    m_length = len;
                    m_byte_length = sum_sizes(*r);
                    m_merkle.emplace(std::move(r).value());
                } else {
                    m_resign_pending = true;
                    // Not fatal here (a full disk must not keep the core from opening); the
                    // next append retries before it writes anything.
                    (void)resign_length();
                }
            }
        }
        // A writer holds every block below its length and nothing at or past it: clear bits a
        // failed flush left past the length (a later flush writes the pages), and drop what a
        // failed append left past the end of the files.
        clear_bits_past_length();
        (void)flush_bitfield();
        trim_past_length();
        HS_ASSIGN_OR_RETURN(const std::uint64_t sig_size2, m_signatures_file->size());
        if (sig_size2 > sleep::signature_offset(m_length))
            HS_TRY(m_signatures_file->truncate(sleep::signature_offset(m_length)));
    }
    // Key files are not needed after loading; closing them keeps an open core at four files.
    m_key_file.reset();
    m_secret_key_file.reset();
    return {};
}

const Node* Feed::NodeCache::find(flat::Index index) const noexcept {
    if (tags.empty()) return nullptr;
    const std::size_t slot = (index >> 1) & (tags.size() - 1);
    return tags[slot] == index + 1 ? &nodes[slot] : nullptr;
}

void Feed::NodeCache::put(const Node& n) {
    if (tags.empty()) return;
    const std::size_t slot = (n.index >> 1) & (tags.size() - 1);
    nodes[slot] = n;
    tags[slot] = n.index + 1;
}

void Feed::NodeCache::erase(flat::Index index) noexcept {
    if (tags.empty()) return;
    const std::size_t slot = (index >> 1) & (tags.size() - 1);
    if (tags[slot] == index + 1) tags[slot] = 0;
}

void Feed::NodeCache::reserve_for(std::uint64_t entries) {
    std::size_t want = 64;
    while (want < entries && want < kMaxNodeCacheSlots) want *= 2;
    if (want <= tags.size()) return;
    nodes.assign(want, Node{});
    tags.assign(want, 0);
}

void Feed::cache_node(const Node& n) {
    auto& cache = (n.index & 1) ? m_parent_cache : m_leaf_cache;
    if (cache.tags.size() < kMaxNodeCacheSlots) cache.reserve_for(n.index / 2 + 1);
    cache.put(n);
}

Result<Node> Feed::node(flat::Index index) {
    if (index > 2 * kMaxBlockIndex) return make_error(Errc::NotFound, "{}: node {} is out of range", describe(), index);
    if (const Node* hit = ((index & 1) ? m_parent_cache : m_leaf_cache).find(index)) return *hit;
    ByteArray<sleep::kTreeEntryBytes> buf{};
    std::size_t got = 0;
    HS_TRY(read_exact(*m_tree_file, sleep::tree_offset(index), buf, got));
    if (got < buf.size() || all_zero(buf))
        return make_error(Errc::NotFound, "tree node {} is not stored", index);
    Node n;
    n.index = index;
    std::copy_n(buf.begin(), 32, n.hash.begin());
    n.size = get_u64be(buf.data() + 32);
    cache_node(n);
    return n;
}

Result<std::vector<Node>> Feed::roots(std::uint64_t length) {
    std::vector<Node> out;
    std::optional<Error> failure;
    flat::for_each_full_root(2 * length, [&](flat::Index i) {
        if (failure) return;
        auto n = node(i);
        if (!n) failure = std::move(n).error();
        else out.push_back(*n);
    });
    if (failure) return std::move(*failure);
    return out;
}

Result<crypto::Signature> Feed::signature(std::uint64_t length) {
    if (length == 0) return make_error(Errc::NotFound, "{}: no signature for length 0", describe());
    crypto::Signature sig{};
    std::size_t got = 0;
    HS_TRY(read_exact(*m_signatures_file, sleep::signature_offset(length - 1), sig, got));
    if (got < sig.size() || all_zero(sig))
        return make_error(Errc::NotFound, "{}: No signature found for length {}", describe(), length);
    return sig;
}

Status Feed::write_nodes(std::span<const Node> nodes) {
    for (const auto& n : nodes) {
        ByteArray<sleep::kTreeEntryBytes> buf;
        std::copy(n.hash.begin(), n.hash.end(), buf.begin());
        put_u64be(buf.data() + 32, n.size);
        HS_TRY(m_tree_file->write(sleep::tree_offset(n.index), buf));
    }
    return {};
}

void Feed::cache_nodes(std::span<const Node> nodes) {
    for (const auto& n : nodes) cache_node(n);
}

Status Feed::flush_bitfield() {
    // Highest page first: the length read back on open is the left-most chain of tree roots,
    // so a flush cut short (a full disk) never makes the lower pages claim a longer length.
    auto pages = m_bitfield.take_dirty_pages();
    std::reverse(pages.begin(), pages.end());
    for (std::size_t i = 0; i < pages.size(); ++i) {
        const auto p = pages[i];
        auto s = m_bitfield_file->write(sleep::kHeaderBytes + p * sleep::kBitfieldPageBytes,
                                        m_bitfield.page_view(p));
        if (!s) {
            // The failed page may be half written: it and every page after it stay dirty.
            for (std::size_t j = i; j < pages.size(); ++j) m_bitfield.mark_dirty(pages[j]);
            return s;
        }
    }
    return {};
}

void Feed::abandon_bitfield_changes() {
    m_bitfield.rollback();
    // Best effort: a flush that failed part way may have written some pages with bits of the
    // failed operation. Whatever is not rewritten now stays dirty for the next flush.
    (void)flush_bitfield();
    const std::uint64_t limit = sleep::kHeaderBytes + m_bitfield.page_count() * sleep::kBitfieldPageBytes;
    auto size = m_bitfield_file->size();
    if (size && *size > limit) (void)m_bitfield_file->truncate(limit);
}

void Feed::clear_bits_past_length() {
    for (auto b = m_bitfield.next_present(m_length, m_bitfield.length()); b;
         b = m_bitfield.next_present(*b + 1, m_bitfield.length()))
        m_bitfield.set(*b, false);
    // Tree nodes covering any block at or past the length: every index from 2 * length - 1 on,
    // and the ancestors of the first missing leaf that lie to its left.
    const std::uint64_t first = m_length ? 2 * m_length - 1 : 0;
    for (std::uint64_t t = first; t < m_bitfield.tree_length(); ++t)
        if (m_bitfield.tree_get(t)) m_bitfield.tree_set(t, false);
    for (flat::Index a = 2 * m_length; flat::depth(a) < 62;) {
        a = flat::parent(a);
        if (a < first && m_bitfield.tree_get(a)) m_bitfield.tree_set(a, false);
    }
}

void Feed::trim_past_length() {
    bool ok = true;
    auto trim = [&](RandomAccess& file, std::uint64_t keep) {
        auto size = file.size();
        if (!size) ok = false;
        else if (*size > keep && !file.truncate(keep)) ok = false;
    };
    trim(*m_data_file, m_byte_length);
    trim(*m_tree_file, m_length ? sleep::tree_offset(2 * m_length - 1) : sleep::kHeaderBytes);
    trim(*m_signatures_file, sleep::signature_offset(m_length));
    m_trim_pending = !ok;
}

Status Feed::resign_length() {
    if (!m_merkle) {
        HS_ASSIGN_OR_RETURN(auto current_roots, roots(m_length));
        m_merkle.emplace(std::move(current_roots));
    }
    const auto sig = crypto::sign_detached(signable(m_merkle->roots(), m_length), *m_secret_key);
    auto s = m_signatures_file->write(sleep::signature_offset(m_length - 1), sig);
    if (!s)
        return make_error(s.error().code,
                          "{}: the signature for length {} is torn or missing and could not be "
                          "rewritten: {}",
                          describe(), m_length, s.error().message);
    m_resign_pending = false;
    return {};
}

bool Feed::undo_signature(const SignatureUndo& undo) {
    const std::uint64_t offset = sleep::signature_offset(undo.slot);
    if (undo.had && !m_signatures_file->write(offset, ByteView(undo.bytes.data(), undo.had))) return false;
    if (undo.file_size < offset + sleep::kSignatureEntryBytes) {
        auto size = m_signatures_file->size();
        if (!size) return false;
        if (*size > undo.file_size && !m_signatures_file->truncate(undo.file_size)) return false;
    }
    return true;
}

Result<std::uint64_t> Feed::append(std::span<const ByteView> blocks) {
    if (m_read_only)
        return make_error(Errc::NotWritable, "{} is opened read-only; nothing was appended", describe());
    if (!writable())
        return make_error(Errc::NotWritable,
                          "{} is not writable: it was opened by key and this storage has no secret "
                          "key for it",
                          describe());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (blocks[i].size() > kMaxBlockBytes)
            return make_error(Errc::TooLarge,
                              "Individual blocks has be less than 8MB: block {} of the batch has {} "
                              "bytes, the limit is {}; nothing was appended to {}",
                              i, blocks[i].size(), kMaxBlockBytes, describe());
        total += blocks[i].size();
    }
    const std::uint64_t first = m_length;
    if (blocks.empty()) return first;
    // Repairs an earlier failure still owes; a signature must never be written past a torn one.
    if (m_resign_pending) HS_TRY(resign_length());
    if (m_trim_pending) trim_past_length();
    if (!m_merkle) {
        HS_ASSIGN_OR_RETURN(auto current_roots, roots(m_length));
        m_merkle.emplace(std::move(current_roots));
    }

    MerkleGenerator gen = *m_merkle;
    std::vector<Node> nodes;
    nodes.reserve(blocks.size() * 2);
    for (auto b : blocks) gen.next(b, nodes);

    const std::uint64_t node_offset = 2 * m_length;
    const std::uint64_t batch_nodes = 2 * blocks.size() - 1;
    Bytes batch(batch_nodes * sleep::kTreeEntryBytes, 0);
    std::vector<Node> outside;
    for (const auto& n : nodes) {
        if (n.index >= node_offset && n.index - node_offset < batch_nodes) {
            auto* p = batch.data() + (n.index - node_offset) * sleep::kTreeEntryBytes;
            std::copy(n.hash.begin(), n.hash.end(), p);
            put_u64be(p + 32, n.size);
        } else {
            outside.push_back(n);
        }
    }

    // Write order: data, tree, signature, then the bitfield, which alone makes blocks visible
    // on reopen; a crash before it leaves the previous length intact. Memory (bits, length,
    // merkle roots, node caches) changes only once every write succeeded. A failed write is
    // undone as far as the files allow: the bitfield is rolled back (pages a partial flush may
    // have written stay dirty), and what lies past the length is truncated (or, if that fails
    // too, overwritten at the same offsets by the next append).
    const std::uint64_t new_length = m_length + blocks.size();
    bool bitfield_started = false;
    auto failed = [&](const Error& e) -> Error {
        if (bitfield_started) abandon_bitfield_changes();
        trim_past_length();
        return make_error(e.code, "{}; nothing was appended to {} (its length stays {})", e.message,
                          describe(), m_length);
    };
    Status s;
    if (total == 0) {
        // Create the data file even for empty blocks: the JS reader opens it to read any block.
        s = m_data_file->write(m_byte_length, {});
    } else {
        s = m_data_file->write_parts(m_byte_length, blocks);
    }
    if (s) s = write_nodes(outside);
    if (s) s = m_tree_file->write(sleep::tree_offset(node_offset), batch);
    if (s && m_live) {
        const auto msg = signable(gen.roots(), new_length);
        const auto sig = crypto::sign_detached(msg, *m_secret_key);
        if (m_trim_pending && blocks.size() > 1) {
            // Slots this batch skips may hold what a failed append left (the truncation that
            // should have removed it failed): blank them along with writing the signature.
            Bytes slots(blocks.size() * sleep::kSignatureEntryBytes, 0);
            std::copy(sig.begin(), sig.end(), slots.end() - sleep::kSignatureEntryBytes);
            s = m_signatures_file->write(sleep::signature_offset(m_length), slots);
        } else {
            s = m_signatures_file->write(sleep::signature_offset(new_length - 1), sig);
        }
    }
    if (!s) return failed(s.error());
    m_bitfield.begin_undo();
    bitfield_started = true;
    auto t = tree();
    for (std::uint64_t i = m_length; i < new_length; ++i) {
        m_bitfield.set(i, true);
        t.set(2 * i);
    }
    s = flush_bitfield();
    if (!s) return failed(s.error());
    m_bitfield.commit();
    cache_nodes(nodes);
    m_length = new_length;
    m_byte_length += total;
    m_merkle = std::move(gen);
    return first;
}

bool Feed::has(std::uint64_t start, std::uint64_t end) {
    if (end <= start) return true;
    return m_bitfield.total(start, end) == end - start;
}

std::uint64_t Feed::downloaded(std::uint64_t start, std::uint64_t end) {
    if (end <= start) return 0;
    return m_bitfield.total(start, end);
}

Result<std::uint64_t> Feed::data_offset(std::uint64_t index, std::span<const Node> extra) {
    // Sequential reads: block i+1 starts where block i ended.
    if (extra.empty() && m_last_read.valid && m_last_read.index + 1 == index)
        return m_last_read.offset + m_last_read.size;
    std::uint64_t offset = 0;
    std::optional<Error> failure;
    flat::for_each_full_root(2 * index, [&](flat::Index r) {
        if (failure) return;
        for (const auto& n : extra) {
            if (n.index == r) {
                offset += n.size;
                return;
            }
        }
        auto n = node(r);
        if (!n) {
            failure = corrupt("tree", fmt::format("node {} needed to locate block {} is missing", r, index));
            return;
        }
        offset += n->size;
    });
    if (failure) return std::move(*failure);
    return offset;
}

Result<std::uint64_t> Feed::block_size(std::uint64_t index) {
    if (index >= kMaxBlockIndex || !m_bitfield.get(index))
        return make_error(Errc::NotFound, "block {} of {} is not stored locally", index, describe());
    auto leaf = node(2 * index);
    if (!leaf) return corrupt("tree", fmt::format("leaf node of stored block {} is missing", index));
    if (leaf->size > kMaxStoredBlockBytes)
        return corrupt("tree", fmt::format("leaf node of block {} claims {} bytes", index, leaf->size));
    return leaf->size;
}

Result<Bytes> Feed::get(std::uint64_t index) {
    HS_ASSIGN_OR_RETURN(const std::uint64_t size, block_size(index));
    HS_ASSIGN_OR_RETURN(const std::uint64_t offset, data_offset(index, {}));
    Bytes out(size);
    if (size) {
        std::size_t got = 0;
        HS_TRY(read_exact(*m_data_file, offset, out, got));
        if (got != size)
            return corrupt("data", fmt::format("block {} (bytes {}..{}) is past the end of the file",
                                               index, offset, offset + size));
    }
    m_last_read = {true, index, offset, size};
    return out;
}

Result<SeekResult> Feed::seek(std::uint64_t byte_offset) {
    if (byte_offset == 0) return SeekResult{0, 0};
    if (byte_offset >= m_byte_length)
        return make_error(Errc::NotFound, "byte {} is out of bounds of {} ({} bytes)", byte_offset,
                          describe(), m_byte_length);
    std::uint64_t rest = byte_offset;
    HS_ASSIGN_OR_RETURN(auto rs, roots(m_length));
    for (const auto& r : rs) {
        if (rest >= r.size) {
            rest -= r.size;
            continue;
        }
        flat::Index top = r.index;
        while (top & 1) {
            HS_ASSIGN_OR_RETURN(Node left, node(flat::left_child(top)));
            if (rest < left.size) {
                top = left.index;
            } else {
                rest -= left.size;
                top = flat::right_child(top);
            }
        }
        return SeekResult{top / 2, rest};
    }
    return make_error(Errc::NotFound, "byte {} is out of bounds of {}", byte_offset, describe());
}

Result<Proof> Feed::proof(std::uint64_t index, std::uint64_t digest, bool hash, SparseBitset& remote) {
    if (index >= kMaxBlockIndex)
        return make_error(Errc::NotFound, "block {} is out of range for {}", index, describe());
    auto plan = tree().proof(2 * index, digest, hash, remote);
    if (!plan) return make_error(Errc::NotFound, "block {} of {} is not stored locally", index, describe());
    Proof p;
    p.nodes.reserve(plan->nodes.size());
    for (auto i : plan->nodes) {
        auto n = node(i);
        if (!n) return corrupt("tree", fmt::format("proof node {} for block {} is missing", i, index));
        p.nodes.push_back(*n);
    }
    if (plan->verified_by && m_live) {
        auto sig = signature(plan->verified_by / 2);
        if (!sig) return corrupt("signatures", sig.error().message);
        p.signature = *sig;
    }
    return p;
}

Result<PutResult> Feed::put(std::uint64_t index, std::optional<ByteView> data, Proof proof) {
    if (m_read_only) return make_error(Errc::NotWritable, "{} is opened read-only", describe());
    if (index >= kMaxBlockIndex)
        return make_error(Errc::VerificationFailed, "block index {} is out of range", index);
    if (data && data->size() > kMaxBlockBytes)
        return make_error(Errc::TooLarge, "block {} has {} bytes, more than {}", index, data->size(),
                          kMaxBlockBytes);
    const auto& remote = proof.nodes;
    for (const auto& n : remote)
        if (n.index > 2 * kMaxBlockIndex)
            return make_error(Errc::VerificationFailed, "proof node index {} is out of range", n.index);
    auto t = tree();

    // Which local nodes help: the first trusted (stored) ancestor and stored siblings on the way.
    std::int64_t trusted = -1;
    std::vector<flat::Index> missing;
    {
        flat::Index next = 2 * index;
        std::size_t i = data ? 0 : 1;
        while (true) {
            if (t.get(next)) {
                trusted = static_cast<std::int64_t>(next);
                break;
            }
            const auto sib = flat::sibling(next);
            next = flat::parent(next);
            if (i < remote.size() && remote[i].index == sib) {
                ++i;
                continue;
            }
            if (!t.get(sib)) break;
            missing.push_back(sib);
        }
        if (trusted == -1 && t.get(next)) trusted = static_cast<std::int64_t>(next);
    }
    std::vector<Node> local;
    for (auto m : missing) {
        auto n = node(m);
        if (!n) return corrupt("tree", n.error().message);
        local.push_back(*n);
    }
    std::optional<Node> trusted_node;
    if (trusted >= 0) {
        auto n = node(static_cast<flat::Index>(trusted));
        if (!n) return corrupt("tree", n.error().message);
        trusted_node = *n;
    }
    auto matches_trusted = [&](const Node& n) {
        return trusted_node && trusted_node->index == n.index && trusted_node->hash == n.hash;
    };

    std::size_t rpos = 0, lpos = 0;
    Node top;
    if (data) {
        top = Node{2 * index, leaf_hash(*data), data->size()};
    } else {
        if (remote.empty())
            return make_error(Errc::VerificationFailed, "hash-only proof for block {} has no nodes", index);
        top = remote[rpos++];
    }

    std::vector<Node> to_write;
    std::optional<std::pair<std::uint64_t, crypto::Signature>> sig_to_write;
    std::uint64_t new_length = 0;
    std::uint64_t new_byte_length = 0;
    bool verified = matches_trusted(top);
    bool grows = false;

    while (!verified) {
        const auto want = flat::sibling(top.index);
        Node sib;
        if (rpos < remote.size() && remote[rpos].index == want) {
            sib = remote[rpos++];
            to_write.push_back(sib);
        } else if (lpos < local.size() && local[lpos].index == want) {
            sib = local[lpos++];
        } else {
            // `top` must be a root: verify the signed roots.
            const flat::Index last = rpos < remote.size() ? remote.back().index : top.index;
            const std::uint64_t verified_by =
                std::max(flat::right_span(top.index), flat::right_span(last)) + 2;
            const std::uint64_t length = verified_by / 2;
            std::vector<Node> roots;
            for (auto r : flat::full_roots(verified_by)) {
                if (r == top.index) {
                    roots.push_back(top);
                    to_write.push_back(top);
                } else if (rpos < remote.size() && remote[rpos].index == r) {
                    roots.push_back(remote[rpos]);
                    to_write.push_back(remote[rpos]);
                    ++rpos;
                } else if (t.get(r)) {
                    auto n = node(r);
                    if (!n) return corrupt("tree", n.error().message);
                    roots.push_back(*n);
                } else {
                    return make_error(Errc::VerificationFailed,
                                      "Missing tree roots needed for verify (block {}, root {})",
                                      index, r);
                }
            }
            if (m_length && m_live && !proof.signature)
                return make_error(Errc::VerificationFailed,
                                  "Remote did not include a signature for block {}", index);
            if (proof.signature) {
                if (!verify_roots_signature(roots, length, *proof.signature, m_key))
                    return make_error(Errc::VerificationFailed,
                                      "Remote signature could not be verified for block {} (length {})",
                                      index, length);
                sig_to_write.emplace(length - 1, *proof.signature);
            } else if (tree_hash(roots) != m_key) {
                return make_error(Errc::VerificationFailed, "Remote checksum failed for block {}", index);
            }
            new_length = length;
            new_byte_length = sum_sizes(roots);
            grows = length > m_length;
            verified = true;
            break;
        }
        to_write.push_back(top);
        const Node& left = top.index < sib.index ? top : sib;
        const Node& right = top.index < sib.index ? sib : top;
        top = parent_node(left, right);
        verified = matches_trusted(top);
    }

    // Verified: write nodes, data, signature; then the bitfield. As in append(), memory (bits,
    // length, liveness, node caches) changes only once every write succeeded, and a failure
    // puts back what it can: the bitfield, the signature slot, blanks for new tree entries.
    std::optional<SignatureUndo> sig_undo;
    bool bitfield_started = false;
    auto failed = [&](Error e) -> Error {
        if (bitfield_started) abandon_bitfield_changes();
        if (sig_undo && !undo_signature(*sig_undo)) m_signature_repair = sig_undo;
        const ByteArray<sleep::kTreeEntryBytes> blank{};
        for (const auto& n : to_write) {
            m_parent_cache.erase(n.index);
            m_leaf_cache.erase(n.index);
            if (!t.get(n.index)) (void)m_tree_file->write(sleep::tree_offset(n.index), blank);
        }
        m_leaf_cache.erase(2 * index);
        e.message = fmt::format("{}; block {} of {} was not stored", e.message, index, describe());
        return e;
    };
    if (m_signature_repair) {
        if (!undo_signature(*m_signature_repair))
            return make_error(Errc::Io,
                              "{}: signature slot {} still holds what a failed write left and cannot "
                              "be restored; block {} was not stored",
                              describe(), m_signature_repair->slot, index);
        m_signature_repair.reset();
    }
    if (auto s = write_nodes(to_write); !s) return failed(s.error());
    if (data && data->empty()) {
        if (auto s = m_data_file->write(0, {}); !s) return failed(s.error());  // see append()
    }
    if (data && !data->empty()) {
        auto offset = data_offset(index, to_write);
        if (!offset) return failed(offset.error());
        auto leaf = node(2 * index);
        if (!leaf) return failed(leaf.error());
        if (leaf->size != data->size())
            return failed(make_error(Errc::VerificationFailed, "Unexpected data size for block {}", index));
        if (auto s = m_data_file->write(*offset, *data); !s) return failed(s.error());
    }
    if (sig_to_write) {
        SignatureUndo undo;
        undo.slot = sig_to_write->first;
        auto size = m_signatures_file->size();
        if (!size) return failed(size.error());
        undo.file_size = *size;
        auto got = m_signatures_file->read(sleep::signature_offset(undo.slot), undo.bytes);
        if (!got) return failed(got.error());
        undo.had = *got;
        sig_undo = undo;
        if (auto s = m_signatures_file->write(sleep::signature_offset(sig_to_write->first),
                                              sig_to_write->second);
            !s)
            return failed(s.error());
    }
    m_bitfield.begin_undo();
    bitfield_started = true;
    for (const auto& n : to_write) t.set(n.index);
    t.set(2 * index);
    PutResult result;
    if (data) result.new_block = m_bitfield.set(index, true);
    if (auto s = flush_bitfield(); !s) return failed(s.error());
    m_bitfield.commit();
    cache_nodes(to_write);
    if (sig_to_write) m_live = true;
    else if (new_length) m_live = false;
    if (grows) {
        m_length = new_length;
        m_byte_length = new_byte_length;
        m_merkle.reset();
        if (writable()) {
            auto r = roots(m_length);
            if (r) m_merkle.emplace(std::move(r).value());
        }
        result.appended = true;
    }
    return result;
}

Status Feed::sync() {
    // Pages a failed write left dirty (and JS-style index fix-ups) go out first.
    if (!m_read_only) HS_TRY(flush_bitfield());
    for (auto* f : {m_data_file.get(), m_tree_file.get(), m_signatures_file.get(), m_bitfield_file.get()})
        HS_TRY(f->sync());
    return {};
}

}  // namespace hs::hypercore
