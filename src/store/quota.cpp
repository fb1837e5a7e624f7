#include "store/quota.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace voicegate::store {

std::int64_t billable_ms(double reported_s, double observed_s) {
    const double reported = std::isfinite(reported_s) ? std::max(0.0, reported_s) : 0.0;
    const double observed = std::isfinite(observed_s) ? std::max(0.0, observed_s) : 0.0;
    return std::llround(std::min(reported, observed) * 1000.0);
}

std::optional<Failure> quota_decision(const QuotaLimits& limits, const QuotaUsage& usage,
                                      std::int64_t now_ms) {
    if (!limits.enabled()) {
        return std::nullopt;
    }
    const bool over_open = limits.concurrent > 0 && usage.open >= limits.concurrent;
    const bool over_sessions =
        limits.sessions_per_day > 0 && usage.sessions_today >= limits.sessions_per_day;
    const bool over_minutes =
        limits.minutes_per_day > 0 && usage.charged_ms_today >= limits.minutes_per_day * 60'000;
    if (!over_open && !over_sessions && !over_minutes) {
        return std::nullopt;
    }
    // Rounded up to the second: a client retrying at resets_at must find room.
    const auto ceil_s = [](std::int64_t ms) { return (ms + 999) / 1000; };
    std::int64_t resets_ms = now_ms;
    std::string message;
    std::string details;
    if (over_sessions || over_minutes) {
        resets_ms = (quota_day(now_ms) + 1) * kMsPerDay;
        message = over_minutes ? "Daily minutes quota exhausted for this user."
                               : "Daily sessions quota exhausted for this user.";
        details = over_minutes
                      ? "charged " + std::to_string(usage.charged_ms_today) + " ms today, limit " +
                            std::to_string(limits.minutes_per_day) + " min"
                      : std::to_string(usage.sessions_today) + " sessions today, limit " +
                            std::to_string(limits.sessions_per_day);
    }
    if (over_open) {
        resets_ms = std::max(resets_ms, std::max(usage.first_expiry_ms, now_ms));
        if (message.empty()) {
            message = "Too many open sessions for this user; end one first.";
        }
        details += std::string(details.empty() ? "" : "; ") + std::to_string(usage.open) +
                   " open sessions, limit " + std::to_string(limits.concurrent);
    }
    Failure f = fail(Error::quota_exhausted, std::move(message), std::move(details));
    f.resets_at = std::max<std::int64_t>(1, ceil_s(resets_ms));
    f.retry_after_s = static_cast<int>(std::max<std::int64_t>(0, f.resets_at - now_ms / 1000));
    return f;
}

}  // namespace voicegate::store
