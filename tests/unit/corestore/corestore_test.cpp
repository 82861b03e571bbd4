#include "v9/corestore/corestore.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "v9/corestore/layout.h"
#include "common/crypto/derive.h"
#include "testutil/temp_dir.h"
#include "common/util/hex.h"

namespace hs::corestore {
namespace {

using testutil::TempDir;

void write_master_key(const std::filesystem::path& dir, std::uint8_t fill) {
    std::filesystem::create_directories(dir);
    testutil::write_file(dir / kMasterKeyFile, Bytes(32, fill));
}

TEST(Corestore, CreatesMasterKeyOnce) {
    TempDir dir;
    ByteArray<32> first;
    {
        auto store = Corestore::open(dir.path());
        ASSERT_TRUE(store.ok()) << store.error().message;
        first = (*store)->master_key();
    }
    EXPECT_EQ(testutil::read_file(dir.path() / kMasterKeyFile), to_bytes(first));
    auto store = Corestore::open(dir.path());
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->master_key(), first);
}

TEST(Corestore, NamedCoreMatchesCorestore5Derivation) {
    TempDir dir;
    write_master_key(dir.path(), 2);
    auto store = std::move(Corestore::open(dir.path()).value());
    auto core = store->get_by_name(as_bytes("default"));
    ASSERT_TRUE(core.ok()) << core.error().message;
    EXPECT_EQ(to_hex((*core)->key()), "daa97e230be28c214560d9749671d7284cb4b193804906cf9bee29615729a5da");
    EXPECT_TRUE((*core)->writable());
    const auto cdir = core_dir(dir.path(), (*core)->discovery_key());
    const std::string dk = to_hex((*core)->discovery_key());
    EXPECT_EQ(cdir, dir.path() / dk.substr(0, 2) / dk.substr(2, 2) / dk);
    EXPECT_EQ(testutil::read_file(cdir / "name"), encode_name_file(as_bytes("default")));
    EXPECT_TRUE(std::filesystem::exists(cdir / "key"));
    EXPECT_TRUE(std::filesystem::exists(cdir / "tree"));
    EXPECT_TRUE(std::filesystem::exists(cdir / "bitfield"));
    EXPECT_TRUE(std::filesystem::exists(cdir / "signatures"));
    EXPECT_FALSE(std::filesystem::exists(cdir / "secret_key"));
}

TEST(Corestore, ReopenByKeyIsWritableAndSameCore) {
    TempDir dir;
    crypto::PublicKey key;
    {
        auto store = std::move(Corestore::open(dir.path()).value());
        auto core = std::move(store->get_by_name(as_bytes("notes")).value());
        ASSERT_TRUE(core->append(as_bytes("one")).ok());
        key = core->key();
    }
    auto store = std::move(Corestore::open(dir.path()).value());
    auto core = store->get_by_key(key);
    ASSERT_TRUE(core.ok());
    EXPECT_TRUE((*core)->writable());
    EXPECT_EQ(*(*core)->get(0), to_bytes("one"));
    // Same entry through every route.
    auto by_dk = store->get_by_discovery_key((*core)->discovery_key());
    ASSERT_TRUE(by_dk.ok());
    EXPECT_EQ(by_dk->get(), core->get());
}

TEST(Corestore, ListShowsNamedUnnamedAndRemoteCores) {
    TempDir dir;
    auto store = std::move(Corestore::open(dir.path()).value());
    auto named = std::move(store->get_by_name(as_bytes("a")).value());
    auto unnamed = std::move(store->create().value());
    const auto remote_key = crypto::keypair_from_seed(Bytes(32, 5)).public_key;
    auto remote = std::move(store->get_by_key(remote_key).value());
    EXPECT_FALSE(remote->writable());
    auto list = store->list();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 3u);
    for (const auto& info : *list) {
        if (info.key == named->key()) {
            EXPECT_EQ(*info.name, to_bytes("a"));
            EXPECT_TRUE(info.writable);
        } else if (info.key == unnamed->key()) {
            ASSERT_TRUE(info.name);
            EXPECT_EQ(info.name->size(), 32u);
            EXPECT_TRUE(info.writable);
        } else {
            EXPECT_EQ(info.key, remote_key);
            EXPECT_FALSE(info.name);
            EXPECT_FALSE(info.writable);
        }
    }
}

