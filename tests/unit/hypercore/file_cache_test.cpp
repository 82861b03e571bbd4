// The file-descriptor cache of directory storage (hypercore/file_cache.h): a small bound holds
// while hundreds of cores are written and read interleaved, evicted files reopen (and sync)
// correctly, each open core's bitfield lock survives any amount of eviction, running out of
// descriptors is survived or reported with the file and what to do, and a core whose creation
// fails midway leaves nothing on disk.
#include "v9/hypercore/file_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "v9/corestore/corestore.h"
#include "v9/corestore/layout.h"
#include "v9/hypercore/random_access.h"
#include "testutil/temp_dir.h"

namespace hs::hypercore {
namespace {

using corestore::Corestore;
using corestore::CorestoreOptions;
using corestore::CoreHandle;
using testutil::TempDir;

std::string block_text(std::size_t core, std::size_t round) {
    return "core " + std::to_string(core) + " block " + std::to_string(round);
}

std::string core_name(std::size_t i) { return "core-" + std::to_string(i); }

// Runs `body` in a forked child (for tests that lower RLIMIT_NOFILE or exhaust descriptors);
// the child's exit code is the number of failed checks (capped), reported with `what`.
void run_in_child(const std::function<int()>& body) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int failures = 1;
        try {
            failures = body();
        } catch (...) {
        }
        std::fflush(stderr);
        ::_exit(std::min(failures, 100));
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died with status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "failed checks in the child (see its stderr above)";
}

// run_in_child with the child's open-file limit (soft and hard) set to n before body runs.
void run_with_file_limit(rlim_t n, const std::function<int()>& body) {
    run_in_child([&] {
        struct rlimit rl{n, n};
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            std::fprintf(stderr, "setrlimit(RLIMIT_NOFILE, %llu): %s\n",
                         static_cast<unsigned long long>(n), std::strerror(errno));
            return 1;
        }
        return body();
    });
}

#define CHILD_CHECK(cond, ...)                                                   \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                   \
            std::fprintf(stderr, "\n");                                          \
            ++failures;                                                          \
        }                                                                        \
    } while (0)

TEST(FileCache, SmallBoundHoldsWhileHundredsOfCoresAreWrittenAndReadInterleaved) {
    TempDir dir;
    constexpr std::size_t kCores = 240;
    constexpr std::size_t kRounds = 4;
    constexpr std::size_t kBound = 8;
    const std::size_t fds_before = count_open_fds();
    std::vector<crypto::PublicKey> keys;
    {
        CorestoreOptions options;
        options.max_open_files = kBound;
        auto store = std::move(Corestore::open(dir.path(), options).value());
        const auto& cache = store->file_cache();
        ASSERT_EQ(cache->max_open(), kBound);
        std::vector<CoreHandle> cores;
        for (std::size_t i = 0; i < kCores; ++i) {
            auto core = store->get_by_name(as_bytes(core_name(i)));
            ASSERT_TRUE(core.ok()) << core.error().message;
            keys.push_back((*core)->key());
            cores.push_back(std::move(core).value());
            ASSERT_LE(cache->stats().open, kBound);
        }
        for (std::size_t round = 0; round < kRounds; ++round) {
            for (std::size_t i = 0; i < kCores; ++i) {
                auto seq = cores[i]->append(as_bytes(block_text(i, round)));
                ASSERT_TRUE(seq.ok()) << seq.error().message;
                ASSERT_EQ(*seq, round);
                // Read an older block of another core in between: its files were evicted.
                const std::size_t other = (i * 7 + 3) % kCores;
                if (cores[other]->length() > 0) {
                    auto got = cores[other]->get(cores[other]->length() - 1);
                    ASSERT_TRUE(got.ok()) << got.error().message;
                    ASSERT_EQ(*got, to_bytes(block_text(other, cores[other]->length() - 1)));
                }
                ASSERT_LE(cache->stats().open, kBound);
            }
        }
        const auto stats = cache->stats();
        std::printf("%zu cores, bound %zu: %llu hits, %llu misses, %llu evictions\n", kCores, kBound,
                    static_cast<unsigned long long>(stats.hits),
                    static_cast<unsigned long long>(stats.misses),
                    static_cast<unsigned long long>(stats.evictions));
        EXPECT_LE(stats.peak_open, kBound);
        EXPECT_EQ(stats.pinned, kCores);  // one locked bitfield per open core
        EXPECT_GT(stats.evictions, 0u);
        EXPECT_GT(stats.misses, 0u);
        // Every descriptor the store holds: the pinned bitfields, the bounded cache and the
        // folder lock (no other descriptors appear or leak).
        EXPECT_LE(count_open_fds(), fds_before + kCores + kBound + 1);
        // Syncing evicted cores reopens their written files (a few: fdatasync is slow).
        for (std::size_t i = 0; i < kCores; i += kCores / 4) {
            auto st = cores[i]->sync();
            ASSERT_TRUE(st.ok()) << st.error().message;
        }
    }
    EXPECT_EQ(count_open_fds(), fds_before);
    // Reopen: every core has every block.
    CorestoreOptions options;
    options.max_open_files = kBound;
    auto store = std::move(Corestore::open(dir.path(), options).value());
    for (std::size_t i = kCores; i-- > 0;) {
        auto core = store->get_by_key(keys[i], false);
        ASSERT_TRUE(core.ok()) << core.error().message;
        ASSERT_EQ((*core)->length(), kRounds);
        ASSERT_TRUE((*core)->writable());
        for (std::size_t round = 0; round < kRounds; ++round) {
            auto got = (*core)->get(round);
            ASSERT_TRUE(got.ok()) << got.error().message;
            EXPECT_EQ(*got, to_bytes(block_text(i, round)));
        }
    }
}

