#include "v9/protocol/framing.h"

#include <algorithm>

#include "common/util/varint.h"

namespace hs::protocol {
namespace {

// varint(len) || varint(header) for a body of `body_bytes`; returns the header's size.
std::size_t write_header(std::uint8_t (&buf)[20], std::uint64_t channel, std::uint8_t type,
                         std::size_t body_bytes) {
    HS_ASSERT(channel <= kMaxChannel && type < 16);
    const std::uint64_t header = channel << 4 | type;
    const std::uint64_t length = varint::encoding_length(header) + body_bytes;
    std::size_t n = 0;
    for (std::uint64_t v : {length, header}) {
        while (v >= 0x80) {
            buf[n++] = static_cast<std::uint8_t>(v | 0x80);
            v >>= 7;
        }
        buf[n++] = static_cast<std::uint8_t>(v);
    }
    return n;
}

}  // namespace

void encode_frame(Bytes& out, std::uint64_t channel, std::uint8_t type, ByteView body) {
    std::uint8_t header[20];
    const std::size_t n = write_header(header, channel, type, body.size());
    out.reserve(out.size() + n + body.size());
    out.insert(out.end(), header, header + n);
    append_bytes(out, body);
}

void insert_frame_header(Bytes& out, std::size_t body_start, std::uint64_t channel,
                         std::uint8_t type) {
    HS_ASSERT(body_start <= out.size());
    std::uint8_t header[20];
    const std::size_t n = write_header(header, channel, type, out.size() - body_start);
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(body_start), header, header + n);
}

Status FrameDecoder::fail(Error error) {
    m_error = std::move(error);
    m_assembling.clear();
    m_assembling.shrink_to_fit();
    return m_error;
}

Status FrameDecoder::push(ByteView in, std::vector<Frame>& out) {
    if (failed()) return m_error;
    m_completed.clear();  // the frames of the previous push may no longer be used
    std::size_t pos = 0;
    while (pos < in.size()) {
        if (m_state == State::Body) {
            const std::size_t take = std::min(m_body_left, in.size() - pos);
            if (m_assembling.empty() && take == m_body_left) {
                // The whole body is in `in`: no copy.
                out.push_back(Frame{m_header >> 4, static_cast<std::uint8_t>(m_header & 15),
                                    in.subspan(pos, take)});
            } else {
                m_assembling.insert(m_assembling.end(),
                                    in.begin() + static_cast<std::ptrdiff_t>(pos),
                                    in.begin() + static_cast<std::ptrdiff_t>(pos + take));
                if (take == m_body_left) {
                    // Only the first frame of a push can complete from the buffer, so
                    // m_completed is free here.
                    std::swap(m_assembling, m_completed);
                    out.push_back(Frame{m_header >> 4, static_cast<std::uint8_t>(m_header & 15),
                                        ByteView(m_completed)});
                }
            }
            pos += take;
            m_body_left -= take;
            if (m_body_left == 0) m_state = State::Length;
            continue;
        }

        // Length or Header: one varint byte at a time (at most 8 per varint).
        const std::uint8_t byte = in[pos++];
        m_varint |= std::uint64_t{byte & 0x7fu} << (7 * m_varint_bytes);
        ++m_varint_bytes;
        if (byte & 0x80) {
            if (m_varint_bytes >= kMaxFrameVarintBytes)
                return fail(make_error(Errc::Protocol, "frame varint longer than {} bytes",
                                       kMaxFrameVarintBytes));
            continue;
        }
        const std::uint64_t value = m_varint;
        const std::uint8_t value_bytes = m_varint_bytes;
        m_varint = 0;
        m_varint_bytes = 0;

        if (m_state == State::Length) {
            if (value == 0) continue;  // keep-alive
            if (value > kMaxFrameBodyBytes + kMaxFrameVarintBytes)
                return fail(make_error(Errc::FrameTooLarge,
                                       "frame of {} bytes exceeds the {} byte limit", value,
                                       kMaxFrameBodyBytes));
            m_length = value;
            m_state = State::Header;
            continue;
        }

        // Header finished.
        if (m_length < value_bytes)
            return fail(make_error(Errc::Protocol,
                                   "frame length {} is shorter than its {} byte header", m_length,
                                   value_bytes));
        const std::uint64_t body = m_length - value_bytes;
        if (body > kMaxFrameBodyBytes)
            return fail(make_error(Errc::FrameTooLarge,
                                   "frame body of {} bytes exceeds the {} byte limit", body,
                                   kMaxFrameBodyBytes));
        m_header = value;
        m_body_left = static_cast<std::size_t>(body);
        m_state = State::Body;
        if (m_body_left == 0) {
            out.push_back(
                Frame{m_header >> 4, static_cast<std::uint8_t>(m_header & 15), ByteView()});
            m_state = State::Length;
        }
    }
    return {};
}

}  // namespace hs::protocol
