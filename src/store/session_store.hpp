#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "core/prices.hpp"
#include "store/quota.hpp"
#include "store/supervision.hpp"

namespace voicegate::store {

/// A session as issued (SPEC §5 `sessions`).
struct SessionRecord {
    std::string session_id;  // sess_...
    std::string user_id;
    std::string model;
    std::string voice;
    std::string profile;                // empty if none
    std::int64_t issued_at_ms = 0;      // when voicegate issued the token
    std::int64_t token_expires_at = 0;  // unix seconds (upstream expires_at)
    std::string client_ip;
    std::string user_agent;
    // Checked by create_session in the transaction that records the session; not read back.
    QuotaLimits quota;
};

/// What a client reports at `/api/realtime/end`, with the server's view added.
struct EndRequest {
    std::string session_id;
    std::string caller_user_id;  // checked against the owner when check_owner is true
    bool check_owner = false;
    double reported_duration_s = 0;
    std::int64_t message_count = 0;
    std::string ended_by;  // user | timeout | error
    std::int64_t ended_at_ms = 0;
    std::string client_ip;
};

/// What a session knows of its supervised call (SPEC §7), as read back.
struct CallInfo {
    std::string flow;   // "token" (attached) | "relay"
    std::string state;  // "live" | "ended" (the server saw the end)
    std::int64_t started_at_ms = 0;
    std::int64_t cap_ms = 0;
    TrueUsage usage;  // as last checkpointed, or final once state is "ended"
    /// The upstream call id: a secret of the server side. Kept for the operators' views to
    /// come; never render it (admin API, CSV, logs) nor hand it to an app.
    std::string call_id;
};

/// A stored session, as read back.
struct SessionRow {
    SessionRecord issued;
    std::string status;  // "issued" | "ended"
    std::optional<std::int64_t> ended_at_ms;
    std::optional<double> reported_duration_s;
    std::optional<double> observed_duration_s;  // ended_at - issued_at, seconds
    std::optional<std::int64_t> message_count;
    std::optional<std::string> ended_by;
    std::optional<double> estimated_cost_usd;  // set at end; filled by list_sessions()
    /// Set when the session is (or was) a supervised call; filled by get_session() and
    /// list_sessions(), not in end_session()'s answer.
    std::optional<CallInfo> call;
};

/// The outcome of ending a session.
struct EndOutcome {
    SessionRow row;              // the stored record after the call
    bool already_ended = false;  // true if it had been ended before; nothing was changed
};

/// One audit-log entry (SPEC §5 `events`); never holds a token or key.
struct Event {
    std::int64_t id = 0;  // assigned by the store (read back by list_events)
    std::int64_t at_ms = 0;
    std::string type;  // an EventType's name (store/event_type.hpp), e.g. token_issued
    std::string session_id;
    std::string user_id;
    std::string client_ip;
    std::string reason;  // e.g. denial reason
    std::string detail;  // JSON text, optional
};

/// Usage figures summed over rollup rows (SPEC §5, docs/admin-api.md).
struct UsageTotals {
    std::int64_t sessions = 0;        // issued, on the UTC day of issue
    std::int64_t ended_sessions = 0;  // of those, ended
    std::int64_t reported_ms = 0;     // client-reported durations
    std::int64_t billable_ms = 0;     // per session min(reported, observed)
    std::int64_t messages = 0;
    TokenUsage tokens;
    double cost_usd = 0;       // estimate
    TokenUsage true_tokens;    // supervised calls: the usage the server saw (SPEC §7.3)
    double true_cost_usd = 0;  // and its price
    std::int64_t ended_user = 0;
    std::int64_t ended_timeout = 0;
    std::int64_t ended_error = 0;
    std::map<std::string, std::int64_t> denied;  // token_denied events by reason (day of denial)
};

/// One row of a usage report: the group key (a day "YYYY-MM-DD", a user id or a model).
struct UsageRow {
    std::string key;
    UsageTotals usage;
};

/// What usage() reads: days since the epoch (UTC), both inclusive.
struct UsageQuery {
    std::int64_t from_day = 0;
    std::int64_t to_day = 0;
    std::string group_by = "day";  // day | user | model
    std::string user_id;           // empty: every user
    std::string model;             // empty: every model
    std::size_t limit = 100;       // groupBy=user: most rows
};

/// The answer of usage(): totals over the whole filter, and the rows of the grouping (days:
/// every day of the range ascending; users: by billable ms descending then id, at most limit;
/// models: by sessions descending then name).
struct UsageReport {
    UsageTotals totals;
    std::vector<UsageRow> rows;
};

/// An open session, for the live view.
struct LiveSession {
    SessionRow row;
    std::int64_t reservation_ends_at_ms = 0;
};

/// What live() reads.
struct LiveQuery {
    std::int64_t now_ms = 0;
    std::int64_t max_age_ms = 0;  // sessions issued longer ago are considered abandoned
    std::size_t limit = 100;
};

/// The answer of live(): open sessions (newest first, at most limit), their count, and today's
/// usage (UTC day of now).
struct LiveReport {
    std::int64_t open_sessions = 0;
    std::vector<LiveSession> sessions;
    UsageTotals today;
};

/// Position after the last row of a sessions page (newest first).
struct SessionCursor {
    std::int64_t issued_at_ms = 0;
    std::string session_id;
};

/// What list_sessions() reads; empty strings are no filter; [from_ms, to_ms) on issued_at.
struct SessionQuery {
    std::string user_id;
    std::string model;
    std::string status;    // issued | ended
    std::string ended_by;  // user | timeout | error
    std::int64_t from_ms = 0;
    std::int64_t to_ms = 0;
    std::optional<SessionCursor> after;
    std::size_t limit = 50;
};

/// A page of sessions; `next` is set when more rows follow.
struct SessionPage {
    std::vector<SessionRow> sessions;
    std::optional<SessionCursor> next;
};

/// What list_events() reads; empty strings are no filter; [from_ms, to_ms) on at_ms.
struct EventQuery {
    std::string type;
    std::string user_id;
    std::string session_id;
    std::int64_t from_ms = 0;
    std::int64_t to_ms = 0;
    std::optional<std::int64_t> before_id;  // cursor: only ids below it
    std::size_t limit = 100;
};

/// A page of events, newest first; `next` (the last id) when more rows follow.
struct EventPage {
    std::vector<Event> events;
    std::optional<std::int64_t> next;
};

/// What rebuild_rollups() wrote.
struct RebuildReport {
    std::int64_t sessions = 0;     // sessions summed
    std::int64_t denials = 0;      // denials counted in denials_daily (kept, not recomputed)
    std::int64_t usage_rows = 0;   // day x user x model rows written
    std::int64_t denial_rows = 0;  // day x user x reason rows of denials_daily
};

/// A refused token request (SPEC §5), as the token handler reports it.
struct Denial {
    std::int64_t at_ms = 0;  // 0: the store's clock
    std::string user_id;
    std::string client_ip;
    std::string reason;  // the error code, e.g. rate_limited
};

/// What one prune() step deletes: rows older than the cutoffs, at most `limit` of each table.
struct PruneRequest {
    std::int64_t events_before_ms = 0;       // events with at_ms below it; 0: none
    std::int64_t denials_before_minute = 0;  // denials_by_minute rows below it; 0: none
    std::int64_t limit = 2000;               // most rows per table and step (>= 1)
};

/// What one prune() step deleted.
struct PruneReport {
    std::int64_t events = 0;
    std::int64_t denial_rows = 0;
};

/// Durable storage of sessions and events, and of supervised calls (CallSupervisionStore).
/// Every completed write is committed (group-committed with others) before its awaitable
/// returns success: a success means it survives a crash of the process.
/// Thread-safe: may be called concurrently from every event loop; never blocks a loop.
class SessionStore : public CallSupervisionStore {
public:
    ~SessionStore() override = default;

