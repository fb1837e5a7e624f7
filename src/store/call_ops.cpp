#include "store/call_ops.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <tuple>

#include <boost/json.hpp>

#include "store/event_type.hpp"
#include "store/quota.hpp"
#include "store/session_row.hpp"

namespace voicegate::store {
namespace {

bool postgres(const CallOpEnv& env) {
    return env.db.dialect() == Dialect::postgres;
}

/// A double as a parameter: the shortest text that reads back as the same value (both engines
/// convert it for a DOUBLE PRECISION column); non-finite values as 0.
std::string real(double v) {
    if (!std::isfinite(v)) {
        v = 0;
    }
    std::array<char, 32> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return {buf.data(), res.ptr};
}

/// The true usage columns (sessions) in TrueUsage order, and their values as parameters.
constexpr std::array<const char*, 13> kTrueColumns{"true_input_text_tokens",
                                                   "true_input_audio_tokens",
                                                   "true_input_image_tokens",
                                                   "true_cached_text_tokens",
                                                   "true_cached_audio_tokens",
                                                   "true_cached_image_tokens",
                                                   "true_output_text_tokens",
                                                   "true_output_audio_tokens",
                                                   "transcription_in_tokens",
                                                   "transcription_out_tokens",
                                                   "transcription_seconds",
                                                   "responses",
                                                   "true_cost_usd"};

std::vector<SqlValue> true_values(const TrueUsage& u) {
    const TokenUsage& t = u.tokens;
    return {t.input_text,
            t.input_audio,
            t.input_image,
            t.cached_text,
            t.cached_audio,
            t.cached_image,
            t.output_text,
            t.output_audio,
            u.transcription_in_tokens,
            u.transcription_out_tokens,
            real(u.transcription_seconds),
            u.responses,
            real(u.cost_usd)};
}

/// "true_input_text_tokens = $first, ..." for kTrueColumns.
std::string true_assignments(std::size_t first) {
    std::string out;
    for (std::size_t i = 0; i < kTrueColumns.size(); ++i) {
        out.append(i == 0 ? "" : ", ")
            .append(kTrueColumns[i])
            .append(" = $")
            .append(std::to_string(first + i));
    }
    return out;
}

/// The columns claim_calls answers, as read_supervised() decodes them.
std::string claimed_columns() {
    std::string out = "session_id, user_id, call_id, model, profile, call_started_at_ms, cap_ms";
    for (const char* c : kTrueColumns) {
        out.append(", ").append(c);
    }
    return out;
}

// Row r of a SqlTable as decode_true_usage's Cells.
struct TableRow {
    const SqlTable& t;
    std::size_t r;
    std::int64_t int64(int c) const { return t.i64(r, static_cast<std::size_t>(c)); }
    double float8(int c) const { return t.f64(r, static_cast<std::size_t>(c)); }
};

SupervisedCall read_supervised(const SqlTable& t, std::size_t r) {
    SupervisedCall c;
    c.session_id = t.text(r, 0);
    c.user_id = t.text(r, 1);
    c.call_id = t.text(r, 2);
    c.model = t.text(r, 3);
    c.profile = t.text(r, 4);
    c.started_at_ms = t.i64(r, 5);
    c.cap_ms = t.i64(r, 6);
    c.usage = decode_true_usage(TableRow{t, r}, 7);
    return c;
}

Result<void> run(CallOpEnv& env, std::string sql, std::vector<SqlValue> params) {
    auto r = env.db.query(SqlQuery{std::move(sql), std::move(params)});
    if (!r) {
        return r.error();
    }
    return {};
}

Result<void> insert_event(CallOpEnv& env, const Event& e) {
    return run(env,
               "INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail) "
               "VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''))",
               {e.at_ms, e.type, e.session_id, e.user_id, e.client_ip, e.reason, e.detail});
}

/// Why a call write matched no row: the session's state, read back (nullopt: unknown session).
struct CallState {
    std::string user_id;
    std::string status;
    std::string call_state;  // "" when no call
    std::string call_id;
    std::string lease_owner;
};

Result<std::optional<CallState>> read_call_state(CallOpEnv& env, const std::string& session_id) {
    auto t = env.db.query(
        SqlQuery{"SELECT user_id, status, call_state, call_id, lease_owner FROM sessions "
                 "WHERE session_id = $1",
                 {session_id}});
    if (!t) {
        return t.error();
    }
    if (t->rows.empty()) {
        return std::optional<CallState>();
    }
    return std::optional<CallState>(
        CallState{t->text(0, 0), t->text(0, 1), t->text(0, 2), t->text(0, 3), t->text(0, 4)});
}

/// The failure of a supervisor write (checkpoint) that matched no row.
Failure refusal(const std::optional<CallState>& state) {
    if (!state) {
        return fail(Error::session_not_found);
    }
    if (state->call_state.empty()) {
        return fail(Error::conflict, "This session is not a supervised call.");
    }
    if (state->call_state == "ended") {
        return fail(Error::conflict, "This call has ended.");
    }
    return fail(Error::lease_lost, {}, "the call's lease is held by another instance");
}

}  // namespace

Result<AttachOutcome> attach_call_in(CallOpEnv& env, const AttachRequest& req) {
    if (req.session_id.empty()) {
        return fail(Error::session_not_found);
    }
    if (req.call_id.empty()) {
        return fail(Error::bad_request, "A call id is required.");
    }
    if (req.cap_ms < 0) {
        return fail(Error::bad_request, "The call's time cap must not be negative.");
    }
    const std::int64_t at = req.at_ms != 0 ? req.at_ms : env.now_ms;
    const std::string flow = req.relayed ? "relay" : "token";
    auto updated = env.db.query(SqlQuery{
        "UPDATE sessions SET call_id = $2, flow = $3, call_state = 'live', "
        "call_started_at_ms = $4, cap_ms = $5, lease_owner = NULL, lease_expires_at_ms = NULL "
        "WHERE session_id = $1 AND status = 'issued' AND call_id IS NULL AND "
        "($6 = 0 OR user_id = $7) RETURNING user_id",
        {req.session_id, req.call_id, flow, at, req.cap_ms, std::int64_t{req.check_owner ? 1 : 0},
         req.caller_user_id}});
    if (!updated) {
        return updated.error();
    }
    if (!updated->rows.empty()) {
        Event e;
        e.at_ms = at;
        e.type = event_type_name(req.relayed ? EventType::call_relayed : EventType::call_attached);
        e.session_id = req.session_id;
        e.user_id = updated->text(0, 0);
        e.client_ip = req.client_ip;
        // Never the call id: the audit log is shown to operators.
        e.detail =
            boost::json::serialize(boost::json::object{{"flow", flow}, {"cap_ms", req.cap_ms}});
        if (auto r = insert_event(env, e); !r) {
            return r.error();
        }
        return AttachOutcome{true};
    }
    auto state = read_call_state(env, req.session_id);
    if (!state) {
        return state.error();
    }
    if (!*state) {
        return fail(Error::session_not_found);
    }
    if (req.check_owner && (*state)->user_id != req.caller_user_id) {
        return fail(Error::forbidden, "This session belongs to another user.");
    }
    if ((*state)->call_id == req.call_id) {
        return AttachOutcome{false};  // the same call again: nothing to do
    }
    if ((*state)->status == "ended") {
        return fail(Error::conflict, "This session has ended.");
    }
    return fail(Error::conflict, "This session is attached to another call.");
}

namespace {

// The calls a claim may take: live, and unheld, held by the claimant (parameter `instance`),
// or expired (parameter `now`).
std::string free_lease(const std::string& instance, const std::string& now) {
    return "call_state = 'live' AND (lease_owner IS NULL OR lease_owner = " + instance +
           " OR lease_expires_at_ms <= " + now + ")";
}

}  // namespace

Result<bool> claimable_in(CallOpEnv& env, const LeaseClaim& claim) {
    const std::int64_t now = claim.now_ms != 0 ? claim.now_ms : env.now_ms;
    auto t =
        env.db.query(SqlQuery{"SELECT 1 FROM sessions WHERE " + free_lease("$1", "$2") + " LIMIT 1",
                              {claim.instance_id, now}});
    if (!t) {
        return t.error();
    }
    return !t->rows.empty();
}

Result<std::vector<SupervisedCall>> claim_calls_in(CallOpEnv& env, const LeaseClaim& claim) {
    if (claim.instance_id.empty() || claim.lease_ms <= 0) {
        return fail(Error::bad_request, "A claim needs an instance id and a positive lease.");
    }
    const bool pg = postgres(env);
    const std::int64_t now = claim.now_ms != 0 ? claim.now_ms : env.now_ms;
    const std::string free = free_lease("$1", "$3");
    // PostgreSQL: the selection locks its rows and skips rows another claim holds, and the
    // UPDATE re-checks the lease on the newest row version; the selection is materialized, so
    // it runs once (a re-scan would skip the rows this UPDATE just changed and pick more).
    // SQLite: the writer's transaction holds the database's write lock, so no other process
    // claims in between.
    auto t = env.db.query(SqlQuery{
        "WITH picked AS MATERIALIZED (SELECT session_id FROM sessions WHERE " + free +
            // Calls nobody holds first: a full claim must not stop at this instance's own.
            " ORDER BY CASE WHEN lease_owner = $1 THEN 1 ELSE 0 END, call_started_at_ms, "
            "session_id LIMIT $4" +
            (pg ? " FOR UPDATE SKIP LOCKED" : "") +
            ") UPDATE sessions SET lease_owner = $1, lease_expires_at_ms = $2 WHERE session_id "
            "IN (SELECT session_id FROM picked) AND " +
            free + " RETURNING " + claimed_columns(),
        {claim.instance_id, now + claim.lease_ms, now, static_cast<std::int64_t>(claim.limit)}});
    if (!t) {
        return t.error();
    }
    std::vector<SupervisedCall> out;
    out.reserve(t->rows.size());
    for (std::size_t r = 0; r < t->rows.size(); ++r) {
        out.push_back(read_supervised(*t, r));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.started_at_ms, a.session_id) < std::tie(b.started_at_ms, b.session_id);
    });
    return out;
}

