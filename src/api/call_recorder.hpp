#pragma once

#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "store/session_store.hpp"
#include "store/supervision.hpp"

namespace voicegate::api {

/// Where the relay and attach record that a session has an upstream call to supervise
/// (SPEC §7.1, §7.2). The store's CallSupervisionStore::attach_call is the durable
/// implementation; each method maps onto it one to one.
/// Implementations are thread-safe; every success is durable. The call id is a server-side secret:
/// never logged.
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

/// The CallRecorder of the service: CallSupervisionStore::attach_call, durable before it
/// answers (the store writes call_relayed / call_attached itself). `on_recorded` runs after a
/// call was newly recorded (the supervisor's wake(), so the call is claimed at once rather than
/// at its next lease round). Thread safety: as the store; `on_recorded` must be thread-safe.
class StoreCallRecorder final : public CallRecorder {
public:
    /// `store` is borrowed and must outlive the recorder.
    explicit StoreCallRecorder(store::CallSupervisionStore& store,
                               std::function<void()> on_recorded = {})
        : store_(store), on_recorded_(std::move(on_recorded)) {}

    boost::asio::awaitable<Result<void>> record_call(store::AttachRequest request) override;
    boost::asio::awaitable<Result<store::AttachOutcome>> attach(
        store::AttachRequest request) override;

    /// Sets what runs after a call is newly recorded (before the first request).
    void on_recorded(std::function<void()> fn) { on_recorded_ = std::move(fn); }

private:
    store::CallSupervisionStore& store_;
    std::function<void()> on_recorded_;
};

}  // namespace voicegate::api
