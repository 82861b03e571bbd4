#include "client/client_core.h"

#include <utility>

namespace hs::client {

void ClientCore::call_raw(rpc::Method method, ByteView payload, Reply reply) {
    if (m_closed) {
        reply(false, {}, CallError{m_close_reason, {}, false});
        return;
    }
    const auto& info = rpc::method_info(method);
    const std::uint64_t id = m_next_id++;
    rpc::encode_frame(m_output.tail(),
                      rpc::FrameHeader{rpc::FrameType::Request,
                                       static_cast<std::uint64_t>(info.service), info.id, id},
                      payload);
    m_pending.emplace(id, std::move(reply));
    if (on_output) on_output();
}

void ClientCore::send_raw(rpc::Method method, ByteView payload) {
    if (m_closed) return;
    const auto& info = rpc::method_info(method);
    rpc::encode_frame(m_output.tail(),
                      rpc::FrameHeader{rpc::FrameType::Request,
                                       static_cast<std::uint64_t>(info.service), info.id, 0},
                      payload);
    if (on_output) on_output();
}

void ClientCore::consume_output(std::size_t n) { m_output.consume(n); }

Status ClientCore::receive(ByteView bytes) {
    if (m_closed) return make_error(Errc::Closed, "{}", m_close_reason);
    m_frames.clear();
    const Status st = m_decoder.receive(bytes, m_frames);
    // The frames completed before a bad byte are still delivered.
    std::vector<rpc::Frame> frames = std::move(m_frames);
    m_frames.clear();
    for (auto& f : frames) {
        if (m_closed) break;
        handle(f);
    }
    if (!st) {
        close("the daemon sent a malformed RPC frame: " + st.error().message);
        return st.error();
    }
    return {};
}

void ClientCore::handle(rpc::Frame& frame) {
    const rpc::FrameHeader& h = frame.header;
    if (h.type == rpc::FrameType::Request) {
        const rpc::MethodInfo* info = rpc::find_method(h.service, h.method);
        // Unknown events (a newer daemon) are skipped, as the JS client does.
        if (info && info->direction == rpc::Direction::ServerToClient && on_event)
            on_event(info->method, frame.payload);
        return;
    }
    if (h.type == rpc::FrameType::Reserved) return;
    auto it = m_pending.find(h.id);
    if (it == m_pending.end()) return;  // a reply to nothing we asked: ignored
    Reply reply = std::move(it->second);
    m_pending.erase(it);
    if (h.type == rpc::FrameType::Error) {
        ByteView in = frame.payload;
        auto err = rpc::RPCError::decode(in);
        CallError e;
        e.from_daemon = true;
        if (err) {
            e.message = err->message;
            e.rpc_code = err->code.value_or("");
        } else {
            e.message = "the daemon sent an undecodable error";
        }
        reply(false, {}, std::move(e));
        return;
    }
    reply(true, std::move(frame.payload), {});
}

void ClientCore::close(const std::string& reason) {
    if (m_closed) return;
    m_closed = true;
    m_close_reason = reason;
    auto pending = std::move(m_pending);
    m_pending.clear();
    for (auto& [id, reply] : pending) reply(false, {}, CallError{reason, {}, false});
}

}  // namespace hs::client
