#include "v11/storage/file_storage.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <span>

#include "common/crypto/sign.h"
#include "common/util/flat_tree.h"

namespace hs::v11::storage {
namespace fs = std::filesystem;
using hypercore::Batch;
using hypercore::BitRange;
using hypercore::CoreHeader;
using hypercore::TreeNode;

namespace {

constexpr std::uint64_t kMaxIndex = std::uint64_t{1} << 61;  // blocks; tree indexes stay < 2^62
constexpr std::uint64_t kMaxBlockBytes = std::uint64_t{1} << 30;
constexpr std::size_t kNodeBytes = 40;
constexpr std::size_t kPageBytes = 4096;

std::uint32_t slot_bytes_for(std::size_t frame_bytes) {
    const std::size_t want = std::max<std::size_t>(kMinSlotBytes, (2 * frame_bytes + 255) / 256 * 256);
    return static_cast<std::uint32_t>(want);
}

void encode_node(std::uint8_t* out, const TreeNode& n) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n.size >> (8 * i));
    std::memcpy(out + 8, n.hash.data(), 32);
}

Error damaged(const std::string& file, std::string_view what) {
    return make_error(Errc::Corrupt,
                      "{}: {}; the file is damaged: restore the core's folder from a backup, or "
                      "delete the folder to drop the core (a reader core can then be downloaded "
                      "again from peers)",
                      file, what);
}

}  // namespace

struct FileStorage::Change {
    std::optional<std::uint64_t> truncate_to;
    std::span<const TreeNode> nodes;
    std::span<const BitRange> bits;
    std::vector<std::pair<std::uint64_t, RedoRef>> redo;
    const CoreHeader* header = nullptr;
    const hypercore::TreeHead* head = nullptr;
};

FileStorage::FileStorage(fs::path dir, FileStorageOptions options)
    : m_dir(dir.string()), m_options(options), m_oplog(*options.cache, m_dir, "oplog"),
      m_data(*options.cache, m_dir, "data"), m_tree(*options.cache, m_dir, "tree"),
      m_bitfield(*options.cache, m_dir, "bitfield") {
    // Proofs, seeks and byte offsets read the tree's 40-byte nodes one at a time.
    m_tree.enable_page_cache();
}

FileStorage::~FileStorage() = default;

bool FileStorage::exists(const fs::path& dir) {
    struct stat st;
    return ::stat((dir / "oplog").c_str(), &st) == 0;
}

Result<std::unique_ptr<FileStorage>> FileStorage::create(const fs::path& dir, const CoreHeader& header,
                                                         FileStorageOptions options) {
    HS_ASSERT(options.cache != nullptr);
    if (exists(dir)) return make_error(Errc::Exists, "{} already holds a core", dir.string());
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::Io, "cannot create the core folder {}: {}", dir.string(), ec.message());

    std::uint64_t salt = 0;
    crypto::random_bytes(MutableByteView(reinterpret_cast<std::uint8_t*>(&salt), sizeof salt));
    Bytes slot;
    const auto at = begin_frame(slot);
    encode_slot(slot, 0, header);
    seal_frame(slot, at, salt);
    Prologue prologue{slot_bytes_for(slot.size()), salt};
    if (slot.size() > kMaxSlotBytes / 2)
        return make_error(Errc::TooLarge, "the header of core {} is too large ({} bytes)", dir.string(), slot.size());
    Bytes file;
    encode_prologue(file, prologue);
    append_bytes(file, slot);  // slot 0; slot 1 reads as zeros (no valid frame)
    std::unique_ptr<FileStorage> s(new FileStorage(dir, options));
    HS_TRY(replace_file(*options.cache, s->m_oplog.name(), file));
    s->m_header = header;
    s->m_slot_bytes = prologue.slot_bytes;
    s->m_salt = salt;
    s->m_checkpoint = 0;
    s->m_tail = s->log_start();
    s->m_created = true;
    return s;
}

