// hyperspace::Client (include/hyperspace/client.h): the sans-IO ClientCore driven by an I/O
// thread (Asio: the socket, a read task and a write task in an async::TaskGroup), and an event
// thread that runs user callbacks in order. Blocking calls post to the I/O thread and wait on a
// future; every call's reply runs exactly once (answer, error, or close), so no caller waits for
// ever. docs/client.md describes the threads and the mapping to the JS client.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <hyperspace/asio.h>
#include <hyperspace/client.h>

#include <asio/buffer.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "client/client_core.h"
#include "rpc/endpoint.h"
#include "common/util/hex.h"

namespace hyperspace {

using hs::ByteView;
using hs::Bytes;
using hs::client::CallError;
using Method = hs::rpc::Method;
namespace rpc = hs::rpc;

Key parse_key(std::string_view text) {
    auto key = hs::parse_key(text);
    if (!key) throw Error("'" + std::string(text) + "' is not a core key (64 hex digits)");
    Key out;
    std::copy(key->begin(), key->end(), out.begin());
    return out;
}

std::string to_hex(const Key& key) { return hs::to_hex(ByteView(key.data(), key.size())); }

Endpoint Endpoint::from_environment() { return unix_socket(rpc::default_socket_name()); }
Endpoint Endpoint::unix_socket(std::string_view name) {
    return unix_path(rpc::socket_path_for_name(name));
}
Endpoint Endpoint::unix_path(std::filesystem::path path) {
    Endpoint e;
    e.path = std::move(path);
    return e;
}
Endpoint Endpoint::tcp(std::string host, std::uint16_t port) {
    Endpoint e;
    e.is_tcp = true;
    e.host = std::move(host);
    e.port = port;
    return e;
}
Endpoint Endpoint::from_options(const std::optional<std::string>& host,
                                std::optional<std::uint16_t> port) {
    if (port) return tcp(host.value_or("127.0.0.1"), *port);
    return host ? unix_socket(*host) : from_environment();
}
std::string Endpoint::describe() const {
    if (!is_tcp) return path.string();
    return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                               : host + ":" + std::to_string(port);
}

namespace {

constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

Key key_of(const Bytes& bytes, const char* what) {
    if (bytes.size() != 32)
        throw Error(std::string("the daemon sent a ") + what + " of " +
                    std::to_string(bytes.size()) + " bytes (expected 32)");
    Key k;
    std::copy(bytes.begin(), bytes.end(), k.begin());
    return k;
}

Peer peer_of(const rpc::Peer& p) {
    Peer out;
    if (p.remote_public_key.size() == 32)
        std::copy(p.remote_public_key.begin(), p.remote_public_key.end(),
                  out.remote_public_key.begin());
    out.remote_address = p.remote_address;
    out.type = p.type;
    return out;
}

template <typename Message>
Message decode_reply(const rpc::Payload& payload, std::string_view what) {
    ByteView in = payload;
    auto m = Message::decode(in);
    if (!m)
        throw Error("the daemon's answer to " + std::string(what) +
                    " is malformed: " + m.error().message);
    return std::move(m).value();
}

template <typename Message>
Bytes encode(const Message& m) {
    Bytes out;
    m.encode_to(out);
    return out;
}

// Runs callbacks one at a time, in order, on its own thread.
class EventThread {
public:
    EventThread() : m_thread([this] { run(); }) {}
    ~EventThread() { stop(); }

    void post(std::function<void()> fn) {
        {
            std::lock_guard lock(m_mu);
            if (m_stopping) return;
            m_queue.push_back(std::move(fn));
        }
        m_cv.notify_one();
    }
    // Runs what is queued, then ends the thread (joined unless called from it).
    void stop() {
        {
            std::lock_guard lock(m_mu);
            m_stopping = true;
        }
        m_cv.notify_one();
        if (m_thread.joinable()) {
            if (on_this_thread())
                m_thread.detach();  // the client was closed from a callback: the loop ends after it
            else
                m_thread.join();
        }
    }
    bool on_this_thread() const { return std::this_thread::get_id() == m_thread.get_id(); }

private:
    void run() {
        for (;;) {
            std::function<void()> fn;
            {
                std::unique_lock lock(m_mu);
                m_cv.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
                if (m_queue.empty()) return;
                fn = std::move(m_queue.front());
                m_queue.pop_front();
            }
            try {
                fn();
            } catch (const std::exception& e) {
                std::cerr << "hyperspace client: an event callback threw: " << e.what() << "\n";
            } catch (...) {
                std::cerr << "hyperspace client: an event callback threw\n";
            }
        }
    }

    std::mutex m_mu;
    std::condition_variable m_cv;
    std::deque<std::function<void()>> m_queue;
    bool m_stopping = false;
    std::thread m_thread;  // last: starts after the members it uses
};

struct CallResult {
    bool ok = false;
    rpc::Payload payload;
    CallError error;
};

[[noreturn]] void throw_call_error(const CallError& e, std::string_view what) {
    if (e.from_daemon) throw Error(std::string(what) + ": " + e.message, e.rpc_code);
    throw Error(std::string(what) + " failed: " + e.message);
}

}  // namespace

namespace detail {

struct CoreState {
    std::shared_ptr<ClientImpl> impl;
    std::uint64_t id = 0;  // session id
    Key key{};
    Key discovery_key{};
    bool writable = false;
    bool weak = false;

    mutable std::mutex mu;  // guards what follows (the I/O thread updates it from events)
    std::uint64_t length = 0;
    std::uint64_t byte_length = 0;
    std::vector<Peer> peers;
    bool closed = false;
    bool watching_downloads = false;
    bool watching_uploads = false;
    std::vector<std::function<void(std::uint64_t, std::uint64_t)>> on_append;
    std::vector<std::function<void()>> on_close;
    std::vector<std::function<void(std::uint64_t, std::uint64_t)>> on_download, on_upload;
    std::vector<std::function<void(const Peer&)>> on_peer_add, on_peer_remove;
    std::map<std::uint64_t, std::function<void(std::uint64_t)>> on_waits;
    std::uint64_t next_on_wait = 1;
    std::map<std::uint64_t, Extension::OnMessage> extensions;  // by resource id

    ~CoreState();
    std::string describe() const { return "core " + to_hex(key); }
};

struct ClientImpl : std::enable_shared_from_this<ClientImpl> {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    asio::generic::stream_protocol::socket socket{io};
    hs::client::ClientCore core;
    hs::async::Event output_ready{io.get_executor()};
    hs::async::Event writer_done{io.get_executor()};
    std::optional<hs::async::TaskGroup> tasks;
    std::string endpoint;
    bool closing = false;          // I/O thread: close() was posted
    bool writer_finished = false;  // I/O thread: the socket is closed
    EventThread events;
    std::thread io_thread;

