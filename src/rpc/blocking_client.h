// A small synchronous RPC client for one-shot questions to a daemon: `hyp status` / `hyp stop`,
// and the daemon's own "does a daemon already answer on this socket?" probe. POSIX sockets with
// poll() deadlines (no Asio: it runs before and outside any event loop). Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "rpc/daemon_info.h"
#include "rpc/endpoint.h"
#include "rpc/framing.h"
#include "rpc/messages.h"

namespace hs::rpc {

class BlockingClient {
public:
    // Errc::NotFound when nothing listens there (no socket file, or connection refused: a stale
    // socket file); Errc::Io for other failures (including the timeout).
    static Result<BlockingClient> connect(const Endpoint& endpoint,
                                          std::chrono::milliseconds timeout);
    BlockingClient(BlockingClient&& other) noexcept;
    BlockingClient& operator=(BlockingClient&& other) noexcept;
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;
    ~BlockingClient();

    struct StatusReply {
        HyperspaceStatusResponse status;
        std::optional<DaemonInfoResponse> info;  // only from our daemon (rpc/daemon_info.h)
    };
    // Hyperspace.Status, asking (harmlessly for a JS daemon) for our extra fields too.
    Result<StatusReply> status(std::chrono::milliseconds timeout);
    // Hyperspace.Stop, sent without a reply (as the JS client does).
    Status stop(std::chrono::milliseconds timeout);

    // One request, waiting for its response or error frame (an error frame becomes
    // Errc::InvalidArgument with the RPCError message). Events in between are skipped.
    Result<Bytes> call(std::uint64_t service, std::uint64_t method, ByteView payload,
                       std::chrono::milliseconds timeout);
    Status send(std::uint64_t service, std::uint64_t method, std::uint64_t id, ByteView payload,
                std::chrono::milliseconds timeout);

private:
    explicit BlockingClient(int fd) : m_fd(fd) {}
    int m_fd = -1;
    FrameDecoder m_decoder;
    std::uint64_t m_next_id = 1;
};

}  // namespace hs::rpc
