#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/rollup.hpp"
#include "store/session_store.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store {

/// How refused token requests are kept (SPEC §5, docs/operators.md "Audit log"): every one is
/// counted; only a bounded sample becomes a `token_denied` event, and the per-minute counts keep
/// a bounded number of distinct keys, so that a flood of refusals (even with invented user ids)
/// costs neither a write per request nor rows without bound.
struct DenialSampling {
    /// Samples per minute for each (user, reason) and each (client IP, reason): a denial is kept
    /// while both of its keys are under it. 0: no samples.
    int per_minute = 5;
    /// Samples per second over every user and address (the backstop). 0: no samples.
    int per_second = 10;
    /// Distinct users counted apart per client IP and minute; the address's further users are
    /// counted under the user "" (the request's user id is never empty).
    int users_per_address = 10;
    /// Distinct (user, client IP) keys counted apart per minute; further denials of other keys
    /// are counted under user "" and address "".
    std::size_t keys_per_minute = 1000;
    /// Buffered count rows before new keys are folded as above (a long store outage).
    std::size_t max_pending_keys = 100'000;
    /// Buffered samples before further ones are dropped (a long store outage).
    std::size_t max_pending_samples = 10'000;
};

/// Denials of one (minute, user, client IP, reason) key.
struct DenialCount {
    std::int64_t minute = 0;  // minutes since the epoch (UTC)
    std::string user_id;
    std::string client_ip;
    std::string reason;
    std::int64_t n = 0;
};

/// What one flush writes: counts (distinct keys, in key order) and samples (in order).
struct DenialBatch {
    std::vector<DenialCount> counts;
    std::vector<Event> samples;
    bool empty() const { return counts.empty() && samples.empty(); }
    /// The denials the counts add up to.
    std::int64_t denials() const;
};

/// The in-memory side of denial counting: sums refusals per key and decides which ones are kept
/// as audit samples (DenialSampling), until a flush takes them. Pure apart from its own state:
/// the time is the denial's at_ms (never a clock read), so tests drive it directly.
/// Thread-safe (one mutex, never held across I/O); record() is cheap.
class DenialLog {
public:
    /// `metrics` (may be null, borrowed) counts sampled and count-only denials.
    explicit DenialLog(DenialSampling sampling = {}, metrics::StoreMetrics* metrics = nullptr);

    /// Counts `denial` (its at_ms set); true when it is also kept as an audit sample.
    bool record(const Denial& denial);
    /// Hands over everything buffered; until done() the batch counts as in flight.
    DenialBatch take();
    /// Reports the outcome of a batch from take(): when not `written`, its counts and samples
    /// go back to the buffer for the next flush (within the pending bounds).
    void done(DenialBatch batch, bool written);
    /// True while denials are buffered or a taken batch is not done yet.
    bool dirty() const;
    /// Samples dropped because the buffer was full (tests, logs). Monotonic.
    std::uint64_t dropped_samples() const;

private:
    using CountKey = std::tuple<std::int64_t, std::string, std::string, std::string>;
    void count_locked(CountKey key, std::int64_t n);
    bool sample_locked(const Denial& d);
    void admit_locked(std::string& user, std::string& ip);

    const DenialSampling sampling_;
    metrics::StoreMetrics* metrics_;
    mutable std::mutex mutex_;
    std::map<CountKey, std::int64_t> pending_;
    std::vector<Event> samples_;
    int in_flight_ = 0;
    std::uint64_t dropped_ = 0;
    // The current minute's bounds (cleared when a later minute starts).
    std::int64_t minute_ = -1;
    std::set<std::pair<std::string, std::string>> keys_;  // (user, address) counted apart
    std::unordered_map<std::string, int> users_of_address_;
    std::map<std::pair<std::string, std::string>, int> user_samples_;     // (user, reason)
    std::map<std::pair<std::string, std::string>, int> address_samples_;  // (address, reason)
    std::int64_t second_ = -1;
    int second_samples_ = 0;
};

/// Writes `batch`: adds its counts to `denials_by_minute` and, summed per day, to
/// `denials_daily`, and inserts its samples into `events`. With `own_transaction` in a
/// transaction of its own (PostgreSQL's reader connection); otherwise inside the caller's
/// (SQLite's group commit). Rows go in key order, so concurrent writers never deadlock.
[[nodiscard]] Result<void> write_denials(SqlExec& db, const DenialBatch& batch,
                                         bool own_transaction);

/// One prune step (see PruneRequest), in portable SQL: each table's DELETE removes at most
/// `limit` rows. Each statement commits on its own unless the caller is in a transaction.
[[nodiscard]] Result<PruneReport> prune_step(SqlExec& db, const PruneRequest& request);

/// The prune request for retention periods in days (0: keep forever) at `now_ms`. Pure.
PruneRequest retention_request(std::int64_t now_ms, int events_days, int denial_counts_days,
                               std::int64_t limit = 2000);

/// Flushes `store`'s buffered denials from outside any event loop (close()); logs a failure.
/// Blocking.
void flush_denials_blocking(SessionStore& store);

/// Counts `denial` in `log`, its at_ms read from `clock` when 0. Thread-safe.
void record_denial_at(DenialLog& log, const Denial& denial, const Clock& clock);

}  // namespace voicegate::store