Result<std::vector<std::string>> renew_leases_in(CallOpEnv& env, const LeaseClaim& claim,
                                                 const std::vector<std::string>& session_ids) {
    if (session_ids.empty()) {
        return std::vector<std::string>{};
    }
    const std::int64_t now = claim.now_ms != 0 ? claim.now_ms : env.now_ms;
    boost::json::array ids;
    for (const auto& id : session_ids) {
        ids.emplace_back(id);
    }
    // The ids as one JSON array parameter: one statement text whatever their number.
    const std::string listed = postgres(env) ? "SELECT jsonb_array_elements_text($3::jsonb)"
                                             : "SELECT value FROM json_each($3)";
    auto t = env.db.query(
        SqlQuery{"UPDATE sessions SET lease_expires_at_ms = $2 WHERE lease_owner = $1 AND "
                 "call_state = 'live' AND session_id IN (" +
                     listed + ") RETURNING session_id",
                 {claim.instance_id, now + claim.lease_ms, boost::json::serialize(ids)}});
    if (!t) {
        return t.error();
    }
    std::vector<std::string> held;
    held.reserve(t->rows.size());
    for (std::size_t r = 0; r < t->rows.size(); ++r) {
        held.push_back(t->text(r, 0));
    }
    std::sort(held.begin(), held.end());
    return held;
}

