// hyperspace::Client: the C++ counterpart of @hyperspace/client. It speaks the Hyperspace RPC to a
// running daemon (ours, or the JS hyperspace 3.x server) over its UNIX socket or TCP port.
//
//     hyperspace::Client client;                        // $HYPERSPACE_SOCKET, else "hyperspace"
//     auto store = client.corestore();
//     auto core = store.get({.name = "log"});
//     core.append("hello");
//     client.replicate(core);                           // announce + lookup on the swarm
//
// Threads. Every call blocks until the daemon answered and is safe from any thread. The client
// runs two threads of its own: one does the socket I/O, the other runs event callbacks
// (on_append, on_download, ...), one at a time, in the order the daemon sent the events.
// Callbacks may call the client (a blocking call from a callback waits for the daemon, not for
// other callbacks); they must not destroy the Client. A call that the daemon answers after an
// event sees that event's effect: core.length() is updated before the append that caused it
// returns (the daemon sends OnAppend before the Append reply).
//
// Errors. Every failure throws hyperspace::Error with the daemon's message (and its error code,
// e.g. "ECANCELED", when it sent one), or a message saying what failed locally (no daemon at
// the socket, connection lost, client closed) and what to do.
//
// Programs that run their own Asio io_context can await the same calls instead of blocking:
// <hyperspace/asio.h>.
//
// Handles. RemoteCorestore and RemoteHypercore are cheap handles (copies share one session);
// they stay usable while the Client lives. After Client::close() every call throws.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <hyperspace/export.h>

namespace hyperspace {

using Key = std::array<std::uint8_t, 32>;

// Parses 64 hex digits (also with a "hyper://" prefix). Throws Error otherwise.
HYPERSPACE_EXPORT Key parse_key(std::string_view text);
HYPERSPACE_EXPORT std::string to_hex(const Key& key);

class HYPERSPACE_EXPORT Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, std::string code = {})
        : std::runtime_error(message), m_code(std::move(code)) {}
    // The daemon's error code ("ECANCELED", ...), or "" (local failures, and daemons that sent
    // none).
    const std::string& code() const noexcept { return m_code; }

private:
    std::string m_code;
};

// Where the daemon listens. The default is what the JS client and `hyperspace` use: the UNIX
// socket named $HYPERSPACE_SOCKET, else "hyperspace", at <tmpdir>/<name>.sock.
struct HYPERSPACE_EXPORT Endpoint {
    static Endpoint from_environment();
    // <tmpdir>/<name>.sock, tmpdir as Node computes it ($TMPDIR, $TMP, $TEMP, else /tmp).
    static Endpoint unix_socket(std::string_view name);
    static Endpoint unix_path(std::filesystem::path path);
    static Endpoint tcp(std::string host, std::uint16_t port);
    // The JS tools' --host/--port convention: no port, the UNIX socket named `host` (default:
    // from_environment()); a port, TCP on `host` (default 127.0.0.1).
    static Endpoint from_options(const std::optional<std::string>& host,
                                 std::optional<std::uint16_t> port);

    bool is_tcp = false;
    std::filesystem::path path;  // UNIX socket
    std::string host;            // TCP: a numeric address
    std::uint16_t port = 0;
    std::string describe() const;  // the path, or host:port
};

struct ClientOptions {
    // How long connecting may take.
    std::chrono::milliseconds connect_timeout{5000};
};

struct Status {
    std::string version;      // the daemon's package version ("" if it sent none)
    std::string api_version;  // the RPC schema version
    bool holepunchable = false;
    std::string remote_address;  // as the DHT sees us, "" if unknown
};

struct Peer {
    Key remote_public_key{};
    std::string remote_address;  // IP only
    std::string type;            // "tcp" or "utp"
};

struct GetOptions {
    std::optional<bool> wait;          // daemon default: true (wait for the block)
    std::optional<bool> if_available;  // daemon default: true (fail when no peer has it)
    // Client-side: after this long the request is cancelled and get() throws (code ETIMEDOUT).
    std::optional<std::chrono::milliseconds> timeout;
    // Called (on the event thread) when the daemon starts waiting for the block from peers.
    std::function<void(std::uint64_t seq)> on_wait;
};

struct UpdateOptions {
    std::optional<std::uint64_t> min_length;  // default: the length this handle knows + 1
    std::optional<bool> if_available;
    std::optional<bool> hash;  // daemon default: true (fetch only the proof of the new length)
};

struct SeekOptions {
    std::optional<std::uint64_t> start, end;
    std::optional<bool> wait, if_available;
};

struct SeekResult {
    std::uint64_t seq = 0;
    std::uint64_t block_offset = 0;
};

