#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace voicegate {

/// Lets a log line that can repeat per request (a store outage, fd exhaustion) through at most
/// once per interval, and counts the ones it held back, so an outage costs a line a second
/// rather than a line a request. Thread-safe (lock-free).
class LogThrottle {
public:
    explicit LogThrottle(std::chrono::milliseconds interval) : interval_ms_(interval.count()) {}

    /// nullopt: stay quiet. Otherwise log now, mentioning the returned count of lines held back
    /// since the last one logged. `now_ms` is any monotonic clock in ms.
    std::optional<std::uint64_t> admit(std::int64_t now_ms) {
        auto next = next_ms_.load(std::memory_order_relaxed);
        if (now_ms < next || !next_ms_.compare_exchange_strong(next, now_ms + interval_ms_,
                                                               std::memory_order_relaxed)) {
            suppressed_.fetch_add(1, std::memory_order_relaxed);
            return std::nullopt;
        }
        return suppressed_.exchange(0, std::memory_order_relaxed);
    }

    /// admit() on the steady clock.
    std::optional<std::uint64_t> admit() {
        return admit(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count());
    }

private:
    std::int64_t interval_ms_;
    std::atomic<std::int64_t> next_ms_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace voicegate