Result<std::unique_ptr<FileStorage>> FileStorage::open(const fs::path& dir, FileStorageOptions options) {
    HS_ASSERT(options.cache != nullptr);
    if (!exists(dir))
        return make_error(Errc::NotFound, "no core in {} ({} is missing)", dir.string(), (dir / "oplog").string());
    std::unique_ptr<FileStorage> s(new FileStorage(dir, options));
    HS_TRY(s->load());
    return s;
}

Status FileStorage::load() {
    const std::string name = m_oplog.name();
    HS_ASSIGN_OR_RETURN(const std::uint64_t file_size, m_oplog.size());
    std::uint8_t pro[kPrologueBytes];
    HS_ASSIGN_OR_RETURN(auto got, m_oplog.read(0, pro));
    auto prologue = decode_prologue(ByteView(pro, got));
    if (!prologue) return damaged(name, "it does not start with a v11 core oplog prologue (magic HSCORE11, version 1)");
    m_slot_bytes = prologue->slot_bytes;
    m_salt = prologue->salt;

    std::optional<std::pair<std::uint64_t, CoreHeader>> best;
    Bytes buf(m_slot_bytes);
    for (int i = 0; i < 2; ++i) {
        HS_ASSIGN_OR_RETURN(auto n, m_oplog.read(kPrologueBytes + std::uint64_t{m_slot_bytes} * i, buf));
        if (n < kFrameBytes) continue;
        const auto len = frame_length(ByteView(buf.data(), kFrameBytes));
        if (len > n - kFrameBytes) continue;
        if (!frame_valid(ByteView(buf.data(), kFrameBytes), ByteView(buf.data() + kFrameBytes, len), m_salt))
            continue;
        HS_ASSIGN_OR_RETURN(auto slot, decode_slot(ByteView(buf.data() + kFrameBytes, len), name));
        if (!best || slot.first > best->first) best = std::move(slot);
    }
    if (!best) return damaged(name, "neither of its two header slots is intact (both fail their checksum)");
    m_checkpoint = best->first;
    m_header = std::move(best->second);

    // The bitfield file first, the entries change it (plain bits in 4 KiB pages; a partly
    // written last page reads as zeros).
    HS_ASSIGN_OR_RETURN(const std::uint64_t bits_size, m_bitfield.size());
    m_bitfield_file_pages = (bits_size + kPageBytes - 1) / kPageBytes;
    Bytes page(kPageBytes);
    for (std::uint64_t p = 0; p < m_bitfield_file_pages; ++p) {
        std::fill(page.begin(), page.end(), 0);
        HS_ASSIGN_OR_RETURN(auto n, m_bitfield.read(p * kPageBytes, page));
        (void)n;
        if (all_zero(page)) continue;
        Page words(kPageWords, 0);
        for (std::size_t w = 0; w < words.size(); ++w)
            for (int b = 0; b < 8; ++b) words[w] |= std::uint64_t{page[w * 8 + b]} << (8 * b);
        while (words.back() == 0) words.pop_back();  // not all zero: stops at a set word
        words.shrink_to_fit();
        m_pages.emplace(p, std::move(words));
    }

    // Replay the entries of this checkpoint, up to the first torn, stale or missing one.
    std::uint64_t pos = log_start();
    Bytes body;
    // The entry at `at` if it is intact and of checkpoint `tag` (its body in `body`).
    auto read_entry = [&](std::uint64_t at, std::uint64_t tag) -> Result<bool> {
        std::uint8_t head[kFrameBytes];
        HS_ASSIGN_OR_RETURN(auto n, m_oplog.read(at, head));
        if (n < kFrameBytes) return false;
        const auto len = frame_length(ByteView(head, kFrameBytes));
        if (len < 9 || len > kMaxEntryBytes || at + kFrameBytes + len > file_size) return false;
        body.resize(len);
        HS_ASSIGN_OR_RETURN(auto m, m_oplog.read(at + kFrameBytes, body));
        if (m < len || !frame_valid(ByteView(head, kFrameBytes), body, m_salt)) return false;
        std::uint64_t t = 0;
        for (int i = 0; i < 8; ++i) t |= std::uint64_t{body[i]} << (8 * i);
        return t == tag;
    };
    {
        // An intact entry of the next checkpoint means the newer slot was written whole and
        // later damaged: replaying the older one would silently go back in time.
        HS_ASSIGN_OR_RETURN(const bool newer, read_entry(pos, m_checkpoint + 1));
        if (newer) return damaged(name, "its newest header slot fails its checksum");
    }
    for (;;) {
        HS_ASSIGN_OR_RETURN(const bool ok, read_entry(pos, m_checkpoint));
        if (!ok) {
            // Torn writes happen only at the end; an intact entry after a bad one is damage.
            std::uint8_t head[kFrameBytes];
            HS_ASSIGN_OR_RETURN(auto n, m_oplog.read(pos, head));
            if (n == kFrameBytes) {
                const std::uint64_t next = pos + kFrameBytes + frame_length(ByteView(head, kFrameBytes));
                HS_ASSIGN_OR_RETURN(const bool after, read_entry(next, m_checkpoint));
                if (after)
                    return damaged(name, fmt::format("the oplog entry at byte {} fails its checksum but "
                                                     "entries after it are intact",
                                                     pos));
            }
            break;
        }
        const std::uint64_t len = body.size();
        HS_ASSIGN_OR_RETURN(auto e, decode_entry(body, name));
        for (const auto& nd : e.nodes)
            if (nd.index >= 2 * kMaxIndex) return damaged(name, "an oplog entry names a tree node past 2^62");
        Change c;
        c.truncate_to = e.truncate_to;
        c.nodes = e.nodes;
        c.bits = e.bits;
        for (const auto& r : e.redo)
            c.redo.push_back({r.index, RedoRef{r.byte_offset, r.size, pos + kFrameBytes + r.value_at}});
        if (e.header) c.header = &*e.header;
        if (e.head) c.head = &*e.head;
        apply(c);
        pos += kFrameBytes + len;
        ++m_replayed;
        ++m_entries;
    }
    m_tail = pos;
    m_discarded = file_size > pos ? file_size - pos : 0;

    return {};
}

