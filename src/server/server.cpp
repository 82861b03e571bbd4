#include "server/server.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>

namespace hs::server {
using namespace hs::rpc;      // the codec
using namespace hs::service;  // the daemon's services
namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
// After a failed accept (out of descriptors, say) the loop waits, doubling the wait from the
// first to the last figure while the failures go on; a client disconnecting ends the wait early.
constexpr std::chrono::milliseconds kAcceptBackoffFirst{20};
constexpr std::chrono::milliseconds kAcceptBackoffMax{1000};
// While accepting keeps failing, one warning per this period.
constexpr std::chrono::seconds kAcceptLogPeriod{30};
// Memory the sessions gave back is returned to the system this long after a disconnect.
constexpr std::chrono::milliseconds kTrimDelay{500};

std::string descriptor_limit() {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return "unknown";
    return std::to_string(rl.rlim_cur);
}
}  // namespace

RpcServer::RpcServer(asio::io_context& io, Handlers& handlers, SessionLimits limits,
                     std::shared_ptr<spdlog::logger> log)
    : m_io(io),
      m_handlers(handlers),
      m_limits(limits),
      m_log(std::move(log)),
      m_trim_timer(io),
      m_spare(io.get_executor()),
      m_tasks(io.get_executor(), "rpc", m_log) {}

RpcServer::~RpcServer() = default;

Status RpcServer::listen_unix(const std::filesystem::path& path) {
    std::error_code ec;
    asio::local::stream_protocol::endpoint endpoint;
    try {
        endpoint = asio::local::stream_protocol::endpoint(path.string());
    } catch (const std::system_error& e) {
        return make_error(Errc::InvalidArgument, "cannot listen on {}: {}", path.string(),
                          e.code().message());
    }
    m_unix.emplace(m_io);
    m_unix->open(endpoint.protocol(), ec);
    if (!ec) {
        // The socket file is created by bind: make it private from the start (mode 0600).
        const mode_t old = ::umask(0177);
        m_unix->bind(endpoint, ec);
        ::umask(old);
    }
    if (!ec) m_unix->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        m_unix.reset();
        return make_error(Errc::Io, "cannot listen on {}: {}", path.string(), ec.message());
    }
    ::chmod(path.c_str(), 0600);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) m_socket_file = std::make_pair(st.st_dev, st.st_ino);
    m_socket_path = path;
    m_endpoint = path.string();
    m_endpoints.push_back(m_endpoint);
    return {};
}

Result<std::uint16_t> RpcServer::listen_tcp(const std::string& address, std::uint16_t port) {
    std::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) return make_error(Errc::InvalidArgument, "'{}' is not an IP address", address);
    const asio::ip::tcp::endpoint endpoint(ip, port);
    auto& acceptor = m_tcp.emplace_back(m_io);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ip.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        m_tcp.pop_back();
        const Errc code = ec == asio::error::address_in_use ? Errc::Exists
                          : ec == asio::error::address_family_not_supported ||
                                  ec == std::errc::address_not_available
                              ? Errc::NotFound
                              : Errc::Io;
        const std::string where = ip.is_v6() ? fmt::format("[{}]:{}", address, port)
                                             : fmt::format("{}:{}", address, port);
        return Error{code, fmt::format("cannot listen on {}: {}", where, ec.message())};
    }
    const std::uint16_t bound = acceptor.local_endpoint(ec).port();
    m_endpoints.push_back(ip.is_v6() ? fmt::format("[{}]:{}", address, bound)
                                     : fmt::format("{}:{}", address, bound));
    if (m_endpoint.empty()) m_endpoint = m_endpoints.front();
    return bound;
}

void RpcServer::unlisten_last_tcp() {
    if (m_tcp.empty()) return;
    std::error_code ec;
    m_tcp.back().close(ec);
    m_tcp.pop_back();
    m_endpoints.pop_back();
    m_endpoint = m_endpoints.empty() ? std::string() : m_endpoints.front();
}

void RpcServer::start() {
    auto spawn = [this](auto& acceptor, std::string where) {
        auto& pause = m_accept_pauses.emplace_back(m_io);
        const std::string name = "accept " + where;
        m_tasks.spawn(name, accept_loop(acceptor, pause, std::move(where)));
    };
    if (m_unix) spawn(*m_unix, m_socket_path.string());
    auto where = m_endpoints.begin();
    for (auto& acceptor : m_tcp) spawn(acceptor, *where++);
}

