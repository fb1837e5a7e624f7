#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/session_store.hpp"

namespace voicegate::cli {

/// What `voicegate seed` generates (issue 4: synthetic sessions for demos and benchmarks).
struct SeedPlan {
    std::int64_t sessions = 10'000;
    int users = 5'000;         // users with Zipf-skewed activity (a few heavy, a long tail)
    int days = 90;             // issue times spread over the last `days` UTC days up to now_ms
    double never_ended = 0.1;  // share of sessions never ended
    double denied_per_session = 0.03;  // refused token requests per session (rate/quota mix)
    std::uint64_t seed = 42;           // same seed and plan: same data (except random session ids)
    std::int64_t now_ms = 0;           // the end of the range
    int in_flight = 4096;              // sessions written concurrently (bigger group commits)
};

/// One synthetic session: how it was issued, how (if) it ended, and denials around it.
struct SeededSession {
    store::SessionRecord issued;
    std::optional<store::EndRequest> end;
    std::vector<store::Event> denials;
};

/// Deterministic generator of realistic sessions: users ranked by a Zipf law (s = 1.1), a
/// daily rhythm (quiet nights, busy evenings, in UTC), a model mix led by gpt-realtime and
/// gpt-realtime-mini, log-normal durations (median about 3 minutes, 5 s to 30 min), message
/// counts that follow the duration, ended by user (80%), timeout (12%) or error (8%), and a
/// share never ended. Sessions come in the order of their issue times, as the service writes
/// them (append-mostly indexes). Not thread-safe (one generator per thread).
class SeedGenerator {
public:
    explicit SeedGenerator(const SeedPlan& plan);
    SeededSession next();

private:
    SeedPlan plan_;
    std::mt19937_64 rng_;
    std::vector<double> user_cdf_;  // cumulative Zipf weights, rank 1 first
    std::vector<double> hour_cdf_;
    std::int64_t first_day_ms_ = 0;
    std::vector<std::int64_t> issue_times_;  // sorted: written in time order, as in production
    std::size_t next_time_ = 0;
    std::int64_t issue_time();
};

/// Progress of a running seed, reported about four times a second and once at the end.
struct SeedProgress {
    std::int64_t done = 0;
    std::int64_t total = 0;
    double elapsed_s = 0;
    bool finished = false;
};

/// Writes `plan.sessions` generated sessions through `store` (the same writes the service does:
/// create_session, end_session, record_denial, so rollups and events are kept as in production),
/// many in flight so the store group-commits them. Blocking: runs its own event loop. Stops at
/// the first store failure and returns it.
[[nodiscard]] Result<void> run_seed(store::SessionStore& store, const SeedPlan& plan,
                                    const std::function<void(const SeedProgress&)>& progress);

/// Whether the database already holds sessions (seed refuses to mix synthetic sessions into real
/// ones unless told to append). Blocking: runs its own event loop.
[[nodiscard]] Result<bool> holds_sessions(store::SessionStore& store);

/// A one-line progress bar for a terminal: `[#####.....]  52%  520,000/1,000,000  41,230/s  ETA
/// 12s`.
std::string render_progress(const SeedProgress& p);

}  // namespace voicegate::cli