// What download() fetches: [start, end), or the listed blocks, or from start on live (no end).
struct DownloadRange {
    std::uint64_t start = 0;
    std::optional<std::uint64_t> end;  // none: live, for ever (until undownloaded)
    std::vector<std::uint64_t> blocks;  // when not empty: these blocks (start/end derived)
    bool linear = false;
};

struct NetworkConfiguration {
    bool announce = false;
    bool lookup = false;
    bool flush = false;  // wait until the announce/lookup round finished
    // true: the daemon re-applies this configuration after a restart; false: it forgets a
    // remembered one (our daemon; the JS one keeps it); unset: leaves what is remembered alone.
    std::optional<bool> remember;
};

struct NetworkStatus {
    Key discovery_key{};
    bool announce = false;
    bool lookup = false;
    bool remember = false;
};

class Client;
class RemoteHypercore;

namespace detail {
struct ClientImpl;
struct CoreState;
struct Access;  // the library's (hyperspace/asio.h's functions reach the handles' state through it)
}  // namespace detail

// A download started by RemoteHypercore::start_download: wait for it, or cancel it.
class HYPERSPACE_EXPORT Download {
public:
    // Blocks until every block of the range is stored (never returns for a live range unless
    // cancelled; then it throws with code ECANCELED).
    void wait();
    // Waits at most `timeout`; true once the download ended (wait() then returns or throws at
    // once).
    bool wait_for(std::chrono::milliseconds timeout);
    // undownload(): the daemon stops fetching the range.
    void cancel();

private:
    friend class RemoteHypercore;
    struct State;
    std::shared_ptr<State> m_state;
};

// A get started by RemoteHypercore::start_get: wait for the block, or cancel the request (the
// JS client's core.cancel(getPromise)).
class HYPERSPACE_EXPORT PendingGet {
public:
    // The block; throws Error (code ECANCELED after cancel()) when the get failed.
    std::vector<std::uint8_t> wait();
    bool wait_for(std::chrono::milliseconds timeout);
    // Hypercore.Cancel for this request: the daemon fails it, and wait() throws.
    void cancel();

private:
    friend class RemoteHypercore;
    struct State;
    std::shared_ptr<State> m_state;
};

// A registered core or network extension (RemoteHypercore::register_extension,
// RemoteNetworker::register_extension): messages of that name between this client and peers.
class HYPERSPACE_EXPORT Extension {
public:
    using OnMessage = std::function<void(const std::vector<std::uint8_t>& message, const Peer& from)>;

    const std::string& name() const;
    // To every peer (of the core, or of the swarm).
    void broadcast(std::span<const std::uint8_t> message);
    void broadcast(std::string_view message);
    // To one peer (by its remote public key).
    void send(std::span<const std::uint8_t> message, const Peer& to);
    void send(std::string_view message, const Peer& to);
    // Unregisters; no more messages arrive, sends are ignored.
    void destroy();

    struct State;  // the library's

private:
    friend class RemoteHypercore;
    friend class RemoteNetworker;
    std::shared_ptr<State> m_state;
};

// A held core lock (RemoteHypercore::lock); released by release() or the destructor.
class HYPERSPACE_EXPORT Lock {
public:
    Lock() = default;
    Lock(Lock&&) noexcept;
    Lock& operator=(Lock&&) noexcept;
    ~Lock();
    void release();

private:
    friend class RemoteHypercore;
    std::shared_ptr<detail::CoreState> m_core;
};

class HYPERSPACE_EXPORT RemoteHypercore {
public:
    const Key& key() const;
    const Key& discovery_key() const;
    std::uint64_t length() const;
    std::uint64_t byte_length() const;
    bool writable() const;
    bool weak() const;
    std::vector<Peer> peers() const;

    // Appends one block, or several in one call; returns the index of the (first) block.
    std::uint64_t append(std::string_view block);
    std::uint64_t append(std::span<const std::uint8_t> block);
    std::uint64_t append(const std::vector<std::string>& blocks);
    std::uint64_t append(const std::vector<std::vector<std::uint8_t>>& blocks);

    std::vector<std::uint8_t> get(std::uint64_t seq, const GetOptions& options = {});
    // The same, without blocking: wait for it or cancel it later (GetOptions::timeout applies).
    PendingGet start_get(std::uint64_t seq, const GetOptions& options = {});
    bool has(std::uint64_t seq);
    // Blocks stored here in [start, end) (whole core by default).
    std::uint64_t downloaded(std::optional<std::uint64_t> start = {},
                             std::optional<std::uint64_t> end = {});
    // Waits until the range is stored (see DownloadRange).
    void download(const DownloadRange& range = {});
    Download start_download(const DownloadRange& range = {});
    // Waits for a longer core (UpdateOptions).
    void update(const UpdateOptions& options = {});
    SeekResult seek(std::uint64_t byte_offset, const SeekOptions& options = {});
    // Waits for the core's lock (one holder among all clients of the daemon).
    Lock lock();
    // Closes this session (the core stays open for other sessions).
    void close();