    std::mutex mu;  // guards what follows
    bool closed = false;
    std::map<std::uint64_t, std::weak_ptr<CoreState>> sessions;
    std::vector<std::uint64_t> free_ids;
    std::uint64_t next_session = 0;
    std::uint64_t next_resource = 0;
    std::vector<std::function<void(const Key&)>> on_feed;
    std::vector<std::function<void(const Peer&)>> on_network_peer_add, on_network_peer_remove;
    std::map<std::uint64_t, Extension::OnMessage> network_extensions;  // by resource id
    bool network_opened = false;

    void connect(const Endpoint& ep, std::chrono::milliseconds timeout);
    void start();
    void close();

    // Posts a call to the I/O thread; `done` runs there with the result. With a timeout,
    // `on_timeout` runs on the I/O thread once it passed unanswered (the call still completes
    // with the daemon's answer, which the cancellation it sends brings).
    void call_async(Method method, Bytes payload, std::function<void(CallResult)> done,
                    std::optional<std::chrono::milliseconds> timeout = {},
                    std::function<void()> on_timeout = {});
    // Blocks until the answer.
    CallResult call(Method method, Bytes payload);
    template <typename Message>
    CallResult call(Method method, const Message& m) {
        return call(method, encode(m));
    }
    void send(Method method, Bytes payload);

    std::uint64_t alloc_session(const std::shared_ptr<CoreState>& state);
    void free_session(std::uint64_t id);
    std::uint64_t resource_id() {
        std::lock_guard lock(mu);
        return next_resource++;
    }
    std::shared_ptr<CoreState> session(std::uint64_t id) {
        std::lock_guard lock(mu);
        auto it = sessions.find(id);
        return it == sessions.end() ? nullptr : it->second.lock();
    }
    void ensure_network_open();

    // I/O thread.
    asio::awaitable<void> read_loop();
    asio::awaitable<void> write_loop();
    asio::awaitable<void> close_deadline();
    void on_event(Method method, const rpc::Payload& payload);
};

CoreState::~CoreState() {
    // A session nobody holds any more: close it on the daemon (as a JS client would on close()).
    if (!impl || closed) return;
    auto i = impl;
    const std::uint64_t sid = id;
    std::lock_guard lock(i->mu);
    if (i->closed) return;
    i->sessions.erase(sid);
    asio::post(i->io, [i, sid] {
        i->core.call(Method::HypercoreClose, rpc::CloseRequest{sid},
                     [i, sid](bool, rpc::Payload, CallError) { i->free_session(sid); });
    });
}

void ClientImpl::connect(const Endpoint& ep, std::chrono::milliseconds timeout) {
    endpoint = ep.describe();
    std::error_code result = asio::error::would_block;
    auto done = [&result](const std::error_code& ec) { result = ec; };
    if (ep.is_tcp) {
        std::error_code ec;
        const auto address = asio::ip::make_address(ep.host, ec);
        if (ec) throw Error("cannot connect to the daemon: '" + ep.host + "' is not an IP address");
        socket.async_connect(asio::ip::tcp::endpoint(address, ep.port), done);
    } else {
        socket.async_connect(asio::local::stream_protocol::endpoint(ep.path.string()), done);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (result == asio::error::would_block && std::chrono::steady_clock::now() < deadline)
        io.run_one_until(deadline);
    if (result == asio::error::would_block) {
        std::error_code ignored;
        socket.close(ignored);
        while (result == asio::error::would_block) io.run_one();  // the aborted connect completes
        throw Error("no Hyperspace daemon answered at " + endpoint + " within " +
                    std::to_string(timeout.count()) + " ms");
    }
    if (result) {
        throw Error("no Hyperspace daemon answers at " + endpoint + " (" + result.message() +
                    "); start one with `hyperspace` (or give the socket name or port it uses)");
    }
    io.restart();
}

void ClientImpl::start() {
    core.on_output = [this] { output_ready.notify(); };
    core.on_event = [this](Method m, const rpc::Payload& p) { on_event(m, p); };
    tasks.emplace(io.get_executor(), "hyperspace client");
    tasks->spawn("read", read_loop());
    tasks->spawn("write", write_loop());
    io_thread = std::thread([this] { io.run(); });
}

asio::awaitable<void> ClientImpl::read_loop() {
    std::vector<std::uint8_t> buffer(64 * 1024);
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kAwait);
        if (n > 0) (void)core.receive(ByteView(buffer.data(), n));
        if (core.closed()) break;
        if (ec) {
            core.close(ec == asio::error::eof
                           ? "the daemon at " + endpoint + " closed the connection"
                           : "reading from the daemon at " + endpoint + " failed: " + ec.message());
            break;
        }
    }
    output_ready.notify();
}

asio::awaitable<void> ClientImpl::write_loop() {
    Bytes buffer;
    for (;;) {
        if (core.pending_output().empty()) {
            if (closing || core.closed()) break;
            co_await output_ready.wait();
            continue;
        }
        // The whole output, moved (no copy): calls made meanwhile go to a fresh buffer.
        buffer = core.take_output();
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(buffer), kAwait);
        (void)n;
        if (ec) {
            core.close("writing to the daemon at " + endpoint + " failed: " + ec.message());
            break;
        }
    }
    std::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    writer_finished = true;
    writer_done.notify();
}

asio::awaitable<void> ClientImpl::close_deadline() {
    // What close() still has to write (a Stop, a last release) gets two seconds.
    if (writer_finished) co_return;
    const bool done = co_await writer_done.wait_for(std::chrono::seconds(2));
    if (!done) {
        std::error_code ignored;
        socket.close(ignored);
    }
}

void ClientImpl::close() {
    {
        std::lock_guard lock(mu);
        if (closed) return;
        closed = true;
        asio::post(io, [this] {
            closing = true;
            core.close("the client was closed");
            output_ready.notify();
            tasks->spawn("close-deadline", close_deadline());
            work.reset();
        });
    }
    if (io_thread.joinable()) io_thread.join();
    tasks.reset();
    events.stop();
}

void ClientImpl::call_async(Method method, Bytes payload, std::function<void(CallResult)> done,
                            std::optional<std::chrono::milliseconds> timeout,
                            std::function<void()> on_timeout) {
    std::lock_guard lock(mu);
    if (closed) {
        done(CallResult{false, {}, CallError{"the client is closed", {}, false}});
        return;
    }
    asio::post(io, [this, method, payload = std::move(payload), done = std::move(done), timeout,
                    on_timeout = std::move(on_timeout)] {
        std::shared_ptr<asio::steady_timer> timer;
        if (timeout) timer = std::make_shared<asio::steady_timer>(io, *timeout);
        core.call_raw(method, payload, [done, timer](bool ok, rpc::Payload p, CallError e) {
            if (timer) timer->cancel();
            done(CallResult{ok, std::move(p), std::move(e)});
        });
        // A call that is not answered in time runs `on_timeout` here (it cancels the request;
        // the answer still comes, as the daemon's error).
        if (timer)
            timer->async_wait([timer, on_timeout](const std::error_code& ec) {
                if (!ec && on_timeout) on_timeout();
            });
    });
}

