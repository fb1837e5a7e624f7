#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace voicegate::emulator {

/// A client secret the emulator issued: only what /v1/realtime/calls needs, so that a full
/// registry stays small (about 200 bytes an entry).
struct IssuedSecret {
    std::int64_t expires_at = 0;  // unix seconds
    std::string session_id;       // sess_...
    std::string model;            // session.model ("" for transcription sessions)
    bool used = false;            // has started a call
    std::string session_request;  // the minted session as JSON text ("" for the defaults)
};

/// How a secret presented at /v1/realtime/calls fared.
enum class SecretCheck {
    ok,       // issued, not expired (and not used, if single use)
    unknown,  // never issued, or forgotten (evicted)
    expired,  // issued but past expires_at
    used,     // single-use mode and already used
};

/// Issued client secrets, bounded: when full, expired secrets are dropped first, then the one
/// that expires soonest. Thread-safe (one mutex; no call blocks on I/O).
class SecretRegistry {
public:
    /// `capacity` >= 1: the most secrets remembered at once.
    explicit SecretRegistry(std::size_t capacity);

    /// Remembers `value` (an ek_ secret) until `secret.expires_at`; `now_s` is the current unix
    /// time, used to drop expired entries first.
    void add(std::string value, IssuedSecret secret, std::int64_t now_s);

    /// Checks `value` at time `now_s` and returns a copy of it if it may start a call. With
    /// `single_use`, a secret that started a call before is `used`. An expired secret is
    /// forgotten after being reported.
    std::pair<SecretCheck, std::optional<IssuedSecret>> check(std::string_view value,
                                                              std::int64_t now_s, bool single_use);

    /// Records that `value` started a call. Returns false if it is unknown, or if `single_use`
    /// and it was already used (so of two racing calls only one wins).
    bool mark_used(std::string_view value, bool single_use);

    /// Secrets currently remembered (expired ones included until dropped).
    std::size_t size() const;

private:
    using ExpiryKey = std::pair<std::int64_t, std::uint64_t>;  // (expires_at, sequence)
    struct Entry {
        IssuedSecret secret;
        ExpiryKey key;
    };
    void erase_locked(std::unordered_map<std::string, Entry>::iterator it);

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::uint64_t sequence_ = 0;
    std::unordered_map<std::string, Entry> by_value_;
    // Points at by_value_'s keys, which stay put while their element exists (even on rehash).
    std::map<ExpiryKey, const std::string*> by_expiry_;
};

/// A call the emulator created.
struct CallRecord {
    std::string session_id;
    std::string model;            // "" for transcription sessions
    std::int64_t created_at = 0;  // unix seconds
    bool hung_up = false;         // the call has ended (hang-up, the phone left, the cap)
    /// The session as a validated request object (JSON text; merged by each session.update);
    /// its effective form is effective_session() of it. Kept small on purpose.
    std::string session_request;
    std::int64_t expires_at = 0;  // unix seconds: created_at + the call cap
    std::int64_t ends_at_ms = 0;  // the cap in unix milliseconds (0: none)
    std::string ended_by;         // "hangup", "left", "expired" once ended by the hub
};

/// Created calls, bounded: the oldest is forgotten first. Thread-safe.
class CallRegistry {
public:
    /// `capacity` >= 1: the most calls remembered at once.
    explicit CallRegistry(std::size_t capacity);

    /// Remembers call `call_id` (rtc_...).
    void add(std::string call_id, CallRecord call);

    /// Marks the call hung up; false if the id is unknown. Hanging up twice is fine; `was_live`
    /// (if given) tells whether this call ended it.
    bool hang_up(std::string_view call_id, bool* was_live = nullptr);

    /// Runs `change` on the call under the registry's lock (it must not block or call back
    /// into the registry); false if the id is unknown.
    bool modify(std::string_view call_id, const std::function<void(CallRecord&)>& change);

    /// A copy of the call, if known.
    std::optional<CallRecord> find(std::string_view call_id) const;

    /// Calls currently remembered.
    std::size_t size() const;

    /// The ids of the calls remembered, oldest first.
    std::vector<std::string> ids() const;

private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, CallRecord> calls_;
    std::deque<std::string> order_;  // insertion order, for eviction
};

}  // namespace voicegate::emulator