Result<void> release_lease_in(CallOpEnv& env, const std::string& session_id,
                              const std::string& instance_id) {
    return run(env,
               "UPDATE sessions SET lease_owner = NULL, lease_expires_at_ms = NULL "
               "WHERE session_id = $1 AND lease_owner = $2",
               {session_id, instance_id});
}

Result<void> checkpoint_usage_in(CallOpEnv& env, const UsageCheckpoint& cp) {
    std::vector<SqlValue> params{cp.session_id, cp.instance_id,
                                 cp.at_ms != 0 ? cp.at_ms : env.now_ms};
    for (auto& v : true_values(cp.usage)) {
        params.push_back(std::move(v));
    }
    auto t = env.db.query(SqlQuery{"UPDATE sessions SET usage_at_ms = $3, " + true_assignments(4) +
                                       " WHERE session_id = $1 AND lease_owner = $2 AND "
                                       "call_state = 'live' RETURNING session_id",
                                   std::move(params)});
    if (!t) {
        return t.error();
    }
    if (!t->rows.empty()) {
        return {};
    }
    auto state = read_call_state(env, cp.session_id);
    if (!state) {
        return state.error();
    }
    return refusal(*state);
}

namespace {

/// A session's row as end_call reads it (locked on PostgreSQL).
struct EndingCall {
    std::string user_id;
    std::string model;
    std::int64_t issued_at_ms = 0;
    std::string status;
    std::string call_state;  // "" when no call
    std::int64_t started_at_ms = 0;
    std::string lease_owner;
    std::int64_t lease_expires_at_ms = 0;
    std::optional<std::int64_t> reserved_ms;
    TokenUsage tokens;  // the client-reported counts (the estimate's basis)
};

Result<std::optional<EndingCall>> read_ending(CallOpEnv& env, const std::string& session_id) {
    auto t = env.db.query(
        SqlQuery{"SELECT user_id, model, issued_at_ms, status, call_state, call_started_at_ms, "
                 "lease_owner, lease_expires_at_ms, quota_reserved_ms, input_text_tokens, "
                 "input_audio_tokens, input_image_tokens, cached_text_tokens, cached_audio_tokens, "
                 "cached_image_tokens, output_text_tokens, output_audio_tokens FROM sessions "
                 "WHERE session_id = $1" +
                     std::string(postgres(env) ? " FOR UPDATE" : ""),
                 {session_id}});
    if (!t) {
        return t.error();
    }
    if (t->rows.empty()) {
        return std::optional<EndingCall>();
    }
    EndingCall c;
    c.user_id = t->text(0, 0);
    c.model = t->text(0, 1);
    c.issued_at_ms = t->i64(0, 2);
    c.status = t->text(0, 3);
    c.call_state = t->text(0, 4);
    c.started_at_ms = t->i64(0, 5);
    c.lease_owner = t->text(0, 6);
    c.lease_expires_at_ms = t->i64(0, 7);
    if (!t->is_null(0, 8)) {
        c.reserved_ms = t->i64(0, 8);
    }
    c.tokens = TokenUsage{t->i64(0, 9),  t->i64(0, 10), t->i64(0, 11), t->i64(0, 12),
                          t->i64(0, 13), t->i64(0, 14), t->i64(0, 15), t->i64(0, 16)};
    return std::optional<EndingCall>(std::move(c));
}

/// Ends the session of `call` as the server saw it (it was not ended yet): the end itself, the
/// quota settled to the observed duration, the rollup delta of a first end.
Result<void> end_session_for_call(CallOpEnv& env, const CallEnded& ended, const EndingCall& call,
                                  double observed_s) {
    const std::int64_t billable = billable_ms(observed_s, observed_s);
    const ModelPrice* price = nullptr;
    if (env.prices != nullptr) {
        if (auto p = env.prices->find(call.model); p != env.prices->end()) {
            price = &p->second;
        }
    }
    const double cost = estimate_cost_usd(price, call.tokens, billable);
    const std::string ended_by = call_end_name(ended.reason);
    if (auto r = run(env,
                     "UPDATE sessions SET status = 'ended', ended_at_ms = $2, "
                     "observed_duration_s = $3, ended_by = $4, estimated_cost_usd = $5 "
                     "WHERE session_id = $1",
                     {ended.session_id, ended.ended_at_ms, real(observed_s), ended_by, real(cost)});
        !r) {
        return r;
    }
    if (call.reserved_ms) {
        // As end_session's settlement: the slot goes, the reservation becomes what was used.
        const std::int64_t reserved = *call.reserved_ms;
        if (postgres(env)) {
            // The user's lock, as the quota-checked creates take it (pg lock_users.sql).
            if (auto r = run(env, "SELECT pg_advisory_xact_lock(1986489704, hashtext($1))",
                             {call.user_id});
                !r) {
                return r;
            }
        }
        if (auto r = run(env,
                         "UPDATE quota_slots SET n = n - 1 WHERE user_id = $1 AND "
                         "release_at_ms = $2 AND n > 0",
                         {call.user_id, slot_release_ms(call.issued_at_ms + reserved)});
            !r) {
            return r;
        }
        if (auto r = run(env,
                         "UPDATE quota_usage SET charged_ms = charged_ms + $3 WHERE user_id = $1 "
                         "AND day = $2",
                         {call.user_id, quota_day(call.issued_at_ms), billable - reserved});
            !r) {
            return r;
        }
    }
    if (env.rollups != nullptr) {
        env.rollups->add_usage(quota_day(call.issued_at_ms), call.user_id, call.model,
                               end_delta(0, billable, 0, ended_by, call.tokens, cost));
    }
    return {};
}

/// The audit event of a call's end: call_hung_up when voicegate hung up, else session_ended
/// when this end ended the session; nullopt otherwise (the client's end was logged before).
std::optional<Event> call_end_event(const CallEnded& ended, const EndingCall& call,
                                    bool ended_session, double observed_s) {
    const bool hung_up = voicegate_hung_up(ended.reason);
    if (!hung_up && !ended_session) {
        return std::nullopt;
    }
    Event e;
    e.at_ms = ended.ended_at_ms;
    e.type = event_type_name(hung_up ? EventType::call_hung_up : EventType::session_ended);
    e.session_id = ended.session_id;
    e.user_id = call.user_id;
    e.reason = call_end_name(ended.reason);
    e.detail = boost::json::serialize(boost::json::object{
        {"observed_duration_s", observed_s},
        {"responses", ended.usage.responses},
        {"true_cost_usd", std::isfinite(ended.usage.cost_usd) ? ended.usage.cost_usd : 0.0},
    });
    return e;
}

}  // namespace

