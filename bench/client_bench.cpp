// hs_client_bench: a running Hyperspace daemon (ours or the JS one) driven by our C++ client
// library (hs_client), the C++ half of bench/client_bench.js, which runs the same workload with
// the JS client and prints the four stacks side by side (bench/README.md "Client").
//
// For each block size, `--warmup` untimed then `--reps` timed repetitions; each repetition and
// each in-flight count opens a new writable core (`--prefix`-<bytes>x<N>-<rep>-f<inflight>) and
// times, from the first call to the last answer:
//   append1    N calls of one block      (blocks 0 .. N-1)
//   append100  N / --batch calls of --batch blocks (blocks N .. 2N-1)
//   get1       N calls get(i), i = 0 .. N-1
// with 1 or 16 (`--inflight`) calls in flight.
//
// In flight: W coroutines of the awaitable flavour (hyperspace/asio.h) on one io_context, run by
// this thread, taking the next call from a shared counter. One thread, as the JS client is one
// (its figures and ours then compare per client thread, and our client's own I/O and event
// threads count in its CPU as they do in the process); W blocking threads would add W stacks and a
// thread wake-up per call to what is measured.
//
// CPU: the daemon's (--daemon-pid) from /proc/<pid>/task/*/schedstat (nanoseconds on CPU, summed
// over its threads: /proc/<pid>/stat counts in 10 ms ticks, too coarse for cases of a fraction of
// a second), ours from CLOCK_PROCESS_CPUTIME_ID (every thread of this process).
//
// Checks (untimed): every append answers the expected index (1 in flight) or one of the expected
// indices exactly once (W in flight: calls may be handled in any order), every get the block size;
// after the cases the core's length, byte length, and get() of every block (repetition 0) or
// of a sample must equal what was appended at that index. Prints one JSON document on stdout; a
// failed check is listed in "problems" and makes the exit status 2.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <hyperspace/asio.h>
#include <hyperspace/client.h>
#include <nlohmann/json.hpp>

#include "lib/blocks.h"