CallResult ClientImpl::call(Method method, Bytes payload) {
    auto promise = std::make_shared<std::promise<CallResult>>();
    auto future = promise->get_future();
    call_async(method, std::move(payload),
               [promise](CallResult r) { promise->set_value(std::move(r)); });
    return future.get();
}

void ClientImpl::send(Method method, Bytes payload) {
    std::lock_guard lock(mu);
    if (closed) throw Error("the client is closed");
    asio::post(io, [this, method, payload = std::move(payload)] { core.send_raw(method, payload); });
}

std::uint64_t ClientImpl::alloc_session(const std::shared_ptr<CoreState>& state) {
    std::lock_guard lock(mu);
    if (closed) throw Error("the client is closed");
    std::uint64_t id;
    if (!free_ids.empty()) {
        id = free_ids.back();
        free_ids.pop_back();
    } else {
        id = next_session++;
    }
    sessions[id] = state;
    return id;
}

void ClientImpl::free_session(std::uint64_t id) {
    std::lock_guard lock(mu);
    sessions.erase(id);
    free_ids.push_back(id);
}

void ClientImpl::ensure_network_open() {
    {
        std::lock_guard lock(mu);
        if (network_opened) return;
        network_opened = true;
    }
    auto r = call(Method::NetworkOpen, rpc::Void{});
    if (!r.ok) throw_call_error(r.error, "opening the network");
}

void ClientImpl::on_event(Method method, const rpc::Payload& payload) {
    ByteView in = payload;
    // Events for sessions we no longer know (closed meanwhile) are dropped, as by the JS client.
    auto with_core = [&](std::uint64_t id, auto&& fn) {
        if (auto core = session(id)) fn(*core);
    };
    switch (method) {
        case Method::HypercoreOnAppend: {
            auto e = rpc::AppendEvent::decode(in);
            if (!e) return;
            with_core(e->id, [&](CoreState& c) {
                std::lock_guard lock(c.mu);
                c.length = e->length;
                c.byte_length = e->byte_length;
                for (auto& fn : c.on_append)
                    events.post([fn, n = e->length, b = e->byte_length] { fn(n, b); });
            });
            return;
        }
        case Method::HypercoreOnClose: {
            auto e = rpc::CloseEvent::decode(in);
            if (!e) return;
            if (auto c = session(e->id)) {
                std::vector<std::function<void()>> handlers;
                {
                    std::lock_guard lock(c->mu);
                    if (c->closed) return;
                    c->closed = true;
                    handlers = c->on_close;
                }
                // As the JS client: the session closes itself on the daemon too.
                auto self = shared_from_this();
                const std::uint64_t sid = c->id;
                core.call(Method::HypercoreClose, rpc::CloseRequest{sid},
                          [self, sid](bool, rpc::Payload, CallError) { self->free_session(sid); });
                for (auto& fn : handlers) events.post(fn);
            }
            return;
        }
        case Method::HypercoreOnPeerOpen:
        case Method::HypercoreOnPeerRemove: {
            auto e = rpc::PeerEvent::decode(in);
            if (!e) return;
            const Peer peer = peer_of(e->peer);
            const bool add = method == Method::HypercoreOnPeerOpen;
            with_core(e->id, [&](CoreState& c) {
                std::lock_guard lock(c.mu);
                auto same = [&](const Peer& p) { return p.remote_public_key == peer.remote_public_key; };
                if (add) {
                    c.peers.push_back(peer);
                } else if (auto it = std::find_if(c.peers.begin(), c.peers.end(), same);
                           it != c.peers.end()) {
                    c.peers.erase(it);
                }
                for (auto& fn : add ? c.on_peer_add : c.on_peer_remove)
                    events.post([fn, peer] { fn(peer); });
            });
            return;
        }
        case Method::HypercoreOnWait: {
            auto e = rpc::WaitEvent::decode(in);
            if (!e) return;
            with_core(e->id, [&](CoreState& c) {
                std::lock_guard lock(c.mu);
                auto it = c.on_waits.find(e->on_wait_id);
                if (it == c.on_waits.end()) return;
                auto fn = std::move(it->second);
                c.on_waits.erase(it);
                events.post([fn, seq = e->seq] { fn(seq); });
            });
            return;
        }
        case Method::HypercoreOnDownload: {
            auto e = rpc::DownloadEvent::decode(in);
            if (!e) return;
            with_core(e->id, [&](CoreState& c) {
                std::lock_guard lock(c.mu);
                for (auto& fn : c.on_download)
                    events.post([fn, seq = e->seq, n = e->byte_length.value_or(0)] { fn(seq, n); });
            });
            return;
        }
        case Method::HypercoreOnUpload: {
            auto e = rpc::UploadEvent::decode(in);
            if (!e) return;
            with_core(e->id, [&](CoreState& c) {
                std::lock_guard lock(c.mu);
                for (auto& fn : c.on_upload)
                    events.post([fn, seq = e->seq, n = e->byte_length] { fn(seq, n); });
            });
            return;
        }
        case Method::CorestoreOnFeed: {
            auto e = rpc::FeedEvent::decode(in);
            if (!e || e->key.size() != 32) return;
            Key key;
            std::copy(e->key.begin(), e->key.end(), key.begin());
            std::lock_guard lock(mu);
            for (auto& fn : on_feed) events.post([fn, key] { fn(key); });
            return;
        }
        case Method::NetworkOnPeerAdd:
        case Method::NetworkOnPeerRemove: {
            auto e = rpc::PeerEvent::decode(in);
            if (!e) return;
            const Peer peer = peer_of(e->peer);
            std::lock_guard lock(mu);
            for (auto& fn : method == Method::NetworkOnPeerAdd ? on_network_peer_add
                                                               : on_network_peer_remove)
                events.post([fn, peer] { fn(peer); });
            return;
        }
        case Method::HypercoreOnExtension:
        case Method::NetworkOnExtension: {
            auto e = rpc::ExtensionMessage::decode(in);
            if (!e) return;
            Peer from;
            if (e->remote_public_key && e->remote_public_key->size() == 32)
                std::copy(e->remote_public_key->begin(), e->remote_public_key->end(),
                          from.remote_public_key.begin());
            auto deliver = [&](const Extension::OnMessage& fn, const std::vector<Peer>& known) {
                for (const auto& p : known)
                    if (p.remote_public_key == from.remote_public_key) from = p;
                events.post([fn, data = std::move(e->data), from] { fn(data, from); });
            };
            if (method == Method::HypercoreOnExtension) {
                with_core(e->id, [&](CoreState& c) {
                    std::lock_guard lock(c.mu);
                    auto it = c.extensions.find(e->resource_id);
                    if (it != c.extensions.end()) deliver(it->second, c.peers);
                });
            } else {
                std::lock_guard lock(mu);
                auto it = network_extensions.find(e->resource_id);
                if (it != network_extensions.end()) deliver(it->second, {});
            }
            return;
        }
        default:
            return;  // events a newer daemon may send
    }
}

}  // namespace detail

