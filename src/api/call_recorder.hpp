#pragma once

#include <map>
#include <mutex>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "store/session_store.hpp"
#include "store/supervision.hpp"

namespace voicegate::api {

/// Where the relay and attach record that a session has an upstream call to supervise
/// (SPEC §7.1, §7.2). The store's CallSupervisionStore::attach_call is the durable
/// implementation; each method maps onto it one to one.
/// Implementations are thread-safe; every success is durable (or, for MemoryCallRecorder, as
/// durable as its store's events). The call id is a server-side secret: never logged.
class CallRecorder {
public:
    virtual ~CallRecorder() = default;
    /// Records the call the relay just created for the session `request.session_id`, which
    /// `request.caller_user_id` owns (the relay created it a moment ago), with the audit event
    /// `call_relayed`. Failures: store_unavailable (503).
    virtual boost::asio::awaitable<Result<void>> record_call(store::AttachRequest request) = 0;
    /// Attaches a token-flow call to the caller's session, with the audit event
    /// `call_attached` the first time. session_not_found (404); forbidden (403) when
    /// `request.caller_user_id` does not own it; conflict (409) when the session has ended or
    /// holds another call. The same call id again: newly_attached false, nothing written.
    virtual boost::asio::awaitable<Result<store::AttachOutcome>> attach(
        store::AttachRequest request) = 0;
};

/// A CallRecorder that keeps the calls in memory and writes their audit events to a
/// SessionStore, checking sessions against it: the stand-in until the store engines implement
/// CallSupervisionStore (then an adapter over attach_call replaces it). Calls are lost on
/// restart. Thread safety: every method is thread-safe (a mutex never held across co_await).
class MemoryCallRecorder final : public CallRecorder {
public:
    /// `sessions` is borrowed and must outlive the recorder.
    explicit MemoryCallRecorder(store::SessionStore& sessions) : sessions_(sessions) {}

    boost::asio::awaitable<Result<void>> record_call(store::AttachRequest request) override;
    boost::asio::awaitable<Result<store::AttachOutcome>> attach(
        store::AttachRequest request) override;

    /// The call recorded for `session_id`, or "" (tests).
    std::string call_of(const std::string& session_id) const;
    /// Calls recorded (tests).
    std::size_t size() const;

private:
    // Records `request` unless the session holds another call; true if newly recorded.
    Result<bool> remember(const store::AttachRequest& request);
    void forget(const std::string& session_id);
    boost::asio::awaitable<Result<void>> audit(const store::AttachRequest& request,
                                               const char* type);

    store::SessionStore& sessions_;
    mutable std::mutex mu_;
    std::map<std::string, store::AttachRequest> calls_;  // by session id
};

}  // namespace voicegate::api
