// Fuzz target: opening a core from arbitrary SLEEP file contents (tree, bitfield, signatures,
// data), then reading, seeking, proving and verifying everything it claims to hold. Bad files
// must give errors, never crashes or unbounded allocations.
#include <cstddef>
#include <cstdint>

#include "v9/hypercore/feed.h"
#include "v9/hypercore/verify.h"

namespace {
// Input: 32 key bytes, then the tree, bitfield, signatures and data files, each prefixed by a
// 3-byte big-endian length.
hs::ByteView take(const std::uint8_t*& p, std::size_t& left) {
    if (left < 3) return {};
    std::size_t n = std::size_t{p[0]} << 16 | std::size_t{p[1]} << 8 | p[2];
    p += 3;
    left -= 3;
    n = std::min(n, left);
    hs::ByteView out(p, n);
    p += n;
    left -= n;
    return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hs::hypercore;
    if (size < 32) return 0;
    const hs::ByteView key(data, 32);
    data += 32;
    size -= 32;
    MemoryStorage mem;
    {
        auto p = mem.provider("c");
        const char* files[] = {"tree", "bitfield", "signatures", "data"};
        for (const char* f : files) {
            auto file = p->open(f);
            auto bytes = take(data, size);
            if (!bytes.empty()) (void)(*file)->write(0, bytes);
        }
        (void)(*p->open("key"))->write(0, key);
    }
    auto feed = Feed::open(mem.provider("c"), FeedOptions{});
    if (!feed) return 0;
    auto& f = **feed;
    const std::uint64_t limit = std::min<std::uint64_t>(f.length(), 4096);
    for (std::uint64_t i = 0; i < limit; ++i) {
        (void)f.get(i);
        SparseBitset remote;
        (void)f.proof(i, 0, false, remote);
    }
    (void)f.seek(f.byte_length() / 2);
    if (f.length() <= 4096) (void)verify_feed(f);
    return 0;
}
