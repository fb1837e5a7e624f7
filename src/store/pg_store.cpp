#include "store/pg_store.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <random>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "core/thread_name.hpp"
#include "metrics/instruments.hpp"
#include "store/session_row.hpp"

namespace voicegate::store {
namespace detail {
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

#define VG_SESSION_COLUMNS                                                                    \
    "session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, client_ip, " \
    "user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s, "             \
    "message_count, ended_by"

// One statement per op; each writes its audit event in the same statement and reports outcomes
// (duplicate id, not found, forbidden, already ended) as data rather than as errors, so that a
// pipelined batch normally runs to COMMIT without a failure.
// store/quota.hpp's slot_release_ms, in SQL: the whole minute at which a reservation that
// expires at EXPIRY (ms) releases its concurrent slot.
#define VG_SLOT_RELEASE(expiry) "(((" expiry ") + 59999) / 60000 * 60000)"
static_assert(kSlotGranularityMs == 60'000, "VG_SLOT_RELEASE assumes one-minute slots");

// The rollups are not written by these statements: the writer sums each batch's deltas from
// their answers (RollupBatch) and upserts them once per key before COMMIT (flush_rollups_sql).
// A session's token columns, in TokenUsage order (its cost and its rollup delta need them).
#define VG_TOKEN_COLUMNS                                                              \
    "input_text_tokens, input_audio_tokens, input_image_tokens, cached_text_tokens, " \
    "cached_audio_tokens, cached_image_tokens, output_text_tokens, output_audio_tokens"

constexpr std::string_view kCreateSql =
    "WITH ins AS ("
    " INSERT INTO sessions (session_id, user_id, model, voice, profile, issued_at_ms,"
    " token_expires_at, client_ip, user_agent, status)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'issued')"
    " ON CONFLICT (session_id) DO NOTHING RETURNING *),"
    " ev AS ("
    " INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " SELECT issued_at_ms, 'token_issued', session_id, user_id, NULLIF(client_ip, ''), NULL,"
    " jsonb_strip_nulls(jsonb_build_object('model', model, 'voice', voice,"
    " 'profile', NULLIF(profile, '')))::text FROM ins)"
    " SELECT session_id FROM ins";
constexpr std::array<unsigned, 9> kCreateTypes{kText, kText, kText, kText, kText,
                                               kInt8, kInt8, kText, kText};

// What a first end charges, in ms: the smaller of the reported (a negative counts as 0) and the
// observed duration, rounded half away from zero as billable_ms() does (numeric ROUND; float8's
// rounds half to even).
#define VG_BILLABLE_MS(reported, observed) \
    "ROUND((LEAST(GREATEST(" reported ", 0), " observed ") * 1000)::numeric)::bigint"

// The estimated cost of the session `s` (its tokens, its model's row of the connection's
// vg_prices) with `billable` ms: from the tokens when it has any, else per minute (as
// estimate_cost_usd()); 0 for a model without prices.
// clang-format off
#define VG_COST(billable)                                                                       \
    "COALESCE((SELECT CASE WHEN s.input_text_tokens + s.input_audio_tokens"                    \
    " + s.input_image_tokens + s.output_text_tokens + s.output_audio_tokens > 0 THEN"          \
    " ((s.input_text_tokens - s.cached_text_tokens) * p.text_in"                               \
    " + s.cached_text_tokens * p.text_cached"                                                  \
    " + (s.input_audio_tokens - s.cached_audio_tokens) * p.audio_in"                           \
    " + s.cached_audio_tokens * p.audio_cached"                                                \
    " + (s.input_image_tokens - s.cached_image_tokens) * p.image_in"                           \
    " + s.cached_image_tokens * p.image_cached + s.output_text_tokens * p.text_out"            \
    " + s.output_audio_tokens * p.audio_out) / 1e6"                                            \
    " ELSE (" billable ")::float8 / 60000 * p.per_minute END"                                  \
    " FROM pg_temp.vg_prices AS p WHERE p.model = s.model), 0)"
// clang-format on

// What a first end adds to reported ms, as in the rebuild (rollup.cpp).
#define VG_REPORTED_MS(reported) "ROUND((GREATEST(" reported ", 0) * 1000)::numeric)::bigint"

// At a session's first end (`upd` non-empty) the quota bookkeeping is settled in the same
// statement: its open slot is released and its day's charge goes from the reservation to what
// it used. The day is quota_day() of the issue time (integer division: times after 1970).
// `cur` locks the row (FOR UPDATE: a concurrent end, from this or another instance, waits and
// then sees status 'ended'); `upd` changes it only while it is 'issued' and the owner matches.
constexpr std::string_view kEndSql =
    "WITH cur AS (SELECT " VG_SESSION_COLUMNS ", " VG_TOKEN_COLUMNS
    " FROM sessions WHERE session_id = $1 FOR UPDATE),"
    " upd AS ("
    " UPDATE sessions AS s SET status = 'ended', ended_at_ms = $2, reported_duration_s = $3,"
    " observed_duration_s = GREATEST(0, $2 - s.issued_at_ms)::float8 / 1000,"
    " message_count = $4, ended_by = $5, estimated_cost_usd = "
    VG_COST(VG_BILLABLE_MS("$3", "(GREATEST(0, $2 - s.issued_at_ms)::float8 / 1000)"))
    " FROM cur WHERE s.session_id = cur.session_id AND s.status = 'issued'"
    " AND cur.status = 'issued' AND (NOT $6 OR cur.user_id = $7)"
    " RETURNING s.*),"
    " rel AS (UPDATE quota_slots AS o SET n = o.n - 1 FROM upd"
    " WHERE upd.quota_reserved_ms IS NOT NULL AND o.user_id = upd.user_id"
    " AND o.release_at_ms = " VG_SLOT_RELEASE("upd.issued_at_ms + upd.quota_reserved_ms")
    " AND o.n > 0),"
    " qu AS (UPDATE quota_usage AS q SET charged_ms = q.charged_ms"
    " + " VG_BILLABLE_MS("$3", "upd.observed_duration_s") " - upd.quota_reserved_ms"
    " FROM upd WHERE upd.quota_reserved_ms IS NOT NULL AND q.user_id = upd.user_id"
    " AND q.day = upd.issued_at_ms / 86400000),"
    " ev AS ("
    " INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " SELECT $2, 'session_ended', $1, upd.user_id, NULLIF($8, ''), NULLIF($5, ''),"
    " '{\"reported_duration_s\":' || $3::text || ',\"observed_duration_s\":' ||"
    " upd.observed_duration_s::text || ',\"message_count\":' || $4::text || '}' FROM upd)"
    // The answer's columns as kEndManySql's (kEnd*), n being 0.
    " SELECT cur.session_id, cur.user_id, cur.model, cur.voice, cur.profile, cur.issued_at_ms,"
    " cur.token_expires_at, cur.client_ip, cur.user_agent, cur.status, cur.ended_at_ms,"
    " cur.reported_duration_s, cur.observed_duration_s, cur.message_count, cur.ended_by,"
    " upd.user_id IS NOT NULL, upd.observed_duration_s, 0, cur.input_text_tokens,"
    " cur.input_audio_tokens, cur.input_image_tokens, cur.cached_text_tokens,"
    " cur.cached_audio_tokens, cur.cached_image_tokens, cur.output_text_tokens,"
    " cur.output_audio_tokens, "
    VG_BILLABLE_MS("upd.reported_duration_s", "upd.observed_duration_s") ", "
    VG_REPORTED_MS("upd.reported_duration_s")
    " FROM cur LEFT JOIN upd ON TRUE";
constexpr std::array<unsigned, 8> kEndTypes{kText, kInt8, kFloat8, kInt8,
                                            kText, kBool, kText,   kText};

constexpr std::string_view kEventSql =
    "INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''),"
    " NULLIF($7, ''))";
constexpr std::array<unsigned, 7> kEventTypes{kInt8, kText, kText, kText, kText, kText, kText};

constexpr std::string_view kGetSql =
    "SELECT " VG_SESSION_COLUMNS " FROM sessions WHERE session_id = $1";
constexpr std::array<unsigned, 1> kGetTypes{kText};

constexpr std::string_view kEventsSql =
    "SELECT at_ms, type, session_id, user_id, client_ip, reason, detail FROM events"
    " WHERE session_id = $1 ORDER BY id";
constexpr std::array<unsigned, 1> kEventsTypes{kText};

// Rows are locked in session_id order (LockRows runs above the Sort), the same order in every
// instance, so two batches ending overlapping sessions cannot deadlock.
constexpr std::string_view kLockSql =
    "SELECT session_id FROM sessions WHERE session_id = ANY($1) ORDER BY session_id FOR UPDATE";
constexpr std::array<unsigned, 1> kLockTypes{kTextArray};

// create_session with the quota check (SPEC §4), for one op: run after lock_users holds the
// user's advisory lock, so this statement's snapshot already shows every create of the user
// committed before (READ COMMITTED takes it at statement start). Concurrent ends are not
// serialized by the lock; missing one only makes the decision stricter for this instant.
// Expired slots are deleted here, each once, and the open count is the user's counter less
// them (a CTE does not see another's changes), so deciding costs O(1) amortized. Denied:
// nothing is written but that cleanup, and the answer's counts say why; a duplicate id also
// inserts nothing, with counts that allow.
// $10 reserve ms, $11 day, $12 concurrent, $13 sessions per day, $14 charged-ms cap (0: none).
constexpr std::string_view kCreateQuotaSql =
    "WITH del AS (DELETE FROM quota_slots WHERE user_id = $2 AND release_at_ms <= $6),"
    " cnt AS (SELECT COALESCE(SUM(n), 0) AS n_open, COALESCE(MIN(release_at_ms), 0)"
    " AS first_expiry FROM quota_slots WHERE user_id = $2 AND release_at_ms > $6 AND n > 0),"
    " used AS (SELECT COALESCE(MAX(sessions), 0) AS sessions, COALESCE(MAX(charged_ms), 0)"
    " AS charged FROM quota_usage WHERE user_id = $2 AND day = $11),"
    " ok AS (SELECT 1 FROM cnt, used WHERE NOT (($12 > 0 AND cnt.n_open >= $12)"
    " OR ($13 > 0 AND used.sessions >= $13) OR ($14 > 0 AND used.charged >= $14))),"
    " ins AS ("
    " INSERT INTO sessions (session_id, user_id, model, voice, profile, issued_at_ms,"
    " token_expires_at, client_ip, user_agent, status, quota_reserved_ms)"
    " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'issued', $10 FROM ok"
    " ON CONFLICT (session_id) DO NOTHING RETURNING *),"
    " ev AS ("
    " INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " SELECT issued_at_ms, 'token_issued', session_id, user_id, NULLIF(client_ip, ''), NULL,"
    " jsonb_strip_nulls(jsonb_build_object('model', model, 'voice', voice,"
    " 'profile', NULLIF(profile, '')))::text FROM ins),"
    " os AS (INSERT INTO quota_slots (user_id, release_at_ms, n)"
    " SELECT user_id, " VG_SLOT_RELEASE("issued_at_ms + $10") ", 1 FROM ins"
    " ON CONFLICT (user_id, release_at_ms) DO UPDATE SET n = quota_slots.n + 1),"
    " qu AS (INSERT INTO quota_usage (user_id, day, sessions, charged_ms)"
    " SELECT user_id, $11, 1, $10 FROM ins ON CONFLICT (user_id, day) DO UPDATE"
    " SET sessions = quota_usage.sessions + 1,"
    " charged_ms = quota_usage.charged_ms + EXCLUDED.charged_ms)"
    " SELECT (SELECT COUNT(*) FROM ins), cnt.n_open, cnt.first_expiry, used.sessions,"
    " used.charged"
    " FROM cnt, used";
constexpr std::array<unsigned, 14> kCreateQuotaTypes{kText, kText, kText, kText, kText,
                                                     kInt8, kInt8, kText, kText, kInt8,
                                                     kInt8, kInt8, kInt8, kInt8};

// One transaction-scoped advisory lock per user (by hash: a collision only serializes two
// users), taken in key order by every instance, so batches cannot deadlock on them. The
// subquery (kept apart by OFFSET 0) fixes the order before the locking function runs.
constexpr std::string_view kLockUsersSql =
    "SELECT pg_advisory_xact_lock(1986489704, k) FROM"
    " (SELECT DISTINCT hashtext(u) AS k FROM unnest($1::text[]) AS u ORDER BY k OFFSET 0) AS keys";
constexpr std::array<unsigned, 1> kLockUsersTypes{kTextArray};

// The batched forms: each parameter is an array with one element per op, `n` the op's 1-based
// position; the answer has a row per op that did something, carrying its `n`. Within one
// statement the session ids are distinct (the writer cuts batches into such waves).
// Written without joins between the statement's own parts (whose sizes the planner cannot know
// for a prepared statement, so it might nest loops over them): the answer carries the inserted
// ids, which the writer maps back to ops.
constexpr std::string_view kCreateManySql =
    "WITH ins AS ("
    " INSERT INTO sessions (session_id, user_id, model, voice, profile, issued_at_ms,"
    " token_expires_at, client_ip, user_agent, status)"
    " SELECT session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at,"
    " client_ip, user_agent, 'issued'"
    " FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9) WITH ORDINALITY"
    " AS r(session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at,"
    " client_ip, user_agent, n) ORDER BY n"
    " ON CONFLICT (session_id) DO NOTHING RETURNING *),"
    " ev AS ("
    " INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " SELECT issued_at_ms, 'token_issued', session_id, user_id, NULLIF(client_ip, ''), NULL,"
    " jsonb_strip_nulls(jsonb_build_object('model', model, 'voice', voice,"
    " 'profile', NULLIF(profile, '')))::text FROM ins)"
    " SELECT session_id FROM ins";
constexpr std::array<unsigned, 9> kCreateManyTypes{kTextArray, kTextArray, kTextArray,
                                                   kTextArray, kTextArray, kInt8Array,
                                                   kInt8Array, kTextArray, kTextArray};

// The answer: the session's columns before the end (0-14), whether this op ended it (15), the
// observed duration (16), n (17), the token counts (18-25), and what the end adds to billable
// (26) and reported ms (27), as kEndSql's. `cur` carries each request along with its
// locked row, so nothing joins back: as cur holds the row lock, the UPDATE changes exactly the
// rows that cur shows 'issued' with a matching owner, and the answer says so from cur alone.
constexpr std::string_view kEndManySql =
    "WITH cur AS (SELECT s.session_id, s.user_id, s.model, s.voice, s.profile, s.issued_at_ms,"
    " s.token_expires_at, s.client_ip, s.user_agent, s.status, s.ended_at_ms,"
    " s.reported_duration_s, s.observed_duration_s, s.message_count, s.ended_by,"
    " s.input_text_tokens, s.input_audio_tokens, s.input_image_tokens, s.cached_text_tokens,"
    " s.cached_audio_tokens, s.cached_image_tokens, s.output_text_tokens,"
    " s.output_audio_tokens, r.ended_at, r.reported, r.messages, r.req_ended_by, r.check_owner, r.caller,"
    " r.req_client_ip, r.n,"
    " s.status = 'issued' AND (NOT r.check_owner OR s.user_id = r.caller) AS ending,"
    " GREATEST(0, r.ended_at - s.issued_at_ms)::float8 / 1000 AS observed,"
    " s.quota_reserved_ms AS reserved"
    " FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) WITH ORDINALITY"
    " AS r(id, ended_at, reported, messages, req_ended_by, check_owner, caller,"
    " req_client_ip, n)"
    " JOIN sessions AS s ON s.session_id = r.id"
    " ORDER BY s.session_id FOR UPDATE OF s),"
    " upd AS ("
    " UPDATE sessions AS s SET status = 'ended', ended_at_ms = cur.ended_at,"
    " reported_duration_s = cur.reported, observed_duration_s = cur.observed,"
    " message_count = cur.messages, ended_by = cur.req_ended_by, estimated_cost_usd = "
    VG_COST(VG_BILLABLE_MS("cur.reported", "cur.observed"))
    " FROM cur WHERE s.session_id = cur.session_id AND cur.ending AND s.status = 'issued'"
    " RETURNING s.*),"
    // Counted per slot first: UPDATE ... FROM applies one joined row per target row.
    " rel AS (UPDATE quota_slots AS o SET n = GREATEST(0, o.n - d.c)"
    " FROM (SELECT user_id, " VG_SLOT_RELEASE("issued_at_ms + reserved") " AS release_at,"
    " COUNT(*) AS c FROM cur WHERE ending AND reserved IS NOT NULL GROUP BY 1, 2) AS d"
    " WHERE o.user_id = d.user_id AND o.release_at_ms = d.release_at),"
    // Summed per (user, day) first: UPDATE ... FROM applies one joined row per target row.
    " qu AS (UPDATE quota_usage AS q SET charged_ms = q.charged_ms + d.delta"
    " FROM (SELECT user_id, issued_at_ms / 86400000 AS day,"
    " SUM(" VG_BILLABLE_MS("reported", "observed") " - reserved)::bigint AS delta"
    " FROM cur WHERE ending AND reserved IS NOT NULL"
    " GROUP BY user_id, issued_at_ms / 86400000) AS d"
    " WHERE q.user_id = d.user_id AND q.day = d.day),"
    " ev AS ("
    " INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " SELECT ended_at, 'session_ended', session_id, user_id, NULLIF(req_client_ip, ''),"
    " NULLIF(req_ended_by, ''),"
    " '{\"reported_duration_s\":' || reported::text || ',\"observed_duration_s\":' ||"
    " observed::text || ',\"message_count\":' || messages::text || '}'"
    " FROM cur WHERE ending ORDER BY n)"
    " SELECT session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at,"
    " client_ip, user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s,"
    " message_count, ended_by, ending, observed, n, " VG_TOKEN_COLUMNS ", "
    VG_BILLABLE_MS("reported", "observed") ", " VG_REPORTED_MS("reported") " FROM cur";
constexpr std::array<unsigned, 8> kEndManyTypes{kTextArray, kInt8Array, kFloat8Array, kInt8Array,
                                                kTextArray, kBoolArray, kTextArray,   kTextArray};
constexpr int kEndEnding = 15;
constexpr int kEndObserved = 16;
constexpr int kEndManyN = 17;
constexpr int kEndTokens = 18;
constexpr int kEndBillable = 26;
constexpr int kEndReportedMs = 27;

constexpr std::string_view kEventManySql =
    "INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail)"
    " SELECT at_ms, type, NULLIF(session_id, ''), NULLIF(user_id, ''), NULLIF(client_ip, ''),"
    " NULLIF(reason, ''), NULLIF(detail, '')"
    " FROM unnest($1, $2, $3, $4, $5, $6, $7) WITH ORDINALITY"
    " AS r(at_ms, type, session_id, user_id, client_ip, reason, detail, n) ORDER BY n";
constexpr std::array<unsigned, 7> kEventManyTypes{kInt8Array, kTextArray, kTextArray, kTextArray,
                                                  kTextArray, kTextArray, kTextArray};

#undef VG_SESSION_COLUMNS
#undef VG_BILLABLE_MS
#undef VG_COST
#undef VG_TOKEN_COLUMNS
#undef VG_REPORTED_MS

// The batch's rollup deltas (summed by key in the writer's RollupBatch) upserted once per key,
// in key order (the same order in every transaction: concurrent batches wait for each other's
// rows, never deadlock). $1 is the writer's shard of usage_daily_model; $2-$4 the day, user and
// model of each usage delta and $5-$21 its counters (usage_columns() order). (Denials are
// counted apart: store/audit.hpp.) A user's day row that gains no billable time
// (sessions issued, none ended) is only made to exist: no update, no row lock.
constexpr std::size_t kFlushCounters = 17;
const std::string& flush_rollups_sql() {
    static const std::string kSql = [] {
        static_assert(kFlushCounters == 17, "usage_columns() has 17 counters");
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
constexpr const char* kFlushRollups = "vg_flush_rollups";

/// The parameter types of flush_rollups_sql().
const std::vector<unsigned>& flush_rollups_types() {
    static const std::vector<unsigned> kTypes = [] {
        std::vector<unsigned> t{kInt8, kInt8Array, kTextArray, kTextArray};
        for (const auto c : usage_columns()) {
            t.push_back(c == "cost_usd" ? kFloat8Array : kInt8Array);
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

/// flush_rollups_sql()'s parameters for `rollups`, on the writer's `shard`.
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
            if (usage_columns()[i] == "cost_usd") {
                counters[i].add(c.cost_usd);
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

/// What op `op` wrote, by its answer `row` (its one row, or none), added to `out`: a session
/// issued, a first end (its cost from `prices`, as the statement's).
/// Only for an op whose statement succeeded.
void collect_rollup(const PgOpBase& op, const PgRows& row, const PriceTable& prices,
                    RollupBatch& out) {
    const PgParams& p = op.params();
    const auto integer = [](std::string_view text) {
        std::int64_t v = 0;
        (void)std::from_chars(text.data(), text.data() + text.size(), v);
        return v;
    };
    switch (op.statement()) {
        case PgStatement::create_session:
        case PgStatement::create_quota:
            // create_quota answers one row whose first column counts the sessions it inserted.
            if (row.size() == 1 &&
                (op.statement() == PgStatement::create_session || row.int64(0, 0) == 1)) {
                out.add_usage(quota_day(integer(p[5])), p[1], p[2], issue_delta());
            }
            break;
        case PgStatement::end_session:
            if (row.size() == 1 && row.boolean(0, kEndEnding)) {
                TokenUsage t;
                const std::array<std::int64_t*, 8> fields{
                    &t.input_text,   &t.input_audio,  &t.input_image, &t.cached_text,
                    &t.cached_audio, &t.cached_image, &t.output_text, &t.output_audio};
                for (std::size_t i = 0; i < fields.size(); ++i) {
                    *fields[i] = row.int64(0, kEndTokens + static_cast<int>(i));
                }
                const std::string model(row.text(0, 2));
                const auto price = prices.find(model);
                const std::int64_t billable = row.int64(0, kEndBillable);
                UsageCounters d =
                    end_delta(0, billable, integer(p[3]), p[4], t,
                              estimate_cost_usd(price != prices.end() ? &price->second : nullptr, t,
                                                billable));
                d.n[2] = row.int64(0, kEndReportedMs);  // reported ms, rounded by the statement
                out.add_usage(quota_day(row.int64(0, 5)), std::string(row.text(0, 1)), model, d);
            }
            break;
        default:
            break;
    }
}

// The connection's temp table: the price table for the cost estimates of kEndSql/kEndManySql.
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

struct StatementDef {
    const char* name;
    std::string_view sql;
    std::span<const unsigned> types;
};

const StatementDef& definition(PgStatement s) {
    static const std::array<StatementDef, 8> kDefs{{
        {"vg_create_session", kCreateSql, kCreateTypes},
        {"vg_end_session", kEndSql, kEndTypes},
        {"vg_append_event", kEventSql, kEventTypes},
        {"vg_get_session", kGetSql, kGetTypes},
        {"vg_events", kEventsSql, kEventsTypes},
        {"vg_lock_sessions", kLockSql, kLockTypes},
        {"vg_create_session_quota", kCreateQuotaSql, kCreateQuotaTypes},
        {"vg_lock_users", kLockUsersSql, kLockUsersTypes},
    }};
    return kDefs[static_cast<std::size_t>(s)];
}

/// The batched form of `s` (create_session, end_session, append_event), else null.
const StatementDef* many_definition(PgStatement s) {
    static const std::array<StatementDef, 3> kDefs{{
        {"vg_create_sessions", kCreateManySql, kCreateManyTypes},
        {"vg_end_sessions", kEndManySql, kEndManyTypes},
        {"vg_append_events", kEventManySql, kEventManyTypes},
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

}  // namespace

PgWorker::PgWorker(PgWorkerOptions options, Connector connector, std::unique_ptr<PgConnection> conn)
    : options_(std::move(options)),
      connector_(std::move(connector)),
      conn_(std::move(conn)),
      connected_(conn_ != nullptr),
      thread_([this] {
          std::string name = "vg-pg-";
          for (const char c : options_.name) {  // "writer 1" -> vg-pg-writer1
              if (c != ' ') {
                  name.push_back(c);
              }
          }
          set_thread_name(name);
          run();
      }) {}

PgWorker::~PgWorker() {
    stop();
}

bool PgWorker::enqueue(std::unique_ptr<PgOpBase>& op) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return false;
        }
        queue_.push_back(std::move(op));
    }
    wake_.notify_one();
    return true;
}

void PgWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
    conn_.reset();
    connected_.store(false, std::memory_order_release);
}

PgStoreStats PgWorker::stats() const {
    PgStoreStats s;
    s.batches = batches_.load(std::memory_order_relaxed);
    s.ops = ops_.load(std::memory_order_relaxed);
    s.failed_ops = failed_ops_.load(std::memory_order_relaxed);
    s.careful_batches = careful_.load(std::memory_order_relaxed);
    s.conflict_retries = conflicts_.load(std::memory_order_relaxed);
    s.connection_losses = losses_.load(std::memory_order_relaxed);
    s.reconnects = reconnects_.load(std::memory_order_relaxed);
    return s;
}

void PgWorker::run() {
    // An idle connection is checked this often, so ready() notices a server that went away.
    constexpr std::chrono::milliseconds kIdleCheck{1000};
    Batch batch;
    batch.reserve(options_.batch_max);
    bool stopping = false;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            auto wait = kIdleCheck;
            if (!conn_) {
                wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      next_attempt_ - Clock::now()),
                                  std::chrono::milliseconds(1), kIdleCheck);
            }
            wake_.wait_for(lock, wait, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_ && queue_.empty()) {
                return;  // stopping, and everything queued has been finished
            }
            const auto n = std::min(options_.batch_max, queue_.size());
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            stopping = stopping_;
        }
        if (!conn_) {
            // Shutting down without a connection: fail what is left rather than wait for one.
            if (!stopping) {
                ensure_connection();
            }
        } else if (batch.empty() && !conn_->poll_idle()) {
            connection_lost(fail(Error::store_unavailable, {}, "postgres: connection closed"));
        }
        if (batch.empty()) {
            continue;
        }
        double write_seconds = -1;
        if (!conn_) {
            fail_all(batch, fail(Error::store_unavailable, {},
                                 "postgres: no connection to the database; reconnecting"));
        } else if (options_.transactional) {
            const auto started = Clock::now();
            run_write(batch);
            write_seconds = std::chrono::duration<double>(Clock::now() - started).count();
        } else {
            run_read(batch);
        }
        finish(batch, write_seconds);
        batch.clear();
    }
}

void PgWorker::ensure_connection() {
    if (Clock::now() < next_attempt_) {
        return;
    }
    auto conn = connector_();
    if (conn) {
        conn_ = std::move(*conn);
        connected_.store(true, std::memory_order_release);
        reconnects_.fetch_add(1, std::memory_order_relaxed);
        backoff_ = std::chrono::milliseconds(0);
        spdlog::info("postgres {}: reconnected", options_.name);
        return;
    }
    backoff_ = std::clamp(backoff_ * 2, options_.reconnect_min, options_.reconnect_max);
    next_attempt_ = Clock::now() + backoff_;
    spdlog::debug("postgres {}: reconnect failed ({}); next try in {} ms", options_.name,
                  conn.error().details, backoff_.count());
}

void PgWorker::connection_lost(const Failure& why) {
    conn_.reset();
    connected_.store(false, std::memory_order_release);
    losses_.fetch_add(1, std::memory_order_relaxed);
    // The first reconnect is tried at once (a restarted server or a killed backend); the
    // backoff grows only while attempts fail.
    backoff_ = std::chrono::milliseconds(0);
    next_attempt_ = Clock::now();
    spdlog::warn(
        "postgres {}: connection lost ({}); operations fail with store_unavailable until it "
        "reconnects",
        options_.name, why.details);
}

void PgWorker::fail_all(Batch& batch, const Failure& failure) {
    for (auto& op : batch) {
        op->fail(failure);
    }
}

void PgWorker::run_write(Batch& batch) {
    constexpr int kConflictRetries = 3;
    batches_.fetch_add(1, std::memory_order_relaxed);
    for (int attempt = 0;; ++attempt) {
        const Outcome out = write_pipelined(batch);
        if (out == Outcome::done || out == Outcome::lost) {
            return;
        }
        if (out == Outcome::conflict && attempt < kConflictRetries) {
            conflicts_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        break;
    }
    careful_.fetch_add(1, std::memory_order_relaxed);
    (void)write_careful(batch);
}

namespace {

/// The sorted, distinct rows a batch locks up front; empty when fewer than two.
std::vector<std::string> lock_keys(const std::vector<std::unique_ptr<PgOpBase>>& batch) {
    std::vector<std::string> keys;
    for (const auto& op : batch) {
        if (op->statement() == PgStatement::end_session && !op->session_key().empty()) {
            keys.push_back(op->session_key());
        }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    if (keys.size() < 2) {
        keys.clear();
    }
    return keys;
}

/// The sorted, distinct users whose quotas the batch decides or settles (each needs its lock,
/// even alone).
std::vector<std::string> user_lock_keys(const std::vector<std::unique_ptr<PgOpBase>>& batch) {
    std::vector<std::string> keys;
    for (const auto& op : batch) {
        if (!op->user_key().empty()) {
            keys.push_back(op->user_key());
        }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

/// One statement of a pipelined batch: the ops it runs (indexes into the batch), in the batched
/// form when there are several.
struct Planned {
    PgStatement statement = PgStatement::create_session;
    std::vector<std::size_t> ops;
};

/// The statements for `batch`: cut into waves at each op whose session already appeared in the
/// wave (so ops on one session keep their order), and within a wave one statement per kind,
/// creates first (a wave's sessions are distinct, so the order of kinds does not matter).
std::vector<Planned> plan(const std::vector<std::unique_ptr<PgOpBase>>& batch) {
    // create_quota has no batched form: one statement per op, in queue order, within the wave.
    constexpr std::array<PgStatement, 4> kOrder{
        PgStatement::create_session, PgStatement::create_quota, PgStatement::append_event,
        PgStatement::end_session};
    std::vector<Planned> out;
    std::array<std::vector<std::size_t>, kOrder.size()> wave;
    std::unordered_set<std::string_view> seen;
    const auto flush = [&] {
        for (std::size_t k = 0; k < kOrder.size(); ++k) {
            if (wave[k].empty()) {
                continue;
            }
            if (many_definition(kOrder[k]) == nullptr) {
                for (const std::size_t i : wave[k]) {
                    out.push_back(Planned{kOrder[k], {i}});
                }
            } else {
                out.push_back(Planned{kOrder[k], std::move(wave[k])});
            }
            wave[k].clear();
        }
        seen.clear();
    };
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto st = batch[i]->statement();
        const auto kind = std::find(kOrder.begin(), kOrder.end(), st);
        if (kind == kOrder.end()) {
            // Not a write with a batched form: a statement of its own, in order.
            flush();
            out.push_back(Planned{st, {i}});
            continue;
        }
        const std::string& key = batch[i]->session_key();
        if (!key.empty() && !seen.insert(key).second) {
            flush();
            seen.insert(key);
        }
        wave[static_cast<std::size_t>(kind - kOrder.begin())].push_back(i);
    }
    flush();
    return out;
}

/// The batched form's parameters: parameter p is the text[] literal of every op's parameter p.
PgParams many_params(const std::vector<std::unique_ptr<PgOpBase>>& batch,
                     const std::vector<std::size_t>& ops) {
    const std::size_t count = batch[ops.front()]->params().size();
    PgParams out(count);
    for (std::size_t p = 0; p < count; ++p) {
        std::string& a = out[p];
        a.reserve(ops.size() * 24);
        a.push_back('{');
        for (std::size_t k = 0; k < ops.size(); ++k) {
            a.append(k == 0 ? "\"" : ",\"");
            for (const char c : batch[ops[k]]->params()[p]) {
                if (c == '"' || c == '\\') {
                    a.push_back('\\');
                }
                a.push_back(c);
            }
            a.push_back('"');
        }
        a.push_back('}');
    }
    return out;
}

/// Hands each op of a batched statement its row of `res` (found by its position `n`, or for
/// creates by its session id), or no row; append_event ops get none. What each op wrote goes
/// to `rollups`.
void decode_many(const std::vector<std::unique_ptr<PgOpBase>>& batch, const Planned& planned,
                 const pg_result* res, const PriceTable& prices, RollupBatch& rollups) {
    std::vector<int> row_of(planned.ops.size(), -1);
    const PgRows rows(res);
    if (planned.statement == PgStatement::end_session) {
        for (int r = 0; r < rows.size(); ++r) {
            const auto n = rows.int64(r, kEndManyN);
            if (n >= 1 && static_cast<std::size_t>(n) <= row_of.size()) {
                row_of[static_cast<std::size_t>(n - 1)] = r;
            }
        }
    } else if (planned.statement == PgStatement::create_session) {
        // The inserted ids (distinct within a wave).
        std::unordered_map<std::string_view, int> row_by_id;
        for (int r = 0; r < rows.size(); ++r) {
            row_by_id.emplace(rows.text(r, 0), r);
        }
        for (std::size_t k = 0; k < planned.ops.size(); ++k) {
            const auto found = row_by_id.find(batch[planned.ops[k]]->session_key());
            row_of[k] = found != row_by_id.end() ? found->second : -1;
        }
    }
    for (std::size_t k = 0; k < planned.ops.size(); ++k) {
        const PgRows row = PgRows::one(res, row_of[k]);
        batch[planned.ops[k]]->decode(row);
        collect_rollup(*batch[planned.ops[k]], row, prices, rollups);
    }
}

}  // namespace

PgWorker::Outcome PgWorker::write_pipelined(Batch& batch) {
    PgConnection& c = *conn_;
    const auto deadline = Clock::now() + options_.io_timeout;
    const auto planned = plan(batch);
    // The rows of every end are locked up front, in sorted order, by one statement: no
    // deadlock with another instance's batch, and the statements after it see those rows as
    // they are (nothing else can change them before COMMIT).
    const auto keys = lock_keys(batch);
    // Then the users whose quotas the batch decides, before any statement reads their counts.
    const auto users = user_lock_keys(batch);
    const auto lost = [&](const Failure& f) {
        connection_lost(f);
        fail_all(batch, f);
        return Outcome::lost;
    };
    // Reads the sync that ends a round trip.
    const auto take_sync = [&]() -> Result<void> {
        auto synced = c.take(deadline);
        if (!synced) {
            return synced.error();
        }
        if (!pg_pipeline_sync(synced->get())) {
            return fail(Error::store_unavailable, {}, "postgres: pipeline out of step");
        }
        return {};
    };

    // Two round trips. The first sends BEGIN, the locks and the ops' statements in one pipeline
    // (a sync inside the open transaction commits nothing); the second the rollups that their
    // answers add up to, and COMMIT.
    Result<void> sent = c.send_query("BEGIN");
    if (sent && !keys.empty()) {
        sent = c.send_prepared(definition(PgStatement::lock).name, PgParams{pg_text_array(keys)});
    }
    if (sent && !users.empty()) {
        sent = c.send_prepared(definition(PgStatement::lock_users).name,
                               PgParams{pg_text_array(users)});
    }
    for (std::size_t i = 0; sent && i < planned.size(); ++i) {
        const Planned& p = planned[i];
        const StatementDef* many = many_definition(p.statement);
        if (p.ops.size() > 1 && many != nullptr) {
            sent = c.send_prepared(many->name, many_params(batch, p.ops));
        } else {
            sent = c.send_prepared(definition(p.statement).name, batch[p.ops.front()]->params());
        }
    }
    if (sent) {
        sent = c.sync();
    }
    if (!sent) {
        return lost(sent.error());
    }

    std::optional<PgError> first;
    RollupBatch rollups;
    // Reads one query's result; fails when the connection broke. A failed statement is
    // remembered (the server skips the rest of the pipeline: PGRES_PIPELINE_ABORTED).
    const auto take = [&](std::string_view what, const Planned* p) -> Result<void> {
        auto r = c.take(deadline);
        if (!r) {
            return r.error();
        }
        const pg_result* res = r->get();
        if (pg_tuples_or_command_ok(res)) {
            if (p != nullptr && !first) {
                if (p->ops.size() > 1 && many_definition(p->statement) != nullptr) {
                    decode_many(batch, *p, res, options_.prices, rollups);
                } else {
                    PgOpBase& op = *batch[p->ops.front()];
                    op.decode(PgRows(res));
                    collect_rollup(op, PgRows(res), options_.prices, rollups);
                }
            }
        } else if (!pg_pipeline_aborted(res) && !first) {
            first = pg_error(c.handle(), res, what);
        }
        return {};
    };
    Result<void> got = take("begin", nullptr);
    if (got && !keys.empty()) {
        got = take("lock", nullptr);
    }
    if (got && !users.empty()) {
        got = take("lock users", nullptr);
    }
    for (std::size_t i = 0; got && i < planned.size(); ++i) {
        got = take("statement", &planned[i]);
    }
    if (got) {
        got = take_sync();
    }
    if (!got) {
        return lost(got.error());
    }
    if (!first) {
        if (!rollups.empty()) {
            sent = c.send_prepared(kFlushRollups, flush_rollups_params(rollups, options_.shard));
        }
        if (sent) {
            sent = c.send_query("COMMIT");
        }
        if (sent) {
            sent = c.sync();
        }
        if (!sent) {
            return lost(sent.error());
        }
        if (!rollups.empty()) {
            got = take("rollups", nullptr);
        }
        if (got) {
            got = take("commit", nullptr);
        }
        if (got) {
            got = take_sync();
        }
        if (!got) {
            return lost(got.error());
        }
    }
    if (!first) {
        return Outcome::done;
    }
    if (first->kind == PgFailureKind::connection) {
        return lost(first->failure);
    }
    // The transaction is aborted (or, if COMMIT failed, already over): end it.
    Result<void> rolled = c.send_query("ROLLBACK");
    if (rolled) {
        rolled = c.sync();
    }
    if (rolled) {
        auto r = c.take(deadline);
        rolled = r ? Result<void>() : Result<void>(r.error());
    }
    if (rolled) {
        rolled = take_sync();
    }
    if (!rolled) {
        return lost(rolled.error());
    }
    return first->kind == PgFailureKind::conflict ? Outcome::conflict : Outcome::statement_failed;
}

PgWorker::Outcome PgWorker::write_careful(Batch& batch) {
    PgConnection& c = *conn_;
    // One round trip: queue `sends`, a sync, then read one result per send and the sync.
    // Returns the results; an error means the connection is gone.
    struct Send {
        const char* sql = nullptr;             // a plain statement, or
        const PgOpBase* op = nullptr;          // an op's prepared statement, or
        const PgParams* lock = nullptr;        // the lock statement, or
        const PgParams* lock_users = nullptr;  // the users' lock statement, or
        const PgParams* flush = nullptr;       // the rollup flush
    };
    const auto round_trip =
        [&](std::initializer_list<Send> sends) -> Result<std::vector<PgResultPtr>> {
        const auto deadline = Clock::now() + options_.io_timeout;
        Result<void> sent;
        for (const auto& s : sends) {
            if (!sent) {
                break;
            }
            if (s.sql != nullptr) {
                sent = c.send_query(s.sql);
            } else if (s.op != nullptr) {
                sent = c.send_prepared(definition(s.op->statement()).name, s.op->params());
            } else if (s.lock != nullptr) {
                sent = c.send_prepared(definition(PgStatement::lock).name, *s.lock);
            } else if (s.flush != nullptr) {
                sent = c.send_prepared(kFlushRollups, *s.flush);
            } else {
                sent = c.send_prepared(definition(PgStatement::lock_users).name, *s.lock_users);
            }
        }
        if (sent) {
            sent = c.sync();
        }
        if (!sent) {
            return sent.error();
        }
        std::vector<PgResultPtr> out;
        for (std::size_t i = 0; i <= sends.size(); ++i) {
            auto r = c.take(deadline);
            if (!r) {
                return r.error();
            }
            out.push_back(std::move(*r));
        }
        if (!pg_pipeline_sync(out.back().get())) {
            return fail(Error::store_unavailable, {}, "postgres: pipeline out of step");
        }
        out.pop_back();
        return out;
    };
    const auto lost = [&](const Failure& f) {
        connection_lost(f);
        fail_all(batch, f);
        return Outcome::lost;
    };
    // Ends the transaction after a failure that is not the op's own: every op fails.
    const auto abandon = [&](const PgError& e) {
        if (e.kind == PgFailureKind::connection) {
            return lost(e.failure);
        }
        fail_all(batch, fail(Error::store_unavailable, {}, e.failure.details));
        auto r = round_trip({{"ROLLBACK"}});
        if (!r) {
            return lost(r.error());
        }
        return Outcome::statement_failed;
    };

    RollupBatch rollups;  // what the ops that succeeded wrote
    const auto keys = lock_keys(batch);
    const PgParams lock_params{pg_text_array(keys)};
    auto begun = keys.empty() ? round_trip({{"BEGIN"}})
                              : round_trip({{"BEGIN"}, {nullptr, nullptr, &lock_params}});
    if (!begun) {
        return lost(begun.error());
    }
    for (const auto& r : *begun) {
        if (!pg_tuples_or_command_ok(r.get())) {
            return abandon(pg_error(c.handle(), r.get(), "begin"));
        }
    }
    if (const auto users = user_lock_keys(batch); !users.empty()) {
        const PgParams user_params{pg_text_array(users)};
        auto locked = round_trip({{nullptr, nullptr, nullptr, &user_params}});
        if (!locked) {
            return lost(locked.error());
        }
        if (!pg_tuples_or_command_ok(locked->front().get())) {
            return abandon(pg_error(c.handle(), locked->front().get(), "lock users"));
        }
    }
    for (auto& op : batch) {
        auto r = round_trip({{"SAVEPOINT vg_op"}, {nullptr, op.get()}, {"RELEASE vg_op"}});
        if (!r) {
            return lost(r.error());
        }
        const auto& results = *r;
        if (!pg_tuples_or_command_ok(results[0].get())) {
            return abandon(pg_error(c.handle(), results[0].get(), "savepoint"));
        }
        if (pg_tuples_or_command_ok(results[1].get())) {
            op->decode(PgRows(results[1].get()));
            collect_rollup(*op, PgRows(results[1].get()), options_.prices, rollups);
            continue;
        }
        PgError e = pg_error(c.handle(), results[1].get(), "statement");
        if (e.kind == PgFailureKind::connection) {
            return lost(e.failure);
        }
        // Undo this op alone; the transaction goes on with the others.
        auto undo = round_trip({{"ROLLBACK TO SAVEPOINT vg_op"}, {"RELEASE vg_op"}});
        if (!undo) {
            return lost(undo.error());
        }
        for (const auto& u : *undo) {
            if (!pg_tuples_or_command_ok(u.get())) {
                return abandon(pg_error(c.handle(), u.get(), "rollback to savepoint"));
            }
        }
        op->fail(std::move(e.failure));
    }
    if (!rollups.empty()) {
        const PgParams flush_params = flush_rollups_params(rollups, options_.shard);
        auto flushed = round_trip({{nullptr, nullptr, nullptr, nullptr, &flush_params}});
        if (!flushed) {
            return lost(flushed.error());
        }
        if (!pg_tuples_or_command_ok(flushed->front().get())) {
            return abandon(pg_error(c.handle(), flushed->front().get(), "rollups"));
        }
    }
    auto committed = round_trip({{"COMMIT"}});
    if (!committed) {
        return lost(committed.error());
    }
    if (!pg_tuples_or_command_ok(committed->front().get())) {
        return abandon(pg_error(c.handle(), committed->front().get(), "commit"));
    }
    return Outcome::done;
}

void PgWorker::run_read(Batch& batch) {
    PgConnection& c = *conn_;
    // Calls first, one by one (each runs its own statements, each with a sync).
    for (auto& op : batch) {
        if (op->statement() == PgStatement::call) {
            op->call(c, options_.io_timeout);
        }
    }
    if (!c.ok()) {
        const Failure f = fail(Error::store_unavailable, {}, "postgres: connection lost");
        connection_lost(f);
        for (auto& op : batch) {
            if (op->statement() != PgStatement::call) {
                op->fail(f);
            }
        }
        return;
    }
    const auto deadline = Clock::now() + options_.io_timeout;
    // Pipelined with a sync after each read: a failing read does not abort the others.
    Result<void> sent;
    for (std::size_t i = 0; sent && i < batch.size(); ++i) {
        if (batch[i]->statement() == PgStatement::call) {
            continue;
        }
        sent = c.send_prepared(definition(batch[i]->statement()).name, batch[i]->params());
        if (sent) {
            sent = c.sync();
        }
    }
    if (!sent) {
        connection_lost(sent.error());
        for (auto& op : batch) {
            if (op->statement() != PgStatement::call) {
                op->fail(sent.error());
            }
        }
        return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (batch[i]->statement() == PgStatement::call) {
            continue;
        }
        auto r = c.take(deadline);
        Failure lost_because;
        if (r) {
            if (pg_tuples_or_command_ok(r->get())) {
                batch[i]->decode(PgRows(r->get()));
            } else {
                PgError e = pg_error(c.handle(), r->get(), "read");
                if (e.kind == PgFailureKind::connection) {
                    lost_because = e.failure;
                } else {
                    batch[i]->fail(std::move(e.failure));
                }
            }
            if (lost_because.details.empty()) {
                auto s = c.take(deadline);
                if (!s || !pg_pipeline_sync(s->get())) {
                    lost_because =
                        s ? fail(Error::store_unavailable, {}, "postgres: pipeline out of step")
                          : s.error();
                }
            }
        } else {
            lost_because = r.error();
        }
        if (!lost_because.details.empty()) {
            connection_lost(lost_because);
            for (std::size_t j = i; j < batch.size(); ++j) {
                if (batch[j]->statement() != PgStatement::call) {
                    batch[j]->fail(lost_because);
                }
            }
            return;
        }
    }
}

void PgWorker::finish(Batch& batch, double write_seconds) {
    // Count before completing, so a caller that sees its result also sees it counted.
    std::uint64_t failed = 0;
    for (const auto& op : batch) {
        failed += op->storage_failed() ? 1 : 0;
    }
    ops_.fetch_add(batch.size(), std::memory_order_relaxed);
    failed_ops_.fetch_add(failed, std::memory_order_relaxed);
    if (options_.metrics != nullptr && options_.transactional) {
        if (write_seconds >= 0) {
            options_.metrics->batch(batch.size(), write_seconds);
        }
        if (failed > 0) {
            options_.metrics->errors(failed);
        }
    }
    for (auto& op : batch) {
        op->complete();
    }
}

}  // namespace detail

namespace {

using detail::PgStatement;

std::string num(std::int64_t v) {
    return std::to_string(v);
}

std::string num(double v) {
    // Shortest text that reads back as the same double; non-finite values are stored as 0
    // (the JSON detail of the event must stay valid JSON).
    if (!std::isfinite(v)) {
        v = 0;
    }
    std::array<char, 64> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return {buf.data(), res.ptr};
}

// Row `r` of `rows` as decode_session_row() reads it.
struct PgCells {
    const PgRows& rows;
    int r;
    std::string_view text(int c) const { return rows.text(r, c); }
    std::int64_t int64(int c) const { return rows.int64(r, c); }
    double float8(int c) const { return rows.float8(r, c); }
    bool is_null(int c) const { return rows.is_null(r, c); }
};

SessionRow read_session(const PgRows& rows, int r) {
    return decode_session_row(PgCells{rows, r});
}

Result<MigrationReport> run_migrations(const PgTarget& target, const Clock& clock) {
    auto conn = PgConnection::connect(target);
    if (!conn) {
        return conn.error();
    }
    PgConnection& c = **conn;
    // One migrator per schema at a time, across every instance starting now; the lock also
    // covers creating the schema (concurrent CREATE SCHEMA IF NOT EXISTS can collide).
    constexpr std::string_view kLockKey =
        "hashtext(COALESCE(NULLIF($1, ''), current_schema(), ''))";
    const std::string lock_sql =
        "SELECT pg_advisory_lock(1986489703, " + std::string(kLockKey) + ")";
    const std::string unlock_sql =
        "SELECT pg_advisory_unlock(1986489703, " + std::string(kLockKey) + ")";
    if (auto r = c.exec_params(lock_sql, {target.schema}); !r) {
        return r.error();
    }
    Result<MigrationReport> report = fail(Error::store_unavailable);
    if (auto used = c.use_schema(target.schema, true); !used) {
        report = used.error();
    } else {
        report = migrate(c, clock);
    }
    if (!report && c.ok()) {
        // Migrations leave no transaction open on failure, but be sure before unlocking.
        (void)c.exec_script("ROLLBACK");
    }
    (void)c.exec_params(unlock_sql, {target.schema});
    return report;
}

}  // namespace

Result<SqlTable> PgExec::query(const SqlQuery& q) {
    PgParams params;
    params.reserve(q.params.size());
    for (const auto& v : q.params) {
        if (const auto* n = std::get_if<std::int64_t>(&v)) {
            params.push_back(std::to_string(*n));
        } else {
            params.push_back(std::get<std::string>(v));
        }
    }
    const auto to_table = [](const pg_result* res) {
        const PgRows rows(res);
        SqlTable out;
        out.rows.resize(static_cast<std::size_t>(rows.size()));
        for (int r = 0; r < rows.size(); ++r) {
            auto& row = out.rows[static_cast<std::size_t>(r)];
            for (int c = 0; c < rows.columns(); ++c) {
                if (rows.is_null(r, c)) {
                    row.emplace_back();
                } else {
                    row.emplace_back(std::string(rows.text(r, c)));
                }
            }
        }
        return out;
    };
    if (!pipeline_) {
        auto r = conn_.exec_params(q.sql, params);
        if (!r) {
            return r.error();
        }
        return to_table(r->get());
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    Result<void> sent = conn_.send_params(q.sql, params);
    if (sent) {
        sent = conn_.sync();
    }
    if (!sent) {
        return sent.error();
    }
    auto res = conn_.take(deadline);
    if (!res) {
        return res.error();
    }
    Result<SqlTable> out =
        pg_tuples_or_command_ok(res->get())
            ? Result<SqlTable>(to_table(res->get()))
            : Result<SqlTable>(pg_error(conn_.handle(), res->get(), "read").failure);
    auto synced = conn_.take(deadline);
    if (!synced) {
        return synced.error();
    }
    if (!pg_pipeline_sync(synced->get())) {
        return fail(Error::store_unavailable, {}, "postgres: pipeline out of step");
    }
    return out;
}

Result<MigrationReport> PgStore::migrate(const std::string& url, const Clock& clock) {
    auto target = parse_pg_url(url);
    if (!target) {
        return target.error();
    }
    return run_migrations(*target, clock);
}

Result<std::unique_ptr<PgStore>> PgStore::open(PgOptions options) {
    if (options.batch_max == 0) {
        return fail(Error::bad_request, "store batch_max must be at least 1");
    }
    if (options.writers == 0 || options.writers > 64) {
        return fail(Error::bad_request, "PostgreSQL writers must be between 1 and 64");
    }
    if (options.io_timeout_ms <= 0 || options.reconnect_min_ms <= 0 ||
        options.reconnect_max_ms < options.reconnect_min_ms) {
        return fail(Error::bad_request, "PostgreSQL timeouts must be positive");
    }
    auto target = parse_pg_url(options.url);
    if (!target) {
        return target.error();
    }
    if (options.clock == nullptr) {
        options.clock = &system_clock();
    }
    if (auto m = run_migrations(*target, *options.clock); !m) {
        return m.error();
    }
    detail::PgWorker::Connector connector =
        [t = *target, temp = detail::temp_tables_sql(
                          options.prices)]() -> Result<std::unique_ptr<PgConnection>> {
        auto conn = PgConnection::connect(t);
        if (!conn) {
            return conn.error();
        }
        if (auto r = (*conn)->use_schema(t.schema, false); !r) {
            return r.error();
        }
        if (auto r = (*conn)->exec_script(temp); !r) {
            return r.error();
        }
        if (auto r = detail::prepare_all(**conn); !r) {
            return r.error();
        }
        if (auto r = (*conn)->enter_pipeline(); !r) {
            return r.error();
        }
        return conn;
    };
    const auto make = [&](std::string name, bool transactional,
                          std::int64_t shard) -> Result<std::unique_ptr<detail::PgWorker>> {
        auto conn = connector();
        if (!conn) {
            return conn.error();
        }
        detail::PgWorkerOptions wo;
        wo.name = std::move(name);
        wo.transactional = transactional;
        wo.batch_max = options.batch_max;
        wo.io_timeout = std::chrono::milliseconds(options.io_timeout_ms);
        wo.reconnect_min = std::chrono::milliseconds(options.reconnect_min_ms);
        wo.reconnect_max = std::chrono::milliseconds(options.reconnect_max_ms);
        wo.metrics = transactional ? options.metrics : nullptr;
        wo.shard = shard;
        wo.prices = options.prices;
        return std::make_unique<detail::PgWorker>(std::move(wo), connector, std::move(*conn));
    };
    // Each writer upserts its own row of a day x model (usage_daily_model.shard), so writers,
    // of this instance and (most likely) of others, never queue on one hot row; the rows are
    // summed when read.
    const auto instance_shard = static_cast<std::int64_t>(std::random_device{}() % 16);
    std::vector<std::unique_ptr<detail::PgWorker>> writers;
    for (std::size_t i = 0; i < options.writers; ++i) {
        auto w = make("writer " + std::to_string(i + 1), true,
                      instance_shard * static_cast<std::int64_t>(options.writers) +
                          static_cast<std::int64_t>(i));
        if (!w) {
            return w.error();
        }
        writers.push_back(std::move(*w));
    }
    auto reader = make("reader", false, 0);
    if (!reader) {
        return reader.error();
    }
    return std::unique_ptr<PgStore>(
        new PgStore(std::move(options), std::move(writers), std::move(*reader)));
}

PgStore::PgStore(PgOptions options, std::vector<std::unique_ptr<detail::PgWorker>> writers,
                 std::unique_ptr<detail::PgWorker> reader)
    : options_(std::move(options)),
      writers_(std::move(writers)),
      reader_(std::move(reader)),
      denials_(options_.denial_sampling, options_.metrics) {}

PgStore::~PgStore() {
    close();
}

detail::PgWorker& PgStore::writer_for(const std::string& session_id) {
    if (writers_.size() == 1 || session_id.empty()) {
        return *writers_.front();
    }
    return *writers_[std::hash<std::string>{}(session_id) % writers_.size()];
}

// Each submit() argument is a named local moved in: see the GCC 12 note at SqliteStore::submit.

boost::asio::awaitable<Result<void>> PgStore::create_session(SessionRecord record) {
    if (record.session_id.empty() || record.user_id.empty()) {
        co_return fail(Error::bad_request, "A session needs an id and a user.");
    }
    if (record.issued_at_ms == 0) {
        record.issued_at_ms = options_.clock->now_ms();
    }
    detail::PgWorker& worker = writer_for(record.session_id);
    PgParams params{record.session_id,
                    record.user_id,
                    record.model,
                    record.voice,
                    record.profile,
                    num(record.issued_at_ms),
                    num(record.token_expires_at),
                    record.client_ip,
                    record.user_agent};
    std::string key = record.session_id;
    if (record.quota.enabled()) {
        const QuotaLimits limits = record.quota;
        const std::int64_t now = record.issued_at_ms;
        params.push_back(num(std::max<std::int64_t>(0, limits.reserve_ms)));
        params.push_back(num(quota_day(now)));
        params.push_back(num(limits.concurrent));
        params.push_back(num(limits.sessions_per_day));
        params.push_back(num(limits.minutes_per_day * 60'000));
        std::string user = record.user_id;
        auto decode_quota = [limits, now](const PgRows& rows) -> Result<void> {
            if (rows.size() != 1) {
                return fail(Error::internal, {}, "postgres: quota check answered no row");
            }
            if (rows.int64(0, 0) == 1) {
                return {};
            }
            QuotaUsage usage;
            usage.open = rows.int64(0, 1);
            usage.first_expiry_ms = rows.int64(0, 2);
            usage.sessions_today = rows.int64(0, 3);
            usage.charged_ms_today = rows.int64(0, 4);
            if (auto denied = quota_decision(limits, usage, now)) {
                return *denied;
            }
            return fail(Error::internal, {}, "duplicate session id");
        };
        co_return co_await submit<void>(worker, PgStatement::create_quota, std::move(params),
                                        std::move(key), std::move(decode_quota), std::move(user));
    }
    std::string no_user;
    auto decode = [](const PgRows& rows) -> Result<void> {
        if (rows.size() == 1) {
            return {};
        }
        return fail(Error::internal, {}, "duplicate session id");
    };
    co_return co_await submit<void>(worker, PgStatement::create_session, std::move(params),
                                    std::move(key), std::move(decode), std::move(no_user));
}

boost::asio::awaitable<Result<EndOutcome>> PgStore::end_session(EndRequest request) {
    if (request.session_id.empty()) {
        co_return fail(Error::session_not_found);
    }
    const std::int64_t ended_at =
        request.ended_at_ms != 0 ? request.ended_at_ms : options_.clock->now_ms();
    const double reported =
        std::isfinite(request.reported_duration_s) ? request.reported_duration_s : 0.0;
    detail::PgWorker& worker = writer_for(request.session_id);
    PgParams params{request.session_id,         num(ended_at),    num(reported),
                    num(request.message_count), request.ended_by, request.check_owner ? "t" : "f",
                    request.caller_user_id,     request.client_ip};
    std::string key = request.session_id;
    auto decode = [ended_at, reported, messages = request.message_count,
                   ended_by = request.ended_by, check_owner = request.check_owner,
                   caller = request.caller_user_id](const PgRows& rows) -> Result<EndOutcome> {
        if (rows.size() == 0) {
            return fail(Error::session_not_found);
        }
        EndOutcome out{read_session(rows, 0), false};
        if (rows.boolean(0, detail::kEndEnding)) {
            out.row.status = "ended";
            out.row.ended_at_ms = ended_at;
            out.row.reported_duration_s = reported;
            out.row.observed_duration_s = rows.float8(0, detail::kEndObserved);
            out.row.message_count = messages;
            out.row.ended_by = ended_by;
            return out;
        }
        if (check_owner && out.row.issued.user_id != caller) {
            return fail(Error::forbidden, "This session belongs to another user.");
        }
        if (out.row.status == "ended") {
            out.already_ended = true;
            return out;
        }
        return fail(Error::internal, {}, "postgres: end_session changed no row");
    };
    // With auth on, the caller is the session's owner (or gets a 403): the end then takes the
    // same per-user lock as the user's quota-checked creates, in the same sorted order, so two
    // instances' batches settling the same users' quota rows cannot deadlock. Without auth the
    // owner is unknown until the row is read; a rare deadlock there is detected by PostgreSQL
    // and the batch retried (PgStoreStats::conflict_retries).
    std::string user = request.check_owner ? request.caller_user_id : std::string();
    co_return co_await submit<EndOutcome>(worker, PgStatement::end_session, std::move(params),
                                          std::move(key), std::move(decode), std::move(user));
}

boost::asio::awaitable<Result<void>> PgStore::append_event(Event event) {
    if (event.type.empty()) {
        co_return fail(Error::bad_request, "An event needs a type.");
    }
    detail::PgWorker& worker = writer_for(event.session_id);
    PgParams params{num(event.at_ms != 0 ? event.at_ms : options_.clock->now_ms()),
                    event.type,
                    event.session_id,
                    event.user_id,
                    event.client_ip,
                    event.reason,
                    event.detail};
    std::string key = event.session_id;
    auto decode = [](const PgRows&) -> Result<void> { return {}; };
    std::string no_user;
    co_return co_await submit<void>(worker, PgStatement::append_event, std::move(params),
                                    std::move(key), std::move(decode), std::move(no_user));
}

void PgStore::record_denial(const Denial& denial) {
    Denial d = denial;
    if (d.at_ms == 0) {
        d.at_ms = options_.clock->now_ms();
    }
    (void)denials_.record(d);
}

boost::asio::awaitable<Result<void>> PgStore::flush_denials() {
    // On the reader's connection, in a transaction of its own, off the writers' group commits.
    // The batch is taken when the op runs, so a flush queued after another completes after it.
    if (!denials_.dirty()) {
        co_return Result<void>{};  // everything recorded so far is committed: no transaction
    }
    auto batch = std::make_shared<DenialBatch>();
    auto fn = [log = &denials_, batch](PgExec& db) {
        *batch = log->take();
        return write_denials(db, *batch, true);
    };
    auto written = co_await call<void>(std::move(fn));
    denials_.done(std::move(*batch), written.has_value());
    co_return written;
}

boost::asio::awaitable<Result<PruneReport>> PgStore::prune(PruneRequest request) {
    // On the reader's connection: each DELETE is a short transaction of its own.
    auto fn = [r = request](PgExec& db) { return prune_step(db, r); };
    co_return co_await call<PruneReport>(std::move(fn));
}

boost::asio::awaitable<void> PgStore::flush_before_read() {
    (void)co_await flush_denials();  // on failure the read goes on; the counts stay buffered
}

boost::asio::awaitable<Result<std::optional<SessionRow>>> PgStore::get_session(
    std::string session_id) {
    PgParams params{std::move(session_id)};
    std::string no_key;
    auto decode = [](const PgRows& rows) -> Result<std::optional<SessionRow>> {
        if (rows.size() == 0) {
            return std::optional<SessionRow>();
        }
        return std::optional<SessionRow>(read_session(rows, 0));
    };
    std::string no_user;
    co_return co_await submit<std::optional<SessionRow>>(*reader_, PgStatement::get_session,
                                                         std::move(params), std::move(no_key),
                                                         std::move(decode), std::move(no_user));
}

boost::asio::awaitable<Result<std::vector<Event>>> PgStore::session_events(std::string session_id) {
    PgParams params{std::move(session_id)};
    std::string no_key;
    auto decode = [](const PgRows& rows) -> Result<std::vector<Event>> {
        std::vector<Event> out;
        out.reserve(static_cast<std::size_t>(rows.size()));
        for (int r = 0; r < rows.size(); ++r) {
            Event e;
            e.at_ms = rows.int64(r, 0);
            e.type = rows.text(r, 1);
            e.session_id = rows.text(r, 2);
            e.user_id = rows.text(r, 3);
            e.client_ip = rows.text(r, 4);
            e.reason = rows.text(r, 5);
            e.detail = rows.text(r, 6);
            out.push_back(std::move(e));
        }
        return out;
    };
    std::string no_user;
    co_return co_await submit<std::vector<Event>>(*reader_, PgStatement::events, std::move(params),
                                                  std::move(no_key), std::move(decode),
                                                  std::move(no_user));
}

boost::asio::awaitable<Result<UsageReport>> PgStore::usage(UsageQuery query) {
    co_await flush_before_read();
    auto fn = [q = std::move(query), cache = &rank_cache_](PgExec& db) {
        return read_usage(db, q, cache);
    };
    co_return co_await call<UsageReport>(std::move(fn));
}

boost::asio::awaitable<Result<LiveReport>> PgStore::live(LiveQuery query) {
    co_await flush_before_read();
    auto fn = [q = query](PgExec& db) { return read_live(db, q); };
    co_return co_await call<LiveReport>(std::move(fn));
}

boost::asio::awaitable<Result<SessionPage>> PgStore::list_sessions(SessionQuery query) {
    auto fn = [q = std::move(query)](PgExec& db) { return read_sessions(db, q); };
    co_return co_await call<SessionPage>(std::move(fn));
}

boost::asio::awaitable<Result<EventPage>> PgStore::list_events(EventQuery query) {
    co_await flush_before_read();
    auto fn = [q = std::move(query)](PgExec& db) { return read_events(db, q); };
    co_return co_await call<EventPage>(std::move(fn));
}

boost::asio::awaitable<Result<RebuildReport>> PgStore::rebuild_rollups() {
    auto fn = [](PgExec& db) { return store::rebuild_rollups(db, true); };
    co_return co_await call<RebuildReport>(std::move(fn));
}

bool PgStore::ready() const {
    if (!open_.load(std::memory_order_acquire) || !reader_->connected()) {
        return false;
    }
    return std::all_of(writers_.begin(), writers_.end(),
                       [](const auto& w) { return w->connected(); });
}

void PgStore::close() {
    std::lock_guard lock(close_mutex_);
    if (!open_.exchange(false, std::memory_order_acq_rel)) {
        return;
    }
    flush_denials_blocking(*this);
    for (auto& w : writers_) {
        w->stop();
    }
    reader_->stop();
}

PgStoreStats PgStore::stats() const {
    PgStoreStats s;
    const auto add = [&s](const PgStoreStats& w) {
        s.batches += w.batches;
        s.ops += w.ops;
        s.failed_ops += w.failed_ops;
        s.careful_batches += w.careful_batches;
        s.conflict_retries += w.conflict_retries;
        s.connection_losses += w.connection_losses;
        s.reconnects += w.reconnects;
    };
    for (const auto& w : writers_) {
        add(w->stats());
    }
    add(reader_->stats());
    return s;
}

}  // namespace voicegate::store
