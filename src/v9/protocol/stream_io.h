// Asio glue for a replication Stream (STYLE.md §5): a coroutine that pumps one connected TCP
// socket <-> one sans-IO Stream, plus connect/listen/accept helpers with deadlines. Everything runs
// on the socket's executor (the network thread); none of it is thread-safe.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "v9/protocol/stream.h"
#include "common/util/error.h"
#include "common/util/host_port.h"

namespace hs::protocol {

struct StreamIoOptions {
    // One socket read; also what the stream may be handed at once.
    std::size_t read_chunk_bytes = 64 * 1024;
    // One socket write; pending output is copied into a buffer of at most this size.
    std::size_t write_chunk_bytes = 256 * 1024;
    // A write that makes no progress for this long fails the stream (Errc::Io).
    std::chrono::milliseconds write_timeout{kStreamTimeout};
    // After the stream closed: how long we keep writing what it still has to send (e.g. a Close
    // frame), before shutting the socket down regardless.
    std::chrono::milliseconds close_flush_timeout{2000};
};

// Pumps `socket` <-> `stream` until the stream closes, then writes what is left of its output
// (close_flush_timeout), shuts the socket down and closes it. Returns the stream's close reason.
//
// - Reads feed Stream::receive; reading pauses while Stream::output_over_limit() (write
//   high-water mark) and resumes once the writer has drained below it.
// - Writes take pending_output(); the stream's output listener wakes the writer whenever anything
//   (this pump, or the owner sending from elsewhere on the same executor) adds output.
// - Stream::tick() runs at the times it asks for (keep-alive, 20 s receive timeout).
// - Socket end-of-file closes the stream with Errc::Closed; a socket error or a stalled write
//   with Errc::Io; cancelling the awaiting coroutine with Errc::Closed ("cancelled").
// To stop it, close the stream (or cancel). `socket` and `stream` must outlive the awaitable, the
// stream must not be pumped by anything else, and its output listener belongs to this pump while
// it runs (it is cleared on return).
asio::awaitable<Error> run_stream(asio::ip::tcp::socket& socket, Stream& stream,
                                  StreamIoOptions options = {});

// Connects to `remote`, trying each resolved address in order; with `bind_address`, binds the
// local end to it (port 0) first: a JS networker ignores peers whose source is exactly
// 127.0.0.1 (docs/testing.md "Addresses"), so tests bind 127.0.0.2. The whole operation (resolve
// and connect) has one deadline. Errc::Io naming the address and the OS error, or the timeout.
asio::awaitable<Result<asio::ip::tcp::socket>> connect_tcp(
    const HostPort& remote, std::optional<asio::ip::address> bind_address,
    std::chrono::milliseconds timeout);

// An acceptor listening on `endpoint` (SO_REUSEADDR). Errc::Io naming the endpoint otherwise.
Result<asio::ip::tcp::acceptor> listen_tcp(const asio::any_io_executor& executor,
                                           const asio::ip::tcp::endpoint& endpoint);
// Accepts one connection. Errc::Io on an accept error or when `timeout` passes first.
asio::awaitable<Result<asio::ip::tcp::socket>> accept_tcp(asio::ip::tcp::acceptor& acceptor,
                                                          std::chrono::milliseconds timeout);

}  // namespace hs::protocol