// ---- Memory -------------------------------------------------------------------------------------

bool FileStorage::has(std::uint64_t index) const noexcept {
    auto it = m_pages.find(index / kPageBits);
    if (it == m_pages.end()) return false;
    const auto bit = index % kPageBits;
    return bit / 64 < it->second.size() && ((it->second[bit / 64] >> (bit % 64)) & 1);
}

void FileStorage::set_bits(std::uint64_t start, std::uint64_t length, bool value) {
    if (!value) {
        for (auto it = m_redo.lower_bound(start); it != m_redo.end() && it->first - start < length;)
            it = m_redo.erase(it);
    }
    std::uint64_t i = start;
    const std::uint64_t end = start + length;
    while (i < end) {
        const std::uint64_t p = i / kPageBits;
        const std::uint64_t page_end = std::min(end, (p + 1) * kPageBits);
        auto it = m_pages.find(p);
        if (it == m_pages.end()) {
            if (!value) {
                if (p < m_bitfield_file_pages) m_dirty_pages.insert(p);
                // Skip to the next page that exists in memory.
                auto next = m_pages.upper_bound(p);
                if (next == m_pages.end()) {
                    // Pages only in the file past here are already all zero in memory.
                    break;
                }
                i = std::max(page_end, next->first * kPageBits);
                continue;
            }
            it = m_pages.emplace(p, Page{}).first;
        }
        m_dirty_pages.insert(p);
        auto& words = it->second;
        // Setting grows the page to the last word it touches; clearing stops at its end.
        const std::uint64_t stop = value ? page_end - p * kPageBits
                                         : std::min<std::uint64_t>(page_end - p * kPageBits, words.size() * 64);
        if (const std::size_t need = (stop + 63) / 64; value && words.size() < need) {
            if (words.capacity() < need) words.reserve(std::min(kPageWords, std::max(need, 2 * words.capacity())));
            words.resize(need, 0);
        }
        for (std::uint64_t b = i - p * kPageBits; b < stop;) {
            const std::uint64_t w = b / 64, lo = b % 64;
            const std::uint64_t n = std::min<std::uint64_t>(64 - lo, stop - b);
            const std::uint64_t mask = (n == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << n) - 1)) << lo;
            words[w] = value ? (words[w] | mask) : (words[w] & ~mask);
            b += n;
        }
        i = page_end;
    }
}

