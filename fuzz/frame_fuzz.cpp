// Fuzz target: the frame decoder over arbitrary plaintext in arbitrary chunking. Decoding must
// never crash or buffer past its limit, and the result must not depend on how the input is split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "v9/protocol/framing.h"

namespace {

struct Owned {
    std::uint64_t channel;
    std::uint8_t type;
    hs::Bytes body;
    bool operator==(const Owned&) const = default;
};

// Pushes `in` in pieces whose sizes come from `sizes` (cycled; 0 = the rest).
hs::Status run(hs::ByteView in, hs::ByteView sizes, std::vector<Owned>& out) {
    hs::protocol::FrameDecoder d;
    std::size_t pos = 0;
    std::size_t k = 0;
    while (pos < in.size()) {
        std::size_t n = sizes.empty() ? 0 : sizes[k++ % sizes.size()];
        if (n == 0 || n > in.size() - pos) n = in.size() - pos;
        std::vector<hs::protocol::Frame> frames;
        auto st = d.push(in.subspan(pos, n), frames);
        for (const auto& f : frames) {
            if (f.type > 15 || f.body.size() > hs::protocol::kMaxFrameBodyBytes) std::abort();
            out.push_back({f.channel, f.type, hs::to_bytes(f.body)});
        }
        if (d.buffered_bytes() > hs::protocol::kMaxFrameBodyBytes) std::abort();
        if (!st) return st;
        pos += n;
    }
    return {};
}

}  // namespace

// Input: 1 byte N, N chunk sizes, then the stream.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t n = std::min<std::size_t>(data[0] % 16, size - 1);
    const hs::ByteView sizes(data + 1, n);
    const hs::ByteView stream(data + 1 + n, size - 1 - n);

    std::vector<Owned> whole;
    std::vector<Owned> pieces;
    const auto a = run(stream, {}, whole);
    const auto b = run(stream, sizes, pieces);
    if (a.ok() != b.ok() || whole != pieces) std::abort();
    if (!a.ok() && a.error().code != b.error().code) std::abort();

    // Every decoded frame re-encodes to something that decodes to the same frame.
    for (const auto& f : whole) {
        if (f.channel > hs::protocol::kMaxChannel) std::abort();
        hs::Bytes wire;
        hs::protocol::encode_frame(wire, f.channel, f.type, f.body);
        std::vector<Owned> again;
        if (!run(wire, {}, again).ok() || again.size() != 1 || !(again[0] == f)) std::abort();
    }
    return 0;
}