    /// Records a newly issued session and its `token_issued` event atomically.
    /// When record.quota is enabled, first checks the user's quotas in the same transaction,
    /// exactly even against other instances on the same database: the user's open sessions
    /// (reservations not yet ended nor run out) against `concurrent`, and today's (UTC day of
    /// issued_at_ms) sessions and charged ms against the daily caps; a cap that is reached fails
    /// with quota_exhausted and Failure::resets_at (unix s: the earliest open reservation's
    /// expiry, or the next UTC midnight) and writes nothing. Otherwise the session holds a slot
    /// until issued_at_ms + reserve_ms and reserve_ms is charged to the day; the first
    /// end_session releases the slot and settles the charge to billable_ms().
    virtual boost::asio::awaitable<Result<void>> create_session(SessionRecord record) = 0;

    /// Ends a session once: session_not_found (404) if unknown, forbidden (403) if check_owner
    /// and the caller is not the owner; if already ended, returns the stored row with
    /// already_ended=true and changes nothing. Otherwise stores the reported duration, the
    /// observed duration (ended_at - issued_at) and the rest, plus a `session_ended` event.
    /// A supervised call whose end the server recorded first (end_call) and that no client
    /// reported yet answers as a first end (already_ended=false) and only gains the reported
    /// duration and message count (and the event); its end, observed duration and quota charge
    /// stay as end_call wrote them.
    virtual boost::asio::awaitable<Result<EndOutcome>> end_session(EndRequest request) = 0;