namespace hs::bench {
namespace {

struct Workload {
    std::size_t block_bytes = 0;
    std::uint64_t blocks = 0;
};

struct Options {
    std::string socket;  // a name (<tmpdir>/<name>.sock) or a path (contains '/')
    int daemon_pid = 0;
    std::vector<Workload> workloads;
    std::vector<unsigned> inflight = {1, 16};
    std::size_t batch = 100;
    int reps = 3;
    int warmup = 1;
    int first_rep = 0;  // repetition numbers start here (core names stay new across runs)
    std::string prefix = "cb-cpp";
    std::vector<std::string> cases = {"append1", "append100", "get1"};
    bool has(std::string_view c) const { return std::find(cases.begin(), cases.end(), c) != cases.end(); }
};

// CPU seconds of every thread of `pid` (0: none).
double daemon_cpu(int pid) {
    if (pid == 0) return 0;
    double ns = 0;
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(t.path() / "schedstat");
        double v = 0;
        if (in >> v) ns += v;  // a thread that ended meanwhile reads nothing
    }
    return ns / 1e9;
}

// Blocks 0 .. 2N-1 of a workload, in one buffer.
class Blocks {
public:
    explicit Blocks(const Workload& w) : m_bytes(w.block_bytes), m_data(w.block_bytes * 2 * w.blocks) {
        for (std::uint64_t i = 0; i < 2 * w.blocks; ++i)
            fill_block(i, std::span<std::uint8_t>(m_data.data() + i * m_bytes, m_bytes));
    }
    std::string_view text(std::uint64_t i) const {
        return {reinterpret_cast<const char*>(m_data.data() + i * m_bytes), m_bytes};
    }
    bool equals(std::uint64_t i, const std::vector<std::uint8_t>& b) const {
        return b.size() == m_bytes && std::equal(b.begin(), b.end(), m_data.begin() + static_cast<std::ptrdiff_t>(i * m_bytes));
    }

private:
    std::size_t m_bytes;
    std::vector<std::uint8_t> m_data;
};

// One timed case: the calls [next, end) in steps of `step`, shared by the workers.
struct Calls {
    std::uint64_t next = 0;
    std::uint64_t end = 0;
    std::uint64_t step = 1;
    std::uint64_t start = 0;
    unsigned inflight = 1;
    std::vector<std::string> problems;
    void problem(std::string p) {
        if (problems.size() < 20) problems.push_back(std::move(p));
    }
};

// Appends blocks [i, i + step) per call; answers[(i - start) / step] = the index the daemon gave.
asio::awaitable<void> append_worker(hyperspace::RemoteHypercore core, const Blocks& blocks,
                                    Calls& calls, std::vector<std::uint64_t>& answers) {
    while (calls.next < calls.end) {
        const std::uint64_t i = calls.next;
        calls.next += calls.step;
        std::vector<std::string> batch;
        batch.reserve(calls.step);
        for (std::uint64_t k = 0; k < calls.step; ++k) batch.emplace_back(blocks.text(i + k));
        const std::uint64_t seq = co_await hyperspace::co::append(core, std::move(batch));
        answers[(i - calls.start) / calls.step] = seq;
        if (calls.inflight == 1 && seq != i)
            calls.problem("append of block " + std::to_string(i) + " returned index " + std::to_string(seq));
    }
}

asio::awaitable<void> get_worker(hyperspace::RemoteHypercore core, std::size_t block_bytes, Calls& calls) {
    while (calls.next < calls.end) {
        const std::uint64_t i = calls.next++;
        const auto b = co_await hyperspace::co::get(core, i);
        if (b.size() != block_bytes)
            calls.problem("get(" + std::to_string(i) + ") returned " + std::to_string(b.size()) + " bytes");
    }
}

// Runs `make(calls)` in calls.inflight coroutines on io until all are done; rethrows the first
// failure.
template <typename Make>
void run_workers(asio::io_context& io, Calls& calls, Make make) {
    std::exception_ptr failure;
    for (unsigned w = 0; w < calls.inflight; ++w)
        asio::co_spawn(io, make(), [&](std::exception_ptr e) {
            if (e && !failure) failure = e;
        });
    io.run();
    io.restart();
    if (failure) std::rethrow_exception(failure);
}

// Indices the later repetitions read back (as bench/daemon_bench.js sampleIndices).
std::vector<std::uint64_t> sample_indices(std::uint64_t total) {
    const std::uint64_t n = total / 2;
    std::set<std::uint64_t> s = {0, 1, n / 2, n - 1, n, n + 1, n + n / 2, total - 2, total - 1};
    std::uint32_t x = 0x2545F491u;
    for (int k = 0; k < 16; ++k) s.insert(xorshift32(x) % total);
    return {s.begin(), s.end()};
}

class Runner {
public:
    Runner(const Options& o, hyperspace::Client& client) : m_o(o), m_client(client) {}

    void run(const Workload& w) {
        const Blocks blocks(w);
        for (int r = 0; r < m_o.warmup + m_o.reps; ++r)
            for (unsigned inflight : m_o.inflight) run_rep(w, blocks, m_o.first_rep + r, r < m_o.warmup, inflight);
    }

