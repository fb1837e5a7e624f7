#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "store/rollup.hpp"
#include "store/session_store.hpp"

// The SessionStore reads (usage_reads.cpp), written once for SQLite and PostgreSQL over SqlExec.
namespace voicegate::store {

/// What read_usage() keeps between calls to rank users without summing every day x user row
/// again: each day's billable ms per user, with the day's totals (sessions, ended, billable ms
/// of usage_daily_model) it was read at. Those totals move with every write that changes the
/// day's per-user rows (the same flush writes both), so a day whose totals differ is read
/// again: a late end of an old session, another instance's writes and a rebuild all show.
/// Keeps the newest kMaxDays days. Thread-safe.
class UserRankCache {
public:
    struct Day {
        std::int64_t sessions = 0;
        std::int64_t ended = 0;
        std::int64_t billable_ms = 0;
        std::vector<std::pair<std::string, std::int64_t>> users;  // user id, billable ms
    };
    static constexpr std::size_t kMaxDays = 120;
    std::shared_ptr<const Day> find(std::int64_t day) const;
    void put(std::int64_t day, std::shared_ptr<const Day> entry);

private:
    mutable std::mutex mutex_;
    std::map<std::int64_t, std::shared_ptr<const Day>> days_;
};

/// SessionStore::usage, written once for both engines. `rank_cache` (optional) speeds up
/// groupBy=user without a model filter.
[[nodiscard]] Result<UsageReport> read_usage(SqlExec& db, const UsageQuery& q,
                                             UserRankCache* rank_cache = nullptr);
/// SessionStore::live, written once for both engines.
[[nodiscard]] Result<LiveReport> read_live(SqlExec& db, const LiveQuery& q);
/// SessionStore::list_sessions, written once for both engines.
[[nodiscard]] Result<SessionPage> read_sessions(SqlExec& db, const SessionQuery& q);
/// SessionStore::list_events, written once for both engines.
[[nodiscard]] Result<EventPage> read_events(SqlExec& db, const EventQuery& q);

}  // namespace voicegate::store