// ---- Operations: one request and what its answer means, run blocking or awaited ----

namespace detail {

template <typename T>
struct Op {
    Method method{};
    Bytes payload;
    // Turns the answer into the result, or throws Error (CallResult::ok false, bad payload).
    std::function<T(CallResult&)> finish;
    std::optional<std::chrono::milliseconds> timeout;
    std::function<void()> on_timeout;  // I/O thread
};

// The blocking flavour: waits on a future.
template <typename T>
T run(ClientImpl& impl, Op<T> op) {
    auto promise = std::make_shared<std::promise<CallResult>>();
    auto future = promise->get_future();
    impl.call_async(op.method, std::move(op.payload),
                    [promise](CallResult r) { promise->set_value(std::move(r)); }, op.timeout,
                    std::move(op.on_timeout));
    CallResult r = future.get();
    return op.finish(r);
}

// The awaitable flavour: the answer is posted to the awaiting coroutine's executor.
template <typename T>
::asio::awaitable<T> co_run(ClientImpl& impl, Op<T> op) {
    auto executor = co_await ::asio::this_coro::executor;
    CallResult r = co_await ::asio::async_initiate<decltype(::asio::use_awaitable), void(CallResult)>(
        [&impl, &op, executor](auto handler) mutable {
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            impl.call_async(
                op.method, std::move(op.payload),
                [h, executor](CallResult r) {
                    ::asio::post(executor, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
                },
                op.timeout, std::move(op.on_timeout));
        },
        ::asio::use_awaitable);
    co_return op.finish(r);
}

template <typename Message>
Op<Message> simple_op(Method method, Bytes payload, std::string what, std::string_view name) {
    Op<Message> op;
    op.method = method;
    op.payload = std::move(payload);
    op.finish = [what = std::move(what), name = std::string(name)](CallResult& r) {
        if (!r.ok) throw_call_error(r.error, what);
        return decode_reply<Message>(r.payload, name);
    };
    return op;
}

void require_open(const CoreState& c) {
    std::lock_guard lock(c.mu);
    if (c.closed) throw Error(c.describe() + ": this session is closed");
}

Op<std::uint64_t> append_op(CoreState& c, std::vector<rpc::BytesRef> blocks) {
    require_open(c);
    rpc::AppendRequest req;
    req.id = c.id;
    req.blocks = std::move(blocks);  // borrowed: encoded right here
    auto inner = simple_op<rpc::AppendResponse>(Method::HypercoreAppend, encode(req),
                                                "appending to " + c.describe(), "Append");
    Op<std::uint64_t> op;
    op.method = inner.method;
    op.payload = std::move(inner.payload);
    op.finish = [f = std::move(inner.finish)](CallResult& r) { return f(r).seq; };
    return op;
}

template <typename Strings>
std::vector<rpc::BytesRef> borrow_all(const Strings& list) {
    std::vector<rpc::BytesRef> blocks;
    blocks.reserve(list.size());
    for (const auto& b : list)
        blocks.push_back(rpc::BytesRef::borrow(
            ByteView(reinterpret_cast<const std::uint8_t*>(b.data()), b.size())));
    return blocks;
}

Op<std::vector<std::uint8_t>> get_op(const std::shared_ptr<CoreState>& state, std::uint64_t seq,
                                     const GetOptions& options) {
    CoreState& c = *state;
    require_open(c);
    rpc::GetRequest req;
    req.id = c.id;
    req.seq = seq;
    req.resource_id = c.impl->resource_id();
    req.wait = options.wait;
    req.if_available = options.if_available;
    if (options.on_wait) {
        std::lock_guard lock(c.mu);
        const std::uint64_t w = c.next_on_wait++;
        c.on_waits[w] = options.on_wait;
        req.on_wait_id = w;
    }
    auto timed_out = std::make_shared<std::atomic<bool>>(false);
    Op<std::vector<std::uint8_t>> op;
    op.method = Method::HypercoreGet;
    op.payload = encode(req);
    op.timeout = options.timeout;
    if (options.timeout) {
        // On the I/O thread: cancel the get; the daemon then fails it (ECANCELED).
        op.on_timeout = [state, timed_out, resource = req.resource_id] {
            *timed_out = true;
            state->impl->core.send(Method::HypercoreCancel,
                                   rpc::CancelRequest{state->id, resource});
        };
    }
    op.finish = [state, timed_out, seq, on_wait = req.on_wait_id,
                 timeout = options.timeout](CallResult& r) {
        if (on_wait) {
            std::lock_guard lock(state->mu);
            state->on_waits.erase(*on_wait);
        }
        const std::string what = "getting block " + std::to_string(seq) + " of " + state->describe();
        if (!r.ok) {
            if (*timed_out)
                throw Error(what + " timed out after " + std::to_string(timeout->count()) + " ms",
                            "ETIMEDOUT");
            throw_call_error(r.error, what);
        }
        auto resp = decode_reply<rpc::GetResponse>(r.payload, "Get");
        if (!resp.block) throw Error(what + ": the daemon answered without the block");
        return std::move(*resp.block);
    };
    return op;
}

// The resource id a get_op's request carries (for a later Cancel).
std::uint64_t resource_id_of(const Op<std::vector<std::uint8_t>>& op) {
    ByteView in = op.payload;
    auto req = rpc::GetRequest::decode(in);
    return req ? req->resource_id : 0;
}

Op<bool> has_op(CoreState& c, std::uint64_t seq) {
    require_open(c);
    auto inner = simple_op<rpc::HasResponse>(Method::HypercoreHas, encode(rpc::HasRequest{c.id, seq}),
                                             "has(" + std::to_string(seq) + ") on " + c.describe(), "Has");
    Op<bool> op{inner.method, std::move(inner.payload), {}, {}, {}};
    op.finish = [f = std::move(inner.finish)](CallResult& r) { return f(r).has; };
    return op;
}

Op<std::uint64_t> downloaded_op(CoreState& c, std::optional<std::uint64_t> start,
                                std::optional<std::uint64_t> end) {
    require_open(c);
    auto inner = simple_op<rpc::DownloadedResponse>(
        Method::HypercoreDownloaded, encode(rpc::DownloadedRequest{c.id, start, end}),
        "downloaded() on " + c.describe(), "Downloaded");
    Op<std::uint64_t> op{inner.method, std::move(inner.payload), {}, {}, {}};
    op.finish = [f = std::move(inner.finish)](CallResult& r) { return f(r).bytes; };
    return op;
}

// Answered once the whole range is stored (never, for a live range, unless undownloaded).
Op<rpc::Void> download_op(CoreState& c, const DownloadRange& range, std::uint64_t resource_id) {
    require_open(c);
    rpc::DownloadRequest req;
    req.id = c.id;
    req.resource_id = resource_id;
    req.start = range.start;
    if (!range.blocks.empty()) {
        req.blocks = range.blocks;
        const auto [lo, hi] = std::minmax_element(range.blocks.begin(), range.blocks.end());
        req.start = *lo;
        req.end = *hi + 1;
    } else if (range.end) {
        req.end = *range.end;
    } else {
        req.end = 0;  // the JS client's encoding of "no end"
        req.live = true;
    }
    if (range.linear) req.linear = true;
    return simple_op<rpc::Void>(Method::HypercoreDownload, encode(req),
                                "downloading from " + c.describe(), "Download");
}

Op<rpc::Void> update_op(CoreState& c, const UpdateOptions& options) {
    require_open(c);
    rpc::UpdateRequest req;
    req.id = c.id;
    if (options.min_length) {
        req.min_length = *options.min_length;
    } else {
        std::lock_guard lock(c.mu);
        req.min_length = c.length + 1;
    }
    req.if_available = options.if_available;
    req.hash = options.hash;
    return simple_op<rpc::Void>(Method::HypercoreUpdate, encode(req), "updating " + c.describe(),
                                "Update");
}

Op<SeekResult> seek_op(CoreState& c, std::uint64_t byte_offset, const SeekOptions& options) {
    require_open(c);
    rpc::SeekRequest req;
    req.id = c.id;
    req.byte_offset = byte_offset;
    req.start = options.start;
    req.end = options.end;
    req.wait = options.wait;
    req.if_available = options.if_available;
    auto inner = simple_op<rpc::SeekResponse>(
        Method::HypercoreSeek, encode(req),
        "seeking to byte " + std::to_string(byte_offset) + " of " + c.describe(), "Seek");
    Op<SeekResult> op{inner.method, std::move(inner.payload), {}, {}, {}};
    op.finish = [f = std::move(inner.finish)](CallResult& r) {
        auto resp = f(r);
        return SeekResult{resp.seq, resp.block_offset};
    };
    return op;
}

// Marks the session closed at once; the session id is freed with the answer.
Op<rpc::Void> close_op(const std::shared_ptr<CoreState>& state, bool& already) {
    CoreState& c = *state;
    {
        std::lock_guard lock(c.mu);
        already = c.closed;
        c.closed = true;
    }
    Op<rpc::Void> op;
    op.method = Method::HypercoreClose;
    op.payload = encode(rpc::CloseRequest{c.id});
    op.finish = [state](CallResult& r) {
        state->impl->free_session(state->id);
        if (!r.ok) throw_call_error(r.error, "closing " + state->describe());
        return rpc::Void{};
    };
    return op;
}

Op<std::shared_ptr<CoreState>> open_op(const std::shared_ptr<ClientImpl>& impl,
                                       const GetCoreOptions& options) {
    auto state = std::make_shared<CoreState>();
    state->impl = impl;
    state->weak = options.weak;
    state->id = impl->alloc_session(state);
    rpc::OpenRequest req;
    req.id = state->id;
    if (options.key) req.key = Bytes(options.key->begin(), options.key->end());
    req.name = options.name;
    if (options.weak) req.weak = true;
    std::string what = options.key    ? "opening core " + to_hex(*options.key)
                       : options.name ? "opening the core named '" + *options.name + "'"
                                      : std::string("creating a core");
    Op<std::shared_ptr<CoreState>> op;
    op.method = Method::CorestoreOpen;
    op.payload = encode(req);
    op.finish = [state, what](CallResult& r) {
        if (!r.ok) {
            state->closed = true;  // nothing to close on the daemon
            state->impl->free_session(state->id);
            throw_call_error(r.error, what);
        }
        auto resp = decode_reply<rpc::OpenResponse>(r.payload, "Open");
        state->key = key_of(resp.key, "core key");
        // JS daemons always send it; we compute nothing here rather than guess.
        if (!resp.discovery_key) throw Error(what + ": the daemon sent no discovery key");
        state->discovery_key = key_of(*resp.discovery_key, "discovery key");
        state->writable = resp.writable;
        std::lock_guard lock(state->mu);
        // Appends may have raised the length through events already; keep the larger.
        state->length = std::max(state->length, resp.length);
        state->byte_length = std::max(state->byte_length, resp.byte_length);
        for (const auto& p : resp.peers) state->peers.push_back(peer_of(p));
        return state;
    };
    return op;
}

Op<rpc::Void> configure_op(ClientImpl& impl, const Key& discovery_key,
                           const NetworkConfiguration& config) {
    (void)impl;
    rpc::ConfigureNetworkRequest req;
    req.configuration.discovery_key = Bytes(discovery_key.begin(), discovery_key.end());
    req.configuration.announce = config.announce;
    req.configuration.lookup = config.lookup;
    req.configuration.remember = config.remember;
    req.flush = config.flush;
    auto inner = simple_op<rpc::NetworkStatusResponse>(
        Method::NetworkConfigure, encode(req),
        "configuring the network for discovery key " + to_hex(discovery_key), "Network.Configure");
    Op<rpc::Void> op{inner.method, std::move(inner.payload), {}, {}, {}};
    op.finish = [f = std::move(inner.finish)](CallResult& r) {
        (void)f(r);
        return rpc::Void{};
    };
    return op;
}

Op<Status> status_op() {
    auto inner = simple_op<rpc::HyperspaceStatusResponse>(
        Method::HyperspaceStatus, encode(rpc::Void{}), "asking the daemon for its status", "Status");
    Op<Status> op{inner.method, std::move(inner.payload), {}, {}, {}};
    op.finish = [f = std::move(inner.finish)](CallResult& r) {
        auto s = f(r);
        return Status{s.version.value_or(""), s.api_version, s.holepunchable.value_or(false),
                      s.remote_address.value_or("")};
    };
    return op;
}

}  // namespace detail

// ---- Download / Lock ----

struct Download::State {
    std::shared_ptr<detail::CoreState> core;
    std::uint64_t resource_id = 0;
    std::shared_future<CallResult> result;
};

void Download::wait() {
    if (!m_state) throw Error("this Download was not started");
    const CallResult& r = m_state->result.get();
    if (!r.ok) throw_call_error(r.error, "downloading from " + m_state->core->describe());
}

bool Download::wait_for(std::chrono::milliseconds timeout) {
    if (!m_state) throw Error("this Download was not started");
    return m_state->result.wait_for(timeout) == std::future_status::ready;
}

void Download::cancel() {
    if (!m_state) return;
    m_state->core->impl->send(Method::HypercoreUndownload,
                              encode(rpc::UndownloadRequest{m_state->core->id, m_state->resource_id}));
}

Lock::Lock(Lock&& other) noexcept : m_core(std::move(other.m_core)) {}
Lock& Lock::operator=(Lock&& other) noexcept {
    if (this != &other) {
        release();
        m_core = std::move(other.m_core);
    }
    return *this;
}
Lock::~Lock() {
    try {
        release();
    } catch (const Error&) {
        // The client is closed: the daemon released the lock with the connection.
    }
}
void Lock::release() {
    if (!m_core) return;
    auto core = std::move(m_core);
    m_core.reset();
    core->impl->send(Method::HypercoreReleaseLock, encode(rpc::LockRequest{core->id}));
}

// ---- Extension ----

struct Extension::State {
    std::shared_ptr<detail::ClientImpl> impl;
    std::shared_ptr<detail::CoreState> core;  // null: a network extension
    std::uint64_t resource_id = 0;
    std::string name;
    std::atomic<bool> destroyed{false};

