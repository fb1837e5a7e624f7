#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "core/prices.hpp"

namespace voicegate::store {

// Server-side call control (SPEC §7): what the store keeps of a supervised call.
// A session becomes a call when the relay created it (`/api/realtime/calls`) or the app
// attached one (`/api/realtime/attach`); from then on it carries the upstream call id (never
// shown to the app), a lease naming the instance that supervises it, and the true usage the
// supervisor summed from the sideband, beside the figures the client reports at /end.

/// True usage of a call, summed from the sideband (SPEC §7.3): response.done usage by
/// modality plus input-transcription usage (billed apart; tokens or seconds).
struct TrueUsage {
    TokenUsage tokens;                         // response.done usage, cached a subset of input
    std::int64_t transcription_in_tokens = 0;  // transcription usage of type "tokens"
    std::int64_t transcription_out_tokens = 0;
    double transcription_seconds = 0;  // transcription usage of type "duration"
    std::int64_t responses = 0;        // response.done events counted
    double cost_usd = 0;               // priced per modality with the price table
    bool operator==(const TrueUsage&) const = default;
};

/// Why a supervised call ended (the session's `ended_by` when the server saw the end first).
/// Names as stored: cap | quota | lock_violation | hangup | upstream_expired | closed | gone.
enum class CallEnd {
    cap,               // voicegate hung up at the session time cap
    quota,             // voicegate hung up at the user's daily minute quota
    lock_violation,    // voicegate hung up on a locked-field change (on_violation = hangup)
    hangup,            // hung up by an operator
    upstream_expired,  // the upstream's own cap (session_expired, close 1001)
    closed,            // the sideband closed and the call is over (phone left)
    gone,              // a re-join was answered 404/410: the call ended while unobserved
};

/// Stored text of a CallEnd ("cap", ...). Pure.
const char* call_end_name(CallEnd end);

/// The CallEnd whose stored text is `name`, or nullopt (e.g. a client's "user"). Pure.
std::optional<CallEnd> parse_call_end(std::string_view name);

/// True when voicegate itself hung up (cap, quota, lock_violation, hangup): the end writes a
/// call_hung_up event. Pure.
bool voicegate_hung_up(CallEnd end);

/// A call to supervise, as claimed from the store.
struct SupervisedCall {
    std::string session_id;
    std::string user_id;
    std::string call_id;  // upstream call id (rtc_...); a secret of the server side
    std::string model;
    std::string profile;             // empty if none
    std::int64_t started_at_ms = 0;  // when the call was relayed or attached
    std::int64_t cap_ms = 0;         // hang up at started_at_ms + cap_ms
    TrueUsage usage;                 // as last written (a takeover continues from it)
};

/// `/api/realtime/attach`: record `call_id` on the caller's session. The relay records the
/// call it created the same way, with `relayed` set.
struct AttachRequest {
    std::string session_id;
    std::string caller_user_id;
    std::string call_id;
    std::int64_t at_ms = 0;   // when the call started (0: the store's clock)
    std::int64_t cap_ms = 0;  // hang up at at_ms + cap_ms
    std::string client_ip;
    // Added after the fields above so that positional initialization keeps working.
    bool relayed = false;     // the relay created the call: flow "relay", event call_relayed
    bool check_owner = true;  // as EndRequest: false when auth is off (no verified caller)
};

/// What attach_call did. Errors: session_not_found (404), forbidden (403, another user's
/// session), conflict (409: ended, or already attached to another call id).
struct AttachOutcome {
    bool newly_attached = false;  // false: the same call id was attached before (idempotent)
};

/// Leases (SPEC §7.3 "survives its own instance"): each supervised call is held by one
/// instance at a time; a lease not renewed by its expiry may be taken by another instance.
struct LeaseClaim {
    std::string instance_id;
    std::int64_t now_ms = 0;
    std::int64_t lease_ms = 15'000;
    std::size_t limit = 1000;  // most calls claimed by one call
};

/// Writes of the supervisor; each succeeds only while `instance_id` holds the lease (else
/// Error::lease_lost: another instance took the call over, stop supervising it).
struct UsageCheckpoint {
    std::string session_id;
    std::string instance_id;
    TrueUsage usage;
    std::int64_t at_ms = 0;
};

struct CallEnded {
    std::string session_id;
    std::string instance_id;
    CallEnd reason = CallEnd::closed;
    TrueUsage usage;
    std::int64_t ended_at_ms = 0;  // server-observed duration = ended_at - started_at
};

/// A user's minutes today as the quota hang-up needs them, across instances: the ms charged
/// today (UTC day of now) by the quota bookkeeping less the reservations of the user's live
/// supervised calls (their time counts live instead), and the start of each live supervised
/// call of the user that is not ended yet (clamped to the start of today).
struct UserMinutes {
    std::int64_t settled_ms_today = 0;
    std::vector<std::int64_t> live_started_at_ms;
};

/// The store side of supervision. Implemented by every SessionStore engine; every write is
/// durable before its awaitable succeeds. Thread-safe.
class CallSupervisionStore {
public:
    virtual ~CallSupervisionStore() = default;
    /// Records the call on the session (flow, start, cap), its state `live`, and a
    /// call_attached (or, relayed, call_relayed) event; the session must be issued (not ended).
    virtual boost::asio::awaitable<Result<AttachOutcome>> attach_call(AttachRequest request) = 0;
    /// Takes the leases of live calls that are unheld or expired (and renews this instance's),
    /// at most `limit` (calls nobody holds first, then oldest first): atomically, so that no two
    /// instances hold one call. Answers the calls now held, oldest first.
    virtual boost::asio::awaitable<Result<std::vector<SupervisedCall>>> claim_calls(
        LeaseClaim claim) = 0;
    /// Renews this instance's leases on `session_ids`; answers the ids still held.
    virtual boost::asio::awaitable<Result<std::vector<std::string>>> renew_leases(
        LeaseClaim claim, std::vector<std::string> session_ids) = 0;
    /// Lets go of a lease (shutdown) so another instance takes the call at once.
    virtual boost::asio::awaitable<Result<void>> release_lease(std::string session_id,
                                                               std::string instance_id) = 0;
    /// Stores the true usage so far (replacing the last checkpoint). lease_lost unless the
    /// instance holds the lease; conflict when the call is over.
    virtual boost::asio::awaitable<Result<void>> checkpoint_usage(UsageCheckpoint checkpoint) = 0;
    /// Records the end as the server saw it: by the holder of the lease, or anyone once the
    /// lease is free or expired (else lease_lost); session_not_found, or conflict for a session
    /// that is not a supervised call. If the session was not ended yet, it is ended with
    /// ended_by = call_end_name(reason), the observed duration from the call's start, and the
    /// quota charged that duration. The true usage and cost are stored and added to the daily
    /// rollups; the lease is let go. A call already ended is left as it is (success: a retry
    /// after a lost answer is harmless). The client's first /end after it still answers as a
    /// first end and only adds its reported figures; repeats answer alreadyEnded.
    virtual boost::asio::awaitable<Result<void>> end_call(CallEnded ended) = 0;
    virtual boost::asio::awaitable<Result<UserMinutes>> user_minutes(std::string user_id,
                                                                     std::int64_t now_ms) = 0;
};

}  // namespace voicegate::store
