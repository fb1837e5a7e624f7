#include "store/rollup.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "store/quota.hpp"

namespace voicegate::store {
namespace {

constexpr std::size_t kCostColumn = 13;
constexpr std::size_t kTrueTokensColumn = 17;  // the 8 true_* token counts, then true_cost_usd

// The index in UsageCounters::n of usage column `column` (not a money column).
std::size_t counter_index(std::size_t column) {
    return column < kCostColumn ? column : column - 1;
}

// The 8 token counts in column order.
std::array<std::int64_t, 8> token_array(const TokenUsage& t) {
    return {t.input_text,   t.input_audio,  t.input_image, t.cached_text,
            t.cached_audio, t.cached_image, t.output_text, t.output_audio};
}

// `SUM(CASE WHEN status = 'ended' THEN X ELSE 0 END)`: portable SQL.
std::string ended_sum(const std::string& x) {
    return "SUM(CASE WHEN status = 'ended' THEN " + x + " ELSE 0 END)";
}

// Seconds in the column `s` as whole ms, rounded half away from zero (as std::llround).
std::string ms_of(const std::string& s) {
    return "CAST(ROUND(CAST((" + s + ") * 1000 AS NUMERIC)) AS BIGINT)";
}

const std::string kReported =
    "CASE WHEN reported_duration_s > 0 THEN reported_duration_s ELSE 0 END";
const std::string kBillable =
    "CASE WHEN reported_duration_s IS NULL OR reported_duration_s <= 0 THEN 0 "
    "WHEN reported_duration_s < observed_duration_s THEN reported_duration_s "
    "ELSE observed_duration_s END";

// The first `count` usage columns, joined with ", ".
std::string joined_columns(std::size_t count = usage_columns().size()) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        out.append(out.empty() ? "" : ", ").append(usage_columns()[i]);
    }
    return out;
}

std::string upsert(std::string_view table, std::string_view keys, int nkeys,
                   std::string_view conflict) {
    std::string sql = "INSERT INTO " + std::string(table) + " (" + std::string(keys) + ", " +
                      joined_columns() + ") VALUES (";
    const int n = nkeys + static_cast<int>(usage_columns().size());
    for (int i = 1; i <= n; ++i) {
        sql.append(i == 1 ? "$" : ", $").append(std::to_string(i));
    }
    sql.append(") ON CONFLICT (").append(conflict).append(") DO UPDATE SET ");
    bool first = true;
    for (const auto c : usage_columns()) {
        sql.append(first ? "" : ", ")
            .append(c)
            .append(" = ")
            .append(table)
            .append(".")
            .append(c)
            .append(" + excluded.")
            .append(c);
        first = false;
    }
    return sql;
}

}  // namespace

const std::array<std::string_view, 26>& usage_columns() {
    // clang-format off
    static const std::array<std::string_view, 26> kColumns{
        "sessions",           "ended",               "reported_ms",         "billable_ms",
        "messages",           "input_text_tokens",   "input_audio_tokens",  "input_image_tokens",
        "cached_text_tokens", "cached_audio_tokens", "cached_image_tokens", "output_text_tokens",
        "output_audio_tokens", "cost_usd",           "ended_user",          "ended_timeout",
        "ended_error",
        "true_input_text_tokens", "true_input_audio_tokens", "true_input_image_tokens",
        "true_cached_text_tokens", "true_cached_audio_tokens", "true_cached_image_tokens",
        "true_output_text_tokens", "true_output_audio_tokens", "true_cost_usd"};
    // clang-format on
    return kColumns;
}

bool is_money_column(std::string_view column) {
    return column == "cost_usd" || column == "true_cost_usd";
}

void UsageCounters::add(const UsageCounters& o) {
    for (std::size_t i = 0; i < n.size(); ++i) {
        n[i] += o.n[i];
    }
    cost_usd += o.cost_usd;
    true_cost_usd += o.true_cost_usd;
}

UsageCounters issue_delta() {
    UsageCounters d;
    d.n[0] = 1;
    return d;
}

UsageCounters end_delta(double reported_s, std::int64_t billable, std::int64_t messages,
                        const std::string& ended_by, const TokenUsage& t, double cost_usd) {
    UsageCounters d;
    d.n[1] = 1;
    d.n[2] = std::llround((std::isfinite(reported_s) ? std::max(0.0, reported_s) : 0.0) * 1000.0);
    d.n[3] = billable;
    d.n[4] = messages;
    const auto tokens = token_array(t);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        d.n[5 + i] = tokens[i];
    }
    d.cost_usd = cost_usd;
    d.n[counter_index(14)] = ended_by == "user" ? 1 : 0;
    d.n[counter_index(15)] = ended_by == "timeout" ? 1 : 0;
    d.n[counter_index(16)] = ended_by == "error" ? 1 : 0;
    return d;
}

