#include <gtest/gtest.h>

#include <filesystem>

#include "testutil/temp_dir.h"
#include "common/util/fs.h"
#include "common/util/hex.h"
#include "common/util/host_port.h"
#include "common/util/varint.h"

namespace hs {

void PrintTo(const HostPort& hp, std::ostream* os) {
    *os << "{" << hp.host << ", " << hp.port << "}";
}

namespace {

TEST(Hex, RoundTrip) {
    const Bytes b = {0x00, 0x01, 0xab, 0xff};
    EXPECT_EQ(to_hex(b), "0001abff");
    EXPECT_EQ(*from_hex("0001ABff"), b);
    EXPECT_FALSE(from_hex("abc").has_value());
    EXPECT_FALSE(from_hex("zz").has_value());
}

TEST(Hex, ParseKeyAcceptsHyperUrl) {
    const std::string hex(64, 'a');
    ASSERT_TRUE(parse_key(hex));
    ASSERT_TRUE(parse_key("hyper://" + hex));
    ASSERT_TRUE(parse_key("hyper://" + hex + "/"));
    EXPECT_EQ((*parse_key(hex))[0], 0xaa);
    EXPECT_FALSE(parse_key(hex.substr(1)));
    EXPECT_FALSE(parse_key("hyper://" + hex.substr(2) + "zz"));
}

TEST(Varint, EncodeDecode) {
    for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
        Bytes b;
        varint::encode(b, v);
        EXPECT_EQ(b.size(), varint::encoding_length(v));
        ByteView in(b);
        auto d = varint::decode(in);
        ASSERT_TRUE(d);
        EXPECT_EQ(*d, v);
        EXPECT_TRUE(in.empty());
    }
}

TEST(Varint, RejectsTruncatedAndOverlong) {
    const Bytes truncated = {0x80, 0x80};
    ByteView a(truncated);
    EXPECT_FALSE(varint::decode(a));
    const Bytes overlong(11, 0x80);
    ByteView b(overlong);
    EXPECT_FALSE(varint::decode(b));
    const Bytes overflow = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    ByteView c(overflow);
    EXPECT_FALSE(varint::decode(c));
}

// The parse of `text`, or {"failed: <message>", 0} so that a mismatch shows why.
HostPort parsed(std::string_view text, HostPortRules rules = {}) {
    auto r = parse_host_port(text, rules);
    return r ? *r : HostPort{"failed: " + r.error().message, 0};
}

TEST(HostPort, ParsesIpv4NamesAndBracketedIpv6) {
    EXPECT_EQ(parsed("127.0.0.2:49737"), (HostPort{"127.0.0.2", 49737}));
    EXPECT_EQ(parsed("bootstrap1.hyperdht.org:49737"),
              (HostPort{"bootstrap1.hyperdht.org", 49737}));
    EXPECT_EQ(parsed("localhost:0"), (HostPort{"localhost", 0}));
    EXPECT_EQ(parsed("[::1]:65535"), (HostPort{"::1", 65535}));
    EXPECT_EQ(parsed("[fe80::1%lo]:7"), (HostPort{"fe80::1%lo", 7}));
    EXPECT_EQ(parsed("h:007"), (HostPort{"h", 7}));
}

TEST(HostPort, PortOnlyShorthandOnlyWhenAllowed) {
    const auto refused = parse_host_port(":49737");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::InvalidArgument);
    EXPECT_NE(refused.error().message.find("no host"), std::string::npos);
    EXPECT_EQ(parsed(":49737", {.allow_empty_host = true}), (HostPort{"", 49737}));
}

TEST(HostPort, RefusesMalformedWithMessagesThatSayWhy) {
    struct Case {
        const char* text;
        const char* says;
    };
    for (const Case& c : {Case{"127.0.0.1", "no ':PORT'"}, Case{"", "no ':PORT'"},
                          Case{"h:", "port must be a number"}, Case{"h:65536", "0 to 65535"},
                          Case{"h:-1", "port must be"}, Case{"h:+1", "port must be"},
                          Case{"h:1x", "port must be"}, Case{"h: 1", "port must be"},
                          Case{"h:99999999999", "port must be"}, Case{"::1:5", "[ADDRESS]:PORT"},
                          Case{"a:b:5", "[ADDRESS]:PORT"}, Case{"[::1]", "[IPV6]:PORT"},
                          Case{"[::1]5", "[IPV6]:PORT"}, Case{"[::1:5", "[IPV6]:PORT"},
                          Case{"[]:5", "only an IPv6 address"},
                          Case{"[1.2.3.4]:5", "only an IPv6 address"},
                          Case{"[::1]:", "port must be"}}) {
        const auto r = parse_host_port(c.text, {.allow_empty_host = true});
        ASSERT_FALSE(r.ok()) << c.text;
        EXPECT_EQ(r.error().code, Errc::InvalidArgument) << c.text;
        EXPECT_NE(r.error().message.find(c.says), std::string::npos)
            << c.text << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(std::string("'") + c.text + "'"), std::string::npos)
            << "the message quotes the input: " << r.error().message;
    }
}

TEST(HostPort, FormatRoundTrips) {
    EXPECT_EQ(format_host_port("127.0.0.1", 5), "127.0.0.1:5");
    EXPECT_EQ(format_host_port("::1", 5), "[::1]:5");
    for (const char* text : {"127.0.0.1:5", "[::1]:5", "name:0"}) {
        const auto hp = parse_host_port(text);
        ASSERT_TRUE(hp.ok()) << text;
        EXPECT_EQ(format_host_port(hp->host, hp->port), text);
    }
}

TEST(WriteFileAtomic, CreatesReplacesAndLeavesNoTemporary) {
    testutil::TempDir dir;
    const auto path = dir.path() / "key";
    ASSERT_TRUE(write_file_atomic(path, std::string_view("first")).ok());
    EXPECT_EQ(testutil::read_file(path), to_bytes("first"));
    const Bytes second = {0, 1, 2, 255};
    ASSERT_TRUE(write_file_atomic(path, second).ok());
    EXPECT_EQ(testutil::read_file(path), second);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "key.tmp"));
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    ASSERT_TRUE(write_file_atomic(path, ByteView{}).ok());
    EXPECT_TRUE(testutil::read_file(path).empty());
}

TEST(WriteFileAtomic, FailuresNameTheFileAndKeepTheOldBytes) {
    testutil::TempDir dir;
    const auto missing = dir.path() / "no-such-folder" / "key";
    const auto r = write_file_atomic(missing, std::string_view("x"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::Io);
    EXPECT_NE(r.error().message.find(missing.string() + ".tmp"), std::string::npos)
        << r.error().message;

    // The target is a folder: the rename fails, the temporary goes, the folder stays.
    const auto target = dir.path() / "busy";
    std::filesystem::create_directory(target);
    std::filesystem::create_directory(target / "child");
    const auto busy = write_file_atomic(target, std::string_view("x"));
    ASSERT_FALSE(busy.ok());
    EXPECT_NE(busy.error().message.find("cannot rename"), std::string::npos)
        << busy.error().message;
    EXPECT_TRUE(std::filesystem::is_directory(target / "child"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "busy.tmp"));
}

}  // namespace
}  // namespace hs
