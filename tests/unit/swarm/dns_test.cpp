// The mDNS packet codec against byte fixtures from JS dns-packet 5.6.1 (tests/unit/swarm/js/
// make_fixtures.js), hand-made compressed packets, malformed input and seeded random round trips.
#include "v9/swarm/dns.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/util/hex.h"

namespace hs::swarm::dns {
namespace {

struct Fixture {
    const char* name;
    const char* hex;
};

// node tests/unit/swarm/js/make_fixtures.js
constexpr Fixture kJsFixtures[] = {
    {"discovery_query",
     "00000000000100000000000028303030313032303330343035303630373038303930613062306330643065306631"
     "303131313231330a6879706572737761726d056c6f63616c0000210001"},
    {"discovery_response",
     "00008400000000030000000028303030313032303330343035303630373038303930613062306330643065306631"
     "303131313231330a6879706572737761726d056c6f63616c000021000100000000000f00000000c2490130013001"
     "3001300028303030313032303330343035303630373038303930613062306330643065306631303131313231330a"
     "6879706572737761726d056c6f63616c00001000010000000000242369643dababababababababababababababab"
     "ababababababababababababababababab0872656665727265720a6879706572737761726d056c6f63616c000001"
     "00010000000000047f000001"},
    {"discovery_announce",
     "00008400000000020000000028303030313032303330343035303630373038303930613062306330643065306631"
     "303131313231330a6879706572737761726d056c6f63616c000021000100000000000f0000000000010130013001"
     "3001300028303030313032303330343035303630373038303930613062306330643065306631303131313231330a"
     "6879706572737761726d056c6f63616c00001000010000000000242369643dababababababababababababababab"
     "ababababababababababababababababab"},
    {"mixed",
     "12348500000100040001000204686f7374056c6f63616c0000ff0001055f68747470045f746370056c6f63616c00"
     "000c000100001194001603776562055f68747470045f746370056c6f63616c0003776562055f68747470045f7463"
     "70056c6f63616c0000218001000000780012000100021f9004686f7374056c6f63616c0003776562055f68747470"
     "045f746370056c6f63616c000010000100000000000a06706174683d2f00016b04686f7374056c6f63616c00001c"
     "0001000000780010fe80000000000000000000000000000105616c696173056c6f63616c00000500010000000000"
     "0c04686f7374056c6f63616c0004686f7374056c6f63616c0000018001000000780004c0a8011404686f7374056c"
     "6f63616c00000d000100000000000a03783836056c696e7578"},
    {"empty_txt", "0000800000000001000000000161056c6f63616c0000100001000000000000"},
    {"root_name", "0000000000010000000000000000010001"},
};

// Hand-made (not encodable by dns-packet, which never compresses); dns-packet decodes it as
// restated in the Compressed test.
constexpr const char* kCompressed =
    "00008400000100020000000103776562055f68747470045f746370056c6f63616c0000218001c00c002180010000"
    "0078000d000000001f9004686f7374c01bc00c0010000100000000000703613d3102623dc0380001000100000078"
    "0004c0a8010a";

constexpr const char* kDomain = "000102030405060708090a0b0c0d0e0f10111213.hyperswarm.local";

Bytes hex(const char* h) {
    auto b = from_hex(h);
    EXPECT_TRUE(b.has_value()) << h;
    return b.value_or(Bytes{});
}

Result<Packet> decode(ByteView bytes) {
    ByteView in = bytes;
    auto r = Packet::decode(in);
    if (r) {
        EXPECT_TRUE(in.empty());
    }
    return r;
}

Bytes encode(const Packet& p) {
    Bytes out;
    const Status s = p.encode_to(out);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return out;
}

Bytes id_txt() {
    Bytes id = to_bytes(std::string_view("id="));
    id.insert(id.end(), 32, 0xab);
    return id;
}

Record record(std::string name, std::uint16_t t, RecordData data) {
    Record r;
    r.name = std::move(name);
    r.type = t;
    r.data = std::move(data);
    return r;
}

TEST(Dns, JsFixturesDecodeAndReencodeByteForByte) {
    for (const Fixture& f : kJsFixtures) {
        SCOPED_TRACE(f.name);
        const Bytes bytes = hex(f.hex);
        auto p = decode(bytes);
        ASSERT_TRUE(p.ok()) << p.error().message;
        EXPECT_EQ(to_hex(encode(*p)), f.hex);
    }
}

TEST(Dns, DiscoveryQueryMatchesJs) {
    Packet q;
    q.questions.push_back(Question{kDomain, type::kSrv, kClassIn});
    EXPECT_EQ(to_hex(encode(q)), kJsFixtures[0].hex);

    auto d = decode(hex(kJsFixtures[0].hex));
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->is_response());
    ASSERT_EQ(d->questions.size(), 1u);
    EXPECT_EQ(d->questions[0].name, kDomain);
    EXPECT_EQ(d->questions[0].type, type::kSrv);
    EXPECT_EQ(d->questions[0].klass, kClassIn);
    EXPECT_FALSE(d->questions[0].unicast_response);
}

TEST(Dns, DiscoveryResponseMatchesJs) {
    Packet r;
    r.flags = kFlagResponse | kFlagAuthoritative;
    r.answers.push_back(record(kDomain, type::kSrv, SrvData{0, 0, 49737, "0.0.0.0"}));
    r.answers.push_back(record(kDomain, type::kTxt, TxtData{{id_txt()}}));
    r.answers.push_back(record("referrer.hyperswarm.local", type::kA, AData{{127, 0, 0, 1}}));
    EXPECT_EQ(to_hex(encode(r)), kJsFixtures[1].hex);

    auto d = decode(hex(kJsFixtures[1].hex));
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->is_response());
    EXPECT_EQ(*d, r);
    const auto& srv = std::get<SrvData>(d->answers[0].data);
    EXPECT_EQ(srv.port, 49737);
    EXPECT_EQ(srv.target, "0.0.0.0");
    EXPECT_EQ(std::get<TxtData>(d->answers[1].data).strings.at(0), id_txt());
}

