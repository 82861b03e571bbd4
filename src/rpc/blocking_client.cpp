#include "rpc/blocking_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "rpc/methods.h"

namespace hs::rpc {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on fd until the deadline. false on timeout or error (errno set).
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r > 0) return true;
        if (r == 0) {
            errno = ETIMEDOUT;
            return false;
        }
        if (errno != EINTR) return false;
    }
}

}  // namespace

Result<BlockingClient> BlockingClient::connect(const Endpoint& endpoint,
                                               std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    sockaddr_storage addr{};
    socklen_t len = 0;
    int family = AF_UNIX;
    if (!endpoint.tcp) {
        auto* un = reinterpret_cast<sockaddr_un*>(&addr);
        const std::string path = endpoint.unix_path.string();
        if (path.size() >= sizeof(un->sun_path))
            return make_error(Errc::InvalidArgument, "socket path {} is too long", path);
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
        len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
        if (::inet_pton(AF_INET, endpoint.host.c_str(), &in4->sin_addr) == 1) {
            family = AF_INET;
            in4->sin_family = AF_INET;
            in4->sin_port = htons(endpoint.port);
            len = sizeof(sockaddr_in);
        } else if (::inet_pton(AF_INET6, endpoint.host.c_str(), &in6->sin6_addr) == 1) {
            family = AF_INET6;
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(endpoint.port);
            len = sizeof(sockaddr_in6);
        } else {
            return make_error(Errc::InvalidArgument, "'{}' is not an IP address", endpoint.host);
        }
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(Errc::Io, "socket: {}", std::strerror(errno));
    BlockingClient client(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        int err = errno;
        if (err == EINPROGRESS || err == EAGAIN) {
            if (!wait_for(fd, POLLOUT, deadline))
                return make_error(Errc::Io, "connecting to {}: {}", endpoint.describe(),
                                  std::strerror(errno));
            socklen_t elen = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        }
        if (err != 0) {
            const Errc code = err == ENOENT || err == ECONNREFUSED ? Errc::NotFound : Errc::Io;
            return make_error(code, "connecting to {}: {}", endpoint.describe(),
                              std::strerror(err));
        }
    }
    return client;
}

BlockingClient::BlockingClient(BlockingClient&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)),
      m_decoder(std::move(other.m_decoder)),
      m_next_id(other.m_next_id) {}

BlockingClient& BlockingClient::operator=(BlockingClient&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = std::exchange(other.m_fd, -1);
        m_decoder = std::move(other.m_decoder);
        m_next_id = other.m_next_id;
    }
    return *this;
}

BlockingClient::~BlockingClient() {
    if (m_fd >= 0) ::close(m_fd);
}

Status BlockingClient::send(std::uint64_t service, std::uint64_t method, std::uint64_t id,
                            ByteView payload, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    Bytes frame;
    encode_frame(frame, FrameHeader{FrameType::Request, service, method, id}, payload);
    std::size_t off = 0;
    while (off < frame.size()) {
        const ssize_t n = ::send(m_fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_for(m_fd, POLLOUT, deadline))
                return make_error(Errc::Io, "sending a request: {}", std::strerror(errno));
            continue;
        }
        return make_error(Errc::Io, "sending a request: {}", std::strerror(errno));
    }
    return {};
}

Result<Bytes> BlockingClient::call(std::uint64_t service, std::uint64_t method, ByteView payload,
                                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    const std::uint64_t id = m_next_id++;
    HS_TRY(send(service, method, id, payload, timeout));
    std::vector<Frame> frames;
    std::uint8_t buf[16384];
    for (;;) {
        if (!wait_for(m_fd, POLLIN, deadline))
            return make_error(Errc::Io, "waiting for the daemon's answer: {}",
                              std::strerror(errno));
        const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
        if (n == 0) return make_error(Errc::Io, "the daemon closed the connection");
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            return make_error(Errc::Io, "reading the daemon's answer: {}", std::strerror(errno));
        }
        frames.clear();
        const Status st = m_decoder.receive(ByteView(buf, static_cast<std::size_t>(n)), frames);
        for (auto& f : frames) {
            if (f.header.id != id || f.header.type == FrameType::Request) continue;  // events
            if (f.header.type == FrameType::Error) {
                ByteView in = f.payload;
                auto err = RPCError::decode(in);
                return make_error(Errc::InvalidArgument, "{}",
                                  err ? err->message : std::string("undecodable RPC error"));
            }
            return f.payload.to_bytes();
        }
        if (!st) return st.error();
    }
}

Result<BlockingClient::StatusReply> BlockingClient::status(std::chrono::milliseconds timeout) {
    const auto& info = method_info(Method::HyperspaceStatus);
    HS_ASSIGN_OR_RETURN(Bytes payload, call(static_cast<std::uint64_t>(info.service), info.id,
                                            ByteView(kDaemonInfoRequest), timeout));
    ByteView in = payload;
    HS_ASSIGN_OR_RETURN(HyperspaceStatusResponse status, HyperspaceStatusResponse::decode(in));
    StatusReply reply{std::move(status), std::nullopt};
    ByteView again = payload;
    if (auto extra = DaemonInfoResponse::decode(again)) reply.info = std::move(extra).value();
    return reply;
}

Status BlockingClient::stop(std::chrono::milliseconds timeout) {
    const auto& info = method_info(Method::HyperspaceStop);
    return send(static_cast<std::uint64_t>(info.service), info.id, 0, {}, timeout);
}

}  // namespace hs::rpc