    // Events (callbacks run on the client's event thread). The first on_download/on_upload asks
    // the daemon to report downloads/uploads of this core.
    void on_append(std::function<void()> fn);
    // The same, with the length and byte length this append event announced (length() may
    // already be larger when the callback runs: events queue up on the event thread).
    void on_append(std::function<void(std::uint64_t length, std::uint64_t byte_length)> fn);
    void on_download(std::function<void(std::uint64_t seq, std::uint64_t bytes)> fn);
    void on_upload(std::function<void(std::uint64_t seq, std::uint64_t bytes)> fn);
    void on_peer_add(std::function<void(const Peer&)> fn);
    void on_peer_remove(std::function<void(const Peer&)> fn);
    // A weak session is closed by the daemon when the last strong session of the core closes.
    void on_close(std::function<void()> fn);
    // Core extension `name`: messages from the core's peers reach `on_message` (event thread).
    Extension register_extension(std::string name, Extension::OnMessage on_message);

private:
    friend class RemoteCorestore;
    friend class Client;
    friend struct detail::Access;
    explicit RemoteHypercore(std::shared_ptr<detail::CoreState> state) : m_state(std::move(state)) {}
    std::shared_ptr<detail::CoreState> m_state;
};

struct GetCoreOptions {
    std::optional<Key> key;           // open this core (read-only unless we hold its secret key)
    std::optional<std::string> name;  // or the writable core of this name
    bool weak = false;                // closed by the daemon with the last strong session
};

class HYPERSPACE_EXPORT RemoteCorestore {
public:
    // The core of options.key or options.name; neither: a new writable core with a random name.
    RemoteHypercore get(const GetCoreOptions& options = {});
    RemoteHypercore get(const Key& key) { return get(GetCoreOptions{.key = key}); }
    // The namespace's default core (its name), as the JS corestore.default().
    RemoteHypercore default_core();
    // Called (event thread) with the key of every core the daemon opens, for any client.
    void on_feed(std::function<void(const Key& key)> fn);

private:
    friend class Client;
    friend struct detail::Access;
    RemoteCorestore(std::shared_ptr<detail::ClientImpl> impl, std::string name)
        : m_impl(std::move(impl)), m_name(std::move(name)) {}
    std::shared_ptr<detail::ClientImpl> m_impl;
    std::string m_name;
};

class HYPERSPACE_EXPORT RemoteNetworker {
public:
    // The daemon's swarm identity and its peers at the time of the call.
    Key public_key();
    std::vector<Peer> peers();
    void configure(const Key& discovery_key, const NetworkConfiguration& configuration);
    void configure(const RemoteHypercore& core, const NetworkConfiguration& configuration);
    std::optional<NetworkStatus> status(const Key& discovery_key);
    std::vector<NetworkStatus> all_statuses();
    void on_peer_add(std::function<void(const Peer&)> fn);
    void on_peer_remove(std::function<void(const Peer&)> fn);
    // Network (stream) extension `name`, for every peer of the swarm.
    Extension register_extension(std::string name, Extension::OnMessage on_message);

private:
    friend class Client;
    friend struct detail::Access;
    explicit RemoteNetworker(std::shared_ptr<detail::ClientImpl> impl) : m_impl(std::move(impl)) {}
    std::shared_ptr<detail::ClientImpl> m_impl;
};

class HYPERSPACE_EXPORT Client {
public:
    // Connects now; throws Error naming the endpoint when no daemon answers there.
    Client();
    explicit Client(const Endpoint& endpoint, const ClientOptions& options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Status status();
    // The default namespace, or a named one (its default_core() is the core of that name).
    RemoteCorestore corestore(std::string_view name = {});
    RemoteNetworker& network();
    // Announces and looks up the core on the swarm, then updates it if a peer has more
    // (as the JS client.replicate).
    void replicate(RemoteHypercore& core);
    // Asks the daemon to stop (no reply), as the JS client.stop().
    void stop();
    // Closes the connection; pending calls fail; callbacks already queued still run.
    void close();
    bool closed() const;

private:
    friend struct detail::Access;
    std::shared_ptr<detail::ClientImpl> m_impl;
    std::unique_ptr<RemoteNetworker> m_network;
};

}  // namespace hyperspace
