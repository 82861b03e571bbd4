#include "common/util/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

namespace hs {

Result<HostPort> parse_host_port(std::string_view text, HostPortRules rules) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
            return make_error(Errc::InvalidArgument, "'{}' is not [IPV6]:PORT", text);
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        in6_addr scratch{};
        const std::string address(host.substr(0, host.find('%')));  // without a "%scope" zone
        if (::inet_pton(AF_INET6, address.c_str(), &scratch) != 1)
            return make_error(Errc::InvalidArgument,
                              "'{}': only an IPv6 address goes in brackets, not '{}'", text, host);
    } else {
        const auto colon = text.find(':');
        if (colon == std::string_view::npos)
            return make_error(Errc::InvalidArgument, "'{}' is not HOST:PORT (no ':PORT')", text);
        if (text.find(':', colon + 1) != std::string_view::npos)
            return make_error(Errc::InvalidArgument,
                              "'{}' is not HOST:PORT (write an IPv6 address as [ADDRESS]:PORT)",
                              text);
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.empty() && !rules.allow_empty_host)
            return make_error(Errc::InvalidArgument, "'{}' is not HOST:PORT (no host)", text);
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        return make_error(Errc::InvalidArgument,
                          "'{}': the port must be a number from 0 to 65535, not '{}'", text, port);
    return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
    if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

}  // namespace hs
