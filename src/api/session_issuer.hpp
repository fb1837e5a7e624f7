#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/observer.hpp"
#include "api/quota_denials.hpp"
#include "api/rate_policy.hpp"
#include "api/token_request.hpp"
#include "core/clock.hpp"
#include "core/log_throttle.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

/// What a SessionIssuer is configured with.
struct IssuerSettings {
    store::QuotaLimits quota;  // handed to the store with every session (quota_limits)
    bool dev = false;          // VOICEGATE_DEV: error bodies carry details
};

/// What admit() decided: go on (the rate headers go on whatever answer follows), or the
/// refusal to send.
struct Admission {
    RateVerdict limits;
    std::optional<http::Response> refused;
};

/// The steps every route that issues a session shares (/token, SPEC §3.1; the relay, §7.1):
/// the user and address limits, the quota memory, the store's quota decision when the session
/// is recorded, the refusal answers with their audit, and the release of a session whose
/// answer never reached the client. One copy, used by each issuing handler.
/// Thread safety: safe from every event loop (its store-down mark is atomic).
class SessionIssuer {
public:
    /// Every reference is borrowed and must outlive the issuer; `observer` may be null.
    SessionIssuer(IssuerSettings settings, const RatePolicy& rates,
                  const QuotaDenials& quota_denials, store::SessionStore& sessions,
                  const Clock& clock, Observer* observer);

    /// Before anything is spent upstream: tells the observer, counts the request against the
    /// address and user rates, then refuses again a user the store refused moments ago, and
    /// refuses for a second after the store failed to record a session.
    boost::asio::awaitable<Admission> admit(const http::Request& req, std::string user) const;

    /// A session row for `params` issued now to `session_id` (model and voice as requested,
    /// the quota reservation of the settings, the client's address and user agent). Pure but
    /// for the clock.
    store::SessionRecord new_session(const http::Request& req, const TokenParams& params,
                                     std::string session_id) const;

    /// Records `record` (the store decides the quotas, atomically). nullopt: recorded.
    /// Otherwise the answer: 403 quota_exhausted (remembered, audited) or 503.
    boost::asio::awaitable<std::optional<http::Response>> record(const http::Request& req,
                                                                 store::SessionRecord record,
                                                                 const RateVerdict& limits) const;

    /// The error answer for `failure`, logged as `user`.
    http::Response fail_for(const Failure& failure, const std::string& user) const;

    /// Tells the observer a session was issued to `user`.
    void issued(const std::string& user) const;

    /// Ends a session whose client never got what was issued for it (its answer was not
    /// delivered, or the upstream failed after the session was recorded), so it cannot end it
    /// itself: with nothing used and `ended_by` "undelivered", so it holds no slot and charges
    /// no minutes. `why` starts the log line ("token req_...: client closed before ...").
    boost::asio::awaitable<void> release_undelivered(std::string session_id, std::string user,
                                                     std::string why) const;

    /// The observer (may be null).
    Observer* observer() const { return observer_; }

    /// The clock sessions are issued by.
    const Clock& clock() const { return clock_; }
    /// Whether error bodies carry details.
    bool dev() const { return settings_.dev; }

private:
    http::Response deny(const http::Request& req, const Failure& failure, const std::string& user,
                        const RateVerdict& limits) const;
    bool store_recently_down() const;
    http::Response not_recorded(const http::Request& req, const Failure& failure,
                                const std::string& session_id, const std::string& user,
                                const RateVerdict& limits) const;

    IssuerSettings settings_;
    const RatePolicy& rates_;
    const QuotaDenials& quota_denials_;
    store::SessionStore& sessions_;
    const Clock& clock_;
    Observer* observer_;
    // After the store failed to record a session, requests are refused with 503 for a second
    // without spending upstream calls that could not be accounted for.
    mutable std::atomic<std::int64_t> store_down_until_ms_{0};
    mutable LogThrottle store_errors_{std::chrono::seconds(1)};
};

}  // namespace voicegate::api
