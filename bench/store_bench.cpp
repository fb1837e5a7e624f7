// Throughput of the session stores (SPEC §9: >= 20,000 durable /end records per second on
// SQLite, >= 10,000 on PostgreSQL).
//
//   voicegate_store_bench [--sync full|normal|both] [--threads 2] [--concurrency 256]
//                         [--sessions 100000] [--batch-max 1024] [--dir /tmp]
//   voicegate_store_bench --database-url postgres://... [--writers 2] [...]
//
// SQLite: for each synchronous mode, a fresh database file in a temp directory under --dir.
// PostgreSQL (--database-url): a fresh schema vg_bench_<pid> (unless the URL names one with
// schema=), dropped afterwards; the server's settings are used as they are (keep
// synchronous_commit on: every reported op is durable). --threads event loops (one io_context
// per thread, as the service runs) each keep --concurrency coroutines busy. First every session
// is created (create_session), then every session is ended once (end_session); each phase
// reports ops/s, group-commit batches and per-op latency. A measurement tool, not a test:
// numbers depend on the machine and the disk's fsync speed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "store/open_store.hpp"
#include "store/sqlite_store.hpp"

#ifdef VOICEGATE_WITH_POSTGRES
#include "store/pg_db.hpp"
#include "store/pg_store.hpp"
#endif

#include <CLI/CLI.hpp>
#include <unistd.h>

namespace {
namespace asio = boost::asio;
using voicegate::store::SessionStore;
using voicegate::store::SqliteStore;
using Clock = std::chrono::steady_clock;

struct Params {
    int threads = 2;
    int concurrency = 256;
    int sessions = 100'000;
    std::size_t batch_max = 1024;
    std::size_t writers = 2;
    bool quota = false;  // book per-user quotas (limits too high to refuse), as `serve` does
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

void report(const char* label, const char* phase, int n, const PhaseResult& r,
            std::uint64_t batches) {
    std::printf(
        "%-13s %-7s %7d ops in %6.3f s = %8.0f ops/s  batches=%-6llu avg batch=%6.1f  "
        "p50=%7.0f us  p99=%7.0f us  errors=%d\n",
        label, phase, n, r.seconds, n / r.seconds, static_cast<unsigned long long>(batches),
        batches == 0 ? 0.0 : static_cast<double>(n) / static_cast<double>(batches),
        percentile(r.latencies_us, 0.50), percentile(r.latencies_us, 0.99), r.errors);
    std::fflush(stdout);
}

// Creates then ends params.sessions sessions on `store`; `batches` reads its group-commit count.
int run_store(const Params& params, const char* label, SessionStore& store,
              const std::function<std::uint64_t()>& batches) {
    const std::int64_t t0 = 1'700'000'000'000;

    auto before = batches();
    const bool quota = params.quota;
    auto created =
        run_phase(params, params.sessions, [&store, t0, quota](int i) -> asio::awaitable<bool> {
            voicegate::store::SessionRecord r;
            r.session_id = session_id(i);
            r.user_id = "user_" + std::to_string(i % 1000);
            r.model = "gpt-realtime";
            r.voice = "alloy";
            r.issued_at_ms = t0 + i;
            r.token_expires_at = (t0 + i) / 1000 + 1800;
            r.client_ip = "203.0.113.7";
            r.user_agent = "bench/1.0";
            if (quota) {
                r.quota.concurrent = 1'000'000'000;
                r.quota.sessions_per_day = 1'000'000'000;
                r.quota.minutes_per_day = 1'000'000'000;
                r.quota.reserve_ms = 30 * 60'000;
            }
            auto res = co_await store.create_session(std::move(r));
            co_return res.has_value();
        });
    report(label, "create", params.sessions, created, batches() - before);

    before = batches();
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
    report(label, "end", params.sessions, ended, batches() - before);
    store.close();
    return created.errors + ended.errors == 0 ? 0 : 1;
}

int run_mode(const Params& params, const std::string& sync, const std::filesystem::path& dir) {
    const auto path = (dir / ("bench-" + sync + ".db")).string();
    voicegate::store::SqliteOptions o;
    o.path = path;
    o.common.synchronous = sync;
    o.common.batch_max = params.batch_max;
    auto opened = SqliteStore::open(o);
    if (!opened) {
        std::fprintf(stderr, "open %s failed: %s\n", path.c_str(), opened.error().details.c_str());
        return 1;
    }
    SqliteStore& store = **opened;
    const std::string label = "sqlite/" + sync;
    return run_store(params, label.c_str(), store, [&store] { return store.stats().batches; });
}

#ifdef VOICEGATE_WITH_POSTGRES
int run_postgres(const Params& params, std::string url) {
    namespace store = voicegate::store;
    auto target = store::parse_pg_url(url);
    if (!target) {
        std::fprintf(stderr, "--database-url: %s\n", target.error().details.c_str());
        return 1;
    }
    const bool own_schema = target->schema.empty();
    if (own_schema) {
        target->schema = "vg_bench_" + std::to_string(::getpid());
        url += (url.find('?') == std::string::npos ? "?" : "&") + ("schema=" + target->schema);
    }
    store::PgOptions o;
    o.url = url;
    o.common.batch_max = params.batch_max;
    o.writers = params.writers;
    auto opened = store::PgStore::open(o);
    if (!opened) {
        std::fprintf(stderr, "open %s failed: %s\n", store::redact_database_url(url).c_str(),
                     opened.error().details.c_str());
        return 1;
    }
    {
        auto conn = store::PgConnection::connect(*target);
        auto sc = conn ? (*conn)->query_ints(
                             "SELECT (current_setting('synchronous_commit') = 'on' "
                             "AND current_setting('fsync') = 'on')::int")
                       : voicegate::Result<std::vector<std::int64_t>>(conn.error());
        std::printf("postgres: schema %s, writers %zu, synchronous_commit and fsync on: %s\n",
                    target->schema.c_str(), params.writers,
                    sc && !sc->empty() && sc->front() != 0 ? "yes" : "NO");
    }
    store::PgStore& pg = **opened;
    const int rc = run_store(params, "postgres", pg, [&pg] { return pg.stats().batches; });
    if (own_schema) {
        if (auto conn = store::PgConnection::connect(*target)) {
            (void)(*conn)->exec_script("DROP SCHEMA " + store::quote_identifier(target->schema) +
                                       " CASCADE");
        }
    }
    return rc;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    Params params;
    std::string sync = "both";
    std::string base = std::filesystem::temp_directory_path().string();
    std::string database_url;
    CLI::App app{"voicegate session store throughput"};
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
    app.add_option("--database-url", database_url,
                   "measure PostgreSQL instead: postgres://... (a throw-away schema is used "
                   "unless the URL has schema=)");
    app.add_flag("--quota", params.quota,
                 "book per-user quotas at create and end, as serve does (limits never reached)");
    app.add_option("--writers", params.writers, "PostgreSQL writer connections")
        ->check(CLI::Range(1, 64));
    CLI11_PARSE(app, argc, argv);

    if (!database_url.empty()) {
#ifdef VOICEGATE_WITH_POSTGRES
        std::printf("store bench: %d threads x %d coroutines, %d sessions, batch_max %zu, %s\n",
                    params.threads, params.concurrency, params.sessions, params.batch_max,
                    voicegate::store::redact_database_url(database_url).c_str());
        return run_postgres(params, database_url);
#else
        std::fprintf(stderr, "built without PostgreSQL support (VOICEGATE_WITH_POSTGRES=OFF)\n");
        return 1;
#endif
    }

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
