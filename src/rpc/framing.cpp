#include "rpc/framing.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/util/varint.h"

namespace hs::rpc {

Payload::Payload(ByteView bytes) {
    set_capacity(bytes.size());
    append(bytes);
}

void Payload::set_capacity(std::size_t capacity) {
    capacity = std::max(capacity, m_size);
    if (capacity == m_capacity) return;
    if (capacity == 0) {
        std::free(std::exchange(m_data, nullptr));
        m_capacity = 0;
        return;
    }
    void* grown = std::realloc(m_data, capacity);
    if (grown == nullptr) throw std::bad_alloc();
    m_data = static_cast<std::uint8_t*>(grown);
    m_capacity = capacity;
}

void Payload::append(ByteView bytes) noexcept {
    if (bytes.empty()) return;
    std::memcpy(m_data + m_size, bytes.data(), bytes.size());
    m_size += bytes.size();
}

bool Payload::equal(const Payload& a, ByteView b) noexcept {
    return a.size() == b.size() && (b.empty() || std::memcmp(a.data(), b.data(), b.size()) == 0);
}

void encode_frame_prefix(Bytes& out, const FrameHeader& header, std::size_t payload_bytes) {
    const std::uint64_t head = (header.service << 2) | static_cast<std::uint8_t>(header.type);
    const std::uint64_t len = varint::encoding_length(head) +
                              varint::encoding_length(header.method) +
                              varint::encoding_length(header.id) + payload_bytes;
    varint::encode(out, len);
    varint::encode(out, head);
    varint::encode(out, header.method);
    varint::encode(out, header.id);
}

void encode_frame(Bytes& out, const FrameHeader& header, ByteView payload) {
    encode_frame_prefix(out, header, payload.size());
    append_bytes(out, payload);
}

std::optional<FrameHeader> peek_frame_header(ByteView frame) {
    std::uint64_t values[4];
    std::size_t at = 0;
    for (std::uint64_t& value : values) {
        value = 0;
        for (std::size_t k = 0;; ++k) {
            if (at >= frame.size() || k >= kMaxFrameVarintBytes) return std::nullopt;
            const std::uint8_t b = frame[at++];
            value |= std::uint64_t{b & 0x7fu} << (7 * k);
            if (!(b & 0x80)) break;
        }
    }
    FrameHeader h;
    h.type = static_cast<FrameType>(values[1] & 3);
    h.service = values[1] >> 2;
    h.method = values[2];
    h.id = values[3];
    return h;
}

namespace {

// The capacity for a split payload of `declared` bytes once `need` of them have arrived: the
// smallest of declared, ceil(declared / 2), ceil(declared / 4), ... that holds `need` and is at
// least half the initial reserve. Successive rungs halve, so the buffer is under twice `need`
// (or at most kInitialPayloadReserve), and moving up the rungs copies less than `declared` bytes
// in total. (ceil(ceil(x / 2^k) / 2) = ceil(x / 2^(k+1)), so halving the rung is exact.)
std::size_t payload_rung(std::size_t need, std::size_t declared) {
    constexpr std::size_t kLowest = kInitialPayloadReserve / 2;
    std::size_t rung = declared;
    for (;;) {
        const std::size_t lower = rung / 2 + rung % 2;
        if (lower < need || lower < kLowest) return rung;
        rung = lower;
    }
}

}  // namespace

Payload PayloadPool::take(std::size_t declared) {
    if (declared < kPooledPayloadBytes || m_spare.capacity() < declared) return {};
    Payload taken = std::move(m_spare);
    m_spare = {};
    taken.clear();
    return taken;
}

bool PayloadPool::give(Payload&& payload) {
    Payload given = std::move(payload);
    payload = {};
    const std::size_t c = given.capacity();
    if (c < kPooledPayloadBytes || c > m_max_bytes || c <= m_spare.capacity()) return false;
    m_spare = std::move(given);
    return true;
}

void FrameDecoder::reserve(std::size_t need, std::size_t declared) {
    if (need <= m_payload.capacity()) return;
    if (m_payload.capacity() == 0 && m_options.pool != nullptr) {
        m_payload = m_options.pool->take(declared);
        m_pooled = m_payload.capacity() != 0;
        if (need <= m_payload.capacity()) return;
    }
    m_payload.set_capacity(payload_rung(need, declared));
}

void FrameDecoder::complete(std::vector<Frame>& out) {
    out.push_back(Frame{m_header, std::move(m_payload)});
    m_payload = {};
    m_pooled = false;
    m_state = State::Length;
}

void FrameDecoder::fail(Errc code, const char* what) {
    m_state = State::Failed;
    m_error = make_error(code, "rpc frame: {}", what);
    m_payload = {};
    m_pooled = false;
}

void FrameDecoder::finish_varint(std::uint64_t value, std::size_t bytes, std::vector<Frame>& out) {
    switch (m_state) {
        case State::Length:
            // len 0 is a keep-alive: stay in Length.
            if (value != 0) {
                m_remaining = value;
                m_state = State::Header;
            }
            return;
        case State::Header:
            if (bytes >= m_remaining) return fail(Errc::Protocol, "Missing method");
            m_remaining -= bytes;
            m_header.type = static_cast<FrameType>(value & 3);
            m_header.service = value >> 2;
            m_state = State::Method;
            return;
        case State::Method:
            if (bytes >= m_remaining) return fail(Errc::Protocol, "Missing id");
            m_remaining -= bytes;
            m_header.method = value;
            m_state = State::Id;
            return;
        case State::Id:
            if (bytes > m_remaining) {
                return fail(Errc::Protocol, "frame length is shorter than its header");
            }
            m_remaining -= bytes;
            m_header.id = value;
            if (m_remaining > m_options.max_payload_bytes) {
                return fail(Errc::FrameTooLarge, "Incoming message is larger than max size");
            }
            m_payload = {};
            m_pooled = false;
            if (m_remaining == 0) {
                out.push_back(Frame{m_header, {}});
                m_state = State::Length;
            } else {
                m_state = State::Payload;
            }
            return;
        case State::Payload:
        case State::Failed:
            break;
    }
    fail(Errc::Protocol, "internal decoder state");  // unreachable: receive() reads no varint here
}

MutableByteView FrameDecoder::payload_space(std::size_t max) {
    if (m_state != State::Payload || max == 0) return {};
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(m_remaining, max));
    reserve(m_payload.size() + n, static_cast<std::size_t>(m_payload.size() + m_remaining));
    return m_payload.free_space().first(n);
}