    std::uint64_t session() const { return core ? core->id : 0; }
    Method send_method() const {
        return core ? Method::HypercoreSendExtension : Method::NetworkSendExtension;
    }
    void send(ByteView data, const Key* to) {
        if (destroyed) return;
        rpc::ExtensionMessage m;
        m.id = session();
        m.resource_id = resource_id;
        if (to) m.remote_public_key = Bytes(to->begin(), to->end());
        m.data = Bytes(data.begin(), data.end());
        impl->send(send_method(), encode(m));
    }
};

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
Extension::State& ext_state(const std::shared_ptr<Extension::State>& s) {
    if (!s) throw Error("this Extension handle is empty");
    return *s;
}
}  // namespace

const std::string& Extension::name() const { return ext_state(m_state).name; }
void Extension::broadcast(std::span<const std::uint8_t> message) {
    ext_state(m_state).send(ByteView(message.data(), message.size()), nullptr);
}
void Extension::broadcast(std::string_view message) { broadcast(bytes_of(message)); }
void Extension::send(std::span<const std::uint8_t> message, const Peer& to) {
    ext_state(m_state).send(ByteView(message.data(), message.size()), &to.remote_public_key);
}
void Extension::send(std::string_view message, const Peer& to) { send(bytes_of(message), to); }
void Extension::destroy() {
    auto& st = ext_state(m_state);
    if (st.destroyed.exchange(true)) return;
    if (st.core) {
        std::lock_guard lock(st.core->mu);
        st.core->extensions.erase(st.resource_id);
    } else {
        std::lock_guard lock(st.impl->mu);
        st.impl->network_extensions.erase(st.resource_id);
    }
    st.impl->send(st.core ? Method::HypercoreUnregisterExtension : Method::NetworkUnregisterExtension,
                  encode(rpc::UnregisterExtensionRequest{st.session(), st.resource_id}));
}

