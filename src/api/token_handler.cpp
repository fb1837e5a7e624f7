#include "api/token_handler.hpp"

#include <spdlog/spdlog.h>

#include "api/request_prologue.hpp"
#include "api/token_request.hpp"
#include "core/ids.hpp"
#include "http/response.hpp"

namespace voicegate::api {

namespace {

/// The answer to a client that closed its connection while its token was minted.
http::Response client_gone(const http::Request& req, const std::string& user) {
    // The client gave up while the upstream answered (a phone losing signal): reserve nothing
    // for a token nobody will receive. The secret expires upstream unused.
    spdlog::info(
        "token {}: client closed the connection before its token was ready; "
        "nothing recorded (user {})",
        req.request_id, user);
    http::Response gone;
    gone.action = http::Action::drop;
    gone.log_user = user;
    return gone;
}

}  // namespace

store::QuotaLimits quota_limits(const config::QuotaConfig& quota) {
    store::QuotaLimits limits;
    limits.concurrent = quota.concurrent;
    limits.sessions_per_day = quota.sessions_per_day;
    limits.minutes_per_day = quota.minutes_per_day;
    limits.reserve_ms = static_cast<std::int64_t>(quota.session_max_minutes) * 60'000;
    return limits;
}

TokenHandler::TokenHandler(TokenSettings settings, const auth::TokenVerifier* verifier,
                           const RatePolicy& rates, const QuotaDenials& quota_denials,
                           upstream::RealtimeApi& realtime, store::SessionStore& sessions,
                           const Clock& clock, Observer* observer)
    : settings_(std::move(settings)),
      verifier_(verifier),
      realtime_(realtime),
      issuer_(IssuerSettings{settings_.quota, settings_.dev}, rates, quota_denials, sessions, clock,
              observer) {}

boost::asio::awaitable<http::Response> TokenHandler::handle(http::Request& req) const {
    auto in = co_await read_request(verifier_, req, [this](const boost::json::object& body) {
        return parse_token_request(body, settings_.tokens);
    });
    if (!in) {
        co_return http::error_response(in.error(), settings_.dev);
    }
    TokenParams& params = in->params;
    params.user_id = acting_user(in->claims, params.user_id);
    const std::string& user = params.user_id;
    auto admission = co_await issuer_.admit(req, user);
    if (admission.refused) {
        co_return std::move(*admission.refused);
    }
    upstream::ClientSecretRequest up;
    up.ttl_seconds = settings_.tokens.ttl_s;
    up.session = build_upstream_session(params);
    up.request_id = req.request_id;
    auto secret = co_await realtime_.create_client_secret(up);
    if (!secret) {
        co_return issuer_.fail_for(secret.error(), user);  // the upstream client logged it
    }
    if (http::client_gone(req)) {
        co_return client_gone(req, user);
    }
    auto record = issuer_.new_session(req, params, secret->session_id);
    record.model = secret->model.empty() ? params.model : secret->model;
    record.voice = secret->voice;
    record.token_expires_at = secret->expires_at;
    // The store decides the quotas; on a refusal the secret minted before is dropped unused
    // (never logged or returned) and expires upstream on its own.
    auto refused = co_await issuer_.record(req, std::move(record), admission.limits);
    if (refused) {
        co_return std::move(*refused);
    }
    co_return issued(req, *secret, user, params.warnings, admission.limits);
}

http::Response TokenHandler::issued(const http::Request& req, const upstream::ClientSecret& secret,
                                    const std::string& user,
                                    const std::vector<std::string>& warnings,
                                    const RateVerdict& limits) const {
    issuer_.issued(user);
    spdlog::debug("token {}: issued {} for session {} (user {}, model {})", req.request_id,
                  redact_secret(secret.value), secret.session_id, user, secret.model);
    auto res = http::json_response(200, token_response_body(secret, warnings));
    res.set("Cache-Control", "no-store");
    limits.add_headers_to(res);
    res.log_user = user;
    // The token never reached the client, which therefore cannot end the session: end it now.
    res.on_undelivered = [this, session_id = secret.session_id, user,
                          request_id = req.request_id]() -> boost::asio::awaitable<void> {
        auto why = "token " + request_id + ": client closed before its token was delivered";
        co_await issuer_.release_undelivered(session_id, user, std::move(why));
    };
    return res;
}

}  // namespace voicegate::api