UsageCounters true_usage_delta(const TrueUsage& usage) {
    UsageCounters d;
    const auto tokens = token_array(usage.tokens);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        d.n[counter_index(kTrueTokensColumn + i)] = tokens[i];
    }
    d.true_cost_usd = std::isfinite(usage.cost_usd) ? usage.cost_usd : 0.0;
    return d;
}

UsageCounters late_report_delta(double reported_s, std::int64_t messages) {
    UsageCounters d;
    d.n[2] = std::llround((std::isfinite(reported_s) ? std::max(0.0, reported_s) : 0.0) * 1000.0);
    d.n[4] = messages;
    return d;
}

void RollupBatch::add_usage(std::int64_t day, const std::string& user, const std::string& model,
                            const UsageCounters& delta) {
    usage_[UsageKey{day, user, model}].add(delta);
}

void RollupBatch::merge(RollupBatch& other) {
    for (auto& [k, v] : other.usage_) {
        usage_[k].add(v);
    }
    other.clear();
}

void RollupBatch::clear() {
    usage_.clear();
}

std::map<std::pair<std::int64_t, std::string>, UsageCounters> RollupBatch::by_day_model() const {
    std::map<std::pair<std::int64_t, std::string>, UsageCounters> out;
    for (const auto& [k, v] : usage_) {
        out[{std::get<0>(k), std::get<2>(k)}].add(v);
    }
    return out;
}

std::map<std::pair<std::int64_t, std::string>, std::int64_t> RollupBatch::billable_by_day_user()
    const {
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> out;
    for (const auto& [k, v] : usage_) {
        out[{std::get<0>(k), std::get<1>(k)}] += v.n[3];
    }
    return out;
}

std::string usage_upsert_sql() {
    return upsert("usage_daily", "day, user_id, model", 3, "day, user_id, model");
}

std::string usage_model_upsert_sql() {
    return upsert("usage_daily_model", "day, model, shard", 3, "day, model, shard");
}

std::string usage_user_upsert_sql() {
    return "INSERT INTO usage_daily_user (day, user_id, billable_ms) VALUES ($1, $2, $3) "
           "ON CONFLICT (day, user_id) DO UPDATE SET billable_ms = usage_daily_user.billable_ms + "
           "excluded.billable_ms";
}

std::vector<std::string> rollup_rebuild_statements(bool with_calls) {
    // A supervised call whose end the server recorded first is billed what the server observed
    // (end_call); the client's report, if it came later, does not change that.
    std::string server_ends;
    for (int e = 0; e <= static_cast<int>(CallEnd::gone); ++e) {
        server_ends.append(server_ends.empty() ? "'" : ", '")
            .append(call_end_name(static_cast<CallEnd>(e)))
            .append("'");
    }
    const std::string billable = with_calls
                                     ? "CASE WHEN ended_by IN (" + server_ends +
                                           ") THEN observed_duration_s ELSE " + kBillable + " END"
                                     : kBillable;
    const std::size_t ncolumns = with_calls ? usage_columns().size() : kV3UsageColumns;
    std::string sums = "COUNT(*), " + ended_sum("1") + ", " + ended_sum(ms_of(kReported)) + ", " +
                       ended_sum(ms_of(billable)) + ", " + ended_sum("message_count");
    for (std::size_t i = 5; i < kCostColumn; ++i) {
        sums += ", " + ended_sum(std::string(usage_columns()[i]));
    }
    sums += ", " + ended_sum("estimated_cost_usd");
    for (const char* by : {"user", "timeout", "error"}) {
        sums += ", SUM(CASE WHEN status = 'ended' AND ended_by = '" + std::string(by) +
                "' THEN 1 ELSE 0 END)";
    }
    // The true usage counts once the server recorded the call's end (end_call).
    for (std::size_t i = kTrueTokensColumn; with_calls && i < ncolumns; ++i) {
        sums += ", SUM(CASE WHEN call_state = 'ended' THEN " + std::string(usage_columns()[i]) +
                " ELSE 0 END)";
    }
    std::string model_sums;
    for (std::size_t i = 0; i < ncolumns; ++i) {
        model_sums.append(model_sums.empty() ? "" : ", ")
            .append("SUM(")
            .append(usage_columns()[i])
            .append(")");
    }
    return {
        "DELETE FROM usage_daily",
        "DELETE FROM usage_daily_model",
        "DELETE FROM usage_daily_user",
        "INSERT INTO usage_daily (day, user_id, model, " + joined_columns(ncolumns) +
            ") SELECT issued_at_ms / 86400000, user_id, model, " + sums +
            " FROM sessions GROUP BY issued_at_ms / 86400000, user_id, model",
        "INSERT INTO usage_daily_model (day, model, shard, " + joined_columns(ncolumns) +
            ") SELECT day, model, 0, " + model_sums + " FROM usage_daily GROUP BY day, model",
        "INSERT INTO usage_daily_user (day, user_id, billable_ms) SELECT day, user_id, "
        "SUM(billable_ms) FROM usage_daily GROUP BY day, user_id",
    };
}