// ---- RemoteHypercore ----

namespace {
detail::CoreState& state_of(const std::shared_ptr<detail::CoreState>& s) {
    if (!s) throw Error("this RemoteHypercore handle is empty");
    return *s;
}
}  // namespace

const Key& RemoteHypercore::key() const { return state_of(m_state).key; }
const Key& RemoteHypercore::discovery_key() const { return state_of(m_state).discovery_key; }
std::uint64_t RemoteHypercore::length() const {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    return c.length;
}
std::uint64_t RemoteHypercore::byte_length() const {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    return c.byte_length;
}
bool RemoteHypercore::writable() const { return state_of(m_state).writable; }
bool RemoteHypercore::weak() const { return state_of(m_state).weak; }
std::vector<Peer> RemoteHypercore::peers() const {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    return c.peers;
}

std::uint64_t RemoteHypercore::append(std::string_view block) {
    return append(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(block.data()), block.size()));
}
std::uint64_t RemoteHypercore::append(std::span<const std::uint8_t> block) {
    std::vector<rpc::BytesRef> blocks;
    blocks.push_back(rpc::BytesRef::borrow(ByteView(block.data(), block.size())));
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::append_op(c, std::move(blocks)));
}
std::uint64_t RemoteHypercore::append(const std::vector<std::string>& list) {
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::append_op(c, detail::borrow_all(list)));
}
std::uint64_t RemoteHypercore::append(const std::vector<std::vector<std::uint8_t>>& list) {
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::append_op(c, detail::borrow_all(list)));
}

std::vector<std::uint8_t> RemoteHypercore::get(std::uint64_t seq, const GetOptions& options) {
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::get_op(m_state, seq, options));
}

struct PendingGet::State {
    std::shared_ptr<detail::CoreState> core;
    std::uint64_t resource_id = 0;
    std::function<std::vector<std::uint8_t>(CallResult&)> finish;
    std::shared_future<CallResult> result;
    std::mutex mu;
    bool finished = false;
    std::optional<std::vector<std::uint8_t>> block;
    std::optional<Error> error;
};

PendingGet RemoteHypercore::start_get(std::uint64_t seq, const GetOptions& options) {
    auto& c = state_of(m_state);
    auto op = detail::get_op(m_state, seq, options);
    PendingGet g;
    g.m_state = std::make_shared<PendingGet::State>();
    g.m_state->core = m_state;
    g.m_state->resource_id = detail::resource_id_of(op);
    g.m_state->finish = op.finish;
    auto promise = std::make_shared<std::promise<CallResult>>();
    g.m_state->result = promise->get_future().share();
    c.impl->call_async(op.method, std::move(op.payload),
                       [promise](CallResult r) { promise->set_value(std::move(r)); }, op.timeout,
                       std::move(op.on_timeout));
    return g;
}

std::vector<std::uint8_t> PendingGet::wait() {
    if (!m_state) throw Error("this PendingGet was not started");
    CallResult r = m_state->result.get();
    std::lock_guard lock(m_state->mu);
    if (!m_state->finished) {
        m_state->finished = true;
        try {
            m_state->block = m_state->finish(r);
        } catch (const Error& e) {
            m_state->error = e;
        }
    }
    if (m_state->error) throw *m_state->error;
    return *m_state->block;
}

bool PendingGet::wait_for(std::chrono::milliseconds timeout) {
    if (!m_state) throw Error("this PendingGet was not started");
    return m_state->result.wait_for(timeout) == std::future_status::ready;
}

void PendingGet::cancel() {
    if (!m_state) return;
    auto& c = *m_state->core;
    c.impl->send(Method::HypercoreCancel, encode(rpc::CancelRequest{c.id, m_state->resource_id}));
}