void FrameDecoder::payload_received(std::size_t n, std::vector<Frame>& out) {
    if (m_state != State::Payload) return;
    const std::size_t declared = static_cast<std::size_t>(m_payload.size() + m_remaining);
    m_payload.grow(n);
    m_remaining -= n;
    if (m_remaining == 0) {
        complete(out);
    } else if (m_pooled) {
        if (m_payload.empty()) {  // nothing arrived yet: the spare goes back
            m_options.pool->give(std::move(m_payload));
            m_payload = {};
            m_pooled = false;
        }
    } else if (m_payload.empty()) {
        m_payload = {};
    } else if (const std::size_t rung = payload_rung(m_payload.size(), declared);
               rung < m_payload.capacity()) {
        m_payload.set_capacity(rung);
    }
}

Status FrameDecoder::receive(ByteView in, std::vector<Frame>& out) {
    std::size_t i = 0;
    while (i < in.size() && m_state != State::Failed) {
        if (m_state == State::Payload) {
            const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(m_remaining, in.size() - i));
            if (n == m_remaining && m_payload.empty()) {
                // The whole payload is in this input: one exact-size copy.
                out.push_back(Frame{m_header, Payload(in.subspan(i, n))});
            } else {
                // A split payload: grow with the bytes that arrived (m_remaining was checked
                // against max_payload_bytes when the header completed, so this fits in size_t).
                reserve(m_payload.size() + n,
                        static_cast<std::size_t>(m_payload.size() + m_remaining));
                m_payload.append(in.subspan(i, n));
                if (n == m_remaining) complete(out);
            }
            i += n;
            m_remaining -= n;
            if (m_remaining == 0) m_state = State::Length;
            continue;
        }
        const std::uint8_t b = in[i++];
        m_varint |= std::uint64_t{b & 0x7fu} << (7 * m_varint_bytes);
        ++m_varint_bytes;
        if (b & 0x80) {
            if (m_varint_bytes >= kMaxFrameVarintBytes) {
                fail(Errc::Protocol, "Incoming varint is invalid");
            }
            continue;
        }
        const std::uint64_t value = m_varint;
        const std::size_t bytes = m_varint_bytes;
        m_varint = 0;
        m_varint_bytes = 0;
        finish_varint(value, bytes, out);
    }
    if (m_state == State::Failed) return m_error;
    return {};
}

}  // namespace hs::rpc
