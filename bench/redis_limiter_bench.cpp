// RedisLimiter throughput and latency on a real Redis: decisions/s and p50/p99 per decision.
//
//   voicegate_redis_bench [REDIS_URL] [--loops N] [--concurrency C] [--seconds S] [--keys K]
//
// REDIS_URL defaults to $VOICEGATE_TEST_REDIS_URL. Each decision is what /token does: one
// EVALSHA over an IP key and a user key. Phase 1: one coroutine, one decision at a time (the
// pure round trip). Phase 2: N event loops x C concurrent coroutines each, for S seconds
// (pipelined on one connection per loop).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "ratelimit/redis_limiter.hpp"

#include <spdlog/spdlog.h>

namespace asio = boost::asio;
using namespace voicegate;
using namespace voicegate::ratelimit;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
    std::vector<double> latencies_us;
    std::uint64_t failures = 0;
    Clock::time_point finished;
};

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) {
        return 0;
    }
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
    return v[i];
}

asio::awaitable<void> worker(RedisLimiter& limiter, Stats& stats, int id, int keys,
                             Clock::time_point until, std::int64_t max_decisions,
                             std::atomic<int>& running) {
    const Rate rate{1'000'000, 1000, 1'000'000};
    std::uint64_t n = 0;
    while (Clock::now() < until && static_cast<std::int64_t>(n) < max_decisions) {
        const auto k = static_cast<unsigned>((n * 7919U + static_cast<unsigned>(id) * 104729U) %
                                             static_cast<unsigned>(keys));
        std::vector<LimitCheck> checks{{"ip:10.0." + std::to_string(k % 256U), rate},
                                       {"user:u" + std::to_string(k), rate}};
        const auto start = Clock::now();
        auto r = co_await limiter.check(std::move(checks));
        const auto us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
        if (r) {
            stats.latencies_us.push_back(us);
        } else {
            ++stats.failures;
        }
        ++n;
    }
    stats.finished = Clock::now();
    --running;
}

struct BenchResult {
    double seconds = 0;
    std::uint64_t decisions = 0;
    std::uint64_t failures = 0;
    double p50 = 0, p99 = 0, p999 = 0;
};

BenchResult run(const RedisUrl& url, int loops, int concurrency, double seconds, int keys,
                std::int64_t max_per_worker) {
    std::vector<std::unique_ptr<asio::io_context>> ctxs;
    std::vector<asio::io_context*> ptrs;
    for (int i = 0; i < loops; ++i) {
        ctxs.push_back(std::make_unique<asio::io_context>(1));
        ptrs.push_back(ctxs.back().get());
    }
    RedisLimiterOptions o;
    o.url = url;
    o.key_prefix = "vgbench:";
    o.timeout = std::chrono::seconds(5);
    RedisLimiter limiter(o, ptrs);
    // Warm up: connect every loop's connection.
    limiter.start();
    std::vector<std::thread> warm;
    for (auto* c : ptrs) {
        warm.emplace_back([c] { c->run_for(std::chrono::milliseconds(300)); });
    }
    for (auto& t : warm) {
        t.join();
    }
    std::vector<Stats> stats(static_cast<std::size_t>(loops * concurrency));
    std::atomic<int> running{loops * concurrency};
    const auto start = Clock::now();
    const auto until =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (int l = 0; l < loops; ++l) {
        ptrs[static_cast<std::size_t>(l)]->restart();
        for (int c = 0; c < concurrency; ++c) {
            const int id = l * concurrency + c;
            asio::co_spawn(*ptrs[static_cast<std::size_t>(l)],
                           worker(limiter, stats[static_cast<std::size_t>(id)], id, keys, until,
                                  max_per_worker, running),
                           asio::detached);
        }
    }
    std::vector<std::thread> threads;
    for (auto* c : ptrs) {
        threads.emplace_back([c] { c->run(); });
    }
    while (running.load() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // The connections' readers keep the loops busy: close them so run() returns.
    limiter.shutdown();
    for (auto& t : threads) {
        t.join();
    }
    Clock::time_point last = start;
    for (const auto& s : stats) {
        last = std::max(last, s.finished);
    }
    const double elapsed = std::chrono::duration<double>(last - start).count();
    BenchResult out;
    std::vector<double> all;
    for (auto& s : stats) {
        all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
        out.failures += s.failures;
    }
    out.decisions = all.size();
    out.seconds = elapsed;
    out.p50 = percentile(all, 0.50);
    out.p99 = percentile(all, 0.99);
    out.p999 = percentile(all, 0.999);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string url_text;
    int loops = 2;
    int concurrency = 64;
    double seconds = 5;
    int keys = 10'000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--loops") {
            loops = std::max(1, std::atoi(next().c_str()));
        } else if (a == "--concurrency") {
            concurrency = std::max(1, std::atoi(next().c_str()));
        } else if (a == "--seconds") {
            seconds = std::max(0.5, std::atof(next().c_str()));
        } else if (a == "--keys") {
            keys = std::max(1, std::atoi(next().c_str()));
        } else {
            url_text = a;
        }
    }
    if (url_text.empty()) {
        const char* env = std::getenv("VOICEGATE_TEST_REDIS_URL");
        url_text = env != nullptr ? env : "";
    }
    auto url = parse_redis_url(url_text);
    if (!url) {
        std::fprintf(stderr,
                     "usage: voicegate_redis_bench REDIS_URL [--loops N] "
                     "[--concurrency C] [--seconds S] [--keys K]\n%s\n",
                     std::string(url.error().public_message()).c_str());
        return 2;
    }
    spdlog::set_level(spdlog::level::warn);
    std::printf("redis %s, decision = one EVALSHA over 2 keys (ip + user)\n",
                url->redacted().c_str());

    auto seq = run(*url, 1, 1, seconds, keys, 20'000);
    std::printf(
        "sequential  1 loop x 1      : %9.0f decisions/s  p50 %7.1f us  p99 %7.1f us  "
        "p99.9 %7.1f us  (%llu decisions, %llu failed)\n",
        static_cast<double>(seq.decisions) / seq.seconds, seq.p50, seq.p99, seq.p999,
        static_cast<unsigned long long>(seq.decisions),
        static_cast<unsigned long long>(seq.failures));
    for (int c : {1, 8, concurrency}) {
        auto r = run(*url, loops, c, seconds, keys, INT64_MAX);
        std::printf(
            "pipelined  %2d loops x %-4d: %9.0f decisions/s  p50 %7.1f us  p99 %7.1f us  "
            "p99.9 %7.1f us  (%llu decisions, %llu failed)\n",
            loops, c, static_cast<double>(r.decisions) / r.seconds, r.p50, r.p99, r.p999,
            static_cast<unsigned long long>(r.decisions),
            static_cast<unsigned long long>(r.failures));
    }
    return 0;
}
