#include "rpc/endpoint.h"

#include <cstdlib>

#include "common/util/host_port.h"

namespace hs::rpc {

std::filesystem::path node_tmpdir() {
    std::string path;
    for (const char* name : {"TMPDIR", "TMP", "TEMP"}) {
        const char* v = std::getenv(name);
        if (v && *v) {
            path = v;
            break;
        }
    }
    if (path.empty()) path = "/tmp";
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

std::string default_socket_name() {
    const char* v = std::getenv("HYPERSPACE_SOCKET");
    return v && *v ? std::string(v) : std::string("hyperspace");
}

std::filesystem::path socket_path_for_name(std::string_view name) {
    return std::filesystem::path(node_tmpdir().string() + "/" + std::string(name) + ".sock");
}

std::string Endpoint::describe() const {
    if (!tcp) return unix_path.string();
    return format_host_port(host, port);
}

Endpoint client_endpoint(const std::optional<std::string>& host,
                         std::optional<std::uint16_t> port) {
    Endpoint e;
    if (port) {
        e.tcp = true;
        e.host = host ? *host : std::string("127.0.0.1");
        if (e.host == "localhost") e.host = "127.0.0.1";
        e.port = *port;
        return e;
    }
    e.unix_path = socket_path_for_name(host ? *host : default_socket_name());
    return e;
}

}  // namespace hs::rpc
