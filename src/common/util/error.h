// Error values and Result<T>: the narrow error type used at every API edge.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace hs {

enum class Errc {
    Ok = 0,
    InvalidArgument,     // a caller passed something malformed (bad key, bad range)
    NotFound,            // the thing asked for does not exist (block, core, file)
    Corrupt,             // stored bytes fail a structural or cryptographic check
    Io,                  // the operating system refused a read or write
    Locked,              // another process holds the storage lock
    NotWritable,         // no secret key for this core, or storage opened read-only
    VerificationFailed,  // a received block or proof does not verify
    TooLarge,            // a declared or given size exceeds a hard limit
    Closed,              // the object was closed
    Exists,              // the thing to create already exists
    HandshakeFailed,     // the Noise handshake failed: malformed message, bad MAC or key, no payload
    Protocol,            // a peer broke the wire protocol: bad varint, frame header or message body
    FrameTooLarge,       // a wire frame declares a body larger than the protocol allows
};

std::string_view errc_name(Errc e) noexcept;

// An error code with a message that says what failed, on which object, and (where useful) what to do.
struct Error {
    Errc code = Errc::Ok;
    std::string message;
};

template <typename... Args>
Error make_error(Errc code, fmt::format_string<Args...> format, Args&&... args) {
    return Error{code, fmt::format(format, std::forward<Args>(args)...)};
}

// Holds either a value or an Error (std::expected-shaped; C++20 has no std::expected).
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
    Result(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

    bool ok() const noexcept { return m_v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { check(); return std::get<0>(m_v); }
    const T& value() const& { check(); return std::get<0>(m_v); }
    T&& value() && { check(); return std::get<0>(std::move(m_v)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const& { return std::get<1>(m_v); }
    Error&& error() && { return std::get<1>(std::move(m_v)); }

private:
    void check() const {
        if (m_v.index() != 0) std::abort();  // using the value of a failed Result is a bug
    }
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)), m_failed(true) {}  // NOLINT(implicit)
    bool ok() const noexcept { return !m_failed; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const& { return m_error; }
    Error&& error() && { return std::move(m_error); }

private:
    Error m_error;
    bool m_failed = false;
};

using Status = Result<void>;

}  // namespace hs

// Propagates a failed Result out of the calling function (which must return a Result).
#define HS_TRY(expr)                                      \
    do {                                                  \
        auto&& hs_try_r_ = (expr);                        \
        if (!hs_try_r_.ok()) return std::move(hs_try_r_).error(); \
    } while (0)

#define HS_CONCAT_INNER(a, b) a##b
#define HS_CONCAT(a, b) HS_CONCAT_INNER(a, b)
// Declares `lhs` from a successful Result or returns its error.
#define HS_ASSIGN_OR_RETURN(lhs, expr) HS_ASSIGN_OR_RETURN_IMPL(HS_CONCAT(hs_r_, __LINE__), lhs, expr)
#define HS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                           \
    if (!tmp.ok()) return std::move(tmp).error(); \
    lhs = std::move(tmp).value()

// Internal invariant check; stays on in release builds. Never use on peer or file input.
#define HS_ASSERT(cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) ::hs::detail::assert_failed(#cond, __FILE__, __LINE__);             \
    } while (0)

namespace hs::detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line);
}
