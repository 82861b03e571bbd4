// protomux 3 (docs/formats/protomux.md), sans-IO: many channels, each a (protocol, id) pair
// with its own message types, over one message transport (a secret-stream). Every transport
// message is `uint channel || uint type || payload`; channel 0 is control: batch (0), open (1),
// reject (2), close (3). Messages in: receive(); messages out: the send function. One per
// transport; not thread-safe.
//
// Pairing: a channel we open waits for the remote's open of the same (protocol, id) and the
// other way round. A remote open nobody waits for goes to the pair() handler of its key (or of
// its protocol with any id); if that handler creates a channel for it (and opens it), the two
// pair; otherwise the remote is rejected. Messages for a channel the remote opened before we
// paired it are kept (bounded) and delivered once it is open. Messages for closed or unknown
// channels and unknown message types are ignored, as JS does; a malformed control message is an
// error (Errc::Protocol), after which the caller destroys the transport.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::v11::protomux {

class Mux;

struct ChannelOptions {
    std::string protocol;
    std::optional<Bytes> id;
    // The handshake payload our open message carries (already encoded, e.g. compact-encoding).
    Bytes handshake;
    // Number of message types (0..n-1, in registration order); messages of other types are
    // ignored.
    std::size_t message_types = 0;
    // Fully open: the remote's open arrived (its handshake payload).
    std::function<void(ByteView remote_handshake)> on_open;
    std::function<void(std::size_t type, ByteView payload)> on_message;
    // Closed: `remote` when the peer closed or rejected it, or the transport went.
    std::function<void(bool remote)> on_close;
};

class Channel : public std::enable_shared_from_this<Channel> {
public:
    // Sends our open (once). A channel created for a remote's waiting open is fully open then.
    void open();
    // Sends a message of `type` (< message_types). False when closed (nothing sent).
    bool send(std::size_t type, ByteView payload);
    // Sends our close and closes (idempotent). The transport stays.
    void close();

    bool opened() const noexcept { return m_opened; }
    bool closed() const noexcept { return m_closed; }
    const std::string& protocol() const noexcept { return m_options.protocol; }
    const std::optional<Bytes>& id() const noexcept { return m_options.id; }
    std::uint64_t local_id() const noexcept { return m_local_id; }

private:
    friend class Mux;
    Channel(Mux& mux, ChannelOptions options) : m_mux(&mux), m_options(std::move(options)) {}
    void fully_open(ByteView remote_handshake);
    void closed_by(bool remote);

    Mux* m_mux;
    ChannelOptions m_options;
    std::uint64_t m_local_id = 0;   // 0 until open()
    std::uint64_t m_remote_id = 0;  // 0 until paired
    bool m_open_sent = false;
    bool m_opened = false;
    bool m_closed = false;
};

class Mux {
public:
    // Called with each transport message to send.
    using SendFn = std::function<void(Bytes message)>;
    // Bytes of messages kept for channels not yet paired, beyond which receive() fails.
    static constexpr std::size_t kMaxBuffered = 4u << 20;

    explicit Mux(SendFn send) : m_send(std::move(send)) {}
    ~Mux();
    Mux(const Mux&) = delete;
    Mux& operator=(const Mux&) = delete;

    // One transport message. Errc::Protocol for a malformed message or an invalid open/reject.
    Status receive(ByteView message);
    // The transport closed: every channel closes (remote).
    void shutdown();

    // A new channel; if the remote already opened this (protocol, id), it pairs with that.
    // nullptr when `unique` and a channel of this key is open, or after shutdown().
    std::shared_ptr<Channel> create_channel(ChannelOptions options, bool unique = true);
    // `notify(id)` is told of a remote open of `protocol` (with `id`, or any id when nullopt)
    // that no channel waits for; it may create_channel() + open() to accept it.
    void pair(const std::string& protocol, const std::optional<Bytes>& id,
              std::function<void(const std::optional<Bytes>& id)> notify);
    void unpair(const std::string& protocol, const std::optional<Bytes>& id);
    // Whether a channel of this key is open.
    bool opened(const std::string& protocol, const std::optional<Bytes>& id) const;

    // While corked, messages are collected into one batch message, sent at the last uncork.
    void cork();
    void uncork();

    std::size_t buffered_bytes() const noexcept { return m_buffered; }

private:
    friend class Channel;
    struct Info {
        std::size_t opened = 0;
        std::vector<std::uint64_t> outgoing;  // our local ids waiting for the remote's open
        std::vector<std::uint64_t> incoming;  // remote ids waiting for us
    };
    struct Remote {
        std::shared_ptr<Channel> channel;  // once paired
        Bytes handshake;                   // until paired
        std::vector<std::pair<std::uint64_t, Bytes>> pending;  // (type, payload) until paired
        std::string key;
    };
    static std::string key_of(const std::string& protocol, const std::optional<Bytes>& id);

    Status decode(std::uint64_t channel, ByteView rest);
    Status control(std::uint64_t type, ByteView body);
    Status on_open(ByteView body);
    Status on_reject(ByteView body);
    Status on_close(ByteView body);
    Status on_batch(ByteView body);
    void reject(std::uint64_t remote_id);
    void write(std::uint64_t channel, Bytes type_and_payload);
    void send_control(std::uint64_t type, ByteView body);
    std::uint64_t alloc_local(const std::shared_ptr<Channel>& channel);
    void release(Channel& channel);

    SendFn m_send;
    std::vector<std::shared_ptr<Channel>> m_local;  // by local id - 1
    std::vector<std::uint64_t> m_free;              // free local ids - 1
    std::vector<std::optional<Remote>> m_remote;    // by remote id - 1
    std::map<std::string, Info> m_infos;
    std::map<std::string, std::function<void(const std::optional<Bytes>&)>> m_notify;
    std::size_t m_buffered = 0;
    int m_corked = 0;
    std::vector<std::pair<std::uint64_t, Bytes>> m_batch;  // (channel, type || payload)
    bool m_shutdown = false;
};

}  // namespace hs::v11::protomux
