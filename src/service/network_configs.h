// Network configurations (docs/behaviour/rpc.md "Network configurations", with our fixes
// docs/behaviour/quirks.md #8-#11): each client's vote {announce, lookup} per discovery key, the
// joined configurations that result (what Network.Status reports and what the swarm should join),
// and the remembered records, persisted in a small JSON file in the storage folder and re-joined at
// startup.
//
// Reduction: announce = OR of every vote and of the remembered record (quirks #11), lookup
// likewise; the daemon's noAnnounce forces announce off. A key is joined while announce or lookup
// is set. Network thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <spdlog/logger.h>

#include "common/crypto/blake2b.h"
#include "rpc/messages.h"
#include "service/sink.h"
#include "common/util/error.h"

namespace hs::service {

struct NetworkConfigsOptions {
    // Where remembered records live; nullopt keeps them in memory only (--memory-only).
    std::optional<std::filesystem::path> file;
    bool no_announce = false;
};

// The file name inside the storage folder. A JSON object:
//   {"version":1,"configurations":[{"discoveryKey":"<64 hex>","announce":true,"lookup":true}]}
// Written crash-safely (temp file, fsync, rename, fsync of the folder).
inline constexpr const char* kNetworkConfigFile = "network-configurations.json";

class NetworkConfigs {
public:
    struct Remembered {
        bool announce = false;
        bool lookup = false;
    };

    // Loads the remembered records (a missing file is empty; a damaged one fails, naming it).
    static Result<std::unique_ptr<NetworkConfigs>> open(NetworkConfigsOptions options,
                                                        std::shared_ptr<spdlog::logger> log);

    // Told whenever a key is joined (re)configured (`status` set) or left (`status` null): the
    // swarm joins/leaves the topic, the registry keeps the core loaded. `rejoin` is true when a
    // client asked (a new discovery round), false when only a disconnect changed the flags.
    std::function<void(const crypto::Hash32& dk, const rpc::NetworkStatus* status, bool rejoin)>
        on_change;

    // Startup: joins every remembered record with announce or lookup (quirks #10).
    void rejoin_remembered();

    // Network.Configure for one client. Errors: "Invalid discovery key.", "Must copy from a valid
    // discovery key.", or a failure to persist a remembered record.
    Result<rpc::NetworkStatusResponse> configure(std::uint64_t client,
                                                 const rpc::ConfigureNetworkRequest& request);
    // The joined configuration of a key (never the remembered file), as Network.Status.
    std::optional<rpc::NetworkStatus> status(ByteView discovery_key) const;
    std::vector<rpc::NetworkStatus> all_statuses() const;
    // Drops the client's votes and re-reduces its keys (leaving those nobody wants any more).
    void client_gone(std::uint64_t client);

    std::size_t joined_count() const noexcept { return m_joined.size(); }
    const std::map<crypto::Hash32, Remembered>& remembered() const noexcept { return m_remembered; }

private:
    struct Vote {
        bool announce = false;
        bool lookup = false;
    };
    NetworkConfigs(NetworkConfigsOptions options, std::shared_ptr<spdlog::logger> log)
        : m_options(std::move(options)), m_log(std::move(log)) {}
    Status load();
    Status persist() const;
    // Recomputes a key's flags and joins or leaves. `remember` is the flag reported in its status.
    void apply(const crypto::Hash32& dk, std::optional<bool> remember, bool rejoin);

    NetworkConfigsOptions m_options;
    std::shared_ptr<spdlog::logger> m_log;
    std::map<crypto::Hash32, std::map<std::uint64_t, Vote>> m_votes;
    std::map<crypto::Hash32, rpc::NetworkStatus> m_joined;
    std::map<crypto::Hash32, Remembered> m_remembered;
};

}  // namespace hs::service
