// The one parser of "HOST:PORT" command-line and configuration values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/util/error.h"

namespace hs {

struct HostPort {
    std::string host;  // an IPv4 or IPv6 literal (IPv6 without brackets) or a host name
    std::uint16_t port = 0;
    bool operator==(const HostPort&) const = default;
};

struct HostPortRules {
    // Accept ":PORT" (an empty host; the caller says which host that means).
    bool allow_empty_host = false;
};

// Parses "A.B.C.D:PORT", "NAME:PORT" or "[V6]:PORT" (and ":PORT" when allowed). PORT is decimal
// 0..65535; the caller refuses 0 where it cannot listen or dial on it. A bare IPv6 address must be
// in brackets ("::1:5" is refused, not guessed). The host is not resolved or checked beyond that:
// an IPv6 address in brackets must parse as one. Errc::InvalidArgument quoting `text` and saying
// which part is wrong.
[[nodiscard]] Result<HostPort> parse_host_port(std::string_view text, HostPortRules rules = {});

// "HOST:PORT", with brackets around an IPv6 host: what parse_host_port reads back.
std::string format_host_port(std::string_view host, std::uint16_t port);

}  // namespace hs
