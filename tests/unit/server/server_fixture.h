// An in-process RPC server over an in-memory corestore, with raw clients on UNIX socket pairs.
// Everything runs on the test thread: the client helpers pump the io_context while they wait.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <asio.hpp>

#include "v9/corestore/corestore.h"
#include "service/core_registry.h"
#include "server/handlers.h"
#include "rpc/methods.h"
#include "service/network_configs.h"
#include "server/server.h"

namespace hs::server::test {

using namespace std::chrono_literals;

inline std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("test",
                                            std::make_shared<spdlog::sinks::null_sink_st>());
}

class FakeControl final : public DaemonControl {
public:
    void request_stop() override { ++stops; }
    rpc::DaemonInfoResponse daemon_info() const override {
        rpc::DaemonInfoResponse info;
        info.endpoint = "test";
        info.memory_only = true;
        return info;
    }
    int stops = 0;
};

struct ServerSetup {
    std::size_t cache_size = 1000;
    SessionLimits limits;
    std::shared_ptr<spdlog::logger> log;  // the server's logger; null = quiet
};

class TestServer;

// One raw client: a UNIX socket pair whose other end the server adopted.
class RawClient {
public:
    RawClient(TestServer& server, int fd, std::shared_ptr<Session> session)
        : m_server(server), m_fd(fd), m_session(std::move(session)) {}
    ~RawClient() {
        if (m_fd >= 0) ::close(m_fd);
    }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    Session& session() { return *m_session; }
    int fd() const { return m_fd; }

    void send_raw(ByteView bytes) {
        std::size_t off = 0;
        while (off < bytes.size()) {
            const ssize_t n =
                ::send(m_fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                pump_once();
                continue;
            }
            return;  // the server closed: tests check that separately
        }
    }
    // Sends a request; returns its id (0 = no reply expected).
    template <typename M>
    std::uint64_t request(rpc::Method method, const M& message, bool no_reply = false) {
        const auto& info = rpc::method_info(method);
        const std::uint64_t id = no_reply ? 0 : m_next_id++;
        Bytes out;
        rpc::encode_frame(out,
                          rpc::FrameHeader{rpc::FrameType::Request,
                                           static_cast<std::uint64_t>(info.service), info.id, id},
                          message);
        send_raw(out);
        return id;
    }
    std::uint64_t request_raw(std::uint64_t service, std::uint64_t method, ByteView payload) {
        const std::uint64_t id = m_next_id++;
        Bytes out;
        rpc::encode_frame(out, rpc::FrameHeader{rpc::FrameType::Request, service, method, id},
                          payload);
        send_raw(out);
        return id;
    }

    // Runs the server until the reply (response or error) to `id` arrives. Frames received
    // meanwhile (events, other replies) are kept in events() / replies.
    std::optional<rpc::Frame> wait_reply(std::uint64_t id, std::chrono::milliseconds timeout = 5s);
    // Pumps until `pred` holds for the received events.
    template <typename Pred>
    bool wait_for(Pred pred, std::chrono::milliseconds timeout = 5s);
    // Pumps until the server closed this connection (EOF).
    bool wait_closed(std::chrono::milliseconds timeout = 5s);
    // Pumps for a moment (lets pending work run) without waiting for anything in particular.
    void settle();
    // Headers of every frame received, in arrival order.
    const std::vector<rpc::FrameHeader>& order() const { return m_order; }
    // Received events (request frames with id 0), oldest first.
    std::deque<rpc::Frame>& events() { return m_events; }
    bool closed() const { return m_eof; }
    bool has_reply(std::uint64_t id) const {
        for (auto& f : m_replies)
            if (f.header.id == id) return true;
        return false;
    }

    // Typed helpers.
    template <typename Rsp, typename Req>
    Rsp call(rpc::Method method, const Req& request_message) {
        const auto id = request(method, request_message);
        auto f = wait_reply(id);
        EXPECT_TRUE(f.has_value()) << "no reply to " << rpc::method_info(method).name;
        if (!f) return Rsp{};
        EXPECT_EQ(f->header.type, rpc::FrameType::Response)
            << rpc::method_info(method).name << " failed: " << error_message(*f);
        ByteView in = f->payload;
        auto decoded = Rsp::decode(in);
        EXPECT_TRUE(decoded.ok());
        return decoded ? *decoded : Rsp{};
    }
    // The error message of a call expected to fail ("" if it succeeded).
    template <typename Req>
    std::string call_error(rpc::Method method, const Req& request_message) {
        const auto id = request(method, request_message);
        auto f = wait_reply(id);
        EXPECT_TRUE(f.has_value());
        if (!f || f->header.type != rpc::FrameType::Error) return "";
        return error_message(*f);
    }
    static std::string error_message(const rpc::Frame& f) {
        if (f.header.type != rpc::FrameType::Error) return "";
        ByteView in = f.payload;
        auto e = rpc::RPCError::decode(in);
        return e ? e->message : "<undecodable>";
    }
    static rpc::RPCError error_of(const rpc::Frame& f) {
        ByteView in = f.payload;
        auto e = rpc::RPCError::decode(in);
        return e ? *e : rpc::RPCError{};
    }

    // Opens a core session; returns the response.
    rpc::OpenResponse open(std::uint64_t id, std::optional<std::string> name, bool weak = false,
                      std::optional<Bytes> key = std::nullopt) {
        rpc::OpenRequest r;
        r.id = id;
        r.name = std::move(name);
        r.key = std::move(key);
        if (weak) r.weak = true;
        return call<rpc::OpenResponse>(rpc::Method::CorestoreOpen, r);
    }

