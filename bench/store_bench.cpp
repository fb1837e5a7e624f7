// Throughput of the SQLite session store (SPEC §9: >= 20,000 durable /end records per second).
//
//   voicegate_store_bench [--sync full|normal|both] [--threads 2] [--concurrency 256]
//                         [--sessions 100000] [--batch-max 1024] [--dir /tmp]
//
// For each synchronous mode: a fresh database file in a temp directory under --dir; --threads
// event loops (one io_context per thread, as the service runs) each keep --concurrency
// coroutines busy. First every session is created (create_session), then every session is
// ended once (end_session); each phase reports ops/s, group-commit batches and per-op latency.
// A measurement tool, not a test: numbers depend on the disk's fsync speed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "store/sqlite_store.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

namespace {
namespace asio = boost::asio;
using voicegate::store::SqliteStore;
using Clock = std::chrono::steady_clock;

struct Params {
    int threads = 2;
    int concurrency = 256;
    int sessions = 100'000;
    std::size_t batch_max = 1024;
};

struct PhaseResult {
    double seconds = 0;
    int errors = 0;
    std::vector<double> latencies_us;
};

std::string session_id(int i) {
    return "sess_bench_" + std::to_string(i);
}

// Runs `op(i)` for i in [0, n) from params.threads loops x params.concurrency coroutines.
template <class Op>
PhaseResult run_phase(const Params& params, int n, Op op) {
    std::atomic<int> next{0};
    std::atomic<int> errors{0};
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(params.threads));
    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < params.threads; ++t) {
        pool.emplace_back([&, t] {
            asio::io_context io;
            auto& lat = latencies[static_cast<std::size_t>(t)];
            lat.reserve(static_cast<std::size_t>(n / params.threads + 1));
            for (int c = 0; c < params.concurrency; ++c) {
                asio::co_spawn(
                    io,
                    [](std::atomic<int>& counter, std::atomic<int>& errs, std::vector<double>& out,
                       int total, Op& fn) -> asio::awaitable<void> {
                        for (int i = counter++; i < total; i = counter++) {
                            const auto t0 = Clock::now();
                            const bool ok = co_await fn(i);
                            out.push_back(
                                std::chrono::duration<double, std::micro>(Clock::now() - t0)
                                    .count());
                            if (!ok) {
                                ++errs;
                            }
                        }
                    }(next, errors, lat, n, op),
                    asio::detached);
            }
            io.run();
        });
    }
    for (auto& th : pool) {
        th.join();
    }
    PhaseResult r;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.errors = errors.load();
    for (auto& v : latencies) {
        r.latencies_us.insert(r.latencies_us.end(), v.begin(), v.end());
    }
    std::sort(r.latencies_us.begin(), r.latencies_us.end());
    return r;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) {
        return 0;
    }
    const auto idx = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
    return sorted[idx];
}

void report(const char* sync, const char* phase, int n, const PhaseResult& r,
            std::uint64_t batches) {
    std::printf(
        "sync=%-6s %-7s %7d ops in %6.3f s = %8.0f ops/s  batches=%-6llu avg batch=%6.1f  "
        "p50=%7.0f us  p99=%7.0f us  errors=%d\n",
        sync, phase, n, r.seconds, n / r.seconds, static_cast<unsigned long long>(batches),
        batches == 0 ? 0.0 : static_cast<double>(n) / static_cast<double>(batches),
        percentile(r.latencies_us, 0.50), percentile(r.latencies_us, 0.99), r.errors);
    std::fflush(stdout);
}

int run_mode(const Params& params, const std::string& sync, const std::filesystem::path& dir) {
    const auto path = (dir / ("bench-" + sync + ".db")).string();
    voicegate::store::SqliteOptions o;
    o.path = path;
    o.synchronous = sync;
    o.batch_max = params.batch_max;
    auto opened = SqliteStore::open(o);
    if (!opened) {
        std::fprintf(stderr, "open %s failed: %s\n", path.c_str(), opened.error().details.c_str());
        return 1;
    }
    SqliteStore& store = **opened;
    const std::int64_t t0 = 1'700'000'000'000;

    auto before = store.stats();
    auto created = run_phase(params, params.sessions, [&store, t0](int i) -> asio::awaitable<bool> {
        voicegate::store::SessionRecord r;
        r.session_id = session_id(i);
        r.user_id = "user_" + std::to_string(i % 1000);
        r.model = "gpt-realtime";
        r.voice = "alloy";
        r.issued_at_ms = t0 + i;
        r.token_expires_at = (t0 + i) / 1000 + 1800;
        r.client_ip = "203.0.113.7";
        r.user_agent = "bench/1.0";
        auto res = co_await store.create_session(std::move(r));
        co_return res.has_value();
    });
    report(sync.c_str(), "create", params.sessions, created,
           store.stats().batches - before.batches);

    before = store.stats();
    auto ended = run_phase(params, params.sessions, [&store, t0](int i) -> asio::awaitable<bool> {
        voicegate::store::EndRequest e;
        e.session_id = session_id(i);
        e.caller_user_id = "user_" + std::to_string(i % 1000);
        e.check_owner = true;
        e.reported_duration_s = 60;
        e.message_count = 10;
        e.ended_by = "user";
        e.ended_at_ms = t0 + i + 60'000;
        auto res = co_await store.end_session(std::move(e));
        co_return res.has_value() && !res->already_ended;
    });
    report(sync.c_str(), "end", params.sessions, ended, store.stats().batches - before.batches);
    store.close();
    return created.errors + ended.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    Params params;
    std::string sync = "both";
    std::string base = std::filesystem::temp_directory_path().string();
    CLI::App app{"voicegate SQLite store throughput"};
    app.add_option("--sync", sync, "full | normal | both")
        ->check(CLI::IsMember({"full", "normal", "both"}));
    app.add_option("--threads", params.threads, "event-loop threads")->check(CLI::Range(1, 64));
    app.add_option("--concurrency", params.concurrency, "coroutines per thread")
        ->check(CLI::Range(1, 100'000));
    app.add_option("--sessions", params.sessions, "sessions to create, then end")
        ->check(CLI::Range(1, 100'000'000));
    app.add_option("--batch-max", params.batch_max, "most ops per group commit")
        ->check(CLI::Range(1, 1'000'000));
    app.add_option("--dir", base, "where the temporary database files go");
    CLI11_PARSE(app, argc, argv);

    std::string pattern = (std::filesystem::path(base) / "voicegate-store-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::filesystem::path dir = pattern;
    std::printf("store bench: %d threads x %d coroutines, %d sessions, batch_max %zu, dir %s\n",
                params.threads, params.concurrency, params.sessions, params.batch_max, dir.c_str());
    int rc = 0;
    for (const std::string& mode : {std::string("full"), std::string("normal")}) {
        if (sync == "both" || sync == mode) {
            rc |= run_mode(params, mode, dir);
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return rc;
}
