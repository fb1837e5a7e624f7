#pragma once

#include <cstdint>
#include <optional>

#include "core/error.hpp"

namespace voicegate::store {

/// Per-user quotas checked when a session is recorded (SPEC §4). 0 for a limit means
/// unlimited; all limits 0 means no check and no bookkeeping.
struct QuotaLimits {
    std::int64_t concurrent = 0;        // open sessions of the user at once
    std::int64_t sessions_per_day = 0;  // sessions issued per UTC day
    std::int64_t minutes_per_day = 0;   // billable minutes charged per UTC day
    std::int64_t reserve_ms = 0;        // charged at issue, and how long the session holds a
                                        // concurrent slot unless it is ended sooner
    bool enabled() const { return concurrent > 0 || sessions_per_day > 0 || minutes_per_day > 0; }
};

/// What the store knows of a user when it decides, read under the user's lock.
struct QuotaUsage {
    std::int64_t open = 0;              // open sessions whose reservation has not expired
    std::int64_t first_expiry_ms = 0;   // the earliest release of their slots (0 if none)
    std::int64_t sessions_today = 0;    // sessions issued today
    std::int64_t charged_ms_today = 0;  // ms charged today (reservations and settlements)
};

constexpr std::int64_t kMsPerDay = 86'400'000;

/// Concurrent slots are released at whole minutes: a session's slot is held until its
/// reservation expiry rounded up to the minute (at most 60 s longer than the reservation).
constexpr std::int64_t kSlotGranularityMs = 60'000;

/// When the slot of a reservation expiring at `expiry_ms` is released; the key of quota_slots.
constexpr std::int64_t slot_release_ms(std::int64_t expiry_ms) {
    return (expiry_ms + kSlotGranularityMs - 1) / kSlotGranularityMs * kSlotGranularityMs;
}

/// The UTC day (days since the epoch) of a unix time in ms; the key of quota_usage. Pure.
constexpr std::int64_t quota_day(std::int64_t unix_ms) {
    return unix_ms >= 0 ? unix_ms / kMsPerDay : -((-unix_ms + kMsPerDay - 1) / kMsPerDay);
}

/// What a first end charges: the smaller of the reported and the observed duration, in ms.
/// A reported duration that is negative or not a number counts as 0. Pure.
std::int64_t billable_ms(double reported_s, double observed_s);

/// The decision at issue time `now_ms`: nullopt to allow, else a quota_exhausted Failure whose
/// resets_at (unix seconds) is when every exhausted quota has room again: the earliest open
/// reservation's expiry for the concurrent quota, the next UTC midnight for the daily ones.
/// A quota refuses once it is reached (not when one more reservation would pass it). Pure.
std::optional<Failure> quota_decision(const QuotaLimits& limits, const QuotaUsage& usage,
                                      std::int64_t now_ms);

}  // namespace voicegate::store