    bool pump_once();  // one round: run ready handlers, read what arrived; false on EOF

private:
    void read_available();

    TestServer& m_server;
    int m_fd;
    std::shared_ptr<Session> m_session;
    rpc::FrameDecoder m_decoder{rpc::FrameDecoderOptions{1ull << 30}};
    std::deque<rpc::Frame> m_events;
    std::vector<rpc::Frame> m_replies;
    std::vector<rpc::FrameHeader> m_order;
    std::uint64_t m_next_id = 1;
    bool m_eof = false;
};

class TestServer {
public:
    explicit TestServer(ServerSetup setup = {}) {
        auto store = corestore::Corestore::open_memory(corestore::CorestoreOptions{false, 0});
        HS_ASSERT(store.ok());
        m_store = std::move(store).value();
        auto net = service::NetworkConfigs::open(service::NetworkConfigsOptions{}, quiet_logger());
        HS_ASSERT(net.ok());
        m_network = std::move(net).value();
        m_registry = std::make_unique<service::CoreRegistry>(
            *m_store, service::CoreRegistryOptions{setup.cache_size}, quiet_logger());
        m_network->on_change = [this](const crypto::Hash32& dk, const rpc::NetworkStatus* s, bool) {
            m_registry->set_joined(dk, s != nullptr);
        };
        m_handlers = std::make_unique<Handlers>(
            HandlerContext{*m_registry, *m_network, m_control, Bytes(32, 7), quiet_logger()});
        m_server = std::make_unique<RpcServer>(m_io, *m_handlers, setup.limits,
                                               setup.log ? setup.log : quiet_logger());
        m_registry->observe_load(
            [this](service::LoadedCore& core) { m_server->broadcast_feed(core.feed().key()); });
    }
    ~TestServer() {
        m_clients.clear();
        m_server->abort();
        m_io.run_for(200ms);
        m_io.restart();
        m_io.poll();
    }

    // A new client; `sndbuf` (if set) shrinks the server side's send buffer.
    RawClient& connect(std::optional<int> server_sndbuf = std::nullopt,
                       std::optional<int> client_rcvbuf = std::nullopt) {
        int fds[2];
        HS_ASSERT(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        if (server_sndbuf)
            ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &*server_sndbuf, sizeof(int));
        if (client_rcvbuf)
            ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &*client_rcvbuf, sizeof(int));
        Session::Socket socket(m_io, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fds[0]);
        auto session = m_server->adopt(std::move(socket), "test");
        m_clients.push_back(std::make_unique<RawClient>(*this, fds[1], std::move(session)));
        return *m_clients.back();
    }

    asio::io_context& io() { return m_io; }
    service::CoreRegistry& registry() { return *m_registry; }
    service::NetworkConfigs& network() { return *m_network; }
    corestore::Corestore& store() { return *m_store; }
    RpcServer& server() { return *m_server; }
    FakeControl& control() { return m_control; }

private:
    asio::io_context m_io{1};
    std::unique_ptr<corestore::Corestore> m_store;
    std::unique_ptr<service::NetworkConfigs> m_network;
    std::unique_ptr<service::CoreRegistry> m_registry;
    FakeControl m_control;
    std::unique_ptr<Handlers> m_handlers;
    std::unique_ptr<RpcServer> m_server;
    std::vector<std::unique_ptr<RawClient>> m_clients;

    friend class RawClient;
};

inline void RawClient::read_available() {
    std::uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) {
            m_eof = true;
            return;
        }
        if (n < 0) return;
        std::vector<rpc::Frame> frames;
        const auto st = m_decoder.receive(ByteView(buf, static_cast<std::size_t>(n)), frames);
        EXPECT_TRUE(st.ok()) << "server sent an undecodable frame";
        for (auto& f : frames) {
            m_order.push_back(f.header);
            if (f.header.type == rpc::FrameType::Request)
                m_events.push_back(std::move(f));
            else
                m_replies.push_back(std::move(f));
        }
    }
}

inline bool RawClient::pump_once() {
    auto& io = m_server.m_io;
    io.restart();
    if (io.poll() == 0) {
        io.restart();
        io.run_one_for(1ms);  // nothing ready: wait for I/O (or 1 ms)
    }
    read_available();
    return !m_eof;
}

inline std::optional<rpc::Frame> RawClient::wait_reply(std::uint64_t id,
                                                  std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        for (auto it = m_replies.begin(); it != m_replies.end(); ++it) {
            if (it->header.id == id) {
                rpc::Frame f = std::move(*it);
                m_replies.erase(it);
                return f;
            }
        }
        if (m_eof || std::chrono::steady_clock::now() > deadline) return std::nullopt;
        pump_once();
    }
}

template <typename Pred>
bool RawClient::wait_for(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (m_eof || std::chrono::steady_clock::now() > deadline) return false;
        pump_once();
    }
    return true;
}

inline bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_eof) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        pump_once();
    }
    return true;
}

inline void RawClient::settle() {
    for (int i = 0; i < 5; ++i) pump_once();
}

// Decodes an event payload.
template <typename M>
M decode_event(const rpc::Frame& f) {
    ByteView in = f.payload;
    auto m = M::decode(in);
    EXPECT_TRUE(m.ok());
    return m ? *m : M{};
}

inline bool is_event(const rpc::Frame& f, rpc::Method m) {
    const auto& info = rpc::method_info(m);
    return f.header.type == rpc::FrameType::Request &&
           f.header.service == static_cast<std::uint64_t>(info.service) &&
           f.header.method == info.id;
}

}  // namespace hs::server::test