TEST(Dns, MixedRecordTypes) {
    auto d = decode(hex(kJsFixtures[3].hex));
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->id, 0x1234);
    EXPECT_EQ(d->flags, kFlagResponse | kFlagAuthoritative | 0x0100);
    ASSERT_EQ(d->questions.size(), 1u);
    EXPECT_EQ(d->questions[0].type, type::kAny);
    ASSERT_EQ(d->answers.size(), 4u);
    EXPECT_EQ(d->answers[0].type, type::kPtr);
    EXPECT_EQ(d->answers[0].ttl, 4500u);
    EXPECT_EQ(std::get<NameData>(d->answers[0].data).name, "web._http._tcp.local");
    EXPECT_TRUE(d->answers[1].cache_flush);
    EXPECT_EQ(d->answers[1].klass, kClassIn);
    EXPECT_EQ(std::get<SrvData>(d->answers[1].data), (SrvData{1, 2, 8080, "host.local"}));
    const auto& txt = std::get<TxtData>(d->answers[2].data).strings;
    ASSERT_EQ(txt.size(), 3u);
    EXPECT_EQ(as_string(txt[0]), "path=/");
    EXPECT_TRUE(txt[1].empty());
    EXPECT_EQ(as_string(txt[2]), "k");
    const auto& aaaa = std::get<AaaaData>(d->answers[3].data).address;
    EXPECT_EQ(aaaa[0], 0xfe);
    EXPECT_EQ(aaaa[15], 1);
    ASSERT_EQ(d->authorities.size(), 1u);
    EXPECT_EQ(std::get<NameData>(d->authorities[0].data).name, "host.local");
    ASSERT_EQ(d->additionals.size(), 2u);
    EXPECT_EQ(std::get<AData>(d->additionals[0].data), (AData{{192, 168, 1, 20}}));
    // HINFO is not interpreted: its RDATA passes through.
    EXPECT_EQ(d->additionals[1].type, 13);
    EXPECT_EQ(to_hex(std::get<RawData>(d->additionals[1].data).bytes), "03783836056c696e7578");
}

