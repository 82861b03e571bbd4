// The daemon's RPC socket (docs/behaviour/rpc.md "Endpoint"): a UNIX socket named by a *name*
// (`--host`, else $HYPERSPACE_SOCKET, else "hyperspace") at `<os.tmpdir()>/<name>.sock`, or TCP.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace hs::rpc {

// Node's os.tmpdir() on POSIX: $TMPDIR, else $TMP, else $TEMP, else /tmp; one trailing slash
// removed. JS clients compute the socket path with it, so we must too.
std::filesystem::path node_tmpdir();
// $HYPERSPACE_SOCKET, else "hyperspace".
std::string default_socket_name();
// <node_tmpdir()>/<name>.sock
std::filesystem::path socket_path_for_name(std::string_view name);

struct Endpoint {
    bool tcp = false;
    std::filesystem::path unix_path;  // !tcp
    std::string host;                 // tcp: a numeric address
    std::uint16_t port = 0;           // tcp
    std::string describe() const;     // the path, or host:port
};

// `--host NAME` / `--port P` of a client (docs/behaviour/rpc.md "Endpoint"): no port -> UNIX socket
// of that name (or the default name); a port -> TCP on `host`, 127.0.0.1 if none.
Endpoint client_endpoint(const std::optional<std::string>& host, std::optional<std::uint16_t> port);

}  // namespace hs::rpc
