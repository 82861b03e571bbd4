#include "service/network_configs.h"

#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "service/errors.h"
#include "common/util/fs.h"
#include "common/util/hex.h"

namespace hs::service {
using namespace hs::rpc;  // the codec's messages
namespace fs = std::filesystem;

namespace {

std::optional<crypto::Hash32> as_key(ByteView bytes) {
    if (bytes.size() != 32) return std::nullopt;
    crypto::Hash32 k;
    std::copy(bytes.begin(), bytes.end(), k.begin());
    return k;
}

}  // namespace

Result<std::unique_ptr<NetworkConfigs>> NetworkConfigs::open(NetworkConfigsOptions options,
                                                             std::shared_ptr<spdlog::logger> log) {
    std::unique_ptr<NetworkConfigs> configs(new NetworkConfigs(std::move(options), std::move(log)));
    HS_TRY(configs->load());
    return configs;
}

Status NetworkConfigs::load() {
    if (!m_options.file) return {};
    const fs::path& path = *m_options.file;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec;
        if (!fs::exists(path, ec)) return {};
        return make_error(Errc::Io, "cannot read {}", path.string());
    }
    std::stringstream text;
    text << in.rdbuf();
    auto damaged = [&](std::string_view why) {
        return make_error(Errc::Corrupt,
                          "{} is damaged ({}); fix or remove it (it holds the remembered network "
                          "configurations)",
                          path.string(), why);
    };
    const auto doc = nlohmann::json::parse(text.str(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return damaged("not a JSON object");
    const auto list = doc.find("configurations");
    if (list == doc.end() || !list->is_array()) return damaged("no configurations array");
    for (const auto& entry : *list) {
        if (!entry.is_object() || !entry.contains("discoveryKey") ||
            !entry["discoveryKey"].is_string())
            return damaged("an entry has no discoveryKey");
        auto raw = from_hex(entry["discoveryKey"].get<std::string>());
        auto dk = raw ? as_key(*raw) : std::nullopt;
        if (!dk) return damaged("a discoveryKey is not 64 hex characters");
        Remembered r;
        r.announce = entry.value("announce", false);
        r.lookup = entry.value("lookup", false);
        m_remembered[*dk] = r;
    }
    m_log->debug("loaded {} remembered network configurations from {}", m_remembered.size(),
                 path.string());
    return {};
}

Status NetworkConfigs::persist() const {
    if (!m_options.file) return {};
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [dk, r] : m_remembered)
        list.push_back(
            {{"discoveryKey", to_hex(dk)}, {"announce", r.announce}, {"lookup", r.lookup}});
    nlohmann::json doc = {{"version", 1}, {"configurations", std::move(list)}};
    return write_file_atomic(*m_options.file, doc.dump(1) + "\n");
}

void NetworkConfigs::rejoin_remembered() {
    for (const auto& [dk, r] : m_remembered) {
        if (!r.announce && !r.lookup) continue;
        apply(dk, true, true);
    }
}

void NetworkConfigs::apply(const crypto::Hash32& dk, std::optional<bool> remember, bool rejoin) {
    bool announce = false;
    bool lookup = false;
    if (auto it = m_votes.find(dk); it != m_votes.end()) {
        for (const auto& [client, vote] : it->second) {
            announce = announce || vote.announce;
            lookup = lookup || vote.lookup;
        }
    }
    if (auto it = m_remembered.find(dk); it != m_remembered.end()) {
        announce = announce || it->second.announce;
        lookup = lookup || it->second.lookup;
    }
    if (m_options.no_announce) announce = false;

    auto joined = m_joined.find(dk);
    if (!announce && !lookup) {
        if (joined == m_joined.end()) return;
        m_joined.erase(joined);
        m_log->debug("left {}", to_hex(dk));
        if (on_change) on_change(dk, nullptr, rejoin);
        return;
    }
    const bool changed = joined == m_joined.end() || joined->second.announce != announce ||
                         joined->second.lookup != lookup;
    NetworkStatus status;
    status.discovery_key = Bytes(dk.begin(), dk.end());
    status.announce = announce;
    status.lookup = lookup;
    status.remember = remember;
    if (joined == m_joined.end()) {
        joined = m_joined.emplace(dk, std::move(status)).first;
    } else {
        joined->second = std::move(status);
    }
    if (rejoin || changed)
        m_log->debug("joined {} (announce {}, lookup {})", to_hex(dk), announce, lookup);
    if (on_change && (rejoin || changed)) on_change(dk, &joined->second, rejoin);
}

Result<NetworkStatusResponse> NetworkConfigs::configure(std::uint64_t client,
                                                        const ConfigureNetworkRequest& request) {
    const auto dk = as_key(request.configuration.discovery_key);
    if (!dk) return Error{Errc::InvalidArgument, std::string(errors::kInvalidDiscoveryKey)};
    std::optional<crypto::Hash32> copy_from;
    if (request.copy_from) {
        copy_from = as_key(*request.copy_from);
        if (!copy_from) return Error{Errc::InvalidArgument, std::string(errors::kInvalidCopyFrom)};
    }

    // An existing configuration (joined, else remembered) wins unless overwrite (default true).
    std::optional<NetworkStatus> previous = status(*dk);
    if (!previous) {
        if (auto it = m_remembered.find(*dk); it != m_remembered.end()) {
            NetworkStatus s;
            s.discovery_key = request.configuration.discovery_key;
            s.announce = it->second.announce;
            s.lookup = it->second.lookup;
            s.remember = true;
            previous = std::move(s);
        }
    }
    if (previous && !request.overwrite_or_default()) return NetworkStatusResponse{previous};

    std::optional<bool> announce = request.configuration.announce;
    std::optional<bool> lookup = request.configuration.lookup;
    std::optional<bool> remember = request.configuration.remember;
    if (copy_from) {  // fills only what the request left out (quirks #9)
        std::optional<NetworkStatus> source = status(*copy_from);
        if (!source) {
            if (auto it = m_remembered.find(*copy_from); it != m_remembered.end()) {
                source.emplace();
                source->announce = it->second.announce;
                source->lookup = it->second.lookup;
                source->remember = true;
            }
        }
        if (source) {
            if (!announce) announce = source->announce.value_or(false);
            if (!lookup) lookup = source->lookup.value_or(false);
            if (!remember) remember = source->remember.value_or(false);
        }
    }
    if (m_options.no_announce) announce = false;

    // Persist first, so the reduction below sees the record as it now is.
    if (remember) {
        const auto old = m_remembered;
        if (*remember)
            m_remembered[*dk] = Remembered{announce.value_or(false), lookup.value_or(false)};
        else
            m_remembered.erase(*dk);  // present and false: forget (quirks #8)
        if (m_remembered.size() != old.size() || *remember) {
            if (auto st = persist(); !st) {
                m_remembered = old;
                return std::move(st).error();
            }
        }
    }

    m_votes[*dk][client] = Vote{announce.value_or(false), lookup.value_or(false)};
    apply(*dk, remember, true);
    return NetworkStatusResponse{status(*dk)};
}

std::optional<NetworkStatus> NetworkConfigs::status(ByteView discovery_key) const {
    const auto dk = as_key(discovery_key);
    if (!dk) return std::nullopt;
    auto it = m_joined.find(*dk);
    if (it == m_joined.end()) return std::nullopt;
    return it->second;
}

std::vector<NetworkStatus> NetworkConfigs::all_statuses() const {
    std::vector<NetworkStatus> out;
    out.reserve(m_joined.size());
    for (const auto& [dk, s] : m_joined) out.push_back(s);
    return out;
}

void NetworkConfigs::client_gone(std::uint64_t client) {
    std::vector<crypto::Hash32> touched;
    for (auto it = m_votes.begin(); it != m_votes.end();) {
        if (it->second.erase(client)) touched.push_back(it->first);
        if (it->second.empty())
            it = m_votes.erase(it);
        else
            ++it;
    }
    for (const auto& dk : touched) {
        auto joined = m_joined.find(dk);
        std::optional<bool> remember;
        if (joined != m_joined.end()) remember = joined->second.remember;
        apply(dk, remember, false);
    }
}

}  // namespace hs::service
