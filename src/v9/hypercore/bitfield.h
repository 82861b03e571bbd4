// The Hypercore 9 bitfield: the body of the SLEEP `bitfield` file (docs/formats/sleep.md
// "bitfield").
//
// A port of hypercore 9.12.0 `lib/bitfield.js` together with the state of `sparse-bitfield` and
// `memory-pager` that decides which bytes get written. After the same sequence of calls, every page
// holds the same bytes as in JS, including the index section that JS readers use to skip full
// regions while iterating, and the same pages are dirty.
//
// Page p (3584 bytes, file offset 32 + p * 3584):
//   [0, 1024)     data bits: block b is bit (b & 7) (MSB first) of data byte b / 8;
//   [1024, 3072)  tree bits: merkle node n (flat-tree index) likewise, in tree byte n / 8;
//   [3072, 3584)  index: a flat tree of bytes; leaf byte 2k holds four 2-bit summaries of data
//                 bytes 4k..4k+3 (00 all zero, 11 all one, 01 mixed); a parent byte summarises its
//                 two children two entries at a time.
// Data byte i lives in page i / 1024, tree byte i in page i / 2048, index byte i in page i / 512.
//
// Pages are stored sparsely: untouched pages cost no memory. get/set are O(1) and do not allocate
// once their page exists. Not thread-safe: owned by one feed, used from the thread that owns it
// (in the daemon, its one thread: docs/architecture.md "Threads").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "common/util/bytes.h"

namespace hs::hypercore {

inline constexpr std::size_t kBitfieldPageBytes = 3584;
inline constexpr std::size_t kBitfieldDataBytes = 1024;  // per page, at offset 0
inline constexpr std::size_t kBitfieldTreeOffset = 1024;
inline constexpr std::size_t kBitfieldTreeBytes = 2048;
inline constexpr std::size_t kBitfieldIndexOffset = 3072;
inline constexpr std::size_t kBitfieldIndexBytes = 512;
inline constexpr std::uint64_t kBlocksPerBitfieldPage = 8 * kBitfieldDataBytes;

// REQUIRES (every block / node index argument): < 2^53, where JS numbers are exact. Callers check
// peer-supplied indexes first; nothing here asserts on them.
class Bitfield {
public:
    // An empty bitfield (JS `bitfield(3584, [])`): no pages, all lengths 0.
    Bitfield();
    // Loads the file body after the 32-byte header: consecutive 3584-byte pages, a trailing
    // partial page zero-padded (JS `bitfield(3584, pages)` after storage.js readAll). page_count()
    // becomes the number of pages, and the data/tree/index lengths cover all of them, as in JS.
    // Nothing is dirty afterwards.
    explicit Bitfield(ByteView file_body);

    Bitfield(Bitfield&&) noexcept;
    Bitfield& operator=(Bitfield&&) noexcept;
    Bitfield(const Bitfield&) = delete;
    Bitfield& operator=(const Bitfield&) = delete;
    ~Bitfield();

    // ---- data bits (blocks) ----
    bool get(std::uint64_t block) const noexcept;
    // JS Bitfield.set: true if the bit changed. Maintains the index section. Like JS it grows
    // page_count() to cover `block` even when nothing changes.
    bool set(std::uint64_t block, bool value);
    // JS Bitfield.total(start, end): set bits in [start, end); 0 if end < start. If end > length()
    // it first runs the index fix-up JS runs there (see expand_index), which can dirty pages.
    // Unlike JS, end == 0 means an empty range: callers map JS's "end omitted" to length().
    std::uint64_t total(std::uint64_t start, std::uint64_t end);
    // JS bitfield.length: 8 * (the highest data byte ever changed + 1, or every loaded page).
    std::uint64_t length() const noexcept { return 8 * m_data_bytes; }

    // ---- tree bits (merkle nodes by flat-tree index); plain bits, no parent propagation ----
    bool tree_get(std::uint64_t index) const noexcept;
    // JS tree sparse-bitfield .set: true if changed; grows page_count() like set().
    bool tree_set(std::uint64_t index, bool value);
    // JS tree sparse-bitfield .length, in bits.
    std::uint64_t tree_length() const noexcept { return 8 * m_tree_bytes; }
    // JS index sparse-bitfield .length, in bits (diagnostics and tests).
    std::uint64_t index_length() const noexcept { return 8 * m_index_bytes; }

    // ---- iteration ----
    // A fresh JS iterator: `bitfield.iterator(start, end).next()`: the first block in [start, end)
    // whose bit is 0, found with the index. Like JS's Iterator.range it first calls
    // expand_index(end), which can dirty pages. Unlike JS, end == 0 means an empty range.
    std::optional<std::uint64_t> next_missing(std::uint64_t start, std::uint64_t end);
    // The first block in [start, end) whose bit is 1 (no JS counterpart, no side effects).
    // Skips unallocated pages and zero words.
    std::optional<std::uint64_t> next_present(std::uint64_t start, std::uint64_t end) const;
    // The side effect of JS Iterator.range(start, end) and total(start, end): if end > length(),
    // run Bitfield._expand(end), which re-derives index parents above the roots of
    // fullRoots(2 * end). A replicator that keeps long-lived iterators like JS does calls this
    // when JS would create or re-range one, to keep the index bytes identical.
    void expand_index(std::uint64_t end);

