#include "v11/protomux/protomux.h"

#include <algorithm>

#include "common/util/hex.h"
#include "v11/compact/compact.h"

namespace hs::v11::protomux {
namespace {

namespace c = compact;

void put_uint(Bytes& out, std::uint64_t v) {
    c::EncodeState s;
    c::Uint::preencode(s, v);
    const std::size_t at = out.size();
    out.resize(at + s.end);
    s.buffer = out.data() + at;
    c::Uint::encode(s, v);
}

void put_buffer(Bytes& out, ByteView b) {
    put_uint(out, b.size());
    append_bytes(out, b);
}

ByteView rest_of(const c::DecodeState& s) { return ByteView(s.buffer + s.start, s.end - s.start); }

Error protocol_error(std::string what) { return Error{Errc::Protocol, "protomux: " + std::move(what)}; }

}  // namespace

// ---- Channel ----

void Channel::open() {
    if (!m_mux || m_open_sent || m_closed) return;
    m_open_sent = true;
    Mux& mux = *m_mux;
    m_local_id = mux.alloc_local(shared_from_this());
    Mux::Info& info = mux.m_infos[Mux::key_of(m_options.protocol, m_options.id)];
    ++info.opened;
    if (m_remote_id == 0) info.outgoing.push_back(m_local_id);
    Bytes body;
    put_uint(body, 1);  // control type: open
    put_uint(body, m_local_id);
    put_buffer(body, as_bytes(m_options.protocol));
    put_buffer(body, m_options.id ? ByteView(*m_options.id) : ByteView());
    append_bytes(body, m_options.handshake);
    mux.write(0, std::move(body));
    if (m_remote_id != 0) {
        // Paired with a remote open that waited for us: open now, with what it sent meanwhile.
        auto& remote = mux.m_remote[m_remote_id - 1];
        if (remote) fully_open(remote->handshake);
    }
}

void Channel::fully_open(ByteView remote_handshake) {
    if (m_opened || m_closed || !m_mux) return;
    m_opened = true;
    const Bytes handshake(remote_handshake.begin(), remote_handshake.end());
    if (m_options.on_open) m_options.on_open(handshake);
    if (!m_mux || m_remote_id == 0) return;
    auto& remote = m_mux->m_remote[m_remote_id - 1];
    if (!remote) return;
    auto pending = std::move(remote->pending);
    remote->pending.clear();
    remote->handshake.clear();
    for (auto& [type, payload] : pending) {
        m_mux->m_buffered -= payload.size();
        if (m_closed) continue;
        if (type < m_options.message_types && m_options.on_message) m_options.on_message(type, payload);
    }
}

bool Channel::send(std::size_t type, ByteView payload) {
    if (!m_mux || m_closed || !m_open_sent || type >= m_options.message_types) return false;
    Bytes body;
    put_uint(body, type);
    append_bytes(body, payload);
    m_mux->write(m_local_id, std::move(body));
    return true;
}

void Channel::close() {
    if (!m_mux || m_closed) return;
    if (m_open_sent) {
        Bytes body;
        put_uint(body, 3);  // control type: close
        put_uint(body, m_local_id);
        Mux* mux = m_mux;
        closed_by(false);
        mux->write(0, std::move(body));
        return;
    }
    closed_by(false);
}

void Channel::closed_by(bool remote) {
    if (m_closed) return;
    m_closed = true;
    if (m_mux) m_mux->release(*this);
    if (m_options.on_close) m_options.on_close(remote);
}

// ---- Mux ----

Mux::~Mux() {
    for (auto& ch : m_local)
        if (ch) ch->m_mux = nullptr;
    for (auto& r : m_remote)
        if (r && r->channel) r->channel->m_mux = nullptr;
}

std::string Mux::key_of(const std::string& protocol, const std::optional<Bytes>& id) {
    return protocol + "##" + (id && !id->empty() ? to_hex(*id) : std::string());
}

std::uint64_t Mux::alloc_local(const std::shared_ptr<Channel>& channel) {
    std::uint64_t index;
    if (!m_free.empty()) {
        index = m_free.back();
        m_free.pop_back();
        m_local[index] = channel;
    } else {
        index = m_local.size();
        m_local.push_back(channel);
    }
    return index + 1;
}

void Mux::release(Channel& ch) {
    if (ch.m_open_sent) {
        Info& info = m_infos[key_of(ch.m_options.protocol, ch.m_options.id)];
        if (info.opened) --info.opened;
    }
    if (ch.m_remote_id > 0) {
        // The remote knows both ids: ours can be reused at once.
        m_remote[ch.m_remote_id - 1].reset();
        ch.m_remote_id = 0;
        if (ch.m_local_id > 0) m_free.push_back(ch.m_local_id - 1);
    }
    // Without a remote id, our id stays taken until the remote's open or reject arrives.
    if (ch.m_local_id > 0) m_local[ch.m_local_id - 1].reset();
}

std::shared_ptr<Channel> Mux::create_channel(ChannelOptions options, bool unique) {
    if (m_shutdown) return nullptr;
    const std::string key = key_of(options.protocol, options.id);
    Info& info = m_infos[key];
    if (unique && info.opened > 0) return nullptr;
    std::shared_ptr<Channel> ch(new Channel(*this, std::move(options)));
    while (!info.incoming.empty()) {
        const std::uint64_t remote_id = info.incoming.front();
        info.incoming.erase(info.incoming.begin());
        auto& r = m_remote[remote_id - 1];
        if (!r) continue;
        ch->m_remote_id = remote_id;
        r->channel = ch;
        break;
    }
    return ch;
}

void Mux::pair(const std::string& protocol, const std::optional<Bytes>& id,
               std::function<void(const std::optional<Bytes>&)> notify) {
    m_notify[key_of(protocol, id)] = std::move(notify);
}

void Mux::unpair(const std::string& protocol, const std::optional<Bytes>& id) {
    m_notify.erase(key_of(protocol, id));
}

bool Mux::opened(const std::string& protocol, const std::optional<Bytes>& id) const {
    auto it = m_infos.find(key_of(protocol, id));
    return it != m_infos.end() && it->second.opened > 0;
}

void Mux::cork() { ++m_corked; }

void Mux::uncork() {
    if (m_corked == 0 || --m_corked > 0) return;
    if (m_batch.empty()) return;
    Bytes out;
    put_uint(out, 0);  // channel 0
    put_uint(out, 0);  // control type: batch
    std::uint64_t prev = m_batch.front().first;
    put_uint(out, prev);
    for (auto& [channel, body] : m_batch) {
        if (channel != prev) {
            out.push_back(0);
            put_uint(out, prev = channel);
        }
        put_buffer(out, body);
    }
    m_batch.clear();
    m_send(std::move(out));
}

void Mux::write(std::uint64_t channel, Bytes type_and_payload) {
    if (m_corked > 0) {
        m_batch.emplace_back(channel, std::move(type_and_payload));
        return;
    }
    Bytes out;
    put_uint(out, channel);
    append_bytes(out, type_and_payload);
    m_send(std::move(out));
}

void Mux::reject(std::uint64_t remote_id) {
    if (remote_id > 0 && remote_id <= m_remote.size()) {
        auto& r = m_remote[remote_id - 1];
        if (r)
            for (auto& p : r->pending) m_buffered -= p.second.size();
        r.reset();
    }
    Bytes body;
    put_uint(body, 2);  // control type: reject
    put_uint(body, remote_id);
    write(0, std::move(body));
}

Status Mux::receive(ByteView message) {
    if (message.empty() || m_shutdown) return {};  // JS ignores empty messages
    c::DecodeState s(message);
    auto channel = c::Uint::decode(s);
    if (!channel) return protocol_error("bad channel number: " + channel.error().message);
    return decode(*channel, rest_of(s));
}

Status Mux::decode(std::uint64_t channel, ByteView rest) {
    c::DecodeState s(rest);
    auto type = c::Uint::decode(s);
    if (!type) return protocol_error("bad message type: " + type.error().message);
    const ByteView payload = rest_of(s);
    if (channel == 0) return control(*type, payload);
    if (channel > m_remote.size()) return {};  // not (or no longer) open: ignored
    auto& r = m_remote[channel - 1];
    if (!r) return {};
    if (!r->channel || !r->channel->m_opened) {
        if (m_buffered + payload.size() > kMaxBuffered)
            return protocol_error("more than 4 MiB of messages for channels not yet open");
        m_buffered += payload.size();
        r->pending.emplace_back(*type, Bytes(payload.begin(), payload.end()));
        return {};
    }
    auto ch = r->channel;  // the handler may close it
    if (*type < ch->m_options.message_types && ch->m_options.on_message)
        ch->m_options.on_message(static_cast<std::size_t>(*type), payload);
    return {};
}

Status Mux::control(std::uint64_t type, ByteView body) {
    switch (type) {
        case 0: return on_batch(body);
        case 1: return on_open(body);
        case 2: return on_reject(body);
        case 3: return on_close(body);
        default: return {};  // unknown control messages are ignored
    }
}

Status Mux::on_batch(ByteView body) {
    c::DecodeState s(body);
    auto channel = c::Uint::decode(s);
    if (!channel) return protocol_error("bad batch: " + channel.error().message);
    std::uint64_t remote_id = *channel;
    while (s.remaining() > 0) {
        auto len = c::Uint::decode(s);
        if (!len) return protocol_error("bad batch: " + len.error().message);
        if (*len == 0) {
            auto next = c::Uint::decode(s);
            if (!next) return protocol_error("bad batch: " + next.error().message);
            remote_id = *next;
            continue;
        }
        auto item = s.take(*len, "batch item");
        if (!item) return protocol_error("bad batch: " + item.error().message);
        HS_TRY(decode(remote_id, *item));
        if (m_shutdown) break;
    }
    return {};
}

Status Mux::on_open(ByteView body) {
    c::DecodeState s(body);
    auto remote_id = c::Uint::decode(s);
    if (!remote_id) return protocol_error("bad open: " + remote_id.error().message);
    auto protocol = c::String::decode(s);
    if (!protocol) return protocol_error("bad open: " + protocol.error().message);
    auto id_view = c::OptionalBuffer::decode(s);
    if (!id_view) return protocol_error("bad open: " + id_view.error().message);
    const ByteView handshake = rest_of(s);
    std::optional<Bytes> id;
    if (*id_view) id = Bytes((*id_view)->begin(), (*id_view)->end());
    if (*remote_id == 0) {
        reject(0);  // the control channel cannot be opened
        return {};
    }
    const std::uint64_t rid = *remote_id - 1;
    if (rid == m_remote.size()) m_remote.emplace_back();  // ids grow one at a time
    if (rid >= m_remote.size() || m_remote[rid])
        return protocol_error("invalid open message: channel " + std::to_string(*remote_id) +
                              " is not the next free one");
    const std::string key = key_of(*protocol, id);
    Info& info = m_infos[key];
    if (!info.outgoing.empty()) {
        const std::uint64_t local_id = info.outgoing.front();
        info.outgoing.erase(info.outgoing.begin());
        auto ch = m_local[local_id - 1];
        if (!ch) {
            m_free.push_back(local_id - 1);  // we closed it meanwhile: its id is free now
            return {};
        }
        m_remote[rid] = Remote{ch, {}, {}, key};
        ch->m_remote_id = *remote_id;
        ch->fully_open(handshake);
        return {};
    }
    m_remote[rid] = Remote{nullptr, Bytes(handshake.begin(), handshake.end()), {}, key};
    info.incoming.push_back(*remote_id);
    auto notify = m_notify.find(key);
    if (notify == m_notify.end()) notify = m_notify.find(key_of(*protocol, std::nullopt));
    if (notify != m_notify.end()) {
        auto fn = notify->second;  // it may unpair
        fn(id);
    }
    // Nobody took it: reject what still waits for this key.
    Info& after = m_infos[key];
    while (!after.incoming.empty()) {
        const std::uint64_t waiting = after.incoming.front();
        after.incoming.erase(after.incoming.begin());
        reject(waiting);
    }
    return {};
}

Status Mux::on_reject(ByteView body) {
    c::DecodeState s(body);
    auto local_id = c::Uint::decode(s);
    if (!local_id) return protocol_error("bad reject: " + local_id.error().message);
    for (auto& [key, info] : m_infos) {
        auto it = std::find(info.outgoing.begin(), info.outgoing.end(), *local_id);
        if (it == info.outgoing.end()) continue;
        info.outgoing.erase(it);
        auto ch = m_local[*local_id - 1];
        m_free.push_back(*local_id - 1);
        if (ch) ch->closed_by(true);
        return {};
    }
    return protocol_error("invalid reject message: channel " + std::to_string(*local_id) +
                          " was not waiting");
}

Status Mux::on_close(ByteView body) {
    c::DecodeState s(body);
    auto remote_id = c::Uint::decode(s);
    if (!remote_id) return protocol_error("bad close: " + remote_id.error().message);
    if (*remote_id == 0 || *remote_id > m_remote.size()) return {};
    auto& r = m_remote[*remote_id - 1];
    if (r && r->channel) {
        auto ch = r->channel;
        ch->closed_by(true);
    }
    return {};
}

void Mux::shutdown() {
    if (m_shutdown) return;
    m_shutdown = true;
    auto local = m_local;
    for (auto& ch : local)
        if (ch) ch->closed_by(true);
    for (auto& r : m_remote)
        if (r && r->channel) r->channel->closed_by(true);
}

}  // namespace hs::v11::protomux