TEST(Dns, EmptyTxtAndRootName) {
    auto t = decode(hex(kJsFixtures[4].hex));
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(std::get<TxtData>(t->answers.at(0).data).strings.empty());
    auto r = decode(hex(kJsFixtures[5].hex));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->questions.at(0).name, ".");
}

TEST(Dns, CompressedNamesDecodeLikeDnsPacket) {
    auto d = decode(hex(kCompressed));
    ASSERT_TRUE(d.ok()) << d.error().message;
    ASSERT_EQ(d->questions.size(), 1u);
    EXPECT_EQ(d->questions[0].name, "web._http._tcp.local");
    EXPECT_TRUE(d->questions[0].unicast_response);
    ASSERT_EQ(d->answers.size(), 2u);
    EXPECT_EQ(d->answers[0].name, "web._http._tcp.local");
    EXPECT_TRUE(d->answers[0].cache_flush);
    EXPECT_EQ(d->answers[0].ttl, 120u);
    EXPECT_EQ(std::get<SrvData>(d->answers[0].data), (SrvData{0, 0, 8080, "host.local"}));
    EXPECT_EQ(d->answers[1].name, "web._http._tcp.local");
    const auto& txt = std::get<TxtData>(d->answers[1].data).strings;
    ASSERT_EQ(txt.size(), 2u);
    EXPECT_EQ(as_string(txt[0]), "a=1");
    EXPECT_EQ(as_string(txt[1]), "b=");
    ASSERT_EQ(d->additionals.size(), 1u);
    EXPECT_EQ(d->additionals[0].name, "host.local");
    EXPECT_EQ(std::get<AData>(d->additionals[0].data), (AData{{192, 168, 1, 10}}));

    // Re-encoding expands every pointer; the result decodes to the same packet.
    auto again = decode(encode(*d));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *d);
}

void expect_error(const Bytes& bytes, Errc code, std::string_view needle) {
    auto r = decode(bytes);
    ASSERT_FALSE(r.ok()) << to_hex(bytes);
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(Dns, EveryTruncationIsRejected) {
    for (const Fixture& f : kJsFixtures) {
        const Bytes bytes = hex(f.hex);
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            ByteView in(bytes.data(), n);
            auto r = Packet::decode(in);
            ASSERT_FALSE(r.ok()) << f.name << " cut at " << n;
            EXPECT_TRUE(r.error().code == Errc::Protocol || r.error().code == Errc::TooLarge);
            EXPECT_EQ(in.size(), n);  // nothing consumed on failure
        }
    }
}

TEST(Dns, PointerLoopsAndForwardPointersAreRejected) {
    // One question whose name is a pointer to itself (offset 12).
    expect_error(hex("000000000001000000000000c00c00010001"), Errc::Protocol, "point back");
    // A pointer to the following byte.
    expect_error(hex("000000000001000000000000c00d0000010001"), Errc::Protocol, "point back");
    // A label followed by a pointer to the start of its own name.
    expect_error(hex("0000000000020000000000000161c00c00010001c00c00010001"), Errc::Protocol,
                 "point back");
    // A pointer past the end of the packet.
    expect_error(hex("000000000001000000000000c0ff00010001"), Errc::Protocol, "point back");
    // A pointer cut in half.
    expect_error(hex("000000000001000000000000c0"), Errc::TooLarge, "cannot fit");
    // Reserved label types 01xxxxxx and 10xxxxxx.
    expect_error(hex("0000000000010000000000004000000100"), Errc::Protocol, "reserved label");
    expect_error(hex("0000000000010000000000008000000100"), Errc::Protocol, "reserved label");
}

TEST(Dns, LongChainsOfBackwardPointersAreBounded) {
    // 100 names, each a label followed by a pointer to the previous one: the last name follows
    // 99 pointers, more than kMaxPointerJumps.
    Bytes p = hex("000000000064000000000000");
    std::size_t prev = 0;
    for (int i = 0; i < 100; ++i) {
        const std::size_t here = p.size();
        p.push_back(1);
        p.push_back('x');
        if (i == 0) {
            p.push_back(0);
        } else {
            p.push_back(static_cast<std::uint8_t>(0xc0 | (prev >> 8)));
            p.push_back(static_cast<std::uint8_t>(prev));
        }
        p.insert(p.end(), {0, 1, 0, 1});
        prev = here;
    }
    expect_error(p, Errc::Protocol, "");  // too many pointers or a name over 255 bytes
}