TEST(FileCache, ReadOnlyOpenerPinsNothingAndStaysWithinTheBound) {
    TempDir dir;
    constexpr std::size_t kCores = 40;
    std::vector<crypto::PublicKey> keys;
    {
        auto store = std::move(Corestore::open(dir.path()).value());
        for (std::size_t i = 0; i < kCores; ++i) {
            auto core = std::move(store->get_by_name(as_bytes(core_name(i))).value());
            ASSERT_TRUE(core->append(as_bytes(block_text(i, 0))).ok());
            ASSERT_TRUE(core->append(as_bytes(block_text(i, 1))).ok());
            keys.push_back(core->key());
        }
    }
    CorestoreOptions options;
    options.read_only = true;
    options.max_open_files = 4;
    auto store = std::move(Corestore::open(dir.path(), options).value());
    std::vector<CoreHandle> cores;
    for (const auto& key : keys) {
        auto core = store->get_by_key(key, false);
        ASSERT_TRUE(core.ok()) << core.error().message;
        cores.push_back(std::move(core).value());
    }
    for (std::size_t round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < kCores; ++i) {
            auto got = cores[i]->get(round);
            ASSERT_TRUE(got.ok()) << got.error().message;
            EXPECT_EQ(*got, to_bytes(block_text(i, round)));
        }
    }
    const auto stats = store->file_cache()->stats();
    EXPECT_EQ(stats.pinned, 0u);
    EXPECT_LE(stats.peak_open, 4u);
    EXPECT_GT(stats.evictions, 0u);
    EXPECT_FALSE(cores[0]->append(as_bytes("x")).ok());
}

TEST(FileCache, BitfieldLockSurvivesEvictionOfEverythingElse) {
    TempDir dir;
    CorestoreOptions options;
    options.max_open_files = 4;
    auto store = std::move(Corestore::open(dir.path(), options).value());
    auto first = std::move(store->get_by_name(as_bytes("first")).value());
    ASSERT_TRUE(first->append(as_bytes("a")).ok());
    std::vector<CoreHandle> others;
    for (std::size_t i = 0; i < 50; ++i) {
        others.push_back(std::move(store->get_by_name(as_bytes(core_name(i))).value()));
        ASSERT_TRUE(others.back()->append(as_bytes("b")).ok());
    }
    const auto bitfield = corestore::core_dir(dir.path(), first->discovery_key()) / "bitfield";
    // flock conflicts between open file descriptions, also inside one process.
    const int fd = ::open(bitfield.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0);
    EXPECT_EQ(errno, EWOULDBLOCK);
    ::close(fd);
    // The lock goes with the core.
    first = CoreHandle();
    others.clear();
    store.reset();
    const int fd2 = ::open(bitfield.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd2, 0);
    EXPECT_EQ(::flock(fd2, LOCK_EX | LOCK_NB), 0);
    ::close(fd2);
}

