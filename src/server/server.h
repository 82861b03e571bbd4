// The RPC server: listens on a UNIX socket (or TCP), runs one Session per client, and sends
// OnFeed to every client when a core loads (docs/behaviour/rpc.md "Events"). Owns the sessions.
// Network thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>
#include <asio.hpp>

#include "common/async/task_group.h"
#include "server/handlers.h"
#include "server/session.h"

namespace hs::server {

class RpcServer {
public:
    // `io` and `handlers` must outlive the server.
    RpcServer(asio::io_context& io, Handlers& handlers, SessionLimits limits,
              std::shared_ptr<spdlog::logger> log);
    ~RpcServer();
    RpcServer(const RpcServer&) = delete;
    RpcServer& operator=(const RpcServer&) = delete;

    // Binds a UNIX socket at `path`, mode 0600. REQUIRES: nothing live listens there (the caller
    // probed it); a stale file must have been removed.
    Status listen_unix(const std::filesystem::path& path);
    // Binds TCP on `address` (a numeric IPv4/IPv6 address; an IPv6 one takes IPv6 only); returns
    // the bound port (`port` 0 = any free port). May be called again to listen on more addresses
    // (127.0.0.1 and ::1 on one port, say). Errc::Exists when the address is in use,
    // Errc::NotFound when this host has no such address (IPv6 disabled, say), else Errc::Io.
    Result<std::uint16_t> listen_tcp(const std::string& address, std::uint16_t port);
    // Stops listening on the TCP address bound last (before start()).
    void unlisten_last_tcp();
    // Starts accepting. REQUIRES: one listen_* succeeded.
    void start();

    // Shutdown phase 1: stops accepting; every client gets what is queued for it, then is closed
    // (their state is released as their sessions end).
    void close();
    // Closes every client now, dropping queued output (after close(), when draining takes long).
    void abort();
    // Shutdown phase 2: completes once every accept loop and session has finished.
    asio::awaitable<void> join();
    // Unlinks the socket file if it is still the one this server created.
    void remove_socket_file();

    // Sends OnFeed{key} to every connected client.
    void broadcast_feed(const crypto::PublicKey& key);
    std::size_t client_count() const noexcept { return m_sessions.size(); }
    // Visits every connected client's state.
    template <typename Fn>
    void for_each_client(Fn&& fn) {
        for (auto& [id, session] : m_sessions) fn(session->state());
    }
    // Where it listens: the socket path, or the first "address:port".
    const std::string& endpoint() const noexcept { return m_endpoint; }
    // Every place it listens, in the order bound ("127.0.0.1:5000", "[::1]:5000").
    const std::vector<std::string>& endpoints() const noexcept { return m_endpoints; }

    // Takes an already-connected stream (tests: one end of a socket pair). Returns the session,
    // or nullptr when max_clients are connected already (the stream is then closed).
    std::shared_ptr<Session> adopt(Session::Socket socket, std::string peer);
    // Bytes held by the sessions' spare buffer for large payloads (for tests).
    std::size_t spare_payload_bytes() const noexcept { return m_spare.capacity(); }

private:
    template <typename Acceptor>
    asio::awaitable<void> accept_loop(Acceptor& acceptor, asio::steady_timer& pause,
                                      std::string where);
    void client_gone();

    asio::io_context& m_io;
    Handlers& m_handlers;
    SessionLimits m_limits;
    std::shared_ptr<spdlog::logger> m_log;
    std::optional<asio::local::stream_protocol::acceptor> m_unix;
    std::list<asio::ip::tcp::acceptor> m_tcp;
    std::list<asio::steady_timer> m_accept_pauses;  // one per accept loop: backoff after errors
    asio::steady_timer m_trim_timer;                 // memory given back after disconnects
    SparePayloads m_spare;                           // the sessions' spare large-payload buffer
    bool m_trim_pending = false;
    std::filesystem::path m_socket_path;
    std::optional<std::pair<dev_t, ino_t>> m_socket_file;  // identity of the file we created
    std::string m_endpoint;
    std::vector<std::string> m_endpoints;
    std::map<std::uint64_t, std::shared_ptr<Session>> m_sessions;
    std::uint64_t m_next_session = 1;
    bool m_closing = false;
    async::TaskGroup m_tasks;  // accept loops and sessions
};

}  // namespace hs::server
