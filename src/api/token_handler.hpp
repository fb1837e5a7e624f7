#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/observer.hpp"
#include "api/quota_denials.hpp"
#include "api/rate_policy.hpp"
#include "auth/token_verifier.hpp"
#include "core/clock.hpp"
#include "config/config.hpp"
#include "core/log_throttle.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"
#include "upstream/realtime_api.hpp"

namespace voicegate::api {

/// The store's quota limits for the configured quotas (SPEC §4). Pure.
store::QuotaLimits quota_limits(const config::QuotaConfig& quota);

/// What the token handler is configured with, and nothing else.
struct TokenSettings {
    config::TokenPolicy tokens;  // models, voices, profiles, TTL
    store::QuotaLimits quota;    // handed to the store with every session (quota_limits)
    bool dev = false;            // VOICEGATE_DEV: error bodies carry details
};

/// POST /api/realtime/token: validates the request, mints a client secret upstream, records
/// the session durably, and answers with the diary app's exact shape (SPEC §3.1).
/// Thread safety: immutable after construction; safe to call from every event loop.
class TokenHandler {
public:
    /// `verifier` null: authentication is off (the body's userId is the user). Every reference
    /// is borrowed; `observer` (may be null) is told every decision. All must outlive the
    /// handler.
    TokenHandler(TokenSettings settings, const auth::TokenVerifier* verifier,
                 const RatePolicy& rates, const QuotaDenials& quota_denials,
                 upstream::RealtimeApi& realtime, store::SessionStore& sessions, const Clock& clock,
                 Observer* observer = nullptr);
    /// Answers one token request.
    boost::asio::awaitable<http::Response> handle(http::Request& req) const;

private:
    boost::asio::awaitable<void> release_undelivered(std::string session_id, std::string user,
                                                     std::string request_id) const;
    http::Response deny(const http::Request& req, const Failure& failure, const std::string& user,
                        const RateVerdict& limits) const;
    http::Response fail_for(const Failure& failure, const std::string& user) const;
    bool store_recently_down() const;
    http::Response not_recorded(const http::Request& req, const Failure& failure,
                                const std::string& session_id, const std::string& user,
                                const RateVerdict& limits) const;
    http::Response issued(const http::Request& req, const upstream::ClientSecret& secret,
                          const std::string& user, const std::vector<std::string>& warnings,
                          const RateVerdict& limits) const;

    TokenSettings settings_;
    const auth::TokenVerifier* verifier_;
    const RatePolicy& rates_;
    const QuotaDenials& quota_denials_;
    upstream::RealtimeApi& realtime_;
    store::SessionStore& sessions_;
    const Clock& clock_;
    Observer* observer_;
    // After the store failed to record a session, token requests are refused with 503 for a
    // second without minting upstream secrets that could not be accounted for.
    mutable std::atomic<std::int64_t> store_down_until_ms_{0};
    mutable LogThrottle store_errors_{std::chrono::seconds(1)};
};

}  // namespace voicegate::api
