#include "v9/hypercore/bitfield_rle.h"

#include <algorithm>
#include <optional>

#include "common/util/varint.h"

namespace hs::hypercore {
namespace {

// The encoder state of bitfield-rle: bytes [0, m_flushed) of the input are already encoded,
// bytes [m_flushed, i) are pending and go out either as a literal ("head") or get swallowed
// into a run when a run is worth emitting.
class RleEncoder {
public:
    explicit RleEncoder(ByteView input) : m_in(input) {}

    Bytes run() {
        // Trailing zero bytes are implied by the decoder's zero fill.
        std::size_t n = m_in.size();
        while (n > 0 && m_in[n - 1] == 0) --n;
        m_in = m_in.first(n);

        // `bits` is the value of the run being counted (only 0x00 or 0xff ever start one); a byte
        // that is neither starts no run but leaves `bits` as it was, as the JS encoder does.
        std::size_t run_length = 0;
        std::uint8_t bits = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (m_in[i] == bits) {
                ++run_length;
                continue;
            }
            if (run_length) maybe_emit_run(i, run_length, bits);
            if (m_in[i] == 0 || m_in[i] == 255) {
                bits = m_in[i];
                run_length = 1;
            } else {
                run_length = 0;
            }
        }
        if (run_length) maybe_emit_run(n, run_length, bits);
        if (m_flushed < n) emit_literal(n);
        return std::move(m_out);
    }

private:
    // The run [end - run_length, end) is emitted only if encoding the pending head plus the run
    // is strictly cheaper than encoding everything pending as one literal.
    void maybe_emit_run(std::size_t end, std::size_t run_length, std::uint8_t bits) {
        const std::size_t head = end - run_length - m_flushed;
        const std::size_t head_cost = head ? varint::encoding_length(2 * head) + head : 0;
        const std::uint64_t header = 4 * std::uint64_t{run_length} + (bits ? 2 : 0) + 1;
        const std::size_t run_cost = head_cost + varint::encoding_length(header);
        const std::size_t literal_cost =
            varint::encoding_length(2 * std::uint64_t{end - m_flushed}) + (end - m_flushed);
        if (run_cost >= literal_cost) return;
        if (head) emit_literal(end - run_length);
        varint::encode(m_out, header);
        m_flushed = end;
    }

    void emit_literal(std::size_t end) {
        const std::size_t length = end - m_flushed;
        varint::encode(m_out, 2 * std::uint64_t{length});
        m_out.insert(m_out.end(), m_in.begin() + static_cast<std::ptrdiff_t>(m_flushed),
                     m_in.begin() + static_cast<std::ptrdiff_t>(end));
        m_flushed = end;
    }

    ByteView m_in;
    std::size_t m_flushed = 0;
    Bytes m_out;
};

struct Segment {
    bool literal = false;
    std::uint8_t fill = 0;
    std::uint64_t length = 0;
};

// Reads one header from the front of `in`, and for a literal also checks that its bytes are there.
// bitfield-rle's varint reader has no length cap, but values past 2^53 are meaningless in JS and
// any length that large exceeds every max_bytes anyway, so 10-byte varints are the limit here.
std::optional<Segment> next_segment(ByteView& in) {
    const auto header = varint::decode(in);
    if (!header) return std::nullopt;
    Segment s;
    if (*header & 1) {
        s.length = *header >> 2;
        s.fill = (*header & 2) ? 0xff : 0x00;
    } else {
        s.literal = true;
        s.length = *header >> 1;
        if (s.length > in.size()) return std::nullopt;
    }
    return s;
}

}  // namespace

Bytes rle_encode(ByteView bitfield) { return RleEncoder(bitfield).run(); }

Result<Bytes> rle_decode(ByteView encoded, std::size_t max_bytes) {
    // Pass 1: validate and size, without allocating.
    std::uint64_t total = 0;
    for (ByteView in = encoded; !in.empty();) {
        const auto segment = next_segment(in);
        if (!segment) return make_error(Errc::Corrupt, "invalid RLE bitfield");
        if (segment->length > max_bytes - total) {
            return make_error(Errc::Corrupt, "RLE bitfield longer than {} bytes", max_bytes);
        }
        total += segment->length;
        if (segment->literal) in = in.subspan(static_cast<std::size_t>(segment->length));
    }

    // Pass 2: fill. Zero padding to a multiple of 4 comes from value-initialisation.
    const std::uint64_t padded =
        std::min<std::uint64_t>((total + 3) & ~std::uint64_t{3}, max_bytes);
    Bytes out(static_cast<std::size_t>(std::max(padded, total)));
    std::size_t pos = 0;
    for (ByteView in = encoded; !in.empty();) {
        const auto segment = next_segment(in);
        const auto length = static_cast<std::size_t>(segment->length);
        if (segment->literal) {
            std::copy_n(in.begin(), length, out.begin() + static_cast<std::ptrdiff_t>(pos));
            in = in.subspan(length);
        } else if (segment->fill) {
            std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(pos), length, segment->fill);
        }
        pos += length;
    }
    return out;
}

}  // namespace hs::hypercore