bool RemoteHypercore::has(std::uint64_t seq) {
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::has_op(c, seq));
}

std::uint64_t RemoteHypercore::downloaded(std::optional<std::uint64_t> start,
                                          std::optional<std::uint64_t> end) {
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::downloaded_op(c, start, end));
}

Download RemoteHypercore::start_download(const DownloadRange& range) {
    auto& c = state_of(m_state);
    Download d;
    d.m_state = std::make_shared<Download::State>();
    d.m_state->core = m_state;
    d.m_state->resource_id = c.impl->resource_id();
    auto op = detail::download_op(c, range, d.m_state->resource_id);
    auto promise = std::make_shared<std::promise<CallResult>>();
    d.m_state->result = promise->get_future().share();
    c.impl->call_async(op.method, std::move(op.payload),
                       [promise](CallResult r) { promise->set_value(std::move(r)); });
    return d;
}

void RemoteHypercore::download(const DownloadRange& range) { start_download(range).wait(); }

void RemoteHypercore::update(const UpdateOptions& options) {
    auto& c = state_of(m_state);
    detail::run(*c.impl, detail::update_op(c, options));
}

SeekResult RemoteHypercore::seek(std::uint64_t byte_offset, const SeekOptions& options) {
    auto& c = state_of(m_state);
    return detail::run(*c.impl, detail::seek_op(c, byte_offset, options));
}

Lock RemoteHypercore::lock() {
    auto& c = state_of(m_state);
    detail::require_open(c);
    auto r = c.impl->call(Method::HypercoreAcquireLock, rpc::LockRequest{c.id});
    if (!r.ok) throw_call_error(r.error, "locking " + c.describe());
    Lock l;
    l.m_core = m_state;
    return l;
}

void RemoteHypercore::close() {
    auto& c = state_of(m_state);
    bool already = false;
    auto op = detail::close_op(m_state, already);
    if (!already) detail::run(*c.impl, std::move(op));
}

void RemoteHypercore::on_append(std::function<void()> fn) {
    on_append([fn = std::move(fn)](std::uint64_t, std::uint64_t) { fn(); });
}
void RemoteHypercore::on_append(std::function<void(std::uint64_t, std::uint64_t)> fn) {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    c.on_append.push_back(std::move(fn));
}
void RemoteHypercore::on_download(std::function<void(std::uint64_t, std::uint64_t)> fn) {
    auto& c = state_of(m_state);
    bool first = false;
    {
        std::lock_guard lock(c.mu);
        c.on_download.push_back(std::move(fn));
        first = !std::exchange(c.watching_downloads, true);
    }
    if (first) c.impl->send(Method::HypercoreWatchDownloads, encode(rpc::WatchDownloadsRequest{c.id}));
}
void RemoteHypercore::on_upload(std::function<void(std::uint64_t, std::uint64_t)> fn) {
    auto& c = state_of(m_state);
    bool first = false;
    {
        std::lock_guard lock(c.mu);
        c.on_upload.push_back(std::move(fn));
        first = !std::exchange(c.watching_uploads, true);
    }
    if (first) c.impl->send(Method::HypercoreWatchUploads, encode(rpc::WatchUploadsRequest{c.id}));
}
void RemoteHypercore::on_peer_add(std::function<void(const Peer&)> fn) {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    c.on_peer_add.push_back(std::move(fn));
}
void RemoteHypercore::on_peer_remove(std::function<void(const Peer&)> fn) {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    c.on_peer_remove.push_back(std::move(fn));
}
void RemoteHypercore::on_close(std::function<void()> fn) {
    auto& c = state_of(m_state);
    std::lock_guard lock(c.mu);
    c.on_close.push_back(std::move(fn));
}

Extension RemoteHypercore::register_extension(std::string name, Extension::OnMessage on_message) {
    auto& c = state_of(m_state);
    detail::require_open(c);
    Extension ext;
    ext.m_state = std::make_shared<Extension::State>();
    ext.m_state->impl = c.impl;
    ext.m_state->core = m_state;
    ext.m_state->resource_id = c.impl->resource_id();
    ext.m_state->name = name;
    {
        std::lock_guard lock(c.mu);
        c.extensions[ext.m_state->resource_id] = std::move(on_message);
    }
    c.impl->send(Method::HypercoreRegisterExtension,
                 encode(rpc::RegisterExtensionRequest{c.id, ext.m_state->resource_id, std::move(name)}));
    return ext;
}

// ---- RemoteCorestore ----

RemoteHypercore RemoteCorestore::get(const GetCoreOptions& options) {
    return RemoteHypercore(detail::run(*m_impl, detail::open_op(m_impl, options)));
}

RemoteHypercore RemoteCorestore::default_core() {
    GetCoreOptions o;
    o.name = m_name.empty() ? std::string("default") : m_name;
    return get(o);
}

void RemoteCorestore::on_feed(std::function<void(const Key&)> fn) {
    std::lock_guard lock(m_impl->mu);
    m_impl->on_feed.push_back(std::move(fn));
}

// ---- RemoteNetworker ----

Key RemoteNetworker::public_key() {
    auto r = m_impl->call(Method::NetworkOpen, rpc::Void{});
    if (!r.ok) throw_call_error(r.error, "opening the network");
    return key_of(decode_reply<rpc::OpenNetworkResponse>(r.payload, "Network.Open").public_key,
                  "network public key");
}

std::vector<Peer> RemoteNetworker::peers() {
    auto r = m_impl->call(Method::NetworkOpen, rpc::Void{});
    if (!r.ok) throw_call_error(r.error, "opening the network");
    std::vector<Peer> out;
    for (const auto& p : decode_reply<rpc::OpenNetworkResponse>(r.payload, "Network.Open").peers)
        out.push_back(peer_of(p));
    return out;
}

void RemoteNetworker::configure(const Key& discovery_key, const NetworkConfiguration& config) {
    detail::run(*m_impl, detail::configure_op(*m_impl, discovery_key, config));
}

void RemoteNetworker::configure(const RemoteHypercore& core, const NetworkConfiguration& config) {
    configure(core.discovery_key(), config);
}

namespace {
NetworkStatus status_of(const rpc::NetworkStatus& s) {
    NetworkStatus out;
    out.discovery_key = key_of(s.discovery_key, "discovery key");
    out.announce = s.announce.value_or(false);
    out.lookup = s.lookup.value_or(false);
    out.remember = s.remember.value_or(false);
    return out;
}
}  // namespace

std::optional<NetworkStatus> RemoteNetworker::status(const Key& discovery_key) {
    auto r = m_impl->call(Method::NetworkStatus,
                          rpc::NetworkStatusRequest{Bytes(discovery_key.begin(), discovery_key.end())});
    if (!r.ok) throw_call_error(r.error, "network status of " + to_hex(discovery_key));
    auto resp = decode_reply<rpc::NetworkStatusResponse>(r.payload, "Network.Status");
    if (!resp.status) return std::nullopt;
    return status_of(*resp.status);
}

