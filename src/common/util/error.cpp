#include "common/util/error.h"

#include <cstdio>

namespace hs {
std::string_view errc_name(Errc e) noexcept {
    switch (e) {
        case Errc::Ok: return "ok";
        case Errc::InvalidArgument: return "invalid argument";
        case Errc::NotFound: return "not found";
        case Errc::Corrupt: return "corrupt";
        case Errc::Io: return "i/o error";
        case Errc::Locked: return "locked";
        case Errc::NotWritable: return "not writable";
        case Errc::VerificationFailed: return "verification failed";
        case Errc::TooLarge: return "too large";
        case Errc::Closed: return "closed";
        case Errc::Exists: return "exists";
        case Errc::HandshakeFailed: return "handshake failed";
        case Errc::Protocol: return "protocol error";
        case Errc::FrameTooLarge: return "frame too large";
    }
    return "unknown";
}

namespace detail {
void assert_failed(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "hyperspace: internal invariant failed: %s at %s:%d\n", expr, file, line);
    std::abort();
}
}  // namespace detail
}  // namespace hs