    // ---- Have bitfields ----
    // Data bytes [start / 8, start / 8 + ceil(length / 8)) (whole bytes, as JS Buffer.copy does).
    // REQUIRES: start % 8 == 0. Allocates ceil(length / 8) bytes: callers bound `length`.
    Bytes data_bytes(std::uint64_t start, std::uint64_t length) const;
    // JS Bitfield.compress(start, length): RLE of the data bits of [start, start + length), or of
    // all data bits when both are 0; `length` is clamped to what length() covers first, so the
    // output never allocates more than the data held. For start % 8192 != 0 JS copies pages from
    // the wrong offset; this returns the correct bits (the replicator only answers aligned Wants).
    Bytes compress(std::uint64_t start, std::uint64_t length) const;

    // ---- persistence ----
    // JS pages.updates: indexes of the pages changed since the last call, ascending; clears them.
    // Write each page(p) to file offset 32 + p * 3584.
    std::vector<std::uint64_t> take_dirty_pages();
    // The current bytes of page p (all zero if it was never allocated or p >= page_count()).
    ByteArray<kBitfieldPageBytes> page(std::uint64_t p) const;
    // The same without copying; valid until the next non-const call.
    ByteView page_view(std::uint64_t p) const noexcept;
    // JS pages.length: one past the highest page ever loaded or touched by a set.
    std::uint64_t page_count() const noexcept { return m_page_count; }
    // Marks page p dirty again (a write of it failed), so the next take_dirty_pages returns it.
    void mark_dirty(std::uint64_t p);

    // ---- undo (a feed's failed write leaves no trace in memory) ----
    // Starts recording: the first change of each page after this saves the page's bytes. Ends
    // with commit() (keep every change) or rollback(). Not nested.
    void begin_undo();
    void commit() noexcept;
    // Restores every byte, length and page_count() to what they were at begin_undo(). Pages that
    // were dirty then, that changed since, or that were taken by take_dirty_pages() since are
    // dirty afterwards (those below the restored page_count()), so the next flush rewrites
    // whatever a failed write may have left on disk. Pages at or past page_count() are not
    // dirtied: the caller trims the file to 32 + page_count() * 3584 bytes instead.
    void rollback();

private:
    struct Page {
        ByteArray<kBitfieldPageBytes> bytes{};
        bool dirty = false;
    };
    // One of the three sections of a page: bytes at [offset, offset + (1 << shift)) of each page,
    // with its sparse-bitfield byteLength.
    struct Section {
        std::size_t offset;
        unsigned shift;
        std::uint64_t Bitfield::*byte_length;
    };
    static const Section kData;
    static const Section kTree;
    static const Section kIndex;
    // Pages below this index live in a vector (one pointer each, O(1)); higher ones in a map, so a
    // far-away index costs one page, not a pointer per page before it.
    static constexpr std::uint64_t kDensePages = std::uint64_t{1} << 18;

    const Page* find_page(std::uint64_t p) const noexcept {
        if (p < m_dense.size()) return m_dense[p].get();
        if (p < kDensePages || m_far.empty()) return nullptr;
        const auto it = m_far.find(p);
        return it == m_far.end() ? nullptr : it->second.get();
    }
    Page& page_for_write(std::uint64_t p);
    // Calls fn(p, page) for each allocated page in [first, last], ascending, until fn returns true.
    template <typename Fn>
    void for_each_page(std::uint64_t first, std::uint64_t last, Fn&& fn) const;

    std::uint8_t read_byte(const Section& s, std::uint64_t i) const noexcept;
    // sparse-bitfield setByte: false if unchanged; grows page_count() either way.
    bool write_byte(const Section& s, std::uint64_t i, std::uint8_t b);

    void update_index(std::uint64_t data_byte, std::uint8_t value);  // JS _setIndex
    void expand(std::uint64_t length);                               // JS _expand
    std::optional<std::uint64_t> skip_ahead(std::uint64_t data_byte,
                                            std::uint64_t tree_end) const;  // JS _skipAhead
    std::uint64_t count_bytes(std::uint64_t from, std::uint64_t to) const;  // set bits in bytes

    std::vector<std::unique_ptr<Page>> m_dense;
    std::map<std::uint64_t, std::unique_ptr<Page>> m_far;
    std::vector<std::uint64_t> m_dirty;
    std::uint64_t m_page_count = 0;
    std::uint64_t m_data_bytes = 0;   // data sparse-bitfield byteLength
    std::uint64_t m_tree_bytes = 0;   // tree sparse-bitfield byteLength
    std::uint64_t m_index_bytes = 0;  // index sparse-bitfield byteLength

    struct Undo {
        bool active = false;
        std::uint64_t page_count = 0, data_bytes = 0, tree_bytes = 0, index_bytes = 0;
        std::vector<std::uint64_t> dirty;  // m_dirty at begin_undo()
        std::vector<std::uint64_t> taken;  // pages take_dirty_pages() returned since
        std::map<std::uint64_t, ByteArray<kBitfieldPageBytes>> saved;  // page bytes before
    };
    Undo m_undo;
};

}  // namespace hs::hypercore