// Files of one storage, driven directly.
struct Files {
    explicit Files(const std::filesystem::path& dir, std::size_t bound, std::size_t n)
        : cache(std::make_shared<FileHandleCache>(bound)) {
        DirectoryStorageOptions options;
        options.lock_bitfield = false;
        options.file_cache = cache;
        provider = directory_storage(dir, options);
        for (std::size_t i = 0; i < n; ++i) files.push_back(std::move(provider->open("f" + std::to_string(i)).value()));
    }
    std::shared_ptr<FileHandleCache> cache;
    std::unique_ptr<StorageProvider> provider;
    std::vector<std::unique_ptr<RandomAccess>> files;
};

Bytes read_all(RandomAccess& f) {
    const std::uint64_t size = f.size().value();
    Bytes out(size);
    EXPECT_EQ(f.read(0, out).value(), size);
    return out;
}

TEST(FileCache, EvictedWrittenFileIsReopenedToSyncAndACleanOneIsNot) {
    TempDir dir;
    Files fs(dir.path(), 4, 8);
    ASSERT_TRUE(fs.files[0]->write(0, as_bytes("dirty")).ok());
    for (std::size_t i = 1; i < 8; ++i) ASSERT_TRUE(fs.files[i]->write(0, as_bytes("x")).ok());
    ASSERT_TRUE(fs.files[1]->sync().ok());  // written, evicted: reopened to be synced
    ASSERT_TRUE(fs.files[2]->sync().ok());
    auto before = fs.cache->stats();
    ASSERT_TRUE(fs.files[1]->sync().ok());  // synced and maybe evicted since: nothing to do
    ASSERT_TRUE(fs.files[0]->sync().ok());  // evicted long ago with unsynced writes: reopened
    auto after = fs.cache->stats();
    EXPECT_EQ(after.misses, before.misses + 1);
    ASSERT_TRUE(fs.files[0]->sync().ok());  // now clean and open
    EXPECT_EQ(fs.cache->stats().misses, after.misses);
    EXPECT_EQ(read_all(*fs.files[0]), to_bytes("dirty"));
}

TEST(FileCache, AFileDeletedOrReplacedWhileEvictedIsAnErrorNotAFreshFile) {
    TempDir dir;
    Files fs(dir.path(), 4, 8);
    for (std::size_t i = 0; i < 8; ++i) ASSERT_TRUE(fs.files[i]->write(0, as_bytes("data")).ok());
    // f0 and f1 were evicted by the later writes.
    std::filesystem::remove(dir.path() / "f0");
    auto r = fs.files[0]->read(0, MutableByteView());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("f0 was deleted while its core was open"), std::string::npos)
        << r.error().message;
    EXPECT_FALSE(fs.files[0]->write(0, as_bytes("again")).ok());
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "f0"));

    testutil::write_file(dir.path() / "f1.new", as_bytes("other"));
    std::filesystem::rename(dir.path() / "f1.new", dir.path() / "f1");
    auto s = fs.files[1]->size();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("f1 was replaced"), std::string::npos) << s.error().message;
    // The others are untouched.
    EXPECT_EQ(read_all(*fs.files[7]), to_bytes("data"));
}

