// Fuzz target: the UDX packet decoder (src/v11/udx/packet.h) and one stream fed the decoded
// datagrams. A datagram either fails to decode (with a reason) or decodes to a header, at most 50
// SACK blocks and data inside the input; re-encoding the header gives the input's first 20 bytes.
// A stream given such datagrams as if from its peer never crashes and keeps its buffers within
// its window bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "v11/udx/packet.h"
#include "v11/udx/stream.h"
#include "fuzz_check.h"

namespace {

namespace u = hs::v11::udx;

using hs::fuzz::require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const hs::ByteView in(data, size);
    u::DecodeError why{};
    const auto p = u::decode(in, &why);
    if (!p) {
        require(!u::to_string(why).empty());
        return 0;
    }
    require(size >= u::kHeaderSize);
    std::uint8_t h[u::kHeaderSize];
    u::encode_header(p->header, h);
    require(std::memcmp(h, data, u::kHeaderSize) == 0);
    require(p->sacks.size() <= u::kMaxSackBlocks);
    require(p->data.data() >= data && p->data.data() + p->data.size() == data + size);
    require(u::peek_stream_id(in) == p->header.stream_id);

    // The same bytes, split into datagrams at every 0xFF that starts a valid header, fed to a
    // stream that has data of its own in flight.
    u::StreamConfig cfg{p->header.stream_id, 7};
    cfg.rwnd_max = 64 * 1024;
    u::StreamCore s(cfg, [](hs::ByteView) {});
    u::TimePoint now{};
    s.write(hs::Bytes(5000, 1));
    s.flush(now);
    std::size_t start = 0;
    for (std::size_t i = 1; i <= size; ++i) {
        if (i == size || (data[i] == u::kMagic && i + 1 < size && data[i + 1] == u::kVersion)) {
            if (auto q = u::decode(in.subspan(start, i - start))) {
                now += u::Millis(q->header.data_offset);
                s.on_packet(*q, now);
                if (q->header.type & u::kHeartbeat) s.on_timer(now + u::Millis(60000));
            }
            start = i;
        }
    }
    require(s.buffered_bytes() <= 5000 + 3 * cfg.rwnd_max);
    return 0;
}
