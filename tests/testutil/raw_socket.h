// A plain blocking TCP client bound to a chosen loopback source address: the flood tests open
// hundreds of these without going through Asio.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/ip/tcp.hpp>
#include <string>

namespace hs::testutil {

// Connects from `source` (an IPv4 address, port chosen by the kernel) to `target`; the file
// descriptor, or -1 on failure. connect() returns once the kernel queued the connection in the
// listen backlog, whether or not the server has accepted it yet.
inline int connect_from(const std::string& source, const asio::ip::tcp::endpoint& target) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(target.port());
    ::inet_pton(AF_INET, target.address().to_string().c_str(), &remote.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace hs::testutil
