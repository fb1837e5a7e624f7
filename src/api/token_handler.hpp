#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/observer.hpp"
#include "api/quota_denials.hpp"
#include "api/rate_policy.hpp"
#include "api/session_issuer.hpp"
#include "auth/token_verifier.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
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
    http::Response issued(const http::Request& req, const upstream::ClientSecret& secret,
                          const std::string& user, const std::vector<std::string>& warnings,
                          const RateVerdict& limits) const;

    TokenSettings settings_;
    const auth::TokenVerifier* verifier_;
    upstream::RealtimeApi& realtime_;
    SessionIssuer issuer_;  // the steps shared with the SDP relay
};

}  // namespace voicegate::api
