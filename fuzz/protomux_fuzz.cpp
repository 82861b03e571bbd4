// Fuzz target: protomux (src/v11/protomux) fed arbitrary transport messages, as a remote would
// send them: opens, rejects, closes, batches and channel messages in any order. Our side has
// channels of its own (some opened, some not) and a pair handler that accepts every remote
// open. Invariants: nothing crashes; a failed receive is Errc::Protocol; after shutdown every
// channel that was opened is closed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "v11/protomux/protomux.h"
#include "fuzz_check.h"

namespace {
namespace pm = hs::v11::protomux;
using hs::Bytes;
using hs::ByteView;

using hs::fuzz::require;

pm::ChannelOptions options(const char* protocol, std::uint8_t id) {
    pm::ChannelOptions o;
    o.protocol = protocol;
    o.id = Bytes{id};
    o.message_types = 3;
    o.on_message = [](std::size_t type, ByteView) { require(type < 3); };
    return o;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::size_t sent = 0;
    pm::Mux mux([&](Bytes m) {
        require(!m.empty());
        ++sent;
    });
    std::vector<std::shared_ptr<pm::Channel>> ours;
    for (std::uint8_t i = 0; i < 4; ++i) {
        ours.push_back(mux.create_channel(options(i % 2 ? "p" : "q", i)));
        if (i < 3) ours.back()->open();
    }
    mux.pair("p", std::nullopt, [&](const std::optional<Bytes>& id) {
        auto ch = mux.create_channel(options("p", id && !id->empty() ? (*id)[0] : 0), false);
        if (ch) {
            ch->open();
            ours.push_back(ch);
        }
    });
    // The input is a sequence of messages: one length byte, then that many bytes.
    std::size_t i = 0;
    while (i < size) {
        const std::size_t declared = data[i];
        ++i;
        const std::size_t n = std::min(declared, size - i);
        const auto st = mux.receive(ByteView(data + i, n));
        if (!st) require(st.error().code == hs::Errc::Protocol);
        i += n;
        if (n > 0 && data[i - 1] == 0xee && !ours.empty()) ours.front()->close();
    }
    mux.shutdown();
    // Channels that sent their open are closed (one never opened is not the mux's, as in JS).
    for (auto& ch : ours)
        if (ch && ch->local_id() != 0) require(ch->closed());
    return 0;
}
