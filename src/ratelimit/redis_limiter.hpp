#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "ratelimit/async_limiter.hpp"
#include "ratelimit/redis_url.hpp"

namespace voicegate::ratelimit {

/// Settings of a RedisLimiter (SPEC §2.1 REDIS_URL, VOICEGATE_REDIS_*).
struct RedisLimiterOptions {
    RedisUrl url;
    std::string key_prefix = "voicegate:rl:";  // prepended to every key
    std::chrono::milliseconds timeout{200};    // per decision: queueing, connecting, round trip
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds backoff_min{100};  // reconnect backoff, doubling up to backoff_max
    std::chrono::milliseconds backoff_max{2000};
    bool fail_open = false;  // Redis unreachable: false -> store_unavailable, true -> allow
};

/// The shared limiter of SPEC §4: GCRA in one atomic Lua script per decision, on Redis's clock,
/// so any number of voicegate instances (with skewed clocks) agree exactly.
///
/// Each `check` is one `EVALSHA` over all its keys (the script is loaded with `SCRIPT LOAD` at
/// every connect; on `NOSCRIPT`, e.g. after a `SCRIPT FLUSH`, it falls back to `EVAL`, which
/// also caches it again). The script reads `TIME`, applies the same GCRA as `decide()` key by
/// key, stops at the first refusal, and stores each allowed key's theoretical arrival time with
/// a TTL equal to the time until its burst is full again, so idle keys expire by themselves.
/// Keys are `key_prefix + key`. Redis Cluster is not supported (one script touches the user and
/// the IP key, which may live in different slots).
///
/// One pipelined connection per event loop (see RedisConnection), found by the executor's
/// context; `check` must run on one of the loops given at construction. Every decision has a
/// deadline (`timeout`), so a hung Redis cannot hang requests. When no decision can be made,
/// the answer is `store_unavailable` (fail closed) or, with `fail_open`, every check allowed
/// and not enforced (`limit == 0`). Reachability changes are logged once per change
/// ("redis: unreachable (...)", "redis: reconnected ..."), never once per request, and never
/// with the password.
///
/// Thread safety: `check` from coroutines on any of the loops, concurrently; `start`,
/// `shutdown` and `health` from any thread.
class RedisLimiter final : public AsyncLimiter {
public:
    /// Reachability as last observed (for logs, readiness and tests).
    enum class Health { unknown, up, down };

    /// One connection per loop, not yet connected. The loops must outlive the limiter's
    /// pending operations (stop them after `shutdown`).
    RedisLimiter(RedisLimiterOptions options, const std::vector<boost::asio::io_context*>& loops);
    ~RedisLimiter() override;

    /// See AsyncLimiter::check. Must be co_awaited on one of the limiter's loops.
    boost::asio::awaitable<Result<std::vector<Decision>>> check(
        std::vector<LimitCheck> checks) override;

    /// Starts connecting every loop's connection now (posts to the loops), so reachability is
    /// known, and logged, before the first request. Thread-safe.
    void start();

    /// Closes every connection (posts to the loops) so the loops can run out of work; later
    /// checks fail (or pass, failing open). Idempotent; thread-safe.
    void shutdown();

    /// Reachability as last observed. Thread-safe.
    Health health() const;

    /// The Lua script (GCRA over KEYS in order; ARGV holds each key's emission interval and
    /// tolerance in microseconds). Pure.
    static std::string_view script();

    /// Lower-case hex SHA-1 of `script()`, the EVALSHA handle. Pure.
    static const std::string& script_sha1();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace voicegate::ratelimit