TEST(Corestore, SecondWriterIsRefusedWithAClearError) {
    TempDir dir;
    auto store = Corestore::open(dir.path());
    ASSERT_TRUE(store.ok());
    // A second opener in another process (flock is per open file description; a child process
    // makes the test independent of that detail).
    pid_t pid = fork();
    if (pid == 0) {
        auto second = Corestore::open(dir.path());
        const bool refused = !second.ok() && second.error().code == Errc::Locked &&
                             second.error().message.find(dir.path().string()) != std::string::npos;
        _exit(refused ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // Readers still open it.
    CorestoreOptions ro;
    ro.read_only = true;
    EXPECT_TRUE(Corestore::open(dir.path(), ro).ok());
}

TEST(Corestore, LockIsReleasedOnClose) {
    TempDir dir;
    { ASSERT_TRUE(Corestore::open(dir.path()).ok()); }
    pid_t pid = fork();
    if (pid == 0) _exit(Corestore::open(dir.path()).ok() ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Corestore, LockHolderIsNamed) {
    TempDir dir;
    auto store = Corestore::open(dir.path());
    ASSERT_TRUE(store.ok());
    auto holder = flock_holder(dir.path());
    ASSERT_TRUE(holder.has_value());
    EXPECT_NE(holder->find("pid " + std::to_string(getpid())), std::string::npos);
}

TEST(Corestore, UnreferencedCoresAreClosedByLru) {
    TempDir dir;
    CorestoreOptions o;
    o.cache_size = 2;
    auto store = std::move(Corestore::open(dir.path(), o).value());
    std::vector<crypto::PublicKey> keys;
    {
        std::vector<CoreHandle> held;
        for (int i = 0; i < 5; ++i) {
            auto c = std::move(store->get_by_name(as_bytes("c" + std::to_string(i))).value());
            ASSERT_TRUE(c->append(as_bytes("x")).ok());
            keys.push_back(c->key());
            held.push_back(c);
        }
        EXPECT_EQ(store->open_count(), 5u);  // referenced cores are never closed
    }
    EXPECT_EQ(store->open_count(), 2u);
    EXPECT_EQ(store->cached_unreferenced(), 2u);
    // A closed core reopens with its data.
    auto again = store->get_by_key(keys[0]);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*(*again)->get(0), to_bytes("x"));
    EXPECT_EQ(store->cached_unreferenced(), 2u);
}

TEST(Corestore, RemoveDeletesFilesAndRefusesReferencedCores) {
    TempDir dir;
    auto store = std::move(Corestore::open(dir.path()).value());
    crypto::PublicKey key;
    {
        auto c = std::move(store->get_by_name(as_bytes("gone")).value());
        key = c->key();
        EXPECT_EQ(store->remove(key).error().code, Errc::Exists);
    }
    ASSERT_TRUE(store->remove(key).ok());
    EXPECT_TRUE(store->list()->empty());
    EXPECT_FALSE(std::filesystem::exists(core_dir(dir.path(), crypto::discovery_key(key))));
    EXPECT_EQ(store->remove(key).error().code, Errc::NotFound);
}

TEST(Corestore, ReadOnlyStoreOpensNothingNew) {
    TempDir dir;
    { ASSERT_TRUE(Corestore::open(dir.path()).ok()); }
    CorestoreOptions ro;
    ro.read_only = true;
    auto store = std::move(Corestore::open(dir.path(), ro).value());
    EXPECT_EQ(store->get_by_name(as_bytes("new")).error().code, Errc::NotFound);
    EXPECT_EQ(store->get_by_key(crypto::keypair_from_seed(Bytes(32, 4)).public_key).error().code,
              Errc::NotFound);
    EXPECT_TRUE(store->list()->empty());
    EXPECT_FALSE(Corestore::open(dir.path() / "missing", ro).ok());
}

TEST(Corestore, MemoryStoreListsAndReopens) {
    CorestoreOptions o;
    o.cache_size = 0;
    auto store = std::move(Corestore::open_memory(o).value());
    crypto::PublicKey key;
    {
        auto c = std::move(store->get_by_name(as_bytes("m")).value());
        ASSERT_TRUE(c->append(as_bytes("kept")).ok());
        key = c->key();
    }
    EXPECT_EQ(store->open_count(), 0u);
    auto again = store->get_by_key(key, false);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE((*again)->writable());
    EXPECT_EQ(*(*again)->get(0), to_bytes("kept"));
    ASSERT_EQ(store->list()->size(), 1u);
}

TEST(Layout, NameFileRoundTripAndMalformed) {
    const auto f = encode_name_file(as_bytes("hello"));
    EXPECT_EQ(f[0], 5);
    EXPECT_EQ(*decode_name_file(f), to_bytes("hello"));
    const Bytes bad = {0x09, 'a'};
    EXPECT_FALSE(decode_name_file(bad));
}

}  // namespace
}  // namespace hs::corestore
