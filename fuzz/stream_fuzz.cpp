// Fuzz target: one Stream fed a remote's bytes with interleaved partial I/O (chunked receives,
// partial consume_output, ticks at advancing fake times). Two sides: either garbage in place of
// the handshake, or a real handshake (a scripted remote with fixed keys) after which the fuzz
// bytes are encrypted with the remote's cipher, so that they reach the frame and message decoders
// as chosen plaintext. The owner and channel handlers act inside callbacks (open on discovery,
// reply, close channels, fail the stream) to exercise re-entrancy.
//
// Checked: no crash/UB (ASan+UBSan), receive() fails iff the stream is closed, on_close runs
// once, no callbacks after it, and everything the stream writes decrypts to well-formed frames.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "common/crypto/capability.h"
#include "common/crypto/derive.h"
#include "v9/protocol/stream.h"

namespace {

using namespace hs;
using namespace hs::protocol;
using namespace std::chrono_literals;

#define FUZZ_CHECK(cond)           \
    do {                           \
        if (!(cond)) std::abort(); \
    } while (0)

const NoiseKeyPair& noise_key(int i) {
    static const NoiseKeyPair keys[4] = {
        noise_keypair_from_seed(Bytes(32, 0x11)), noise_keypair_from_seed(Bytes(32, 0x22)),
        noise_keypair_from_seed(Bytes(32, 0x33)), noise_keypair_from_seed(Bytes(32, 0x44))};
    return keys[i];
}

const crypto::PublicKey& core_key(int i) {
    static const crypto::PublicKey keys[2] = {
        crypto::keypair_from_seed(Bytes(32, 0xa1)).public_key,
        crypto::keypair_from_seed(Bytes(32, 0xa2)).public_key};
    return keys[i];
}

StreamNonce nonce(std::uint8_t v) {
    StreamNonce n;
    n.fill(v);
    return n;
}

struct Owner : StreamEvents, ChannelHandler {
    std::uint8_t behaviour = 0;  // bit 0: open key 1 on discovery; bit 1: reply; bit 2: close
                                 // channels on Have; bit 3: fail the stream on Data
    int closes = 0;
    bool done = false;

    void on_handshake(Stream&) override { FUZZ_CHECK(!done); }
    void on_discovery_key(Stream& s, const crypto::Hash32& dk) override {
        FUZZ_CHECK(!done);
        if ((behaviour & 1) && dk == crypto::discovery_key(core_key(1))) s.open(core_key(1), *this);
    }
    void on_stream_extension(Stream& s, std::uint64_t id, ByteView payload) override {
        FUZZ_CHECK(!done);
        if (behaviour & 2)
            s.send_stream_extension(id + 1,
                                    payload.first(std::min<std::size_t>(payload.size(), 16)));
    }
    void on_stream_options(Stream& s, const msg::Options&) override {
        FUZZ_CHECK(!done);
        if (behaviour & 2) s.send_stream_options(msg::Options{{"x"}, std::nullopt});
    }
    void on_close(Stream& s, const Error& reason) override {
        FUZZ_CHECK(!done);
        FUZZ_CHECK(s.closed() && reason.code != Errc::Ok);
        ++closes;
        done = true;
    }
    void on_remote_open(Channel& ch) override {
        FUZZ_CHECK(!done && !ch.closed() && ch.remote_opened());
        if (behaviour & 2) ch.send(msg::Want{0, 1048576});
    }
    Status on_message(Channel& ch, const msg::Message& m) override {
        FUZZ_CHECK(!done && !ch.closed());
        if ((behaviour & 2) && std::holds_alternative<msg::Want>(m))
            ch.send(msg::Have{0, 1048576, Bytes{}, std::nullopt});
        if ((behaviour & 4) && std::holds_alternative<msg::Have>(m)) ch.close();
        if ((behaviour & 8) && std::holds_alternative<msg::Data>(m))
            return make_error(Errc::VerificationFailed, "fuzz: bad data");
        return {};
    }
    void on_close(Channel& ch) override { FUZZ_CHECK(ch.closed()); }
};

// The remote side of the session: decrypts and decodes everything the stream writes.
struct Remote {
    std::optional<NoiseHandshake> hs;
    std::optional<TransportCipher> cipher;
    FrameDecoder decoder;
    std::vector<Frame> frames;

