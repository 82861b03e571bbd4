// Corestore 7 for second-generation cores (src/v11/corestore): key pairs, core keys and
// discovery keys of names in nested namespaces against JS corestore 7.12.5
// (tests/fixtures/v11/make_corestore.js writes corestore.json), the primary key file, readers by
// key, first- and second-generation cores in one folder, the folder lock, and LRU closing.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "common/util/hex.h"
#include "testutil/temp_dir.h"
#include "v11/corestore/corestore.h"
#include "v11/hypercore/manifest.h"
#include "v9/corestore/corestore.h"
#include "v9/corestore/layout.h"

namespace hs::v11::corestore {
namespace {

namespace fs = std::filesystem;

template <std::size_t N>
ByteArray<N> hex_array(const std::string& s) {
    auto b = from_hex(s);
    EXPECT_TRUE(b && b->size() == N) << s;
    ByteArray<N> out{};
    if (b && b->size() == N) std::copy(b->begin(), b->end(), out.begin());
    return out;
}

// One committed block, as a writer's first append would store it (enough for listing).
void append_one(storage::FileStorage& s, std::string_view value) {
    hypercore::Batch b;
    const auto n = s.header().head.length;
    b.blocks.push_back({n, 0, to_bytes(value)});
    b.bits.push_back({n, 1, true});
    b.header = s.header();
    b.header->head.length = n + 1;
    ASSERT_TRUE(s.commit(b).ok());
}

TEST(V11Corestore, KeyPairsCoreKeysAndDiscoveryKeysMatchJsCorestore7) {
    std::ifstream in(std::string(HS_V11_FIXTURES) + "/corestore.json");
    ASSERT_TRUE(in) << "tests/fixtures/v11/corestore.json";
    const auto j = nlohmann::json::parse(in);
    testutil::TempDir tmp;
    CorestoreOptions o;
    o.primary_key = hex_array<32>(j["primary_key"]);
    auto store = Corestore::open(tmp.path(), o);
    ASSERT_TRUE(store.ok()) << store.error().message;
    const Hash alpha = child_namespace(default_namespace(), as_bytes("alpha"));
    const Hash beta = child_namespace(alpha, as_bytes("beta"));
    int n = 0;
    for (const auto& c : j["cases"]) {
        const std::string path = c["namespace_path"];
        const Hash ns = path == "default" ? default_namespace() : path == "alpha" ? alpha : beta;
        ASSERT_EQ(to_hex(ns), c["namespace"].get<std::string>()) << path;
        const std::string name = c["name"];
        SCOPED_TRACE(path + " / " + name);
        const auto kp = (*store)->key_pair(as_bytes(name), ns);
        EXPECT_EQ(to_hex(kp.public_key), c["public_key"].get<std::string>());
        EXPECT_EQ(to_hex(kp.secret_key), c["secret_key"].get<std::string>());
        auto core = (*store)->open_by_name(as_bytes(name), ns);
        ASSERT_TRUE(core.ok()) << core.error().message;
        EXPECT_EQ(to_hex(core->key()), c["key"].get<std::string>());
        EXPECT_EQ(to_hex(core->discovery_key()), c["discovery_key"].get<std::string>());
        EXPECT_TRUE(core->storage().header().key_pair.has_value());
        EXPECT_EQ(core->storage().header().manifest, hypercore::default_manifest(kp.public_key));
        ++n;
    }
    EXPECT_EQ(n, 15);
}

TEST(V11Corestore, ThePrimaryKeyIsCreatedOnceAndNamesFindTheirCoresAgain) {
    testutil::TempDir tmp;
    Hash key;
    {
        auto store = Corestore::open(tmp.path());
        ASSERT_TRUE(store.ok()) << store.error().message;
        key = (*store)->primary_key();
        auto core = (*store)->open_by_name(as_bytes("notes"));
        ASSERT_TRUE(core.ok());
        append_one(core->storage(), "hello");
    }
    EXPECT_EQ(fs::file_size(tmp.path() / "v11" / "primary-key"), 32u);
    auto store = Corestore::open(tmp.path());
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->primary_key(), key);
    auto core = (*store)->open_by_name(as_bytes("notes"));
    ASSERT_TRUE(core.ok());
    EXPECT_EQ(core->storage().header().head.length, 1u);
    // Another namespace, another core.
    auto other = (*store)->open_by_name(as_bytes("notes"), child_namespace(default_namespace(), as_bytes("x")));
    ASSERT_TRUE(other.ok());
    EXPECT_NE(other->key(), core->key());
    EXPECT_EQ(other->storage().header().head.length, 0u);
}

TEST(V11Corestore, AnotherPrimaryKeyOrADamagedKeyFileIsRefused) {
    testutil::TempDir tmp;
    { ASSERT_TRUE(Corestore::open(tmp.path()).ok()); }
    CorestoreOptions o;
    o.primary_key = Hash{};
    auto other = Corestore::open(tmp.path(), o);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code, Errc::InvalidArgument);
    fs::resize_file(tmp.path() / "v11" / "primary-key", 5);
    auto damaged = Corestore::open(tmp.path());
    ASSERT_FALSE(damaged.ok());
    EXPECT_EQ(damaged.error().code, Errc::Corrupt);
    EXPECT_NE(damaged.error().message.find("primary-key"), std::string::npos);
}