void FileStorage::apply(const Change& c) {
    if (c.truncate_to) {
        const std::uint64_t t = *c.truncate_to;
        for (auto it = m_nodes.begin(); it != m_nodes.end();)
            it = flat::right_span(it->first) >= 2 * t ? m_nodes.erase(it) : std::next(it);
        m_cut = m_cut ? std::min(*m_cut, t) : t;
        m_redo.erase(m_redo.lower_bound(t), m_redo.end());
        // Every bit at or past t: pages past t's page go whole.
        const std::uint64_t first = t / kPageBits;
        if (t % kPageBits) set_bits(t, (first + 1) * kPageBits - t, false);
        const std::uint64_t whole = (t + kPageBits - 1) / kPageBits;
        for (auto it = m_pages.lower_bound(whole); it != m_pages.end();) {
            m_dirty_pages.insert(it->first);
            it = m_pages.erase(it);
        }
        for (std::uint64_t p = whole; p < m_bitfield_file_pages; ++p) m_dirty_pages.insert(p);
    }
    for (const auto& n : c.nodes) m_nodes[n.index] = n;
    for (const auto& [index, ref] : c.redo) m_redo[index] = ref;
    for (const auto& r : c.bits) set_bits(r.start, r.length, r.value);
    if (c.header) m_header = *c.header;
    if (c.head) m_header.head = *c.head;
}

// ---- Reads --------------------------------------------------------------------------------------

Result<std::optional<TreeNode>> FileStorage::node(std::uint64_t index) {
    if (auto it = m_nodes.find(index); it != m_nodes.end()) return std::optional<TreeNode>(it->second);
    if (index >= 2 * kMaxIndex) return std::optional<TreeNode>();
    if (m_cut && flat::right_span(index) >= 2 * *m_cut) return std::optional<TreeNode>();
    std::uint8_t buf[kNodeBytes];
    HS_TRY(m_tree.read_zero_filled(index * kNodeBytes, buf));  // a node past the end reads as zeros
    if (all_zero(ByteView(buf, kNodeBytes))) return std::optional<TreeNode>();
    TreeNode node;
    node.index = index;
    for (int i = 0; i < 8; ++i) node.size |= std::uint64_t{buf[i]} << (8 * i);
    std::memcpy(node.hash.data(), buf + 8, 32);
    return std::optional<TreeNode>(node);
}

Result<std::optional<Bytes>> FileStorage::block(std::uint64_t index, std::uint64_t byte_offset, std::uint64_t size) {
    if (!has(index)) return std::optional<Bytes>();
    if (size > kMaxBlockBytes)
        return make_error(Errc::InvalidArgument, "block {} of {}: {} bytes is past the {} byte limit", index,
                          m_dir, size, kMaxBlockBytes);
    if (auto it = m_redo.find(index); it != m_redo.end()) {
        const RedoRef& r = it->second;
        if (r.size != size || r.byte_offset != byte_offset)
            return make_error(Errc::InvalidArgument,
                              "block {} of {} is stored as {} bytes at byte {}, asked for {} bytes at {}",
                              index, m_dir, r.size, r.byte_offset, size, byte_offset);
        Bytes out(size);
        HS_ASSIGN_OR_RETURN(auto n, m_oplog.read(r.oplog_offset, out));
        if (n < size)
            return damaged(m_oplog.name(), fmt::format("block {} kept in the log at byte {} is cut short", index,
                                                       r.oplog_offset));
        return std::optional<Bytes>(std::move(out));
    }
    Bytes out(size);
    HS_ASSIGN_OR_RETURN(auto n, m_data.read(byte_offset, out));
    if (n < size)
        return damaged(m_data.name(), fmt::format("block {} ({} bytes at byte {}) is marked present but the file "
                                                  "ends at byte {}",
                                                  index, size, byte_offset, byte_offset + n));
    return std::optional<Bytes>(std::move(out));
}