Result<void> end_call_in(CallOpEnv& env, const CallEnded& request) {
    CallEnded ended = request;
    if (ended.ended_at_ms == 0) {
        ended.ended_at_ms = env.now_ms;
    }
    auto found = read_ending(env, ended.session_id);
    if (!found) {
        return found.error();
    }
    if (!*found) {
        return fail(Error::session_not_found);
    }
    const EndingCall& call = **found;
    if (call.call_state.empty()) {
        return fail(Error::conflict, "This session is not a supervised call.");
    }
    if (call.call_state == "ended") {
        return {};  // recorded before: a retry changes nothing
    }
    if (!call.lease_owner.empty() && call.lease_owner != ended.instance_id &&
        call.lease_expires_at_ms > ended.ended_at_ms) {
        return fail(Error::lease_lost, {}, "the call's lease is held by another instance");
    }
    const double observed_s =
        static_cast<double>(std::max<std::int64_t>(0, ended.ended_at_ms - call.started_at_ms)) /
        1000.0;
    const bool ending_session = call.status == "issued";
    if (ending_session) {
        if (auto r = end_session_for_call(env, ended, call, observed_s); !r) {
            return r;
        }
    }
    std::vector<SqlValue> params{ended.session_id, ended.ended_at_ms};
    for (auto& v : true_values(ended.usage)) {
        params.push_back(std::move(v));
    }
    if (auto r = run(env,
                     "UPDATE sessions SET call_state = 'ended', lease_owner = NULL, "
                     "lease_expires_at_ms = NULL, usage_at_ms = $2, " +
                         true_assignments(3) + " WHERE session_id = $1",
                     std::move(params));
        !r) {
        return r;
    }
    if (env.rollups != nullptr) {
        env.rollups->add_usage(quota_day(call.issued_at_ms), call.user_id, call.model,
                               true_usage_delta(ended.usage));
    }
    if (auto e = call_end_event(ended, call, ending_session, observed_s)) {
        return insert_event(env, *e);
    }
    return {};
}

