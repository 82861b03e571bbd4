// Bytes waiting to be written to a transport: appended at the end, consumed from the front as
// the transport takes them. The consumed prefix is dropped when the buffer empties, or moved out
// once it is both over 64 KiB and more than half the buffer (so a buffer that never quite
// empties does not grow without bound, and small writes do not memmove).
#pragma once

#include <cstddef>

#include "common/util/bytes.h"

namespace hs {

class OutputBuffer {
public:
    ByteView pending() const noexcept { return ByteView(m_bytes).subspan(m_start); }
    bool empty() const noexcept { return m_start >= m_bytes.size(); }
    std::size_t size() const noexcept { return m_bytes.size() - m_start; }

    // The storage to append to (appending never disturbs pending()).
    Bytes& tail() noexcept { return m_bytes; }
    void append(ByteView bytes) { append_bytes(m_bytes, bytes); }
    // `n` new bytes at the end, to write in place.
    std::uint8_t* extend(std::size_t n) {
        const std::size_t at = m_bytes.size();
        m_bytes.resize(at + n);
        return m_bytes.data() + at;
    }

    // The transport took `n` bytes of pending().
    void consume(std::size_t n) {
        m_start += n;
        if (m_start >= m_bytes.size()) {
            m_bytes.clear();
            m_start = 0;
        } else if (m_start > (std::size_t{1} << 16) && m_start * 2 > m_bytes.size()) {
            m_bytes.erase(m_bytes.begin(), m_bytes.begin() + static_cast<std::ptrdiff_t>(m_start));
            m_start = 0;
        }
    }
    // Moves every pending byte out (no copy when nothing was consumed); the buffer is empty then.
    Bytes take() {
        Bytes out;
        if (m_start == 0) {
            out.swap(m_bytes);
        } else {
            out.assign(m_bytes.begin() + static_cast<std::ptrdiff_t>(m_start), m_bytes.end());
            m_bytes.clear();
        }
        m_start = 0;
        return out;
    }
    void clear() noexcept {
        m_bytes.clear();
        m_start = 0;
    }

private:
    Bytes m_bytes;
    std::size_t m_start = 0;
};

}  // namespace hs
