// The bytes of a decoded field that is either owned (built by a sender) or borrowed (decoded: a
// view into the message it was decoded from, no copy). Converts to ByteView; compares by content.
// A borrowed BytesRef, and every copy of it, is valid only as long as the decoded input is; call
// own() to keep it longer.
#pragma once

#include <cstring>
#include <utility>

#include "common/util/bytes.h"

namespace hs::wire {

class BytesRef {
public:
    BytesRef() = default;
    BytesRef(Bytes owned) noexcept : m_owned(std::move(owned)), m_view(m_owned) {}  // NOLINT
    static BytesRef borrow(ByteView view) noexcept {
        BytesRef r;
        r.m_view = view;
        r.m_borrowed = true;
        return r;
    }
    BytesRef(const BytesRef& other)
        : m_owned(other.m_owned),
          m_view(other.m_borrowed ? other.m_view : ByteView(m_owned)),
          m_borrowed(other.m_borrowed) {}
    BytesRef(BytesRef&& other) noexcept
        : m_owned(std::move(other.m_owned)),
          m_view(other.m_borrowed ? other.m_view : ByteView(m_owned)),
          m_borrowed(other.m_borrowed) {
        other.m_owned.clear();
        other.m_view = {};
    }
    BytesRef& operator=(BytesRef other) noexcept {
        m_owned = std::move(other.m_owned);
        m_view = other.m_borrowed ? other.m_view : ByteView(m_owned);
        m_borrowed = other.m_borrowed;
        return *this;
    }
    ~BytesRef() = default;

    // Copies borrowed bytes into storage of its own (no-op when already owned).
    void own() {
        if (!m_borrowed) return;
        m_owned.assign(m_view.begin(), m_view.end());
        m_view = m_owned;
        m_borrowed = false;
    }

    ByteView view() const noexcept { return m_view; }
    operator ByteView() const noexcept { return m_view; }  // NOLINT
    bool borrowed() const noexcept { return m_borrowed; }
    std::size_t size() const noexcept { return m_view.size(); }
    bool empty() const noexcept { return m_view.empty(); }
    const std::uint8_t* data() const noexcept { return m_view.data(); }
    auto begin() const noexcept { return m_view.begin(); }
    auto end() const noexcept { return m_view.end(); }
    Bytes to_bytes() const { return Bytes(m_view.begin(), m_view.end()); }
    friend bool operator==(const BytesRef& a, const BytesRef& b) noexcept {
        return a.size() == b.size() &&
               (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
    }

private:
    Bytes m_owned;
    ByteView m_view;
    bool m_borrowed = false;
};

}  // namespace hs::wire