Result<std::vector<BitRange>> FileStorage::present() {
    std::vector<BitRange> out;
    auto add = [&](std::uint64_t start, std::uint64_t end) {
        if (!out.empty() && out.back().start + out.back().length == start)
            out.back().length += end - start;
        else
            out.push_back({start, end - start, true});
    };
    for (const auto& [p, words] : m_pages) {
        for (std::size_t w = 0; w < words.size(); ++w) {
            const std::uint64_t base = p * kPageBits + w * 64;
            std::uint64_t word = words[w];
            if (word == ~std::uint64_t{0}) {
                add(base, base + 64);
                continue;
            }
            while (word) {
                const int lo = __builtin_ctzll(word);
                const std::uint64_t shifted = word >> lo;
                const int run = shifted == ~std::uint64_t{0} >> lo ? 64 - lo : __builtin_ctzll(~shifted);
                add(base + lo, base + lo + run);
                word = run + lo >= 64 ? 0 : word & ~(((std::uint64_t{1} << run) - 1) << lo);
            }
        }
    }
    return out;
}

FileStorage::Stats FileStorage::stats() const noexcept {
    return Stats{m_checkpoint, m_tail - log_start(), m_entries, m_replayed, m_discarded};
}

// ---- Commit -------------------------------------------------------------------------------------

Result<void> FileStorage::commit(const Batch& batch) {
    if (m_poisoned) return *m_poisoned;
    const auto bad = [&](std::string_view what) {
        return make_error(Errc::InvalidArgument, "batch for core {}: {}", m_dir, what);
    };
    if (batch.truncate_to && *batch.truncate_to >= kMaxIndex) return bad("truncation past 2^61 blocks");
    for (const auto& n : batch.nodes)
        if (n.index >= 2 * kMaxIndex) return bad("a tree node index past 2^62");
    for (const auto& b : batch.blocks)
        if (b.index >= kMaxIndex || b.value.size() > kMaxBlockBytes || b.byte_offset > (std::uint64_t{1} << 62))
            return bad("a block index, size or byte offset out of range");
    for (const auto& r : batch.bits)
        if (r.start >= kMaxIndex || r.length > kMaxIndex - r.start) return bad("a bit range out of range");
    if (!batch.truncate_to && batch.nodes.empty() && batch.blocks.empty() && batch.bits.empty() && !batch.header)
        return {};

    // A value goes into the entry when writing it in place could overwrite a block the state
    // before this batch still shows (docs/formats/storage-v11.md "Blocks in the entry").
    std::vector<bool> redo(batch.blocks.size());
    for (std::size_t i = 0; i < batch.blocks.size(); ++i) {
        const auto index = batch.blocks[i].index;
        redo[i] = batch.truncate_to.has_value() || has(index) || m_redo.count(index) > 0;
    }
    const bool full_header = batch.header && (batch.header->key != m_header.key ||
                                              batch.header->manifest != m_header.manifest ||
                                              batch.header->key_pair != m_header.key_pair);
    // A fresh buffer per entry rather than one kept per core: an open core costs no entry-sized
    // buffer between commits (10,000 may be open), and an allocation is small next to the write.
    Bytes entry;
    const auto at = begin_frame(entry);
    const auto value_at = encode_entry(entry, m_checkpoint, batch, redo, full_header);
    if (entry.size() - kFrameBytes > kMaxEntryBytes)
        return make_error(Errc::TooLarge, "batch for core {} needs a {} byte oplog entry (limit {})", m_dir,
                          entry.size(), kMaxEntryBytes);
    seal_frame(entry, at, m_salt);

    HS_TRY(write_blocks(batch, redo));  // invisible until the entry lands
    if (auto w = m_oplog.write(m_tail, entry); !w) {
        // Make sure a partly (or wholly) written entry never replays.
        static constexpr std::uint8_t kZero[kFrameBytes] = {};
        if (auto z = m_oplog.write(m_tail, ByteView(kZero, kFrameBytes)); !z)
            m_poisoned = make_error(Errc::Io,
                                    "core {}: a failed oplog write could not be undone ({}); close and "
                                    "reopen the core",
                                    m_dir, z.error().message);
        return w;
    }

    Change c;
    c.truncate_to = batch.truncate_to;
    c.nodes = batch.nodes;
    c.bits = batch.bits;
    for (std::size_t i = 0, k = 0; i < batch.blocks.size(); ++i) {
        if (!redo[i]) continue;
        const auto& b = batch.blocks[i];
        c.redo.push_back({b.index, RedoRef{b.byte_offset, b.value.size(), m_tail + value_at[k++]}});
    }
    if (batch.header) c.header = &*batch.header;
    apply(c);
    m_tail += entry.size();
    ++m_entries;

    const std::uint64_t log_bytes = m_tail - log_start();
    if (log_bytes >= m_options.checkpoint_bytes && log_bytes >= m_retry_checkpoint_at) {
        // The batch is committed whatever happens here; a failed checkpoint is retried later.
        if (!checkpoint()) m_retry_checkpoint_at = log_bytes + m_options.checkpoint_bytes / 4;
    }
    return {};
}