    /// Appends an audit event. A `token_denied` event appended here is audit text only: refusals
    /// are counted through record_denial().
    virtual boost::asio::awaitable<Result<void>> append_event(Event event) = 0;

    /// Counts a refused token request and keeps it as a `token_denied` audit sample while the
    /// sampling bounds allow (DenialSampling, store/denials.hpp); no I/O: the counts and samples
    /// are buffered until flush_denials(). Every denial is counted, per minute, user, client IP
    /// and reason (`denials_by_minute`) and per day, user and reason (`denials_daily`, read by
    /// usage()); only the samples are written to `events`. Cheap; thread-safe.
    virtual void record_denial(const Denial& denial) = 0;

    /// Writes the buffered denial counts and samples in one transaction; on failure they are
    /// kept for the next flush. usage(), live() and list_events() flush first, so they count
    /// every denial this store recorded before they were called; close() flushes last.
    virtual boost::asio::awaitable<Result<void>> flush_denials() = 0;

    /// Deletes one bounded batch of rows past retention (see PruneRequest), each table in its
    /// own short transaction; call again while a table returned `limit` rows.
    virtual boost::asio::awaitable<Result<PruneReport>> prune(PruneRequest request) = 0;

    /// Reads one session; nullopt if unknown.
    virtual boost::asio::awaitable<Result<std::optional<SessionRow>>> get_session(
        std::string session_id) = 0;

    /// Usage by day, user or model over a day range, read only from the daily rollups.
    /// Never blocks an event loop (a reader thread or connection).
    virtual boost::asio::awaitable<Result<UsageReport>> usage(UsageQuery query) = 0;

    /// Open sessions: issued, not ended, issued within (now - max_age, now].
    virtual boost::asio::awaitable<Result<LiveReport>> live(LiveQuery query) = 0;

    /// Sessions newest first (issued_at desc, then id desc), keyset-paged.
    virtual boost::asio::awaitable<Result<SessionPage>> list_sessions(SessionQuery query) = 0;

    /// Audit events newest first (by id), keyset-paged.
    virtual boost::asio::awaitable<Result<EventPage>> list_events(EventQuery query) = 0;

    /// Recomputes the usage rollups from `sessions` in one transaction. The denial counts are
    /// kept as they are: since the audit keeps only samples, they are the record of refusals.
    virtual boost::asio::awaitable<Result<RebuildReport>> rebuild_rollups() = 0;

    /// True when the store can serve requests (for /readyz).
    virtual bool ready() const = 0;

    /// Hands back to the system the memory the store keeps only for speed (page caches, mapped
    /// database pages), as it is when the service goes idle; the next requests rebuild it.
    /// Returns at once (the store's threads do the work). Thread-safe.
    virtual void release_memory() {}

    /// Commits everything queued and stops accepting writes (graceful shutdown). Blocking;
    /// call from outside the event loops.
    virtual void close() = 0;
};

}  // namespace voicegate::store
