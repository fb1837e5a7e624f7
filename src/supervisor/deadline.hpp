#pragma once

#include <cstdint>
#include <optional>

#include "store/supervision.hpp"

namespace voicegate::supervisor {

/// When a supervised call must be hung up, and why (SPEC §7.3).
struct HangupDeadline {
    std::int64_t at_ms = 0;
    store::CallEnd reason = store::CallEnd::cap;
    bool operator==(const HangupDeadline&) const = default;
};

/// The time cap: `started_at_ms + cap_ms`; nullopt when `cap_ms` <= 0 (no cap). Pure.
std::optional<std::int64_t> cap_deadline(std::int64_t started_at_ms, std::int64_t cap_ms);

/// When the user's daily minutes run out, read at `now_ms` from `minutes` (across instances):
/// remaining = quota - settled today - the time each live call has run today (since the later
/// of its start and the UTC midnight before `now_ms`); the k live calls drain it together, so it
/// lasts remaining / k (rounded up to the ms). `now_ms` when nothing remains. `minutes` should
/// list this call among the live ones; k is at least 1 regardless. nullopt when `quota_ms` <= 0
/// (no quota). Pure.
std::optional<std::int64_t> quota_deadline(std::int64_t now_ms, std::int64_t quota_ms,
                                           const store::UserMinutes& minutes);

/// The earlier of the cap and quota deadlines (the cap on a tie), or nullopt when neither
/// applies. Pure.
std::optional<HangupDeadline> earliest_deadline(std::optional<std::int64_t> cap,
                                                std::optional<std::int64_t> quota);

/// The UTC midnight at or before `ms` (unix ms). Pure.
std::int64_t utc_day_start_ms(std::int64_t ms);

}  // namespace voicegate::supervisor