TEST(Dns, OversizedCountsAreRejectedBeforeAllocating) {
    expect_error(hex("0000000000ff0000000000000000010001"), Errc::TooLarge, "cannot fit");
    expect_error(hex("000000000000ffff00000000"), Errc::TooLarge, "entries");
    expect_error(hex("00000000ffffffffffffffff"), Errc::TooLarge, "entries");
    expect_error(hex("00000000"), Errc::Protocol, "shorter than a header");
    Bytes huge(kMaxPacketBytes + 1, 0);
    expect_error(huge, Errc::TooLarge, "packet of");
}

TEST(Dns, BadRecordDataIsRejected) {
    // A response with one answer for "a": type, class, TTL, RDLENGTH and RDATA are `record`.
    const auto expect_answer_error = [](const std::string& record, std::string_view needle) {
        expect_error(hex(("000080000000000100000000"
                          "0161"
                          "00" +
                          record)
                             .c_str()),
                     Errc::Protocol, needle);
    };
    // A record with 5 bytes of data.
    expect_answer_error("00010001000000000005"
                        "7f00000101",
                        "A record");
    // RDATA longer than the packet.
    expect_answer_error("00010001000000000010"
                        "7f000001",
                        "past the end");
    // TXT string longer than its record.
    expect_answer_error("00100001000000000003"
                        "056162",
                        "TXT string");
    // SRV target running past its RDATA (rdlength 7, target "ab").
    expect_answer_error("00210001000000000007"
                        "000000000050"
                        "02616200",
                        "SRV target");
    // SRV data too short.
    expect_answer_error("00210001000000000002"
                        "0000",
                        "SRV");
    // A name over 255 bytes: five labels of 63 bytes.
    std::string name;
    for (int i = 0; i < 5; ++i) name += "3f" + std::string(126, '6');
    expect_error(hex(("000000000001000000000000" + name + "0000010001").c_str()), Errc::Protocol,
                 "longer than 255");
}

TEST(Dns, EncodeRejectsWhatCannotBeOnTheWire) {
    auto rejects = [](const Packet& p, Errc code) {
        Bytes out = {1, 2, 3};
        const Status s = p.encode_to(out);
        ASSERT_FALSE(s.ok());
        EXPECT_EQ(s.error().code, code) << s.error().message;
        EXPECT_EQ(out, (Bytes{1, 2, 3}));  // untouched
    };
    Packet p;
    p.questions.push_back(Question{"a..b", type::kA, kClassIn});
    rejects(p, Errc::InvalidArgument);
    p.questions[0].name = std::string(64, 'x') + ".local";
    rejects(p, Errc::InvalidArgument);
    std::string long_name;
    for (int i = 0; i < 5; ++i) long_name += std::string(60, 'y') + ".";
    p.questions[0].name = long_name;
    rejects(p, Errc::InvalidArgument);

    Packet r;
    r.answers.push_back(record("a.local", type::kTxt, TxtData{{Bytes(256, 'z')}}));
    rejects(r, Errc::InvalidArgument);
    r.answers[0] = record("a.local", type::kSrv, AData{});
    rejects(r, Errc::InvalidArgument);
    r.answers[0] = record("a.local", type::kA, RawData{Bytes(70000, 0)});
    rejects(r, Errc::TooLarge);

    // Leading and trailing dots are ignored, as dns-packet does; "." and "" are the root.
    Bytes out;
    ASSERT_TRUE(encode_name(".a.b.", out).ok());
    EXPECT_EQ(to_hex(out), "0161016200");
    out.clear();
    ASSERT_TRUE(encode_name(".", out).ok());
    ASSERT_TRUE(encode_name("", out).ok());
    EXPECT_EQ(to_hex(out), "0000");
}

