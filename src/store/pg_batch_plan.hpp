#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/prices.hpp"
#include "store/pg_db.hpp"
#include "store/pg_op.hpp"
#include "store/rollup.hpp"

// How a PostgreSQL writer turns a drained batch of ops into statements, and their answers back
// into outcomes: pure functions over the batch (the decoding over libpq results), so the plan
// is unit-tested without a database.
namespace voicegate::store::detail {

/// A drained batch of ops, in queue order.
using PgBatch = std::vector<std::unique_ptr<PgOpBase>>;

/// The sorted, distinct sessions whose rows a batch locks up front (its end_session ops');
/// empty when fewer than two. Pure.
std::vector<std::string> lock_keys(const PgBatch& batch);

/// The sorted, distinct users whose quotas the batch decides or settles (each needs its lock,
/// even alone). Pure.
std::vector<std::string> user_lock_keys(const PgBatch& batch);

/// One statement of a pipelined batch: the ops it runs (indexes into the batch), in the batched
/// form when there are several.
struct Planned {
    PgStatement statement = PgStatement::create_session;
    std::vector<std::size_t> ops;
};

/// The statements for `batch`: cut into waves at each op whose session already appeared in the
/// wave (so ops on one session keep their order), and within a wave one statement per kind,
/// creates first (a wave's sessions are distinct, so the order of kinds does not matter).
/// create_quota has no batched form (one statement per op, in queue order, within the wave);
/// an op of another statement is a statement of its own, in order. Pure.
std::vector<Planned> plan(const PgBatch& batch);

/// True when `p` runs in the batched form (several ops of a kind that has one). Pure.
bool runs_batched(const Planned& p);

/// The batched form's parameters: parameter p is the text[] literal of every op's parameter p
/// (each element quoted, `"` and `\` escaped). Pure.
PgParams many_params(const PgBatch& batch, const std::vector<std::size_t>& ops);

/// For each of `count` ops of a batched end, the row of the answer whose position column holds
/// its 1-based position (`positions[r]` for row r), or -1. Pure.
std::vector<int> rows_by_position(const std::vector<std::int64_t>& positions, std::size_t count);

/// For each op key of `keys` (a batched create's session ids), the row of the answer holding it
/// (`ids[r]` for row r), or -1. Pure.
std::vector<int> rows_by_id(const std::vector<std::string_view>& ids,
                            const std::vector<std::string_view>& keys);

/// What op `op` wrote, by its answer `row` (its one row, or none), added to `out`: a session
/// issued, a first end (its cost from `prices`, as the statement's). Only for an op whose
/// statement succeeded.
void collect_rollup(const PgOpBase& op, const PgRows& row, const PriceTable& prices,
                    RollupBatch& out);

/// Hands each op of the statement `planned` its row of `res` (single or batched form), or no
/// row; append_event ops get none. What each op wrote goes to `rollups`.
void decode_planned(const PgBatch& batch, const Planned& planned, const pg_result* res,
                    const PriceTable& prices, RollupBatch& rollups);

}  // namespace voicegate::store::detail