    void drain(Stream& s, std::size_t n) {
        ByteView out = s.pending_output();
        n = std::min(n, out.size());
        if (cipher) {
            Bytes wire(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
            cipher->decrypt(wire);
            frames.clear();
            FUZZ_CHECK(decoder.push(wire, frames).ok());
            for (const auto& f : frames) FUZZ_CHECK(msg::decode_message(f.type, f.body).ok());
        }
        s.consume_output(n);
    }
};

}  // namespace

// Input: byte 0 = mode, byte 1 = I/O pattern, byte 2 = owner behaviour, then the remote's bytes.
//   mode bit 0: the stream is the responder (else the initiator)
//   mode bit 1: real handshake first, then the bytes as transport plaintext (else raw garbage
//               in place of the handshake)
//   mode bit 2: after the handshake, the remote first opens both core keys honestly (valid
//               capabilities) on its channels 1 and 2
//   mode bits 3-5: receive chunk size (0 = all at once, else 2^(k-1))
//   mode bit 6: the honest Open for core key 0 carries a corrupted capability
//   pattern: bits 0-3 the share of output consumed after each chunk (in 16ths), bits 4-7 the
//            seconds between ticks
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::uint8_t mode = data[0];
    const std::uint8_t pattern = data[1];
    Owner owner;
    owner.behaviour = data[2];
    const ByteView input(data + 3, size - 3);

    const bool responder = mode & 1;
    const bool handshake_first = mode & 2;
    const std::size_t chunk_bits = (mode >> 3) & 7;
    const std::size_t chunk = chunk_bits == 0 ? 0 : std::size_t{1} << (chunk_bits - 1);
    const std::size_t consume_16ths = pattern & 15;
    const auto tick_step = std::chrono::seconds((pattern >> 4) & 15);

    Clock::time_point now{};
    StreamOptions options;
    options.initiator = !responder;
    options.static_keys = noise_key(0);
    options.nonce = nonce(0x55);
    options.ephemeral_keys = noise_key(2);
    Stream stream(options, owner, now);
    Remote remote;

    // The owner opens core key 0 before the handshake (held and flushed after it).
    Channel* ch0 = stream.open(core_key(0), owner);
    FUZZ_CHECK(ch0 != nullptr && ch0->local_id() == 1);
    ch0->send(msg::PeerStatus{true, false});

    Bytes wire;
    if (handshake_first) {
        remote.hs.emplace(responder
                              ? NoiseHandshake::initiator(noise_key(1), nonce(0x66), noise_key(3))
                              : NoiseHandshake::responder(noise_key(1), nonce(0x66), noise_key(3)));
        Bytes to_stream = remote.hs->take_output();
        for (int i = 0; i < 4 && !remote.hs->done(); ++i) {
            if (!to_stream.empty()) FUZZ_CHECK(stream.receive(to_stream, now).ok());
            const ByteView out = stream.pending_output();
            auto r = remote.hs->receive(out);
            // The initiator's held frames follow its m3: they stay pending for drain().
            FUZZ_CHECK(r.ok() && (*r == out.size() || (remote.hs->done() && *r < out.size())));
            stream.consume_output(*r);
            to_stream = remote.hs->take_output();
        }
        FUZZ_CHECK(remote.hs->done());
        if (!to_stream.empty()) FUZZ_CHECK(stream.receive(to_stream, now).ok());
        FUZZ_CHECK(stream.handshake_done());
        remote.cipher.emplace(remote.hs->transport_cipher());

        if (mode & 4) {
            for (int k = 0; k < 2; ++k) {
                auto cap = crypto::capability(core_key(k), remote.hs->split());
                if (k == 0 && (mode & 0x40)) cap[0] ^= 1;
                const auto dk = crypto::discovery_key(core_key(k));
                msg::encode_frame(
                    wire, static_cast<std::uint64_t>(k + 1),
                    msg::Open{Bytes(dk.begin(), dk.end()), Bytes(cap.begin(), cap.end())});
            }
        }
        append_bytes(wire, input);
        remote.cipher->encrypt(wire);
    } else {
        wire.assign(input.begin(), input.end());
    }

    std::size_t pos = 0;
    while (pos < wire.size() && !stream.closed()) {
        const std::size_t n = chunk == 0 ? wire.size() - pos : std::min(chunk, wire.size() - pos);
        const Status st = stream.receive(ByteView(wire).subspan(pos, n), now);
        FUZZ_CHECK(st.ok() != stream.closed());
        pos += n;
        // A closed channel stays valid only until the next receive()/tick().
        if (ch0 != nullptr && ch0->closed()) ch0 = nullptr;
        FUZZ_CHECK(stream.output_bytes() >= stream.pending_output().size());
        remote.drain(stream, stream.pending_output().size() * consume_16ths / 16);
        now += tick_step;
        const Clock::time_point next = stream.tick(now);
        FUZZ_CHECK(stream.closed() ? next == Clock::time_point::max() : next > now);
        if (ch0 != nullptr && ch0->closed()) ch0 = nullptr;
        // Local activity between reads.
        if (ch0 != nullptr) ch0->send(msg::Unwant{pos, 1});
    }
    remote.drain(stream, stream.pending_output().size());
    if (stream.closed()) {
        FUZZ_CHECK(owner.closes == 1);
        FUZZ_CHECK(!stream.receive(ByteView(data, 1), now).ok());
        FUZZ_CHECK(stream.channel_count() == 0);
    } else {
        FUZZ_CHECK(owner.closes == 0);
        stream.close(make_error(Errc::Closed, "fuzz: done"));
        FUZZ_CHECK(owner.closes == 1);
    }
    return 0;
}
