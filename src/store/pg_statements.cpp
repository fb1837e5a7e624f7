#include "store/pg_statements.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <tuple>
#include <type_traits>
#include <vector>

#include "store/pg_sql.hpp"  // generated from store/sql/pg/*.sql (cmake/EmbedSql.cmake)
#include "store/quota.hpp"

namespace voicegate::store::detail {
namespace {

// Parameter type Oids (pg_type.h): text, int8, float8, bool, text[].
constexpr unsigned kText = 25;
constexpr unsigned kInt8 = 20;
constexpr unsigned kFloat8 = 701;
constexpr unsigned kBool = 16;
constexpr unsigned kTextArray = 1009;
constexpr unsigned kInt8Array = 1016;
constexpr unsigned kFloat8Array = 1022;
constexpr unsigned kBoolArray = 1000;


// The parameter types of each statement, in the order of its $N.
constexpr std::array<unsigned, 9> kCreateTypes{kText, kText, kText, kText, kText,
                                               kInt8, kInt8, kText, kText};
constexpr std::array<unsigned, 8> kEndTypes{kText, kInt8, kFloat8, kInt8,
                                            kText, kBool, kText,   kText};
constexpr std::array<unsigned, 7> kEventTypes{kInt8, kText, kText, kText, kText, kText, kText};
constexpr std::array<unsigned, 1> kGetTypes{kText};
constexpr std::array<unsigned, 1> kEventsTypes{kText};
constexpr std::array<unsigned, 1> kLockTypes{kTextArray};
constexpr std::array<unsigned, 14> kCreateQuotaTypes{kText, kText, kText, kText, kText,
                                                     kInt8, kInt8, kText, kText, kInt8,
                                                     kInt8, kInt8, kInt8, kInt8};
constexpr std::array<unsigned, 1> kLockUsersTypes{kTextArray};
constexpr std::array<unsigned, 9> kCreateManyTypes{kTextArray, kTextArray, kTextArray,
                                                   kTextArray, kTextArray, kInt8Array,
                                                   kInt8Array, kTextArray, kTextArray};
constexpr std::array<unsigned, 8> kEndManyTypes{kTextArray, kInt8Array, kFloat8Array, kInt8Array,
                                                kTextArray, kBoolArray, kTextArray,   kTextArray};
constexpr std::array<unsigned, 7> kEventManyTypes{kInt8Array, kTextArray, kTextArray, kTextArray,
                                                  kTextArray, kTextArray, kTextArray};

// The quota statements (create_session_quota.sql, end_session.sql, end_sessions.sql) release a
// slot at store/quota.hpp's slot_release_ms written in SQL: `(expiry + 59999) / 60000 * 60000`.
static_assert(kSlotGranularityMs == 60'000, "the .sql files' slot release assumes 1-minute slots");

// The batch's rollup deltas (summed by key in the writer's RollupBatch) upserted once per key,
// in key order (the same order in every transaction: concurrent batches wait for each other's
// rows, never deadlock). $1 is the writer's shard of usage_daily_model; $2-$4 the day, user and
// model of each usage delta and $5... its counters (usage_columns() order). (Denials are
// counted apart: store/audit.hpp.) A user's day row that gains no billable time
// (sessions issued, none ended) is only made to exist: no update, no row lock.
constexpr std::size_t kFlushCounters = 26;
static_assert(kFlushCounters == std::tuple_size_v<std::decay_t<decltype(usage_columns())>>,
              "one flush parameter per usage column");
const std::string& flush_rollups_sql() {
    static const std::string kSql = [] {
        std::string cols;
        std::string sums;
        std::string set_model;
        std::string set_user;
        for (const auto c : usage_columns()) {
            const std::string col(c);
            cols += ", " + col;
            sums += ", SUM(" + col + ")";
            set_model += std::string(set_model.empty() ? "" : ", ") + col +
                         " = usage_daily_model." + col + " + EXCLUDED." + col;
            set_user += std::string(set_user.empty() ? "" : ", ") + col + " = usage_daily." + col +
                        " + EXCLUDED." + col;
        }
        std::string arrays = "$2, $3, $4";
        for (std::size_t i = 0; i < kFlushCounters; ++i) {
            arrays += ", $" + std::to_string(5 + i);
        }
        return "WITH g AS (SELECT * FROM unnest(" + arrays + ") AS g(day, user_id, model" + cols +
               ")),"
               " u AS (SELECT day, user_id, SUM(billable_ms) AS b FROM g GROUP BY day, user_id),"
               " m AS (INSERT INTO usage_daily_model (day, model, shard" +
               cols + ") SELECT day, model, $1::bigint" + sums +
               " FROM g GROUP BY day, model ORDER BY day, model"
               " ON CONFLICT (day, model, shard) DO UPDATE SET " +
               set_model +
               "),"
               " du AS (INSERT INTO usage_daily_user (day, user_id, billable_ms)"
               " SELECT day, user_id, b FROM u WHERE b <> 0 ORDER BY day, user_id"
               " ON CONFLICT (day, user_id) DO UPDATE SET"
               " billable_ms = usage_daily_user.billable_ms + EXCLUDED.billable_ms),"
               " dz AS (INSERT INTO usage_daily_user (day, user_id, billable_ms)"
               " SELECT day, user_id, 0 FROM u WHERE b = 0 ORDER BY day, user_id"
               " ON CONFLICT (day, user_id) DO NOTHING)"
               " INSERT INTO usage_daily (day, user_id, model" +
               cols + ") SELECT day, user_id, model" + cols +
               " FROM g ORDER BY day, user_id, model"
               " ON CONFLICT (day, user_id, model) DO UPDATE SET " +
               set_user;
    }();
    return kSql;
}

/// The parameter types of flush_rollups_sql().
const std::vector<unsigned>& flush_rollups_types() {
    static const std::vector<unsigned> kTypes = [] {
        std::vector<unsigned> t{kInt8, kInt8Array, kTextArray, kTextArray};
        for (const auto c : usage_columns()) {
            t.push_back(is_money_column(c) ? kFloat8Array : kInt8Array);
        }
        return t;
    }();
    return kTypes;
}

/// A PostgreSQL array literal of numbers, built element by element.
class NumberArray {
public:
    void add(std::int64_t v) { add_text(std::to_string(v)); }
    void add(double v) {
        // Shortest text that reads back as the same double.
        std::array<char, 32> buf{};
        const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
        add_text(std::string_view(buf.data(), static_cast<std::size_t>(res.ptr - buf.data())));
    }
    std::string literal() const { return text_ + "}"; }

private:
    void add_text(std::string_view v) {
        if (text_.size() > 1) {
            text_.push_back(',');
        }
        text_.append(v);
    }
    std::string text_ = "{";
};

}  // namespace

const StatementDef& definition(PgStatement s) {
    static const std::array<StatementDef, 8> kDefs{{
        {"vg_create_session", sql::pg::create_session, kCreateTypes},
        {"vg_end_session", sql::pg::end_session, kEndTypes},
        {"vg_append_event", sql::pg::append_event, kEventTypes},
        {"vg_get_session", sql::pg::get_session, kGetTypes},
        {"vg_events", sql::pg::events, kEventsTypes},
        {"vg_lock_sessions", sql::pg::lock_sessions, kLockTypes},
        {"vg_create_session_quota", sql::pg::create_session_quota, kCreateQuotaTypes},
        {"vg_lock_users", sql::pg::lock_users, kLockUsersTypes},
    }};
    return kDefs[static_cast<std::size_t>(s)];
}

const StatementDef* many_definition(PgStatement s) {
    static const std::array<StatementDef, 3> kDefs{{
        {"vg_create_sessions", sql::pg::create_sessions, kCreateManyTypes},
        {"vg_end_sessions", sql::pg::end_sessions, kEndManyTypes},
        {"vg_append_events", sql::pg::append_events, kEventManyTypes},
    }};
    const auto i = static_cast<std::size_t>(s);
    return i < kDefs.size() ? &kDefs[i] : nullptr;
}

Result<void> prepare_all(PgConnection& conn) {
    for (const auto s : {PgStatement::create_session, PgStatement::end_session,
                         PgStatement::append_event, PgStatement::get_session, PgStatement::events,
                         PgStatement::lock, PgStatement::create_quota, PgStatement::lock_users}) {
        const auto& d = definition(s);
        if (auto r = conn.prepare(d.name, d.sql, d.types); !r) {
            return r.error();
        }
        if (const auto* m = many_definition(s); m != nullptr) {
            if (auto r = conn.prepare(m->name, m->sql, m->types); !r) {
                return r.error();
            }
        }
    }
    return conn.prepare(kFlushRollups, flush_rollups_sql(), flush_rollups_types());
}

PgParams flush_rollups_params(const RollupBatch& rollups, std::int64_t shard) {
    NumberArray days;
    std::vector<std::string> users;
    std::vector<std::string> models;
    std::array<NumberArray, kFlushCounters> counters;
    for (const auto& [key, c] : rollups.usage()) {
        days.add(std::get<0>(key));
        users.push_back(std::get<1>(key));
        models.push_back(std::get<2>(key));
        for (std::size_t i = 0, n = 0; i < kFlushCounters; ++i) {
            if (is_money_column(usage_columns()[i])) {
                counters[i].add(c.money(usage_columns()[i]));
            } else {
                counters[i].add(c.n[n++]);
            }
        }
    }
    PgParams p{std::to_string(shard), days.literal(), pg_text_array(users), pg_text_array(models)};
    for (const auto& a : counters) {
        p.push_back(a.literal());
    }
    return p;
}

std::string temp_tables_sql(const PriceTable& prices) {
    std::string sql =
        "CREATE TEMP TABLE IF NOT EXISTS vg_prices (model text PRIMARY KEY, text_in float8,"
        " text_cached float8, text_out float8, audio_in float8, audio_cached float8,"
        " audio_out float8, image_in float8, image_cached float8, per_minute float8);"
        " DELETE FROM vg_prices;";
    for (const auto& [model, p] : prices) {
        std::string quoted;
        for (const char c : model) {
            quoted += c == '\'' ? std::string("''") : std::string(1, c);
        }
        char buf[512];
        std::snprintf(buf, sizeof buf, ",%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g);",
                      p.text_in, p.text_cached, p.text_out, p.audio_in, p.audio_cached, p.audio_out,
                      p.image_in, p.image_cached, p.minute_estimate());
        sql += " INSERT INTO vg_prices VALUES ('" + quoted + "'" + buf;
    }
    return sql;
}

}  // namespace voicegate::store::detail