Result<UserMinutes> user_minutes_in(CallOpEnv& env, const std::string& user_id,
                                    std::int64_t now_ms) {
    const std::int64_t now = now_ms != 0 ? now_ms : env.now_ms;
    const std::int64_t today = quota_day(now);
    auto charged = env.db.query(SqlQuery{
        "SELECT charged_ms FROM quota_usage WHERE user_id = $1 AND day = $2", {user_id, today}});
    if (!charged) {
        return charged.error();
    }
    auto live = env.db.query(
        SqlQuery{"SELECT call_started_at_ms, issued_at_ms, quota_reserved_ms FROM sessions "
                 "WHERE user_id = $1 AND call_state = 'live' AND status = 'issued'",
                 {user_id}});
    if (!live) {
        return live.error();
    }
    UserMinutes out;
    std::int64_t settled = charged->rows.empty() ? 0 : charged->i64(0, 0);
    const std::int64_t day_start = today * kMsPerDay;
    for (std::size_t r = 0; r < live->rows.size(); ++r) {
        // A live call's reservation is in today's charge only if it was issued today; its
        // time counts live instead.
        if (!live->is_null(r, 2) && quota_day(live->i64(r, 1)) == today) {
            settled -= live->i64(r, 2);
        }
        out.live_started_at_ms.push_back(std::max(live->i64(r, 0), day_start));
    }
    std::sort(out.live_started_at_ms.begin(), out.live_started_at_ms.end());
    out.settled_ms_today = std::max<std::int64_t>(0, settled);
    return out;
}

}  // namespace voicegate::store
