// The request handlers of the four services (docs/behaviour/rpc.md "Methods"), dispatched through
// a table indexed by method: each small handler decodes its request, calls a service (registry,
// client state, network configurations, replication, the waiting-request call), and encodes the
// answer.
// Dispatch rules for our server (docs/behaviour/rpc.md "Dispatch", quirks #1): an unknown method
// gets the error frame "Unknown method (<m>) on service (<s>)" (id != 0) or is ignored (id 0), and
// the connection stays; a payload that does not decode (including a missing required field) gets an
// error frame (id != 0) or is ignored (id 0). Network thread only.
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "service/client_state.h"
#include "service/core_registry.h"
#include "rpc/daemon_info.h"
#include "service/network_configs.h"
#include "service/replication.h"

namespace hs::server {

// What the Hyperspace service needs from the daemon around it.
class DaemonControl {
public:
    virtual ~DaemonControl() = default;
    // Starts a graceful shutdown; returns at once (the reply is sent first).
    virtual void request_stop() = 0;
    virtual rpc::DaemonInfoResponse daemon_info() const = 0;
    virtual bool holepunchable() const { return false; }
    virtual std::string remote_address() const { return {}; }
};

// Reported by Hyperspace.Status: the versions of the JS packages whose wire behaviour we speak
// (clients may check them).
inline constexpr const char* kReportedVersion = "3.19.0";     // hyperspace
inline constexpr const char* kReportedApiVersion = "1.15.1";  // @hyperspace/rpc

struct HandlerContext {
    service::CoreRegistry& registry;
    service::NetworkConfigs& network;
    DaemonControl& control;
    Bytes network_public_key;  // the daemon's Noise static public key (Network.Open)
    std::shared_ptr<spdlog::logger> log;
    service::Replication* replication = nullptr;  // null: no networking (no peers, ever)
};

class Handlers {
public:
    explicit Handlers(HandlerContext context) : m_ctx(std::move(context)) {}

    // Handles one request frame of `client` through the method table. Never throws on client
    // input.
    void handle_request(service::ClientState& client, const rpc::FrameHeader& header,
                        ByteView payload);
    // After each batch of frames (and each disconnect): lets the GC close cores beyond the cache.
    void after_batch() { m_ctx.registry.collect(); }

    service::CoreRegistry& registry() noexcept { return m_ctx.registry; }
    service::NetworkConfigs& network() noexcept { return m_ctx.network; }

    // Whether the method table has a handler for `method` (every client-to-server method does).
    static bool handles(rpc::Method method) noexcept;

private:
    HandlerContext m_ctx;
};

}  // namespace hs::server
