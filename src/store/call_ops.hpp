#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/prices.hpp"
#include "store/rollup.hpp"
#include "store/supervision.hpp"

// The CallSupervisionStore operations (store/supervision.hpp), written once for SQLite and
// PostgreSQL over SqlExec. Each runs inside a write transaction the engine opened (SQLite: the
// writer's group commit; PostgreSQL: the calls connection's, PgWorkerOptions::group_calls), one
// SAVEPOINT per op, so a failure writes nothing. Statements are portable SQL with `$N` parameters;
// the one dialect difference is PostgreSQL's row locking (FOR UPDATE, SKIP LOCKED, the per-user
// advisory lock that the quota writes take).
namespace voicegate::store {

/// What a call op runs on and with.
struct CallOpEnv {
    SqlExec& db;
    std::int64_t now_ms = 0;             // the store's clock, for times given as 0
    const PriceTable* prices = nullptr;  // the estimate of a session ended by end_call
    RollupBatch* rollups = nullptr;      // end_call's deltas (the engine writes them)
};

/// CallSupervisionStore::attach_call.
[[nodiscard]] Result<AttachOutcome> attach_call_in(CallOpEnv& env, const AttachRequest& req);
/// CallSupervisionStore::claim_calls (one UPDATE over a locked selection).
/// True when claim_calls_in would take at least one call (a read: SQLite runs it on the reader
/// first, so an instance without calls never queues a write on the single writer).
[[nodiscard]] Result<bool> claimable_in(CallOpEnv& env, const LeaseClaim& claim);
[[nodiscard]] Result<std::vector<SupervisedCall>> claim_calls_in(CallOpEnv& env,
                                                                 const LeaseClaim& claim);
/// CallSupervisionStore::renew_leases.
[[nodiscard]] Result<std::vector<std::string>> renew_leases_in(
    CallOpEnv& env, const LeaseClaim& claim, const std::vector<std::string>& session_ids);
/// CallSupervisionStore::release_lease.
[[nodiscard]] Result<void> release_lease_in(CallOpEnv& env, const std::string& session_id,
                                            const std::string& instance_id);
/// CallSupervisionStore::checkpoint_usage.
[[nodiscard]] Result<void> checkpoint_usage_in(CallOpEnv& env, const UsageCheckpoint& cp);
/// CallSupervisionStore::end_call; the rollup deltas go to env.rollups.
[[nodiscard]] Result<void> end_call_in(CallOpEnv& env, const CallEnded& request);
/// CallSupervisionStore::user_minutes (a read).
[[nodiscard]] Result<UserMinutes> user_minutes_in(CallOpEnv& env, const std::string& user_id,
                                                  std::int64_t now_ms);

}  // namespace voicegate::store
