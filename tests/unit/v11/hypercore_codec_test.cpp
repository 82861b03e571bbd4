// The hypercore/alpha message codec, manifests, keys and the Verifier against the pinned JS
// hypercore 11.37.1: every case of tests/fixtures/v11/hypercore.json (written by make_hypercore.js
// beside it, whose header describes the JSON forms) encodes to JS's bytes and decodes to JS's
// value, or fails where JS throws; every prefix of every encoding decodes exactly when JS decodes
// it; bit-flipped encodings decode or throw, and what decodes re-encodes to an equal value.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/crypto/sign.h"
#include "common/util/hex.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/messages.h"
#include "v11/hypercore/multisig.h"

namespace hs::v11::hypercore {
namespace {

using nlohmann::json;

const json& fixture() {
    static const json j = [] {
        std::ifstream in(HS_V11_FIXTURES "/hypercore.json");
        if (!in) throw std::runtime_error("cannot open " HS_V11_FIXTURES "/hypercore.json");
        return json::parse(in);
    }();
    return j;
}

Bytes bytes(const json& j) {
    auto b = from_hex(j.get<std::string>());
    if (!b) throw std::runtime_error("bad hex in fixture: " + j.dump());
    return *b;
}
template <std::size_t N>
ByteArray<N> fixed(const json& j) {
    const Bytes b = bytes(j);
    if (b.size() != N) throw std::runtime_error("wrong width in fixture: " + j.dump());
    ByteArray<N> out;
    std::copy(b.begin(), b.end(), out.begin());
    return out;
}
json hex(ByteView b) { return to_hex(b); }
std::uint64_t u(const json& j) { return j.get<std::uint64_t>(); }

// ---- JSON <-> values (the forms make_hypercore.js writes) ------------------------------------

json to_json(const TreeNode& n) {
    return {{"index", n.index}, {"size", n.size}, {"hash", hex(n.hash)}};
}
TreeNode node_of(const json& j) { return {u(j["index"]), u(j["size"]), fixed<32>(j["hash"])}; }
json to_json(const std::vector<TreeNode>& v) {
    json out = json::array();
    for (const auto& n : v) out.push_back(to_json(n));
    return out;
}
std::vector<TreeNode> nodes_of(const json& j) {
    std::vector<TreeNode> out;
    for (const auto& n : j) out.push_back(node_of(n));
    return out;
}

json to_json(const Manifest& m) {
    json signers = json::array();
    for (const auto& s : m.signers) {
        signers.push_back({{"signature", s.signature},
                           {"namespace", hex(s.namespace_)},
                           {"publicKey", hex(s.public_key)}});
    }
    json linked = nullptr;
    if (m.linked) {
        linked = json::array();
        for (const auto& h : *m.linked) linked.push_back(hex(h));
    }
    return {{"version", m.version},
            {"hash", m.hash},
            {"allowPatch", m.allow_patch},
            {"quorum", m.quorum},
            {"signers", signers},
            {"prologue", m.prologue
                             ? json{{"hash", hex(m.prologue->hash)}, {"length", m.prologue->length}}
                             : json(nullptr)},
            {"linked", linked},
            {"userData", m.user_data ? hex(*m.user_data) : json(nullptr)}};
}
Manifest manifest_of(const json& j) {
    Manifest m;
    m.version = u(j["version"]);
    m.hash = u(j["hash"]);
    m.allow_patch = j["allowPatch"].get<bool>();
    m.quorum = u(j["quorum"]);
    for (const auto& s : j["signers"]) {
        m.signers.push_back(
            {u(s["signature"]), fixed<32>(s["namespace"]), fixed<32>(s["publicKey"])});
    }
    if (!j["prologue"].is_null())
        m.prologue = ManifestPrologue{fixed<32>(j["prologue"]["hash"]), u(j["prologue"]["length"])};
    if (!j["linked"].is_null()) {
        m.linked.emplace();
        for (const auto& h : j["linked"]) m.linked->push_back(fixed<32>(h));
    }
    if (!j["userData"].is_null()) m.user_data = bytes(j["userData"]);
    return m;
}

template <typename T>
json opt(const std::optional<T>& v, const std::function<json(const T&)>& f) {
    return v ? f(*v) : json(nullptr);
}
json pair(const char* a, std::uint64_t x, const char* b, std::uint64_t y) {
    return {{a, x}, {b, y}};
}

json to_json(const wire::Handshake& m) {
    return {{"seeks", m.seeks}, {"capability", hex(m.capability)}};
}
wire::Handshake handshake_of(const json& j) {
    return {j["seeks"].get<bool>(), fixed<32>(j["capability"])};
}

json to_json(const wire::Sync& m) {
    return {{"fork", m.fork},
            {"length", m.length},
            {"remoteLength", m.remote_length},
            {"canUpgrade", m.can_upgrade},
            {"uploading", m.uploading},
            {"downloading", m.downloading},
            {"hasManifest", m.has_manifest},
            {"allowPush", m.allow_push}};
}
wire::Sync sync_of(const json& j) {
    return {u(j["fork"]),
            u(j["length"]),
            u(j["remoteLength"]),
            j["canUpgrade"].get<bool>(),
            j["uploading"].get<bool>(),
            j["downloading"].get<bool>(),
            j["hasManifest"].get<bool>(),
            j["allowPush"].get<bool>()};
}

json to_json(const wire::Request& m) {
    const ProofRequest& p = m.proof;
    auto block = [](const RequestBlock& b) { return pair("index", b.index, "nodes", b.nodes); };
    return {{"id", m.id},
            {"fork", p.fork},
            {"block", opt<RequestBlock>(p.block, block)},
            {"hash", opt<RequestBlock>(p.hash, block)},
            {"seek", opt<RequestSeek>(p.seek,
                                      [](const RequestSeek& s) {
                                          return pair("bytes", s.bytes, "padding", s.padding);
                                      })},
            {"upgrade", opt<RequestUpgrade>(p.upgrade,
                                            [](const RequestUpgrade& s) {
                                                return pair("start", s.start, "length", s.length);
                                            })},
            {"manifest", p.manifest},
            {"priority", m.priority}};
}
wire::Request request_of(const json& j) {
    wire::Request m;
    m.id = u(j["id"]);
    m.proof.fork = u(j["fork"]);
    if (!j["block"].is_null())
        m.proof.block = RequestBlock{u(j["block"]["index"]), u(j["block"]["nodes"])};
    if (!j["hash"].is_null())
        m.proof.hash = RequestBlock{u(j["hash"]["index"]), u(j["hash"]["nodes"])};
    if (!j["seek"].is_null())
        m.proof.seek = RequestSeek{u(j["seek"]["bytes"]), u(j["seek"]["padding"])};
    if (!j["upgrade"].is_null())
        m.proof.upgrade = RequestUpgrade{u(j["upgrade"]["start"]), u(j["upgrade"]["length"])};
    m.proof.manifest = j["manifest"].get<bool>();
    m.priority = u(j["priority"]);
    return m;
}

json to_json(const wire::Data& m) {
    const Proof& p = m.proof;
    return {{"request", m.request},
            {"fork", p.fork},
            {"block", opt<DataBlock>(p.block,
                                     [](const DataBlock& b) {
                                         return json{{"index", b.index},
                                                     {"value", hex(b.value)},
                                                     {"nodes", to_json(b.nodes)}};
                                     })},
            {"hash", opt<DataHash>(p.hash,
                                   [](const DataHash& b) {
                                       return json{{"index", b.index}, {"nodes", to_json(b.nodes)}};
                                   })},
            {"seek", opt<DataSeek>(p.seek,
                                   [](const DataSeek& b) {
                                       return json{{"bytes", b.bytes}, {"nodes", to_json(b.nodes)}};
                                   })},
            {"upgrade", opt<DataUpgrade>(
                            p.upgrade,
                            [](const DataUpgrade& b) {
                                return json{{"start", b.start},
                                            {"length", b.length},
                                            {"nodes", to_json(b.nodes)},
                                            {"additionalNodes", to_json(b.additional_nodes)},
                                            {"signature", b.signature.empty() ? json(nullptr)
                                                                              : hex(b.signature)}};
                            })},
            {"manifest", opt<Manifest>(p.manifest, [](const Manifest& x) { return to_json(x); })}};
}
wire::Data data_of(const json& j) {
    wire::Data m;
    Proof& p = m.proof;
    m.request = u(j["request"]);
    p.fork = u(j["fork"]);
    if (const auto& b = j["block"]; !b.is_null())
        p.block = DataBlock{u(b["index"]), bytes(b["value"]), nodes_of(b["nodes"])};
    if (const auto& b = j["hash"]; !b.is_null())
        p.hash = DataHash{u(b["index"]), nodes_of(b["nodes"])};
    if (const auto& b = j["seek"]; !b.is_null())
        p.seek = DataSeek{u(b["bytes"]), nodes_of(b["nodes"])};
    if (const auto& b = j["upgrade"]; !b.is_null()) {
        p.upgrade = DataUpgrade{u(b["start"]), u(b["length"]), nodes_of(b["nodes"]),
                                nodes_of(b["additionalNodes"]),
                                b["signature"].is_null() ? Bytes{} : bytes(b["signature"])};
    }
    if (!j["manifest"].is_null()) p.manifest = manifest_of(j["manifest"]);
    return m;
}

json to_json(const wire::NoData& m) { return pair("request", m.request, "reason", m.reason); }
wire::NoData no_data_of(const json& j) { return {u(j["request"]), u(j["reason"])}; }
json to_json(const wire::Want& m) {
    return {{"start", m.start}, {"length", m.length}, {"any", m.any}};
}
wire::Want want_of(const json& j) { return {u(j["start"]), u(j["length"]), j["any"].get<bool>()}; }
json to_json(const wire::Cancel& m) { return {{"request", m.request}}; }
wire::Cancel cancel_of(const json& j) { return {u(j["request"])}; }
json to_json(const wire::Bitfield& m) { return {{"start", m.start}, {"bitfield", m.bitfield}}; }
wire::Bitfield bitfield_of(const json& j) {
    return {u(j["start"]), j["bitfield"].get<std::vector<std::uint32_t>>()};
}
json to_json(const wire::Range& m) {
    return {{"drop", m.drop}, {"start", m.start}, {"length", m.length}};
}
wire::Range range_of(const json& j) {
    return {j["drop"].get<bool>(), u(j["start"]), u(j["length"])};
}
json to_json(const wire::Extension& m) { return {{"name", m.name}, {"message", hex(m.message)}}; }
wire::Extension extension_of(const json& j) {
    return {j["name"].get<std::string>(), bytes(j["message"])};
}

json to_json(const multisig::MultiSignature& m) {
    json proofs = json::array();
    for (const auto& p : m.proofs)
        proofs.push_back(
            {{"signer", p.signer}, {"signature", hex(p.signature)}, {"patch", p.patch}});
    return {{"proofs", proofs}, {"patch", to_json(m.patch)}};
}
multisig::MultiSignature multisig_of(const json& j) {
    multisig::MultiSignature m;
    for (const auto& p : j["proofs"])
        m.proofs.push_back({u(p["signer"]), fixed<64>(p["signature"]), u(p["patch"])});
    m.patch = nodes_of(j["patch"]);
    return m;
}
json to_json(const multisig::MultiSignatureV0& m) {
    json proofs = json::array();
    for (const auto& p : m.proofs) {
        json patch = nullptr;
        if (p.patch)
            patch = {
                {"start", p.patch->start}, {"length", p.patch->length}, {"nodes", p.patch->nodes}};
        proofs.push_back({{"signer", p.signer}, {"signature", hex(p.signature)}, {"patch", patch}});
    }
    return {{"proofs", proofs}, {"patch", to_json(m.patch)}};
}
multisig::MultiSignatureV0 multisig_v0_of(const json& j) {
    multisig::MultiSignatureV0 m;
    for (const auto& p : j["proofs"]) {
        multisig::InputV0 in{u(p["signer"]), fixed<64>(p["signature"]), std::nullopt};
        if (!p["patch"].is_null()) {
            in.patch = multisig::PatchV0{u(p["patch"]["start"]), u(p["patch"]["length"]),
                                         p["patch"]["nodes"].get<std::vector<std::uint64_t>>()};
        }
        m.proofs.push_back(in);
    }
    m.patch = nodes_of(j["patch"]);
    return m;
}

// Per message type: encode a JSON value, decode bytes to JSON (throws compact::DecodeError).
struct Codec {
    std::function<Bytes(const json&)> encode;
    std::function<json(ByteView)> decode;
};
template <typename Of, typename Enc, typename Dec>
Codec codec(Of of, Enc enc, Dec dec) {
    return {[=](const json& j) { return enc(of(j)); }, [=](ByteView b) { return to_json(dec(b)); }};
}

const std::map<std::string, Codec>& codecs() {
    using namespace wire;
    static const std::map<std::string, Codec> table = {
        {"handshake",
         codec(
             handshake_of, [](const Handshake& m) { return encode(m); }, decode_handshake)},
        {"sync", codec(
                     sync_of, [](const Sync& m) { return encode(m); }, decode_sync)},
        {"request", codec(
                        request_of, [](const Request& m) { return encode(m); }, decode_request)},
        {"cancel", codec(
                       cancel_of, [](const Cancel& m) { return encode(m); }, decode_cancel)},
        {"data", codec(
                     data_of, [](const Data& m) { return encode(m); }, decode_data)},
        {"noData", codec(
                       no_data_of, [](const NoData& m) { return encode(m); }, decode_no_data)},
        {"want", codec(want_of, encode_want, decode_want)},
        {"unwant", codec(want_of, encode_unwant, decode_unwant)},
        {"bitfield",
         codec(
             bitfield_of, [](const Bitfield& m) { return encode(m); }, decode_bitfield)},
        {"range", codec(
                      range_of, [](const Range& m) { return encode(m); }, decode_range)},
        {"extension",
         codec(
             extension_of, [](const Extension& m) { return encode(m); }, decode_extension)},
        {"manifest", codec(manifest_of, encode_manifest, decode_manifest)},
        {"multiSignature", codec(multisig_of, multisig::encode, multisig::decode)},
        {"multiSignaturev0", codec(multisig_v0_of, multisig::encode_v0, multisig::decode_v0)},
    };
    return table;
}

const Codec& codec_for(const json& c) { return codecs().at(c["type"].get<std::string>()); }

// Decodes, or returns null if the decoder threw its DecodeError (anything else fails the test).
std::optional<json> try_decode(const Codec& c, ByteView b) {
    try {
        return c.decode(b);
    } catch (const compact::DecodeError& e) {
        EXPECT_FALSE(e.error().message.empty());
        return std::nullopt;
    }
}

// ---- Messages ---------------------------------------------------------------------------------

TEST(HypercoreCodec, EveryFixtureEncodesAndDecodesAsJs) {
    std::map<std::string, int> seen;
    for (const auto& c : fixture()["messages"]) {
        const Codec& codec = codec_for(c);
        const std::string type = c["type"];
        SCOPED_TRACE(c.dump().substr(0, 300));
        if (c.contains("encoded")) {
            const Bytes encoded = bytes(c["encoded"]);
            EXPECT_EQ(to_hex(codec.encode(c["value"])), c["encoded"].get<std::string>());
            EXPECT_EQ(codec.decode(encoded), c["value"]);
            ++seen[type];
        } else if (c.contains("decoded")) {
            EXPECT_EQ(codec.decode(bytes(c["input"])), c["decoded"]);
        } else {
            EXPECT_THROW(codec.decode(bytes(c["input"])), compact::DecodeError);
        }
    }
    // Every message type (and the manifest and multisig codecs) has encoded cases.
    EXPECT_EQ(seen.size(), codecs().size());
}

TEST(HypercoreCodec, EveryPrefixDecodesExactlyWhenJsDoes) {
    std::size_t prefixes = 0;
    for (const auto& c : fixture()["messages"]) {
        if (!c.contains("encoded")) continue;
        const Codec& codec = codec_for(c);
        const Bytes encoded = bytes(c["encoded"]);
        const std::string js = c["prefixes"];
        ASSERT_EQ(js.size(), encoded.size() + 1);
        for (std::size_t k = 0; k <= encoded.size(); ++k) {
            // A copy of exactly k bytes, so that a read past the view is a read past the heap
            // block (caught under ASan) and not into the rest of the fixture.
            const Bytes prefix(encoded.begin(), encoded.begin() + static_cast<std::ptrdiff_t>(k));
            const bool ours = try_decode(codec, prefix).has_value();
            EXPECT_EQ(ours, js[k] == '1') << c["type"] << " " << c["encoded"] << " prefix " << k;
            ++prefixes;
        }
    }
    EXPECT_GT(prefixes, 10000u);
}

TEST(HypercoreCodec, BitFlipsDecodeOrThrowAndRoundTrip) {
    std::size_t decoded = 0, rejected = 0;
    for (const auto& c : fixture()["messages"]) {
        if (!c.contains("encoded")) continue;
        const Codec& codec = codec_for(c);
        const Bytes encoded = bytes(c["encoded"]);
        const std::size_t n = std::min<std::size_t>(encoded.size(), 48);
        for (std::size_t bit = 0; bit < 8 * n; ++bit) {
            Bytes flipped = encoded;
            flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            const auto value = try_decode(codec, flipped);
            if (!value) {
                ++rejected;
                continue;
            }
            ++decoded;
            // What decodes re-encodes to bytes that decode to the same value.
            const Bytes again = codec.encode(*value);
            const auto back = try_decode(codec, again);
            ASSERT_TRUE(back.has_value()) << c["type"] << " " << to_hex(flipped);
            EXPECT_EQ(*back, *value) << c["type"] << " " << to_hex(flipped);
        }
    }
    EXPECT_GT(decoded, 1000u);
    EXPECT_GT(rejected, 100u);
}

TEST(HypercoreCodec, DecodeErrorSaysWhatFailed) {
    try {
        (void)wire::decode_data(Bytes{0x08, 0x01, 0x00, 0x00, 0x01, 0x00});
        FAIL() << "a truncated data message decoded";
    } catch (const compact::DecodeError& e) {
        EXPECT_EQ(e.error().code, Errc::Protocol);
        EXPECT_NE(std::string(e.what()).find("hypercore data message"), std::string::npos)
            << e.what();
    }
    try {
        (void)decode_manifest(Bytes{0x04});
        FAIL() << "manifest version 4 decoded";
    } catch (const compact::DecodeError& e) {
        EXPECT_NE(std::string(e.what()).find("version 4"), std::string::npos) << e.what();
    }
}

// ---- Manifests, keys, capabilities, signables -------------------------------------------------

TEST(HypercoreManifest, NamespacesMatchJs) {
    const json& ns = fixture()["namespaces"];
    EXPECT_EQ(hex(ns_tree()), ns["tree"]);
    EXPECT_EQ(hex(ns_replicate_initiator()), ns["replicate_initiator"]);
    EXPECT_EQ(hex(ns_replicate_responder()), ns["replicate_responder"]);
    EXPECT_EQ(hex(ns_manifest()), ns["manifest"]);
    EXPECT_EQ(hex(ns_default_namespace()), ns["default_namespace"]);
    EXPECT_EQ(hex(ns_default_encryption()), ns["default_encryption"]);
}

TEST(HypercoreManifest, ManifestsEncodeHashAndDecodeAsJs) {
    ASSERT_GE(fixture()["manifests"].size(), 15u);
    for (const auto& c : fixture()["manifests"]) {
        SCOPED_TRACE(c["name"].get<std::string>());
        const Manifest m = manifest_of(c["value"]);
        EXPECT_EQ(hex(encode_manifest(m)), c["encoded"]);
        EXPECT_EQ(decode_manifest(bytes(c["encoded"])), m);
        EXPECT_EQ(hex(manifest_hash(m)), c["hash"]);
        EXPECT_EQ(hex(core_key(m)), c["hash"]);
        EXPECT_EQ(hex(discovery_key(core_key(m))), c["discovery_key"]);
    }
}

TEST(HypercoreManifest, KeysMatchJs) {
    for (const auto& c : fixture()["keys"]) {
        const auto kp = crypto::keypair_from_seed(bytes(c["seed"]));
        EXPECT_EQ(hex(kp.public_key), c["public_key"]);
        EXPECT_EQ(hex(kp.secret_key), c["secret_key"]);
        const Manifest m = default_manifest(kp.public_key);
        EXPECT_EQ(hex(core_key(m)), c["key"]);
        EXPECT_EQ(hex(discovery_key(core_key(m))), c["discovery_key"]);
        EXPECT_EQ(hex(discovery_key(kp.public_key)), c["compat_discovery_key"]);
        // A compat core is verified with the same (version 1) default manifest, as compat.
        EXPECT_EQ(compat_manifest(kp.public_key), m);
        EXPECT_TRUE(Verifier::for_key(kp.public_key, compat_manifest(kp.public_key)).compat());
        EXPECT_FALSE(Verifier::for_key(core_key(m), m).compat());
    }
}

TEST(HypercoreManifest, CapabilitiesMatchJs) {
    ASSERT_FALSE(fixture()["capabilities"].empty());
    for (const auto& c : fixture()["capabilities"]) {
        EXPECT_EQ(hex(replication_capability(c["initiator"].get<bool>(), fixed<32>(c["key"]),
                                             bytes(c["handshake_hash"]))),
                  c["capability"]);
    }
}

TEST(HypercoreManifest, SignablesMatchJs) {
    for (const auto& c : fixture()["signables"]) {
        const Bytes s = tree_signable(fixed<32>(c["manifest_hash"]), fixed<32>(c["tree_hash"]),
                                      u(c["length"]), u(c["fork"]));
        EXPECT_EQ(s.size(), 112u);
        EXPECT_EQ(hex(s), c["signable"]);
        const Bytes compat =
            tree_signable_compat(fixed<32>(c["tree_hash"]), u(c["length"]), u(c["fork"]));
        EXPECT_EQ(compat.size(), 80u);
        EXPECT_EQ(hex(compat), c["compat"]);
    }
}

// ---- Signatures -------------------------------------------------------------------------------

crypto::KeyPair key_pair(std::uint8_t byte) {
    Bytes seed(32, byte);
    return crypto::keypair_from_seed(seed);
}

TEST(HypercoreVerifier, VerifiesAndSignsAsJs) {
    int accepted = 0, rejected = 0, signed_ = 0;
    for (const auto& c : fixture()["signatures"]) {
        if (c.contains("partial")) continue;
        SCOPED_TRACE(c["name"].get<std::string>());
        const Hash key = fixed<32>(c["key"]);
        const Verifier v = Verifier::for_key(key, manifest_of(c["manifest"]));
        EXPECT_EQ(v.compat(), c["compat"].get<bool>());
        const Bytes sig = c["signature"].is_null() ? Bytes{} : bytes(c["signature"]);
        const Hash tree_hash = fixed<32>(c["tree_hash"]);
        const bool valid = c["valid"].get<bool>();
        EXPECT_EQ(v.verify(tree_hash, u(c["length"]), u(c["fork"]), sig), valid);
        (valid ? accepted : rejected)++;
        if (!c["signer"].is_null()) {
            const auto kp = key_pair(c["signer"].get<std::uint8_t>());
            EXPECT_EQ(
                hex(v.sign(tree_hash, u(c["length"]), u(c["fork"]), kp.public_key, kp.secret_key)),
                c["signature"]);
            ++signed_;
        }
    }
    EXPECT_GE(accepted, 15);
    EXPECT_GE(rejected, 25);
    EXPECT_GE(signed_, 8);
}

TEST(HypercoreVerifier, MultiSignerSignReturnsThePartialSignature) {
    for (const auto& c : fixture()["signatures"]) {
        if (!c.contains("partial")) continue;
        const Verifier v = Verifier::for_key(fixed<32>(c["key"]), manifest_of(c["manifest"]));
        for (std::uint8_t i = 0; i < 3; ++i) {
            const auto kp = key_pair(static_cast<std::uint8_t>(i + 1));
            EXPECT_EQ(hex(v.sign(fixed<32>(c["tree_hash"]), u(c["length"]), u(c["fork"]),
                                 kp.public_key, kp.secret_key)),
                      c["signatures"][i]);
        }
        // Our own assembly of two partials is accepted; one short of the quorum is not.
        multisig::MultiSignature m;
        m.proofs.push_back({0, fixed<64>(c["signatures"][0]), 0});
        EXPECT_FALSE(
            v.verify(fixed<32>(c["tree_hash"]), u(c["length"]), u(c["fork"]), multisig::encode(m)));
        m.proofs.push_back({2, fixed<64>(c["signatures"][2]), 0});
        EXPECT_TRUE(
            v.verify(fixed<32>(c["tree_hash"]), u(c["length"]), u(c["fork"]), multisig::encode(m)));
        return;
    }
    FAIL() << "no partial-signature case in the fixture";
}

TEST(HypercoreVerifier, SignRefusesAKeyThatIsNotASigner) {
    const auto a = key_pair(1), b = key_pair(2);
    const Manifest m = default_manifest(a.public_key);
    const Verifier v = Verifier::for_key(core_key(m), m);
    EXPECT_THROW((void)v.sign(Hash{}, 1, 0, b.public_key, b.secret_key), std::invalid_argument);
}

// A patched input (allowPatch, patch > 0) needs the merkle tree to check; the codec-level
// Verifier rejects it even when the signature itself is over this head.
TEST(HypercoreVerifier, RejectsPatchedInputsItCannotCheck) {
    const auto a = key_pair(1);
    Manifest m = default_manifest(a.public_key);
    m.allow_patch = true;
    const Verifier v = Verifier::for_key(core_key(m), m);
    const Hash tree_hash = fixed<32>(json(std::string(64, 'a')));
    const Bytes signable = tree_signable(core_key(m), tree_hash, 3, 0);
    const auto sig = crypto::sign_detached(signable, a.secret_key);
    multisig::MultiSignature ms;
    ms.proofs.push_back({0, sig, 0});
    EXPECT_TRUE(v.verify(tree_hash, 3, 0, multisig::encode(ms)));
    ms.proofs[0].patch = 2;
    ms.patch.push_back({6, 1, Hash{}});
    EXPECT_FALSE(v.verify(tree_hash, 3, 0, multisig::encode(ms)));
    // Without allowPatch the patch count is ignored, as JS ignores it.
    const Manifest plain = default_manifest(a.public_key);
    const Verifier vp = Verifier::for_key(core_key(plain), plain);
    ms.proofs[0].signature =
        crypto::sign_detached(tree_signable(core_key(plain), tree_hash, 3, 0), a.secret_key);
    EXPECT_TRUE(vp.verify(tree_hash, 3, 0, multisig::encode(ms)));
}

TEST(HypercoreVerifier, GarbageSignaturesAreRejectedNotThrown) {
    const auto a = key_pair(1);
    const Manifest m = default_manifest(a.public_key);
    const Verifier v = Verifier::for_key(core_key(m), m);
    const Verifier compat = Verifier::for_key(a.public_key, m);
    Bytes sig;
    for (std::size_t n = 0; n < 200; ++n) {
        EXPECT_FALSE(v.verify(Hash{}, 1, 0, sig));
        EXPECT_FALSE(compat.verify(Hash{}, 1, 0, sig));
        sig.push_back(static_cast<std::uint8_t>(n * 37 + 1));
    }
}

}  // namespace
}  // namespace hs::v11::hypercore