TEST(Dns, SameNameIgnoresCaseAndTrailingDot) {
    EXPECT_TRUE(same_name("ABC.Hyperswarm.LOCAL", "abc.hyperswarm.local."));
    EXPECT_FALSE(same_name("abc.hyperswarm.local", "abd.hyperswarm.local"));
    EXPECT_FALSE(same_name("abc", "abc.local"));
}

// Seeded random packets (a trivial model: the Packet value itself) survive encode + decode.
TEST(Dns, RandomPacketsRoundTrip) {
    std::mt19937 rng(20261202);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto label = [&] {
        std::string s(static_cast<std::size_t>(pick(1, 20)), 'a');
        for (char& c : s) c = static_cast<char>(pick('a', 'z'));
        return s;
    };
    auto name = [&] {
        std::string s = label();
        for (int i = pick(0, 4); i > 0; --i) s += "." + label();
        return s;
    };
    auto bytes = [&](int max) {
        Bytes b(static_cast<std::size_t>(pick(0, max)));
        for (auto& x : b) x = static_cast<std::uint8_t>(pick(0, 255));
        return b;
    };
    auto random_record = [&] {
        Record r;
        r.name = name();
        r.klass = static_cast<std::uint16_t>(pick(1, 4));
        r.cache_flush = pick(0, 1) == 1;
        r.ttl = static_cast<std::uint32_t>(pick(0, 1 << 30));
        switch (pick(0, 5)) {
            case 0:
                r.type = type::kA;
                r.data = AData{{1, 2, 3, static_cast<std::uint8_t>(pick(0, 255))}};
                break;
            case 1:
                r.type = type::kAaaa;
                r.data = AaaaData{};
                break;
            case 2:
                r.type = type::kSrv;
                r.data = SrvData{static_cast<std::uint16_t>(pick(0, 65535)), 7,
                                 static_cast<std::uint16_t>(pick(0, 65535)), name()};
                break;
            case 3: {
                r.type = type::kTxt;
                TxtData t;
                for (int i = pick(0, 3); i > 0; --i) t.strings.push_back(bytes(255));
                r.data = t;
                break;
            }
            case 4:
                r.type = type::kPtr;
                r.data = NameData{name()};
                break;
            default:
                r.type = 99;
                r.data = RawData{bytes(40)};
                break;
        }
        return r;
    };
    for (int iter = 0; iter < 300; ++iter) {
        Packet p;
        p.id = static_cast<std::uint16_t>(pick(0, 65535));
        p.flags = static_cast<std::uint16_t>(pick(0, 65535));
        for (int i = pick(0, 3); i > 0; --i) {
            p.questions.push_back(Question{name(), static_cast<std::uint16_t>(pick(1, 255)),
                                           static_cast<std::uint16_t>(pick(1, 255)),
                                           pick(0, 1) == 1});
        }
        for (auto* section : {&p.answers, &p.authorities, &p.additionals}) {
            for (int i = pick(0, 4); i > 0; --i) section->push_back(random_record());
        }
        const Bytes wire = encode(p);
        auto d = decode(wire);
        ASSERT_TRUE(d.ok()) << d.error().message;
        ASSERT_EQ(*d, p) << "iteration " << iter;
    }
}

// Every single-byte corruption of every fixture either decodes or fails with a typed error.
TEST(Dns, CorruptedFixturesNeverCrash) {
    int failures = 0;
    for (const Fixture& f : kJsFixtures) {
        const Bytes good = hex(f.hex);
        for (std::size_t i = 0; i < good.size(); ++i) {
            for (std::uint8_t v : {0x00, 0x01, 0x3f, 0xc0, 0xff}) {
                Bytes bad = good;
                bad[i] = v;
                ByteView in = bad;
                auto r = Packet::decode(in);
                if (!r) {
                    ++failures;
                    EXPECT_TRUE(r.error().code == Errc::Protocol ||
                                r.error().code == Errc::TooLarge);
                }
            }
        }
    }
    EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace hs::swarm::dns