Status FileStorage::write_blocks(const Batch& batch, const std::vector<bool>& redo) {
    // Contiguous runs go out as one pwritev.
    std::vector<ByteView> parts;
    std::uint64_t run_start = 0, run_end = 0;
    for (std::size_t i = 0; i <= batch.blocks.size(); ++i) {
        const bool last = i == batch.blocks.size();
        if (!last && (redo[i] || batch.blocks[i].value.empty())) continue;
        if (!parts.empty() && (last || batch.blocks[i].byte_offset != run_end)) {
            HS_TRY(m_data.write_parts(run_start, parts));
            parts.clear();
        }
        if (last) break;
        const auto& b = batch.blocks[i];
        if (parts.empty()) run_start = run_end = b.byte_offset;
        parts.push_back(b.value);
        run_end += b.value.size();
    }
    return {};
}

// ---- Checkpoints and flush ----------------------------------------------------------------------

Status FileStorage::checkpoint_files() {
    // Values kept in the log go to their place in the data file.
    for (const auto& [index, r] : m_redo) {
        Bytes value(r.size);
        HS_ASSIGN_OR_RETURN(auto n, m_oplog.read(r.oplog_offset, value));
        if (n < r.size)
            return damaged(m_oplog.name(), fmt::format("block {} kept in the log is cut short", index));
        HS_TRY(m_data.write(r.byte_offset, value));
    }
    // Tree: drop what the truncations dropped, then write the new nodes.
    if (m_cut) {
        const std::uint64_t cut2 = 2 * *m_cut;
        HS_ASSIGN_OR_RETURN(const std::uint64_t size, m_tree.size());
        if (size > cut2 * kNodeBytes) HS_TRY(m_tree.truncate(cut2 * kNodeBytes));
        static constexpr std::uint8_t kZero[kNodeBytes] = {};
        for (std::uint64_t d = 1; d < 62 && (std::uint64_t{1} << d) - 1 < cut2; ++d) {
            const std::uint64_t idx = flat::index(d, *m_cut >> d);
            if (idx < cut2 && (idx + 1) * kNodeBytes <= size && !m_nodes.count(idx))
                HS_TRY(m_tree.write(idx * kNodeBytes, ByteView(kZero, kNodeBytes)));
        }
    }
    Bytes run;
    std::uint64_t run_first = 0;
    for (auto it = m_nodes.begin(); it != m_nodes.end(); ++it) {
        if (!run.empty() && it->first != run_first + run.size() / kNodeBytes) {
            HS_TRY(m_tree.write(run_first * kNodeBytes, run));
            run.clear();
        }
        if (run.empty()) run_first = it->first;
        run.resize(run.size() + kNodeBytes);
        encode_node(run.data() + run.size() - kNodeBytes, it->second);
    }
    if (!run.empty()) HS_TRY(m_tree.write(run_first * kNodeBytes, run));

    // Bitfield: shrink to the last page in memory, then write the changed pages.
    const std::uint64_t pages = m_pages.empty() ? 0 : m_pages.rbegin()->first + 1;
    if (m_bitfield_file_pages > pages) HS_TRY(m_bitfield.truncate(pages * kPageBytes));
    Bytes page(kPageBytes);
    for (std::uint64_t p : m_dirty_pages) {
        if (p >= pages) continue;
        std::fill(page.begin(), page.end(), 0);
        if (auto it = m_pages.find(p); it != m_pages.end())
            for (std::size_t w = 0; w < it->second.size(); ++w)
                for (int b = 0; b < 8; ++b) page[w * 8 + b] = static_cast<std::uint8_t>(it->second[w] >> (8 * b));
        HS_TRY(m_bitfield.write(p * kPageBytes, page));
    }
    // Durable before the slot that makes the log obsolete.
    HS_TRY(m_data.sync());
    HS_TRY(m_tree.sync());
    HS_TRY(m_bitfield.sync());
    return {};
}