std::string format_day(std::int64_t day) {
    // Howard Hinnant's civil_from_days.
    std::int64_t z = day + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = yoe + era * 400;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2 ? 1 : 0;
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                  static_cast<long long>(m), static_cast<long long>(d));
    return buf;
}

std::optional<std::int64_t> parse_day(std::string_view t) {
    if (t.size() != 10 || t[4] != '-' || t[7] != '-') {
        return std::nullopt;
    }
    const auto num = [&](std::size_t at, std::size_t len) -> std::optional<int> {
        int v = 0;
        for (std::size_t i = at; i < at + len; ++i) {
            if (t[i] < '0' || t[i] > '9') {
                return std::nullopt;
            }
            v = v * 10 + (t[i] - '0');
        }
        return v;
    };
    const auto y = num(0, 4);
    const auto m = num(5, 2);
    const auto d = num(8, 2);
    if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *y < 1970) {
        return std::nullopt;
    }
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    if (*d > kDays[*m - 1] + (*m == 2 && leap ? 1 : 0)) {
        return std::nullopt;
    }
    // days_from_civil.
    const std::int64_t yy = *y - (*m <= 2 ? 1 : 0);
    const std::int64_t era = yy / 400;
    const std::int64_t yoe = yy - era * 400;
    const std::int64_t mp = *m > 2 ? *m - 3 : *m + 9;
    const std::int64_t doy = (153 * mp + 2) / 5 + *d - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

std::int64_t SqlTable::i64(std::size_t r, std::size_t c) const {
    const auto& v = rows[r][c];
    if (!v) {
        return 0;
    }
    std::int64_t out = 0;
    const auto* end = v->data() + v->size();
    auto [p, ec] = std::from_chars(v->data(), end, out);
    if (ec == std::errc() && p == end) {
        return out;
    }
    return std::llround(std::strtod(v->c_str(), nullptr));
}

double SqlTable::f64(std::size_t r, std::size_t c) const {
    const auto& v = rows[r][c];
    return v ? std::strtod(v->c_str(), nullptr) : 0.0;
}

Result<std::vector<std::pair<std::string, std::int64_t>>> SqlExec::sum_by_key(const SqlQuery& q) {
    auto t = query(q);
    if (!t) {
        return t.error();
    }
    std::unordered_map<std::string, std::int64_t> sums;
    for (std::size_t r = 0; r < t->rows.size(); ++r) {
        sums[t->text(r, 0)] += t->i64(r, 1);
    }
    return std::vector<std::pair<std::string, std::int64_t>>(sums.begin(), sums.end());
}

std::string SqlTable::text(std::size_t r, std::size_t c) const {
    const auto& v = rows[r][c];
    return v ? *v : std::string();
}

Result<RebuildReport> rebuild_rollups(SqlExec& db, bool own_transaction) {
    const bool pg = db.dialect() == Dialect::postgres;
    std::vector<std::string> script;
    if (own_transaction) {
        script.emplace_back(pg ? "BEGIN" : "BEGIN IMMEDIATE");
        if (pg) {
            // Writers' rollup upserts wait until the rebuild commits, then add on top of it.
            script.emplace_back(
                "LOCK TABLE usage_daily, usage_daily_model IN SHARE ROW "
                "EXCLUSIVE MODE");
        }
    }
    for (auto& s : rollup_rebuild_statements()) {
        script.push_back(std::move(s));
    }
    RebuildReport report;
    const auto abort = [&](Failure f) -> Result<RebuildReport> {
        if (own_transaction) {
            (void)db.query(SqlQuery{"ROLLBACK", {}});
        }
        return f;
    };
    for (const auto& sql : script) {
        if (auto r = db.query(SqlQuery{sql, {}}); !r) {
            return abort(r.error());
        }
    }
    auto counts = db.query(SqlQuery{
        "SELECT (SELECT COUNT(*) FROM sessions), (SELECT COALESCE(SUM(n), 0) FROM denials_daily), "
        "(SELECT COUNT(*) FROM usage_daily), (SELECT COUNT(*) FROM denials_daily)",
        {}});
    if (!counts) {
        return abort(counts.error());
    }
    if (!counts->rows.empty()) {
        report.sessions = counts->i64(0, 0);
        report.denials = counts->i64(0, 1);
        report.usage_rows = counts->i64(0, 2);
        report.denial_rows = counts->i64(0, 3);
    }
    if (own_transaction) {
        if (auto r = db.query(SqlQuery{"COMMIT", {}}); !r) {
            return abort(r.error());
        }
    }
    return report;
}

}  // namespace voicegate::store
