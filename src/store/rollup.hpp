#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/prices.hpp"
#include "store/dialect.hpp"
#include "store/session_store.hpp"

namespace voicegate::store {

/// The counter columns of the usage rollup tables, in UsageCounters order: the first
/// kV3UsageColumns made by migration 3, then the true usage of supervised calls (migration 5:
/// the 8 token counts as true_*, then true_cost_usd).
const std::array<std::string_view, 26>& usage_columns();
constexpr std::size_t kV3UsageColumns = 17;

/// True for the usage columns that hold USD (cost_usd, true_cost_usd): doubles, not counts.
/// Pure.
bool is_money_column(std::string_view column);

/// Counters of one rollup row (day x user x model), as deltas or sums.
struct UsageCounters {
    std::array<std::int64_t, 24> n{};  // usage_columns() in order, the money columns excluded
    double cost_usd = 0;
    double true_cost_usd = 0;
    /// Adds `o` field by field.
    void add(const UsageCounters& o);
    /// The value of money column `column` (is_money_column). Pure.
    double money(std::string_view column) const {
        return column == "cost_usd" ? cost_usd : true_cost_usd;
    }
};

/// The delta of issuing one session.
UsageCounters issue_delta();

/// The delta of a session's first end. Pure.
UsageCounters end_delta(double reported_s, std::int64_t billable, std::int64_t messages,
                        const std::string& ended_by, const TokenUsage& tokens, double cost_usd);

/// The delta of a supervised call's final true usage (end_call): the true tokens and cost.
/// Pure.
UsageCounters true_usage_delta(const TrueUsage& usage);

/// The delta of a client's late report on a session whose end the server recorded first: the
/// reported ms and the messages. Pure.
UsageCounters late_report_delta(double reported_s, std::int64_t messages);

/// The rollup deltas of one write batch, summed by key, so that a batch writes one upsert per
/// distinct key. (Denials are counted apart, store/audit.hpp.) Not thread-safe (one writer owns
/// it).
class RollupBatch {
public:
    using UsageKey = std::tuple<std::int64_t, std::string, std::string>;  // day, user, model
    void add_usage(std::int64_t day, const std::string& user, const std::string& model,
                   const UsageCounters& delta);
    /// Moves every delta of `other` into this batch.
    void merge(RollupBatch& other);
    bool empty() const { return usage_.empty(); }
    void clear();
    const std::map<UsageKey, UsageCounters>& usage() const { return usage_; }
    /// The usage deltas summed per (day, model), for the per-day table.
    std::map<std::pair<std::int64_t, std::string>, UsageCounters> by_day_model() const;

    /// The billable ms summed per (day, user), for the user ranking table.
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> billable_by_day_user() const;

private:
    std::map<UsageKey, UsageCounters> usage_;
};

/// "INSERT INTO usage_daily ... ON CONFLICT DO UPDATE SET col = col + excluded.col" with
/// parameters $1 day, $2 user, $3 model, then the counters ($4...). Pure.
std::string usage_upsert_sql();
/// The same for usage_daily_model: $1 day, $2 model, $3 shard, then the counters. Pure.
std::string usage_model_upsert_sql();
/// The upsert of usage_daily_user: $1 day, $2 user, $3 billable ms. Pure.
std::string usage_user_upsert_sql();

/// The UTC calendar day "YYYY-MM-DD" of a day number (days since 1970-01-01). Pure.
std::string format_day(std::int64_t day);
/// Parses "YYYY-MM-DD" (a valid Gregorian date) into a day number. Pure.
std::optional<std::int64_t> parse_day(std::string_view text);

/// A parameter of a query: an integer or a text.
using SqlValue = std::variant<std::int64_t, std::string>;

/// A query in PostgreSQL's `$N` placeholder style (SQLite runs it as `?N`).
struct SqlQuery {
    std::string sql;
    std::vector<SqlValue> params;
};

/// Rows of a query as text (NULL as nullopt).
struct SqlTable {
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::int64_t i64(std::size_t r, std::size_t c) const;
    double f64(std::size_t r, std::size_t c) const;
    std::string text(std::size_t r, std::size_t c) const;
    bool is_null(std::size_t r, std::size_t c) const { return !rows[r][c].has_value(); }
};

/// A synchronous connection to run the shared read and rebuild logic on (each engine adapts
/// its own). Not thread-safe: used by one store thread.
class SqlExec {
public:
    virtual ~SqlExec() = default;
    virtual Dialect dialect() const = 0;
    /// Runs one statement; its rows (none for a command).
    [[nodiscard]] virtual Result<SqlTable> query(const SqlQuery& q) = 0;
    /// Runs `q` (columns: a text key, an integer) and sums the integers by key in memory, in
    /// no particular order. For engines without hash aggregation (SQLite sorts to group);
    /// this default goes through query().
    [[nodiscard]] virtual Result<std::vector<std::pair<std::string, std::int64_t>>> sum_by_key(
        const SqlQuery& q);
};

/// The statements that recompute the usage rollup tables from `sessions` (DELETE, then
/// INSERT ... SELECT), in portable SQL; also part of migration 3's backfill, which passes
/// `with_calls` false (the schema of version 3: no true usage, no calls). Pure.
std::vector<std::string> rollup_rebuild_statements(bool with_calls = true);

/// Recomputes the usage rollup tables from `sessions`; the denial counts (denials_daily,
/// denials_by_minute) are kept: they are not derivable from the sampled audit. With
/// `own_transaction` it runs in a transaction of its own that first locks the rollup tables
/// (PostgreSQL) or takes the write lock (SQLite); otherwise the caller is inside a write
/// transaction already.
[[nodiscard]] Result<RebuildReport> rebuild_rollups(SqlExec& db, bool own_transaction);

}  // namespace voicegate::store