template <typename Acceptor>
asio::awaitable<void> RpcServer::accept_loop(Acceptor& acceptor, asio::steady_timer& pause,
                                             std::string where) {
    using Clock = std::chrono::steady_clock;
    std::chrono::milliseconds backoff{0};
    std::uint64_t failures = 0;  // in a row
    Clock::time_point failing_since, last_log;
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
        if (m_closing) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            // Out of descriptors and the like: the pending client stays in the backlog. Wait,
            // longer each time, and log once per period rather than once per attempt.
            const auto now = Clock::now();
            const bool no_fds = ec == asio::error::no_descriptors ||
                                ec == std::errc::too_many_files_open_in_system;
            const std::string hint =
                no_fds ? fmt::format("; the process has {} clients and a limit of {} open files: "
                                     "raise it (ulimit -n) or disconnect clients",
                                     m_sessions.size(), descriptor_limit())
                       : std::string();
            if (failures++ == 0) {
                failing_since = last_log = now;
                backoff = kAcceptBackoffFirst;
                m_log->warn(
                    "accepting a client on {} failed: {}{}; retrying with backoff up to {} ms",
                    where, ec.message(), hint, kAcceptBackoffMax.count());
            } else {
                backoff = std::min(backoff * 2, kAcceptBackoffMax);
                if (now - last_log >= kAcceptLogPeriod) {
                    last_log = now;
                    const auto secs =
                        std::chrono::duration_cast<std::chrono::seconds>(now - failing_since);
                    m_log->warn("accepting clients on {} still fails: {} ({} attempts over {} s){}",
                                where, ec.message(), failures, secs.count(), hint);
                }
            }
            pause.expires_after(backoff);
            co_await pause.async_wait(kUseTuple);  // cancelled early when a client disconnects
            if (m_closing) co_return;
            continue;
        }
        if (failures > 0) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                                  failing_since);
            m_log->info("accepting clients on {} again, after {} failed attempts over {} ms", where,
                        failures, ms.count());
            failures = 0;
        }
        std::string peer = "local";
        if constexpr (std::is_same_v<Acceptor, asio::ip::tcp::acceptor>) {
            std::error_code pec;
            socket.set_option(asio::ip::tcp::no_delay(true), pec);  // small replies, no Nagle delay
            const auto remote = socket.remote_endpoint(pec);
            if (!pec) peer = fmt::format("{}:{}", remote.address().to_string(), remote.port());
        }
        adopt(Session::Socket(std::move(socket)), std::move(peer));
    }
}

std::shared_ptr<Session> RpcServer::adopt(Session::Socket socket, std::string peer) {
    if (m_sessions.size() >= m_limits.max_clients) {
        m_log->warn("refusing a client ({}): {} clients are connected already", peer,
                    m_sessions.size());
        std::error_code ec;
        socket.close(ec);
        return nullptr;
    }
    const std::uint64_t id = m_next_session++;
    auto session = std::make_shared<Session>(id, std::move(socket), std::move(peer), m_handlers,
                                             m_limits, m_log, &m_spare);
    m_sessions.emplace(id, session);
    m_log->info("client {} connected ({})", id, session->peer());
    if (m_closing) session->close("daemon shutting down");
    m_tasks.spawn(fmt::format("client {}", id), session->run(), [this, id] {
        if (auto it = m_sessions.find(id); it != m_sessions.end()) {
            m_log->info("client {} disconnected: {}", id, it->second->close_reason());
            m_sessions.erase(it);
        }
        client_gone();
    });
    return session;
}

void RpcServer::client_gone() {
    // Its descriptor is free: a paused accept loop may try again now.
    for (auto& pause : m_accept_pauses) pause.cancel();
    // Give the memory of departed sessions back to the system once a burst of disconnects is
    // over (glibc keeps freed heap pages otherwise).
    if (m_trim_pending || m_closing) return;
    m_trim_pending = true;
    m_trim_timer.expires_after(kTrimDelay);
    m_trim_timer.async_wait([this](std::error_code ec) {
        if (ec) return;  // cancelled, or the server is gone
        m_trim_pending = false;
#if defined(__GLIBC__)
        ::malloc_trim(0);
#endif
    });
}

void RpcServer::close() {
    m_closing = true;
    std::error_code ec;
    if (m_unix) m_unix->close(ec);
    for (auto& acceptor : m_tcp) acceptor.close(ec);
    for (auto& pause : m_accept_pauses) pause.cancel();
    m_trim_timer.cancel();
    for (auto& [id, session] : m_sessions) session->shutdown("daemon shutting down");
}

void RpcServer::abort() {
    for (auto& [id, session] : m_sessions) session->close("daemon shutting down");
}

asio::awaitable<void> RpcServer::join() { co_await m_tasks.join(); }

void RpcServer::remove_socket_file() {
    if (m_socket_path.empty() || !m_socket_file) return;
    struct stat st {};
    if (::stat(m_socket_path.c_str(), &st) == 0 &&
        std::make_pair(st.st_dev, st.st_ino) == *m_socket_file)
        ::unlink(m_socket_path.c_str());
    m_socket_file.reset();
}

void RpcServer::broadcast_feed(const crypto::PublicKey& key) {
    const FeedEvent event{Bytes(key.begin(), key.end())};
    for (auto& [id, session] : m_sessions) send_event(*session, Method::CorestoreOnFeed, event);
}

}  // namespace hs::server
