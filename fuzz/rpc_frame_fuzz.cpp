// Fuzz target: the RPC frame decoder (docs/formats/rpc.md "Framing"). Decoding must never crash,
// must give the same frames and the same error whether the input arrives whole or in pieces,
// and every decoded frame must re-encode to bytes that decode to the same frame. Payloads of
// known methods are also run through their message decoder and round-tripped.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "rpc/framing.h"
#include "rpc/messages.h"
#include "rpc/methods.h"

namespace {

using namespace hs;
using namespace hs::rpc;

void check_payload(const Frame& frame) {
    const MethodInfo* method = find_method(frame.header.service, frame.header.method);
    if (!method) return;
    MessageKind type = method->request;
    if (frame.header.type == FrameType::Response) type = method->response;
    if (frame.header.type == FrameType::Error) type = MessageKind::RPCError;
    auto decoded = decode_any(type, frame.payload);
    if (!decoded) return;
    Bytes again;
    encode_any(*decoded, again);
    auto round = decode_any(type, again);
    if (!round || !(*round == *decoded)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    const FrameDecoderOptions options{1 << 16};

    FrameDecoder whole(options);
    std::vector<Frame> frames;
    const Status whole_status = whole.receive(input, frames);

    // The same bytes in pieces whose sizes come from the input itself.
    FrameDecoder pieces(options);
    std::vector<Frame> piece_frames;
    Status piece_status;
    for (std::size_t i = 0; i < size && piece_status.ok();) {
        const std::size_t n = std::min<std::size_t>(size - i, (data[i] % 13) + 1);
        piece_status = pieces.receive(input.subspan(i, n), piece_frames);
        i += n;
    }
    if (whole_status.ok() != piece_status.ok()) std::abort();
    if (!whole_status.ok() && (whole_status.error().code != piece_status.error().code ||
                               whole_status.error().message != piece_status.error().message)) {
        std::abort();
    }
    if (frames != piece_frames) std::abort();
    if (whole_status.ok() != !whole.failed()) std::abort();

    for (const auto& frame : frames) {
        if (frame.payload.size() > options.max_payload_bytes) std::abort();
        Bytes encoded;
        encode_frame(encoded, frame.header, frame.payload);
        FrameDecoder again(options);
        std::vector<Frame> round;
        if (!again.receive(encoded, round).ok() || round.size() != 1 || !(round[0] == frame) ||
            !again.idle()) {
            std::abort();
        }
        check_payload(frame);
    }
    return 0;
}
