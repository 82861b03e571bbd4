#include "rpc/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>

namespace hs::rpc {
namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
}

RpcServer::RpcServer(asio::io_context& io, Handlers& handlers, SessionLimits limits,
                     std::shared_ptr<spdlog::logger> log)
    : m_io(io),
      m_handlers(handlers),
      m_limits(limits),
      m_log(std::move(log)),
      m_idle(io.get_executor()) {}

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
    return {};
}

Result<std::uint16_t> RpcServer::listen_tcp(const std::string& address, std::uint16_t port) {
    std::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) return make_error(Errc::InvalidArgument, "'{}' is not an IP address", address);
    const asio::ip::tcp::endpoint endpoint(ip, port);
    m_tcp.emplace(m_io);
    m_tcp->open(endpoint.protocol(), ec);
    if (!ec) m_tcp->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) m_tcp->bind(endpoint, ec);
    if (!ec) m_tcp->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        m_tcp.reset();
        return Error{ec == asio::error::address_in_use ? Errc::Exists : Errc::Io,
                     fmt::format("cannot listen on {}:{}: {}", address, port, ec.message())};
    }
    const std::uint16_t bound = m_tcp->local_endpoint(ec).port();
    m_endpoint =
        ip.is_v6() ? fmt::format("[{}]:{}", address, bound) : fmt::format("{}:{}", address, bound);
    return bound;
}

void RpcServer::start() {
    auto spawn = [this](auto& acceptor) {
        ++m_tasks;
        asio::co_spawn(m_io, accept_loop(acceptor), [this](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    m_log->error("accept loop failed: {}", ex.what());
                }
            }
            task_done();
        });
    };
    if (m_unix) spawn(*m_unix);
    if (m_tcp) spawn(*m_tcp);
}

template <typename Acceptor>
asio::awaitable<void> RpcServer::accept_loop(Acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
        if (m_closing) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            // Out of descriptors and the like: do not spin.
            m_log->warn("accepting a client failed: {}", ec.message());
            asio::steady_timer pause(m_io, std::chrono::milliseconds(100));
            co_await pause.async_wait(kUseTuple);
            continue;
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
                                             m_limits, m_log);
    m_sessions.emplace(id, session);
    ++m_tasks;
    m_log->info("client {} connected ({})", id, session->peer());
    if (m_closing) session->close("daemon shutting down");
    asio::co_spawn(m_io, session->run(), [this, id](std::exception_ptr) {
        // run() catches everything itself.
        if (auto it = m_sessions.find(id); it != m_sessions.end()) {
            m_log->info("client {} disconnected: {}", id, it->second->close_reason());
            m_sessions.erase(it);
        }
        task_done();
    });
    return session;
}

void RpcServer::task_done() {
    if (--m_tasks == 0) m_idle.notify();
}

void RpcServer::close() {
    m_closing = true;
    std::error_code ec;
    if (m_unix) m_unix->close(ec);
    if (m_tcp) m_tcp->close(ec);
    for (auto& [id, session] : m_sessions) session->shutdown("daemon shutting down");
}

void RpcServer::abort() {
    for (auto& [id, session] : m_sessions) session->close("daemon shutting down");
}

asio::awaitable<void> RpcServer::join() {
    while (m_tasks > 0) co_await m_idle.wait();
}

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

}  // namespace hs::rpc