TEST(FileCache, FilesOfOneCacheUsedFromSeveralThreads) {
    TempDir dir;
    constexpr std::size_t kThreads = 4;
    constexpr std::size_t kFilesEach = 6;
    auto cache = std::make_shared<FileHandleCache>(4);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            DirectoryStorageOptions options;
            options.lock_bitfield = false;
            options.file_cache = cache;
            auto provider = directory_storage(dir.path() / std::to_string(t), options);
            std::vector<std::unique_ptr<RandomAccess>> files;
            for (std::size_t i = 0; i < kFilesEach; ++i)
                files.push_back(std::move(provider->open("f" + std::to_string(i)).value()));
            for (std::uint64_t round = 0; round < 400; ++round) {
                for (std::size_t i = 0; i < kFilesEach; ++i) {
                    const std::uint64_t v = (t << 48) | (i << 32) | round;
                    if (!files[i]->write(round * 8, ByteView(reinterpret_cast<const std::uint8_t*>(&v), 8)).ok())
                        ++failures;
                    std::uint64_t back = 0;
                    auto n = files[i]->read(round * 8, MutableByteView(reinterpret_cast<std::uint8_t*>(&back), 8));
                    if (!n.ok() || *n != 8 || back != v) ++failures;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_LE(cache->stats().peak_open, 4u + kThreads);  // in-use files are never closed
    EXPECT_EQ(cache->stats().open, 0u);                   // all files are gone
}

// Fills the descriptor table up to `free_left` free slots; returns the filler descriptors.
std::vector<int> exhaust_fds(std::size_t free_left) {
    std::vector<int> fillers;
    for (;;) {
        const int fd = ::dup(0);
        if (fd < 0) break;
        fillers.push_back(fd);
    }
    for (std::size_t i = 0; i < free_left && !fillers.empty(); ++i) {
        ::close(fillers.back());
        fillers.pop_back();
    }
    return fillers;
}

TEST(FileCache, RunningOutOfDescriptorsShedsIdleOnesOrSaysWhatToDo) {
    TempDir dir;
    run_with_file_limit(256, [&] {
        int failures = 0;
        Files fs(dir.path(), 64, 6);
        for (auto& f : fs.files) CHILD_CHECK(f->write(0, as_bytes("data")).ok(), "write");
        // Every descriptor is taken except those the cache holds: the next open of an evicted
        // file gets EMFILE, closes an idle cached descriptor and goes on.
        auto fillers = exhaust_fds(0);
        auto more = directory_storage(dir.path() / "more", DirectoryStorageOptions{false, false, fs.cache});
        auto extra = std::move(more->open("g").value());
        auto w = extra->write(0, as_bytes("new"));
        CHILD_CHECK(w.ok(), "write with a full table: %s", w.ok() ? "" : w.error().message.c_str());
        for (auto& f : fs.files) {
            auto r = f->size();
            CHILD_CHECK(r.ok() && *r == 4, "size: %s", r.ok() ? "" : r.error().message.c_str());
        }
        // With nothing idle to close the error names the file and what to do.
        for (int fd : fillers) ::close(fd);
        fillers.clear();
        fs.files.clear();
        extra.reset();
        auto g = std::move(more->open("h").value());
        fillers = exhaust_fds(0);
        auto failed = g->write(0, as_bytes("h"));
        for (int fd : fillers) ::close(fd);
        CHILD_CHECK(!failed.ok(), "write without any free descriptor succeeded");
        if (!failed.ok()) {
            const auto& m = failed.error().message;
            CHILD_CHECK(m.find((dir.path() / "more" / "h").string()) != std::string::npos &&
                            m.find("ulimit -n") != std::string::npos &&
                            m.find("--max-open-files") != std::string::npos,
                        "message: %s", m.c_str());
        }
        return failures;
    });
}

TEST(FileCache, PinnedBitfieldsStopShortOfTheLimitSoSocketsStillOpen) {
    TempDir dir;
    run_with_file_limit(128, [&] {
        int failures = 0;
        CorestoreOptions options;
        options.max_open_files = 512;  // more than the limit allows: the limit wins
        auto store = std::move(Corestore::open(dir.path(), options).value());
        std::vector<CoreHandle> cores;
        std::string error;
        for (std::size_t i = 0; i < 400; ++i) {
            auto core = store->get_by_name(as_bytes(core_name(i)));
            if (!core) {
                error = core.error().message;
                break;
            }
            CHILD_CHECK((*core)->append(as_bytes("x")).ok(), "append %zu", i);
            cores.push_back(std::move(core).value());
        }
        CHILD_CHECK(!error.empty(), "400 cores opened under a limit of 128");
        CHILD_CHECK(error.find("cores are open and the open-file limit is 128 (ulimit -n)") !=
                        std::string::npos,
                    "message: %s", error.c_str());
        CHILD_CHECK(cores.size() >= 80, "only %zu cores opened", cores.size());
        CHILD_CHECK(count_open_fds() <= 128 - FileHandleCache::reserved_fds() + 8,
                    "%zu descriptors open", count_open_fds());
        // What is kept free lets a server accept connections.
        std::vector<int> sockets;
        for (int i = 0; i < 16; ++i) sockets.push_back(::socket(AF_UNIX, SOCK_STREAM, 0));
        for (int s : sockets) {
            CHILD_CHECK(s >= 0, "socket(): %s", std::strerror(errno));
            if (s >= 0) ::close(s);
        }
        // The refused core left nothing behind.
        auto listed = store->list();
        CHILD_CHECK(listed.ok() && listed->size() == cores.size(), "listed %zu of %zu",
                    listed.ok() ? listed->size() : 0, cores.size());
        return failures;
    });
}

// Every core folder below `root` (the <dk[0:2]>/<dk[2:4]>/<dk> layout), counted.
std::size_t count_entries(const std::filesystem::path& root) {
    std::size_t n = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(root);
         it != std::filesystem::recursive_directory_iterator(); ++it)
        ++n;
    return n;
}

TEST(FileCache, ACoreWhoseCreationFailsMidwayLeavesNothingOnDisk) {
    TempDir dir;
    run_with_file_limit(256, [&] {
        int failures = 0;
        CorestoreOptions options;
        auto store = std::move(Corestore::open(dir.path(), options).value());
        const std::size_t entries_before = count_entries(dir.path());  // master key (+ lock)
        // One free descriptor: the bitfield is created (and locked) in the new core's folder,
        // then the next file cannot be opened.
        auto fillers = exhaust_fds(1);
        auto core = store->get_by_name(as_bytes("doomed"));
        auto by_key = store->get_by_key(crypto::keypair_from_seed(Bytes(32, 9)).public_key);
        for (int fd : fillers) ::close(fd);
        CHILD_CHECK(!core.ok(), "the create succeeded with one free descriptor");
        CHILD_CHECK(!by_key.ok(), "the create by key succeeded with one free descriptor");
        if (!core.ok())
            CHILD_CHECK(core.error().message.find("ulimit -n") != std::string::npos, "message: %s",
                        core.error().message.c_str());
        CHILD_CHECK(count_entries(dir.path()) == entries_before, "%zu entries, %zu before",
                    count_entries(dir.path()), entries_before);
        auto listed = store->list();
        CHILD_CHECK(listed.ok() && listed->empty(), "a core is listed");
        // With descriptors free again the same core is created normally.
        auto again = store->get_by_name(as_bytes("doomed"));
        CHILD_CHECK(again.ok(), "create: %s", again.ok() ? "" : again.error().message.c_str());
        if (again.ok()) CHILD_CHECK((*again)->append(as_bytes("fine")).ok(), "append");
        return failures;
    });
}

TEST(FileCache, DefaultBoundFollowsTheLimit) {
    EXPECT_GE(FileHandleCache::default_max_open(), FileHandleCache::kMinMaxOpen);
    EXPECT_LE(FileHandleCache::default_max_open(), FileHandleCache::kDefaultMaxOpen);
    EXPECT_EQ(FileHandleCache(3).max_open(), FileHandleCache::kMinMaxOpen);
    EXPECT_EQ(FileHandleCache(100).max_open(), 100u);
    run_with_file_limit(400, [] {
        int failures = 0;
        CHILD_CHECK(FileHandleCache::default_max_open() == 100, "%zu", FileHandleCache::default_max_open());
        CHILD_CHECK(FileHandleCache::reserved_fds() == 100, "%zu", FileHandleCache::reserved_fds());
        return failures;
    });
}

}  // namespace
}  // namespace hs::hypercore
