// The UDX socket (docs/formats/udx.md): one Asio UDP socket carrying many sans-IO UDX streams
// (src/v11/udx/stream.h) and, beside them, whatever else uses the port. The first byte routes a
// datagram: 0xFF with a valid UDX header goes to the stream of its id, anything else to the
// handler set with on_other() (HyperDHT's RPC shares the socket this way).
//
// A stream accepts datagrams from its remote address only; one from another address is dropped
// unless the firewall hook (set_firewall) accepts it, and then the stream's remote moves there
// (NAT rebinding). change_remote() moves it deliberately.
//
// Tasks: the socket's TaskGroup runs its receive loop, its timer loop (the earliest
// next_wakeup() of its streams) and its transmit loop. close() sends the final acks its streams
// still owe (udx/stream.h flush_final_acks), closes the UDP socket, destroys nothing, and joins
// the tasks.
//
// Datagrams of the streams are queued and sent in batches: at the end of each batch of received
// datagrams, of each timer round and of each application call, and otherwise by the transmit
// loop as soon as the current handler returns. A batch goes out in one sendmmsg(2); runs of
// equal-sized datagrams to one address go as one UDP GSO send (UDP_SEGMENT) where the kernel
// has it (turned off for the socket at the first refusal). Received datagrams are read up to 64
// per wake-up with recvmmsg(2).
// Streams are owned by the socket; an application holds them through shared_ptr handles.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/util/error.h"
#include "v11/udx/stream.h"

namespace hs::v11::udx_io {

using udx::CloseReason;
using Endpoint = asio::ip::udp::endpoint;

class Socket;

class Stream {
public:
    Stream(Socket& socket, udx::StreamConfig cfg, Endpoint remote);
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Up to out.size() bytes; 0 at the remote's end; an error once the stream closed otherwise.
    asio::awaitable<Result<std::size_t>> read_some(MutableByteView out);
    // Queues `data` and waits while the stream holds write_high_water unacknowledged bytes.
    asio::awaitable<Status> write(ByteView data);
    // Waits until every byte written (and END, after end()) was acknowledged or the stream closed.
    asio::awaitable<Status> drain();
    void end();
    void destroy();
    bool send_message(ByteView data);
    // The next MESSAGE datagram; nullopt once the stream is closed.
    asio::awaitable<std::optional<Bytes>> read_message();
    asio::awaitable<void> wait_closed();

    // Without waiting: takes up to out.size() delivered bytes (0 if none), and queues `data`
    // (false once write_high_water unacknowledged bytes are held; the bytes are queued anyway).
    std::size_t try_read(MutableByteView out);
    bool try_write(ByteView data);
    // `t` is cancelled whenever the stream changes (bytes to read, room to write, closed), so an
    // operation waiting on it re-checks (udx_io/duplex.h). Remove it before it is destroyed.
    void add_waker(asio::steady_timer* t) { m_wakers.push_back(t); }
    void remove_waker(asio::steady_timer* t);
    // Counts the changes that woke the wakers.
    std::uint64_t changes() const noexcept { return m_changes; }

    void change_remote(Endpoint remote, std::uint32_t remote_id);
    const Endpoint& remote() const noexcept { return m_remote; }
    udx::StreamCore& core() noexcept { return m_core; }
    bool closed() const noexcept { return m_core.closed(); }
    CloseReason close_reason() const noexcept { return m_core.close_reason(); }

private:
    friend class Socket;
    Status closed_error() const;
    void changed();
    void notify();  // m_event and the wakers

    Socket& m_socket;
    Endpoint m_remote;
    udx::StreamCore m_core;
    async::Event m_event;
    std::vector<asio::steady_timer*> m_wakers;
    std::uint64_t m_changes = 0;
    std::optional<udx::TimePoint> m_closed_at;
};

class Socket {
public:
    // Datagrams that are not UDX, or UDX for no stream of ours.
    using OtherFn = std::function<void(ByteView datagram, const Endpoint& from)>;
    // A datagram for stream `s` from an address that is not its remote: true accepts it (and
    // moves the stream's remote there), false drops it.
    using FirewallFn = std::function<bool(Stream& s, const Endpoint& from)>;

    Socket(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log = nullptr);
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Opens and binds the UDP socket (IPv4); Errc::Io naming the endpoint on failure.
    Status bind(const Endpoint& at);
    Endpoint local_endpoint() const;
    void start();  // starts the receive and timer tasks
    asio::awaitable<void> close();

    // A new stream with our id cfg.local_id (unique on this socket) to cfg.remote_id at `remote`.
    Result<std::shared_ptr<Stream>> connect(udx::StreamConfig cfg, const Endpoint& remote);
    void on_other(OtherFn fn) { m_other = std::move(fn); }
    void set_firewall(FirewallFn fn) { m_firewall = std::move(fn); }
    // Sends a datagram for another user of the socket (dropped if the send buffer is full).
    void send_to(ByteView datagram, const Endpoint& to);
    // Counters of the transmit path: datagrams, system calls and GSO sends.
    struct TxStats {
        std::uint64_t datagrams = 0;
        std::uint64_t syscalls = 0;
        std::uint64_t gso_sends = 0;
    };
    const TxStats& tx_stats() const noexcept { return m_tx_stats; }

    std::size_t stream_count() const noexcept { return m_streams.size(); }
    std::uint64_t dropped() const noexcept { return m_dropped; }
    // Closed streams stay this long to answer retransmissions of their peer's END.
    static constexpr std::chrono::seconds kLinger{30};

private:
    friend class Stream;
    asio::awaitable<void> receive_loop();
    asio::awaitable<void> timer_loop();
    asio::awaitable<void> transmit_loop();
    // Queues a stream's datagram; flush_tx() sends what is queued.
    void queue_tx(ByteView d, const Endpoint& to);
    void flush_tx();
    void wake() { m_timer_wake.notify(); }
    // Wakes the timer task only if `s` needs it earlier than it sleeps (or just closed).
    void wake_for(Stream& s);
    // One datagram: routes it to its stream (true) or the other handler.
    void route(ByteView d, const Endpoint& from, std::vector<std::shared_ptr<Stream>>& touched);

    asio::any_io_executor m_executor;
    std::shared_ptr<spdlog::logger> m_log;
    asio::ip::udp::socket m_socket;
    std::map<std::uint32_t, std::shared_ptr<Stream>> m_streams;
    OtherFn m_other;
    FirewallFn m_firewall;
    bool m_closing = false;
    std::uint64_t m_dropped = 0;
    async::TaskGroup m_tasks;
    async::Event m_timer_wake;
    udx::TimePoint m_timer_deadline = udx::TimePoint::min();  // when the timer task wakes next
    // Transmit queue: datagrams back to back in m_tx_buf, in order.
    struct TxEntry {
        std::size_t offset;
        std::size_t size;
        Endpoint to;
    };
    Bytes m_tx_buf;
    std::vector<TxEntry> m_tx;
    async::Event m_tx_wake;
    bool m_gso = true;
    TxStats m_tx_stats;
};

}  // namespace hs::v11::udx_io
