#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "ratelimit/gcra.hpp"

namespace voicegate::ratelimit {

/// One limiter answer, in the units the response headers need.
struct Decision {
    bool allowed = true;
    std::int64_t limit = 0;           // the policy quota (requests per window)
    std::int64_t window_s = 0;        // the policy window, seconds
    std::int64_t remaining = 0;       // requests still allowed right now
    std::int64_t retry_after_ms = 0;  // until the next request can pass (0 if remaining > 0)
    std::int64_t reset_after_ms = 0;  // until the full burst is available again
};

/// Converts one GCRA step under `rate` into a Decision (microseconds rounded up to ms). Pure.
Decision make_decision(const GcraDecision& g, const Rate& rate);

/// A rate limiter: counts one request for `key` under `rate` and says whether it may pass.
///
/// Keys are opaque; callers namespace them per policy ("user:<sub>", "ip:<addr>") and use one
/// rate per key. Implementations are thread-safe and exact under concurrency.
///
/// The in-process MemoryLimiter answers synchronously and never fails. The request path sees
/// limiters through `AsyncLimiter` (async_limiter.hpp): `SyncLimiterAdapter` wraps any
/// `Limiter`, and `RedisLimiter` (SPEC §4, shared across instances) runs the same GCRA
/// (`decide`) in an atomic Lua script and may report `store_unavailable`.
class Limiter {
public:
    virtual ~Limiter() = default;
    Limiter() = default;
    Limiter(const Limiter&) = delete;
    Limiter& operator=(const Limiter&) = delete;

    /// Counts one request for `key` under `rate` and decides. Thread-safe.
    [[nodiscard]] virtual Result<Decision> check(std::string_view key, const Rate& rate) = 0;
};

/// A named decision, for rendering the headers of several policies (e.g. "user" and "ip").
struct NamedDecision {
    std::string_view policy;  // a short token such as "user"; rendered as an sf-string
    Decision decision;
};

/// Rate-limit response headers, per draft-ietf-httpapi-ratelimit-headers-11 (May 2026), the
/// current revision. Both fields are Structured Field Lists of named items:
///   RateLimit-Policy: "user";q=10;w=60          (quota q per window w seconds)
///   RateLimit: "user";r=3;t=42                  (r remaining now; t seconds, see below)
/// `t` is the time until the full quota is back when r > 0, and the time until the next
/// request can pass when r = 0 (so it never exceeds Retry-After, as §6 asks).
/// Earlier drafts (-07: `RateLimit: limit=10, remaining=3, reset=42`, policy `10;w=60`) are
/// not emitted.
struct RateLimitHeaders {
    std::string policy;              // value of RateLimit-Policy
    std::string ratelimit;           // value of RateLimit
    std::int64_t retry_after_s = 0;  // value of Retry-After; 0 when every check passed
};

/// The RateLimit-Policy item of one policy: `"user";q=10;w=60`. Pure.
std::string rate_limit_policy_item(std::string_view policy, const Decision& d);

/// The RateLimit item of one policy: `"user";r=3;t=42`. Pure.
std::string rate_limit_item(std::string_view policy, const Decision& d);

/// Retry-After in whole seconds: `retry_after_ms` rounded up, at least 1. Pure.
std::int64_t retry_after_seconds(const Decision& d);

/// All three headers for the policies checked on one request (list order kept); Retry-After
/// is the largest over the refused ones. Pure.
RateLimitHeaders render_headers(std::span<const NamedDecision> checks);

}  // namespace voicegate::ratelimit
