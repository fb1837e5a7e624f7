#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/prices.hpp"
#include "store/pg_db.hpp"
#include "store/pg_op.hpp"
#include "store/rollup.hpp"

// The statements PgStore prepares on each connection: their texts (store/sql/pg/*.sql,
// embedded at build time), parameter types and names, and the few built in code (the rollup
// flush, derived from usage_columns(); the temp price table, from the configured prices).
namespace voicegate::store::detail {

/// A prepared statement: its name on the connection, its text and parameter type Oids.
struct StatementDef {
    const char* name;
    std::string_view sql;
    std::span<const unsigned> types;
};

/// The definition of `s` (any PgStatement but call). Pure.
const StatementDef& definition(PgStatement s);

/// The batched form of `s` (create_session, end_session, append_event), else null. Pure.
const StatementDef* many_definition(PgStatement s);

/// The columns of end_session's and end_sessions' answer (end_sessions.sql describes them):
/// whether this op ended the session, the observed duration, the op's position n, the first
/// token count, what the end adds to billable and reported ms, and whether the op was a late
/// report on a call the server ended first (end_call).
enum EndColumn : int {
    kEndEnding = 15,
    kEndObserved,
    kEndManyN,
    kEndTokens,  // 18-25: the TokenUsage counts, in its order
    kEndBillable = kEndTokens + 8,
    kEndReportedMs,
    kEndLate,
};
static_assert(kEndBillable == 26 && kEndReportedMs == 27 && kEndLate == 28,
              "end_sessions.sql's answer columns");

/// The name of the prepared rollup flush.
constexpr const char* kFlushRollups = "vg_flush_rollups";

/// The rollup flush's parameters for `rollups`, on the writer's `shard`. Pure.
PgParams flush_rollups_params(const RollupBatch& rollups, std::int64_t shard);

/// The script that (re)fills a connection's temp price table (pg_temp.vg_prices), which the
/// end statements read the cost estimates from. Pure.
std::string temp_tables_sql(const PriceTable& prices);

/// Prepares every statement (and the rollup flush) on `conn`.
[[nodiscard]] Result<void> prepare_all(PgConnection& conn);

}  // namespace voicegate::store::detail
