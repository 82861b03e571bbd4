#include "cli/replicate_common.h"

#include <iostream>

#include "common/util/host_port.h"
#include "v9/protocol/stream_io.h"

namespace hs::cli {

Result<asio::ip::tcp::acceptor> open_listener(const asio::any_io_executor& executor, const std::string& listen) {
    auto local = parse_host_port(listen);
    if (!local) return std::move(local).error();
    std::error_code ec;
    auto addr = asio::ip::make_address(local->host, ec);
    if (ec) return make_error(Errc::InvalidArgument, "--listen needs an IP address, not {}", local->host);
    auto acceptor = protocol::listen_tcp(executor, {addr, local->port});
    if (!acceptor) return std::move(acceptor).error();
    const auto ep = acceptor->local_endpoint();
    std::cerr << "listening " << ep.address().to_string() << ":" << ep.port() << std::endl;
    return std::move(acceptor).value();
}

}  // namespace hs::cli