TEST(V11Corestore, AReaderByKeyGainsItsKeyPairWhenOpenedByName) {
    testutil::TempDir tmp;
    auto store = Corestore::open(tmp.path());
    ASSERT_TRUE(store.ok());
    const auto kp = (*store)->key_pair(as_bytes("w"));
    const auto key = hypercore::core_key(hypercore::default_manifest(kp.public_key));
    {
        auto reader = (*store)->open_by_key(key);
        ASSERT_TRUE(reader.ok());
        EXPECT_FALSE(reader->storage().header().manifest.has_value());
        EXPECT_FALSE(reader->storage().header().key_pair.has_value());
        EXPECT_EQ(reader->discovery_key(), hypercore::discovery_key(key));
    }
    auto writer = (*store)->open_by_name(as_bytes("w"));
    ASSERT_TRUE(writer.ok());
    EXPECT_EQ(writer->key(), key);
    EXPECT_TRUE(writer->storage().header().key_pair.has_value());
    EXPECT_TRUE(writer->storage().header().manifest.has_value());
}

TEST(V11Corestore, BothGenerationsShareOneFolderWithoutCollisions) {
    testutil::TempDir tmp;
    auto v9 = hs::corestore::Corestore::open(tmp.path());
    ASSERT_TRUE(v9.ok()) << v9.error().message;
    auto old_core = (*v9)->get_by_name(as_bytes("same-name"));
    ASSERT_TRUE(old_core.ok());
    ASSERT_TRUE((*old_core)->append(as_bytes("first generation")).ok());

    // Opened while the first-generation store holds its own lock on the root.
    auto v11 = Corestore::open(tmp.path());
    ASSERT_TRUE(v11.ok()) << v11.error().message;
    {
        auto core = (*v11)->open_by_name(as_bytes("same-name"));
        ASSERT_TRUE(core.ok());
        append_one(core->storage(), "second generation");
    }
    auto list = (*v11)->list();
    ASSERT_TRUE(list.ok()) << list.error().message;
    ASSERT_EQ(list->size(), 2u);
    std::set<int> generations;
    for (const auto& c : *list) {
        generations.insert(c.generation);
        EXPECT_TRUE(c.key.has_value());
        if (c.generation == 11) {
            EXPECT_TRUE(c.writable);
            EXPECT_EQ(c.length, 1u);
        }
    }
    EXPECT_EQ(generations, (std::set<int>{9, 11}));
    // The first generation sees only its own core.
    auto v9_dirs = hs::corestore::scan_core_dirs(tmp.path());
    ASSERT_TRUE(v9_dirs.ok());
    EXPECT_EQ(v9_dirs->size(), 1u);
    auto v9_list = (*v9)->list();
    ASSERT_TRUE(v9_list.ok());
    EXPECT_EQ(v9_list->size(), 1u);
}

TEST(V11Corestore, ASecondOpenOfTheFolderIsRefusedWhileTheFirstHoldsIt) {
    testutil::TempDir tmp;
    auto first = Corestore::open(tmp.path());
    ASSERT_TRUE(first.ok());
    auto second = Corestore::open(tmp.path());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, Errc::Locked);
    EXPECT_NE(second.error().message.find((tmp.path() / "v11").string()), std::string::npos)
        << second.error().message;
    EXPECT_NE(second.error().message.find("in use"), std::string::npos);
    first->reset();
    EXPECT_TRUE(Corestore::open(tmp.path()).ok());
}

TEST(V11Corestore, IdleCoresBeyondTheBoundCloseLeastRecentlyUsedFirst) {
    testutil::TempDir tmp;
    CorestoreOptions o;
    o.max_open_cores = 3;
    auto store = Corestore::open(tmp.path(), o);
    ASSERT_TRUE(store.ok());
    auto& s = **store;
    auto held = s.open_by_name(as_bytes("held"));
    ASSERT_TRUE(held.ok());
    for (int i = 0; i < 10; ++i) {
        auto c = s.open_by_name(as_bytes("c" + std::to_string(i)));
        ASSERT_TRUE(c.ok());
        append_one(c->storage(), "v" + std::to_string(i));
        EXPECT_LE(s.open_cores(), 3u);
    }
    EXPECT_EQ(s.open_cores(), 3u);  // held + the two most recent
    append_one(held->storage(), "still open");
    // Closed ones reopen with what they had.
    for (int i = 0; i < 10; ++i) {
        auto c = s.open_by_name(as_bytes("c" + std::to_string(i)));
        ASSERT_TRUE(c.ok());
        EXPECT_EQ(c->storage().header().head.length, 1u);
        auto v = c->storage().block(0, 0, 2);
        ASSERT_TRUE(v.ok() && v->has_value());
        EXPECT_EQ(as_string(**v), "v" + std::to_string(i).substr(0, 1));
    }
    // Many handles at once exceed the bound: nothing in use is closed.
    std::vector<CoreHandle> many;
    for (int i = 0; i < 6; ++i) many.push_back(std::move(s.open_by_name(as_bytes("c" + std::to_string(i)))).value());
    EXPECT_EQ(s.open_cores(), 7u);
    many.clear();
    EXPECT_EQ(s.open_cores(), 3u);
}

}  // namespace
}  // namespace hs::v11::corestore
