#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "metrics/instruments.hpp"

namespace voicegate::api {

/// Receives what the token and end handlers decide, for metrics, usage gauges and anomaly
/// alerts. Called on the event loops on every token request: implementations must be cheap
/// (no I/O, no waiting) and thread-safe.
class Observer {
public:
    virtual ~Observer() = default;
    /// A valid token request of `user` is about to meet the rate limits.
    virtual void token_requested(const std::string& user) = 0;
    /// A token was issued to `user` and its session recorded.
    virtual void token_issued(const std::string& user) = 0;
    /// A token request of `user` was refused with `reason` (rate limit, quota, limiter down).
    virtual void token_denied(const std::string& user, Error reason) = 0;
    /// The quota decision of a token request.
    virtual void quota_decision(metrics::DecisionMetrics::Quota result) = 0;
    /// A session of `user` ended (first end only), with `billable_ms` billable time.
    virtual void session_ended(const std::string& user, std::int64_t billable_ms) = 0;
    /// A call was put under server-side control: `relayed` by the SDP relay, else attached
    /// by the app (first attach only).
    virtual void call_recorded(bool relayed) { (void)relayed; }
};

}  // namespace voicegate::api
