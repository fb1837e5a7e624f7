#include "supervisor/deadline.hpp"

#include <algorithm>

namespace voicegate::supervisor {

namespace {
constexpr std::int64_t kDayMs = 86'400'000;
}  // namespace

std::int64_t utc_day_start_ms(std::int64_t ms) {
    const std::int64_t r = ms % kDayMs;
    return ms - (r < 0 ? r + kDayMs : r);
}

std::optional<std::int64_t> cap_deadline(std::int64_t started_at_ms, std::int64_t cap_ms) {
    if (cap_ms <= 0) {
        return std::nullopt;
    }
    return started_at_ms + cap_ms;
}

std::optional<std::int64_t> quota_deadline(std::int64_t now_ms, std::int64_t quota_ms,
                                           const store::UserMinutes& minutes) {
    if (quota_ms <= 0) {
        return std::nullopt;
    }
    const std::int64_t day_start = utc_day_start_ms(now_ms);
    std::int64_t used = std::max<std::int64_t>(0, minutes.settled_ms_today);
    for (const auto started : minutes.live_started_at_ms) {
        used += std::max<std::int64_t>(0, now_ms - std::max(started, day_start));
    }
    const std::int64_t remaining = quota_ms - used;
    if (remaining <= 0) {
        return now_ms;
    }
    const auto k =
        static_cast<std::int64_t>(std::max<std::size_t>(1, minutes.live_started_at_ms.size()));
    return now_ms + (remaining + k - 1) / k;
}

std::optional<HangupDeadline> earliest_deadline(std::optional<std::int64_t> cap,
                                                std::optional<std::int64_t> quota) {
    if (cap && (!quota || *cap <= *quota)) {
        return HangupDeadline{*cap, store::CallEnd::cap};
    }
    if (quota) {
        return HangupDeadline{*quota, store::CallEnd::quota};
    }
    return std::nullopt;
}

}  // namespace voicegate::supervisor
