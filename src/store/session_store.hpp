#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "store/quota.hpp"

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

/// A stored session, as read back.
struct SessionRow {
    SessionRecord issued;
    std::string status;  // "issued" | "ended"
    std::optional<std::int64_t> ended_at_ms;
    std::optional<double> reported_duration_s;
    std::optional<double> observed_duration_s;  // ended_at - issued_at, seconds
    std::optional<std::int64_t> message_count;
    std::optional<std::string> ended_by;
};

/// The outcome of ending a session.
struct EndOutcome {
    SessionRow row;             // the stored record after the call
    bool already_ended = false; // true if it had been ended before; nothing was changed
};

/// One audit-log entry (SPEC §5 `events`); never holds a token or key.
struct Event {
    std::int64_t at_ms = 0;
    std::string type;  // token_issued | token_denied | session_ended | call_hung_up | admin_action
    std::string session_id;
    std::string user_id;
    std::string client_ip;
    std::string reason;  // e.g. denial reason
    std::string detail;  // JSON text, optional
};

/// Durable storage of sessions and events.
/// Every completed write is committed (group-committed with others) before its awaitable
/// returns success: a success means it survives a crash of the process.
/// Thread-safe: may be called concurrently from every event loop; never blocks a loop.
class SessionStore {
public:
    virtual ~SessionStore() = default;

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
    virtual boost::asio::awaitable<Result<EndOutcome>> end_session(EndRequest request) = 0;

    /// Appends an audit event.
    virtual boost::asio::awaitable<Result<void>> append_event(Event event) = 0;

    /// Reads one session; nullopt if unknown.
    virtual boost::asio::awaitable<Result<std::optional<SessionRow>>> get_session(
        std::string session_id) = 0;

    /// True when the store can serve requests (for /readyz).
    virtual bool ready() const = 0;

    /// Commits everything queued and stops accepting writes (graceful shutdown). Blocking;
    /// call from outside the event loops.
    virtual void close() = 0;
};

}  // namespace voicegate::store
