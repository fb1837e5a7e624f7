#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace voicegate::ratelimit {

/// Largest `N` accepted in a rate.
inline constexpr std::int64_t kMaxRateCount = 1'000'000;

/// A rate: `count` requests per `period_ms`, with up to `burst` of them at once.
/// Plain value; thread-safe to share.
struct Rate {
    std::int64_t count = 0;      // requests per period, 1..kMaxRateCount
    std::int64_t period_ms = 0;  // 1000, 60'000 or 3'600'000 from parse_rate
    std::int64_t burst = 0;      // requests allowed back to back; 0 means `count`

    /// `burst`, or `count` when no burst is set. Pure.
    std::int64_t effective_burst() const { return burst > 0 ? burst : count; }
    /// The GCRA emission interval: time "cost" of one request, in microseconds (>= 1). Pure.
    std::int64_t emission_interval_us() const;
    /// The window length in whole seconds (for `w=` of RateLimit-Policy), at least 1. Pure.
    std::int64_t window_s() const;
    /// Canonical text: "10/s", "10/min" or "10/h" (other periods as "10/<ms>ms"). Pure.
    std::string to_string() const;

    friend bool operator==(const Rate&, const Rate&) = default;
};

/// Parses "N/s", "N/min", "N/h" (also "N/m" for minutes and the long forms "N/sec",
/// "N/second", "N/minute", "N/hour"; case-insensitive; spaces around the parts are allowed).
/// N is an integer 1..kMaxRateCount; burst = N. Junk is a `bad_request` Failure whose message
/// quotes the text and shows the expected form. Pure; thread-safe.
[[nodiscard]] Result<Rate> parse_rate(std::string_view text);

/// One GCRA step (the maths that the in-memory and the Redis Lua limiter share).
struct GcraDecision {
    bool allowed = false;
    std::int64_t new_tat_us = 0;      // theoretical arrival time to store (unchanged on deny)
    std::int64_t remaining = 0;       // requests still allowed right now after this one
    std::int64_t retry_after_us = 0;  // until the next request can pass (0 if remaining > 0)
    std::int64_t reset_after_us = 0;  // until the full burst is available again
};

/// Generic Cell Rate Algorithm. With T = period / count (the emission interval) and
/// tau = T * burst: tat' = max(tat, now) + T; the request passes iff tat' - tau <= now, and then
/// the stored TAT becomes tat'. `tat_us` is the stored theoretical arrival time (0 or any past
/// value for a key never seen); times are microseconds on one clock. Exactly `burst` requests
/// pass at one instant, then one per T. A rate with `count` or `period_ms` <= 0 refuses
/// everything (fail closed). Pure; thread-safe.
GcraDecision decide(std::int64_t tat_us, std::int64_t now_us, const Rate& rate);

}  // namespace voicegate::ratelimit