std::vector<NetworkStatus> RemoteNetworker::all_statuses() {
    auto r = m_impl->call(Method::NetworkAllStatuses, rpc::Void{});
    if (!r.ok) throw_call_error(r.error, "network statuses");
    std::vector<NetworkStatus> out;
    for (const auto& s :
         decode_reply<rpc::AllNetworkStatusesResponse>(r.payload, "Network.AllStatuses").statuses)
        out.push_back(status_of(s));
    return out;
}

void RemoteNetworker::on_peer_add(std::function<void(const Peer&)> fn) {
    {
        std::lock_guard lock(m_impl->mu);
        m_impl->on_network_peer_add.push_back(std::move(fn));
    }
    m_impl->ensure_network_open();
}

void RemoteNetworker::on_peer_remove(std::function<void(const Peer&)> fn) {
    {
        std::lock_guard lock(m_impl->mu);
        m_impl->on_network_peer_remove.push_back(std::move(fn));
    }
    m_impl->ensure_network_open();
}

Extension RemoteNetworker::register_extension(std::string name, Extension::OnMessage on_message) {
    Extension ext;
    ext.m_state = std::make_shared<Extension::State>();
    ext.m_state->impl = m_impl;
    ext.m_state->resource_id = m_impl->resource_id();
    ext.m_state->name = name;
    {
        std::lock_guard lock(m_impl->mu);
        m_impl->network_extensions[ext.m_state->resource_id] = std::move(on_message);
    }
    m_impl->send(Method::NetworkRegisterExtension,
                 encode(rpc::RegisterExtensionRequest{0, ext.m_state->resource_id, std::move(name)}));
    return ext;
}

// ---- Client ----

Client::Client() : Client(Endpoint::from_environment()) {}

Client::Client(const Endpoint& endpoint, const ClientOptions& options)
    : m_impl(std::make_shared<detail::ClientImpl>()) {
    m_impl->connect(endpoint, options.connect_timeout);
    m_impl->start();
    m_network.reset(new RemoteNetworker(m_impl));
}

Client::~Client() { close(); }

Status Client::status() { return detail::run(*m_impl, detail::status_op()); }

RemoteCorestore Client::corestore(std::string_view name) {
    return RemoteCorestore(m_impl, std::string(name));
}

RemoteNetworker& Client::network() { return *m_network; }

void Client::replicate(RemoteHypercore& core) {
    m_network->configure(core, NetworkConfiguration{.announce = true, .lookup = true});
    try {
        core.update(UpdateOptions{.if_available = true});
    } catch (const Error&) {
        // As the JS client: nobody had more, or no peer yet. Not a failure of replicate().
    }
}

void Client::stop() { m_impl->send(Method::HyperspaceStop, encode(rpc::Void{})); }

void Client::close() { m_impl->close(); }

bool Client::closed() const {
    std::lock_guard lock(m_impl->mu);
    return m_impl->closed;
}

// ---- The awaitable flavour (hyperspace/asio.h): the same operations, awaited ----

namespace detail {
struct Access {
    static const std::shared_ptr<CoreState>& state(const RemoteHypercore& core) {
        if (!core.m_state) throw Error("this RemoteHypercore handle is empty");
        return core.m_state;
    }
    static const std::shared_ptr<ClientImpl>& impl(const RemoteCorestore& store) { return store.m_impl; }
    static const std::shared_ptr<ClientImpl>& impl(const RemoteNetworker& n) { return n.m_impl; }
    static const std::shared_ptr<ClientImpl>& impl(const Client& c) { return c.m_impl; }
    static RemoteHypercore handle(std::shared_ptr<CoreState> s) { return RemoteHypercore(std::move(s)); }
};
}  // namespace detail

namespace co {

using detail::Access;

::asio::awaitable<Status> status(Client& client) {
    co_return co_await detail::co_run(*Access::impl(client), detail::status_op());
}

::asio::awaitable<RemoteHypercore> get(RemoteCorestore store, GetCoreOptions options) {
    const auto& impl = Access::impl(store);
    auto state = co_await detail::co_run(*impl, detail::open_op(impl, options));
    co_return Access::handle(std::move(state));
}

::asio::awaitable<std::uint64_t> append(RemoteHypercore core, std::vector<std::string> blocks) {
    const auto& state = Access::state(core);
    // The op encodes the borrowed blocks before the first suspension.
    co_return co_await detail::co_run(*state->impl,
                                      detail::append_op(*state, detail::borrow_all(blocks)));
}

::asio::awaitable<std::vector<std::uint8_t>> get(RemoteHypercore core, std::uint64_t seq,
                                                 GetOptions options) {
    const auto& state = Access::state(core);
    co_return co_await detail::co_run(*state->impl, detail::get_op(state, seq, options));
}

::asio::awaitable<bool> has(RemoteHypercore core, std::uint64_t seq) {
    const auto& state = Access::state(core);
    co_return co_await detail::co_run(*state->impl, detail::has_op(*state, seq));
}

::asio::awaitable<std::uint64_t> downloaded(RemoteHypercore core, std::optional<std::uint64_t> start,
                                            std::optional<std::uint64_t> end) {
    const auto& state = Access::state(core);
    co_return co_await detail::co_run(*state->impl, detail::downloaded_op(*state, start, end));
}

::asio::awaitable<void> download(RemoteHypercore core, DownloadRange range) {
    const auto& state = Access::state(core);
    co_await detail::co_run(*state->impl,
                            detail::download_op(*state, range, state->impl->resource_id()));
}

::asio::awaitable<void> update(RemoteHypercore core, UpdateOptions options) {
    const auto& state = Access::state(core);
    co_await detail::co_run(*state->impl, detail::update_op(*state, options));
}

::asio::awaitable<SeekResult> seek(RemoteHypercore core, std::uint64_t byte_offset,
                                   SeekOptions options) {
    const auto& state = Access::state(core);
    co_return co_await detail::co_run(*state->impl, detail::seek_op(*state, byte_offset, options));
}

::asio::awaitable<void> close(RemoteHypercore core) {
    const auto& state = Access::state(core);
    bool already = false;
    auto op = detail::close_op(state, already);
    if (!already) co_await detail::co_run(*state->impl, std::move(op));
}

::asio::awaitable<void> configure(RemoteNetworker& network, Key discovery_key,
                                  NetworkConfiguration configuration) {
    const auto& impl = Access::impl(network);
    co_await detail::co_run(*impl, detail::configure_op(*impl, discovery_key, configuration));
}

}  // namespace co

}  // namespace hyperspace