Status FileStorage::write_slot(std::uint64_t checkpoint) {
    Bytes slot;
    const auto at = begin_frame(slot);
    encode_slot(slot, checkpoint, m_header);
    seal_frame(slot, at, m_salt);
    if (slot.size() <= m_slot_bytes) {
        const std::uint64_t pos = kPrologueBytes + std::uint64_t{m_slot_bytes} * (checkpoint % 2);
        if (auto w = m_oplog.write(pos, slot); !w) {
            static constexpr std::uint8_t kZero[kFrameBytes] = {};
            if (auto z = m_oplog.write(pos, ByteView(kZero, kFrameBytes)); !z)
                m_poisoned = make_error(Errc::Io,
                                        "core {}: a failed header slot write could not be undone ({}); "
                                        "close and reopen the core",
                                        m_dir, z.error().message);
            return w;
        }
        m_checkpoint = checkpoint;  // the slot is in place: the log restarts whatever sync says
        m_tail = log_start();
        return m_oplog.sync();
    }
    // The header outgrew its slots: a new oplog with larger slots replaces the old one.
    if (slot.size() > kMaxSlotBytes / 2)
        return make_error(Errc::TooLarge, "the header of core {} is too large ({} bytes)", m_dir, slot.size());
    const std::uint32_t slot_bytes = slot_bytes_for(slot.size());
    Bytes file;
    encode_prologue(file, Prologue{slot_bytes, m_salt});
    if (checkpoint % 2) file.resize(kPrologueBytes + slot_bytes);
    append_bytes(file, slot);
    HS_TRY(replace_file(*m_options.cache, m_oplog.name(), file));
    m_oplog.reset();
    m_slot_bytes = slot_bytes;
    m_checkpoint = checkpoint;
    m_tail = log_start();
    HS_TRY(sync_dir(*m_options.cache, m_dir));
    return {};
}

Status FileStorage::checkpoint() {
    if (m_poisoned) return *m_poisoned;
    HS_TRY(checkpoint_files());
    const std::uint64_t file_pages = m_pages.empty() ? 0 : m_pages.rbegin()->first + 1;
    const std::uint64_t next = m_checkpoint + 1;
    auto slot = write_slot(next);
    // The slot did not land: the log (and memory) still hold everything; retried later.
    if (m_checkpoint != next) return slot;
    // It did (even if a sync after it failed): the new log starts empty.
    m_nodes.clear();
    m_cut.reset();
    m_redo.clear();
    m_dirty_pages.clear();
    m_bitfield_file_pages = file_pages;
    m_entries = 0;
    m_retry_checkpoint_at = 0;
    // A log that grew large (values of a truncating batch) gives its space back.
    if (auto size = m_oplog.size(); size && *size > log_start() + 4 * m_options.checkpoint_bytes)
        (void)m_oplog.truncate(log_start());
    return slot;
}

Result<void> FileStorage::flush() {
    if (m_poisoned) return *m_poisoned;
    HS_TRY(m_data.sync());
    HS_TRY(m_tree.sync());
    HS_TRY(m_bitfield.sync());
    HS_TRY(m_oplog.sync());
    if (m_created) {
        HS_TRY(sync_dir(*m_options.cache, m_dir));
        HS_TRY(sync_dir(*m_options.cache, fs::path(m_dir).parent_path()));
        m_created = false;
    }
    return {};
}

}  // namespace hs::v11::storage