    nlohmann::json samples() const { return m_samples; }
    const std::vector<std::string>& problems() const { return m_problems; }

private:
    void run_rep(const Workload& w, const Blocks& blocks, int rep, bool warmup, unsigned inflight) {
        const std::uint64_t n = w.blocks;
        const std::string tag = std::to_string(w.block_bytes) + "x" + std::to_string(n);
        const std::string name = m_o.prefix + "-" + tag + "-" + std::to_string(rep) + "-f" + std::to_string(inflight);
        const std::string where = tag + " rep " + std::to_string(rep) + " inflight " + std::to_string(inflight);
        auto core = m_client.corestore().get({.name = name});
        if (core.length() != 0) {
            m_problems.push_back(where + ": core " + name + " is not new (length " + std::to_string(core.length()) + ")");
            return;
        }
        // pos -> block index, from the append answers
        std::vector<std::uint64_t> block_at(2 * n, UINT64_MAX);
        nlohmann::json cases = nlohmann::json::object();
        std::vector<std::string> problems;
        const auto timed = [&](const char* c, Calls& calls, auto make) {
            const double d0 = daemon_cpu(m_o.daemon_pid);
            const double c0 = cpu_seconds();
            const auto t0 = Clock::now();
            run_workers(m_io, calls, make);
            const double seconds = seconds_since(t0);
            cases[c] = {{"seconds", seconds},
                        {"daemon_cpu_s", daemon_cpu(m_o.daemon_pid) - d0},
                        {"client_cpu_s", cpu_seconds() - c0}};
            for (auto& p : calls.problems) problems.push_back(std::string(c) + ": " + p);
        };
        try {
            // append100 starts where append1 ended (at 0 when append1 does not run)
            const std::uint64_t second = m_o.has("append1") ? n : 0;
            for (const auto& [c, start, step] : {std::tuple{"append1", std::uint64_t{0}, std::uint64_t{1}},
                                                std::tuple{"append100", second, std::uint64_t{m_o.batch}}}) {
                if (!m_o.has(c)) continue;
                Calls calls{.next = start, .end = start + n, .step = step, .start = start, .inflight = inflight};
                std::vector<std::uint64_t> answers(n / step, UINT64_MAX);
                timed(c, calls, [&] { return append_worker(core, blocks, calls, answers); });
                record_answers(c, calls, answers, block_at, problems);
            }
            Calls gets{.next = 0, .end = n, .step = 1, .start = 0, .inflight = inflight};
            if (m_o.has("get1")) timed("get1", gets, [&] { return get_worker(core, w.block_bytes, gets); });
            // Checks, untimed.
            const std::uint64_t length = (m_o.has("append1") ? n : 0) + (m_o.has("append100") ? n : 0);
            if (core.length() != length)
                problems.push_back("length " + std::to_string(core.length()) + ", expected " + std::to_string(length));
            if (core.byte_length() != length * w.block_bytes)
                problems.push_back("byte length " + std::to_string(core.byte_length()) + ", expected " +
                                   std::to_string(length * w.block_bytes));
            std::vector<std::uint64_t> idx;
            if (rep == 0) {
                for (std::uint64_t i = 0; i < 2 * n; ++i) idx.push_back(i);
            } else {
                idx = sample_indices(2 * n);
            }
            for (std::uint64_t pos : idx) {
                if (pos >= length || block_at[pos] == UINT64_MAX) continue;  // not appended, or reported
                if (!blocks.equals(block_at[pos], core.get(pos))) {
                    problems.push_back("get(" + std::to_string(pos) + ") differs from block " +
                                       std::to_string(block_at[pos]) + ", appended there");
                    break;
                }
            }
            cases["checked"] = idx.size();
        } catch (const std::exception& e) {
            problems.push_back(e.what());
        }
        core.close();
        if (!problems.empty()) {
            for (auto& p : problems) m_problems.push_back(where + ": " + p);
            return;
        }
        m_samples.push_back({{"block_bytes", w.block_bytes},
                             {"blocks", n},
                             {"rep", rep},
                             {"warmup", warmup},
                             {"inflight", inflight},
                             {"cases", cases}});
        std::string times;
        for (const auto& c : m_o.cases)
            times += (times.empty() ? "" : ", ") + c + " " + std::to_string(cases[c]["seconds"].get<double>()).substr(0, 5) + " s";
        std::fprintf(stderr, "cpp %s: %s\n", where.c_str(), times.c_str());
    }

    // Each call's answer must be one of the call starts, each once; block_at then maps every
    // index of the core to the block appended there.
    static void record_answers(const char* c, const Calls& calls, const std::vector<std::uint64_t>& answers,
                               std::vector<std::uint64_t>& block_at, std::vector<std::string>& problems) {
        std::set<std::uint64_t> seen;
        for (std::size_t k = 0; k < answers.size(); ++k) {
            const std::uint64_t seq = answers[k];
            if (seq < calls.start || seq >= calls.end || (seq - calls.start) % calls.step != 0 || !seen.insert(seq).second) {
                problems.push_back(std::string(c) + ": call " + std::to_string(k) + " answered index " + std::to_string(seq));
                return;
            }
            for (std::uint64_t j = 0; j < calls.step; ++j) block_at[seq + j] = calls.start + k * calls.step + j;
        }
    }

