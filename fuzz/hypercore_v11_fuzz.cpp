// Fuzz target: the hypercore/alpha message, manifest and multisig decoders
// (src/v11/hypercore, docs/formats/hypercore-v11.md) and the Verifier on arbitrary bytes. The
// first byte picks the decoder, the rest is the body. A decoder either throws
// compact::DecodeError (nothing else) or returns a value that re-encodes to bytes which decode to
// an equal value and re-encode to themselves (a fixed point). The Verifier never throws and never
// accepts a signature it was not given keys for. Seeds: fuzz/make_hypercore_v11_seeds.py writes
// fuzz/corpus/hypercore_v11/ from tests/fixtures/v11/hypercore.json.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/messages.h"
#include "v11/hypercore/multisig.h"

namespace {

namespace hc = hs::v11::hypercore;
namespace w = hs::v11::hypercore::wire;
using hs::Bytes;
using hs::ByteView;
using hs::fuzz::require;

template <typename Decode, typename Encode>
void round_trip(ByteView body, Decode decode, Encode encode) {
    try {
        const auto value = decode(body);
        const Bytes once = encode(value);
        const auto again = decode(ByteView(once));
        require(again == value);
        require(encode(again) == once);
    } catch (const hs::v11::compact::DecodeError& e) {
        require(!e.error().message.empty());
    }
}

// A 2-of-3 version-1 manifest and a version-0 one whose signers nobody holds keys for here.
hc::Manifest multi(std::uint64_t version) {
    hc::Manifest m;
    m.version = version;
    m.quorum = 2;
    for (std::uint8_t i = 1; i <= 3; ++i) {
        hc::ManifestSigner s;
        s.namespace_.fill(i);
        s.public_key.fill(static_cast<std::uint8_t>(0x40 + i));
        m.signers.push_back(s);
    }
    return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const ByteView body(data + 1, size - 1);
    switch (data[0] % 16) {
        case 0:
            round_trip(body, w::decode_handshake,
                       [](const w::Handshake& m) { return w::encode(m); });
            break;
        case 1:
            round_trip(body, w::decode_sync, [](const w::Sync& m) { return w::encode(m); });
            break;
        case 2:
            round_trip(body, w::decode_request, [](const w::Request& m) { return w::encode(m); });
            break;
        case 3:
            round_trip(body, w::decode_cancel, [](const w::Cancel& m) { return w::encode(m); });
            break;
        case 4:
            round_trip(body, w::decode_data, [](const w::Data& m) { return w::encode(m); });
            break;
        case 5:
            round_trip(body, w::decode_no_data, [](const w::NoData& m) { return w::encode(m); });
            break;
        case 6:
            round_trip(body, w::decode_want, w::encode_want);
            break;
        case 7:
            round_trip(body, w::decode_unwant, w::encode_unwant);
            break;
        case 8:
            round_trip(body, w::decode_bitfield, [](const w::Bitfield& m) { return w::encode(m); });
            break;
        case 9:
            round_trip(body, w::decode_range, [](const w::Range& m) { return w::encode(m); });
            break;
        case 10:
            round_trip(body, w::decode_extension,
                       [](const w::Extension& m) { return w::encode(m); });
            break;
        case 11:
            round_trip(body, hc::decode_manifest, hc::encode_manifest);
            break;
        case 12:
            round_trip(body, hc::multisig::decode, hc::multisig::encode);
            break;
        case 13:
            round_trip(body, hc::multisig::decode_v0, hc::multisig::encode_v0);
            break;
        default: {
            // The Verifier on a fuzzed signature (and fuzzed head): no keys, so never valid.
            static const hc::Manifest v1 = multi(1), v0 = multi(0);
            static const hc::Verifier a(hc::manifest_hash(v1), v1, false);
            static const hc::Verifier b(hc::manifest_hash(v0), v0, false);
            static const hc::Verifier compat = hc::Verifier::for_key(
                v1.signers[0].public_key, hc::compat_manifest(v1.signers[0].public_key));
            hc::Hash tree{};
            const std::size_t n = body.size() < 32 ? body.size() : 32;
            for (std::size_t i = 0; i < n; ++i) tree[i] = body[i];
            const std::uint64_t length = body.size();
            const hc::Verifier& v = data[0] % 16 == 14 ? a : b;
            require(!v.verify(tree, length, 0, body));
            require(!compat.verify(tree, length, 1, body));
            break;
        }
    }
    return 0;
}