    const Options& m_o;
    hyperspace::Client& m_client;
    asio::io_context m_io;
    nlohmann::json m_samples = nlohmann::json::array();
    std::vector<std::string> m_problems;
};

Workload parse_workload(const std::string& s) {
    const auto colon = s.find(':');
    if (colon == std::string::npos) throw CLI::ValidationError("--sizes", "expected BYTES:BLOCKS, got " + s);
    Workload w;
    w.block_bytes = std::stoull(s.substr(0, colon));
    w.blocks = std::stoull(s.substr(colon + 1));
    if (w.block_bytes == 0 || w.blocks < 2) throw CLI::ValidationError("--sizes", "need BYTES >= 1, BLOCKS >= 2");
    return w;
}

int run(int argc, char** argv) {
    Options o;
    std::vector<std::string> sizes = {"1024:5000", "65536:1000"};
    CLI::App app{"A Hyperspace daemon driven by the C++ client: append/get throughput (JSON on stdout)"};
    app.add_option("--socket", o.socket,
                   "The daemon's UNIX socket: a name (<tmpdir>/<name>.sock) or a path (default: as the client)");
    app.add_option("--daemon-pid", o.daemon_pid, "The daemon's pid, for its CPU time (0: not measured)");
    app.add_option("--sizes", sizes, "BYTES:BLOCKS workloads")->delimiter(',');
    app.add_option("--inflight", o.inflight, "Calls in flight, one run per count")->delimiter(',')->check(CLI::Range(1, 1024));
    app.add_option("--batch", o.batch, "Blocks per call in append100")->check(CLI::Range(1, 100000));
    app.add_option("--reps", o.reps, "Timed repetitions")->check(CLI::Range(1, 100));
    app.add_option("--warmup", o.warmup, "Untimed repetitions first")->check(CLI::Range(0, 100));
    app.add_option("--first-rep", o.first_rep, "Number of the first repetition (core names)")->check(CLI::Range(0, 1000000));
    app.add_option("--prefix", o.prefix, "Core names start with this");
    app.add_option("--cases", o.cases, "Cases to run (get1 reads what append1 wrote)")
        ->delimiter(',')
        ->check(CLI::IsMember({"append1", "append100", "get1"}));
    try {
        app.parse(argc, argv);
        for (const auto& s : sizes) o.workloads.push_back(parse_workload(s));
        if (o.has("get1") && !o.has("append1")) throw CLI::ValidationError("--cases", "get1 needs append1");
        for (const auto& w : o.workloads)
            if (o.has("append100") && w.blocks % o.batch != 0) throw CLI::ValidationError("--sizes", "BLOCKS must be a multiple of --batch");
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    const auto endpoint = o.socket.empty()                              ? hyperspace::Endpoint::from_environment()
                          : o.socket.find('/') != std::string::npos ? hyperspace::Endpoint::unix_path(o.socket)
                                                                    : hyperspace::Endpoint::unix_socket(o.socket);
    nlohmann::json samples = nlohmann::json::array();
    std::vector<std::string> problems;
    try {
        hyperspace::Client client(endpoint);
        const auto status = client.status();
        Runner runner(o, client);
        for (const auto& w : o.workloads) runner.run(w);
        samples = runner.samples();
        problems = runner.problems();
        // Medians of the timed samples, per size, in-flight count and case.
        nlohmann::json results = nlohmann::json::array();
        for (const auto& w : o.workloads)
            for (unsigned inflight : o.inflight)
                for (const auto& c : o.cases) {
                    std::vector<double> s, d, u;
                    for (const auto& x : samples)
                        if (!x["warmup"].get<bool>() && x["block_bytes"] == w.block_bytes && x["blocks"] == w.blocks &&
                            x["inflight"] == inflight) {
                            s.push_back(x["cases"][c]["seconds"].get<double>());
                            d.push_back(x["cases"][c]["daemon_cpu_s"].get<double>());
                            u.push_back(x["cases"][c]["client_cpu_s"].get<double>());
                        }
                    if (s.empty()) continue;
                    const double n = static_cast<double>(w.blocks);
                    results.push_back({{"case", c},
                                       {"block_bytes", w.block_bytes},
                                       {"blocks", w.blocks},
                                       {"inflight", inflight},
                                       {"median_s", median(s)},
                                       {"blocks_per_s", n / median(s)},
                                       {"mb_per_s", n * static_cast<double>(w.block_bytes) / median(s) / 1e6},
                                       {"daemon_cpu_us_per_block", median(d) / n * 1e6},
                                       {"client_cpu_us_per_block", median(u) / n * 1e6}});
                }
        nlohmann::json doc = {{"impl", "cpp-client"},
                              {"endpoint", endpoint.describe()},
                              {"daemon_version", status.version},
                              {"daemon_pid", o.daemon_pid},
                              {"batch", o.batch},
                              {"results", results},
                              {"samples", samples},
                              {"problems", problems}};
        std::printf("%s\n", doc.dump().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hs_client_bench: %s\n", e.what());
        return 1;
    }
    return problems.empty() ? 0 : 2;
}

}  // namespace
}  // namespace hs::bench

int main(int argc, char** argv) { return hs::bench::run(argc, argv); }
