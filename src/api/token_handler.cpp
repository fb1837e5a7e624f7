#include "api/token_handler.hpp"

#include <spdlog/spdlog.h>

#include "api/request_prologue.hpp"
#include "api/token_request.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "http/response.hpp"

namespace voicegate::api {

namespace {

/// The session row of a token just minted for `params` at `now_ms`. Pure.
store::SessionRecord session_record(const http::Request& req, const TokenParams& params,
                                    const upstream::ClientSecret& secret, std::int64_t now_ms,
                                    const store::QuotaLimits& quota) {
    store::SessionRecord rec;
    rec.session_id = secret.session_id;
    rec.user_id = params.user_id;
    rec.model = secret.model.empty() ? params.model : secret.model;
    rec.voice = secret.voice;
    rec.profile = params.profile;
    rec.issued_at_ms = now_ms;
    rec.token_expires_at = secret.expires_at;
    rec.client_ip = req.client_ip;
    if (auto ua = req.header("user-agent")) {
        rec.user_agent = std::string(utf8_prefix(*ua, 256));
    }
    rec.quota = quota;
    return rec;
}

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
      rates_(rates),
      quota_denials_(quota_denials),
      realtime_(realtime),
      sessions_(sessions),
      clock_(clock),
      observer_(observer) {}

boost::asio::awaitable<http::Response> TokenHandler::handle(http::Request& req) const {
    auto in = co_await read_request(verifier_, req, [this](const boost::json::object& body) {
        return parse_token_request(body, settings_.tokens);
    });
    if (!in) {
        co_return http::error_response(in.error(), settings_.dev);
    }
    TokenParams& params = in->params;
    if (in->claims) {
        // With auth on, the user is the verified subject; a userId in the body is ignored.
        params.user_id = in->claims->sub;
    }
    const std::string& user = params.user_id;
    if (observer_ != nullptr) {
        observer_->token_requested(user);
    }
    const RateVerdict limits = co_await rates_.limit_token(user, req.client_ip);
    if (!limits.allowed) {
        co_return deny(req, limits.allowed.error(), user, limits);
    }
    if (auto refused = quota_denials_.recent(user)) {
        // Refused by the store moments ago: do not mint a secret that would be thrown away.
        if (observer_ != nullptr) {
            observer_->quota_decision(metrics::DecisionMetrics::Quota::cached);
        }
        co_return deny(req, *refused, user, limits);
    }
    if (store_recently_down()) {
        // The store could not record a session a moment ago and still says it is not ready: do
        // not mint a secret that could not be accounted for either; the client retries after a
        // second.
        auto failure = fail(Error::store_unavailable, {}, "the store failed moments ago");
        failure.retry_after_s = 1;
        co_return fail_for(failure, user);
    }
    upstream::ClientSecretRequest up;
    up.ttl_seconds = settings_.tokens.ttl_s;
    up.session = build_upstream_session(params);
    up.request_id = req.request_id;
    auto secret = co_await realtime_.create_client_secret(up);
    if (!secret) {
        co_return fail_for(secret.error(), user);  // the upstream client logged it already
    }
    if (http::client_gone(req)) {
        co_return client_gone(req, user);
    }
    auto saved = co_await sessions_.create_session(
        session_record(req, params, *secret, clock_.now_ms(), settings_.quota));
    if (!saved) {
        co_return not_recorded(req, saved.error(), secret->session_id, user, limits);
    }
    if (store_down_until_ms_.load(std::memory_order_relaxed) != 0) {
        store_down_until_ms_.store(0, std::memory_order_relaxed);  // the store works again
    }
    co_return issued(req, *secret, user, params.warnings, limits);
}

http::Response TokenHandler::deny(const http::Request& req, const Failure& failure,
                                  const std::string& user, const RateVerdict& limits) const {
    if (observer_ != nullptr) {
        observer_->token_denied(user, failure.code);
    }
    // Every refusal is counted and a bounded sample of them audited (SPEC §5, store/audit.hpp):
    // buffered in memory, so that a flood of refusals costs no write per request.
    store::Denial denial;
    denial.at_ms = clock_.now_ms();
    denial.user_id = user;
    denial.client_ip = req.client_ip;
    denial.reason = std::string(error_info(failure.code).code);
    sessions_.record_denial(denial);
    auto res = fail_for(failure, user);
    limits.add_headers_to(res);
    return res;
}

http::Response TokenHandler::fail_for(const Failure& failure, const std::string& user) const {
    auto res = http::error_response(failure, settings_.dev);
    res.log_user = user;
    return res;
}

bool TokenHandler::store_recently_down() const {
    return clock_.now_ms() < store_down_until_ms_.load(std::memory_order_relaxed) &&
           !sessions_.ready();
}

http::Response TokenHandler::not_recorded(const http::Request& req, const Failure& failure,
                                          const std::string& session_id, const std::string& user,
                                          const RateVerdict& limits) const {
    if (failure.code == Error::quota_exhausted) {
        // The store decided, atomically with every other instance. The secret minted before is
        // dropped unused (never logged or returned); it expires upstream on its own.
        if (observer_ != nullptr) {
            observer_->quota_decision(metrics::DecisionMetrics::quota_reason(failure));
        }
        quota_denials_.note(user, failure);
        return deny(req, failure, user, limits);
    }
    // Never hand out a token the service cannot account for.
    if (failure.code == Error::store_unavailable) {
        store_down_until_ms_.store(clock_.now_ms() + 1'000, std::memory_order_relaxed);
    }
    if (auto held_back = store_errors_.admit()) {
        spdlog::error(
            "token {}: session {} not recorded: {} ({} similar failure(s) since the "
            "last report)",
            req.request_id, session_id, failure.details, *held_back);
    }
    return fail_for(failure, user);
}

http::Response TokenHandler::issued(const http::Request& req, const upstream::ClientSecret& secret,
                                    const std::string& user,
                                    const std::vector<std::string>& warnings,
                                    const RateVerdict& limits) const {
    if (observer_ != nullptr) {
        observer_->quota_decision(metrics::DecisionMetrics::Quota::allowed);
        observer_->token_issued(user);
    }
    spdlog::debug("token {}: issued {} for session {} (user {}, model {})", req.request_id,
                  redact_secret(secret.value), secret.session_id, user, secret.model);
    auto res = http::json_response(200, token_response_body(secret, warnings));
    res.set("Cache-Control", "no-store");
    limits.add_headers_to(res);
    res.log_user = user;
    res.on_undelivered = [this, session_id = secret.session_id, user,
                          request_id = req.request_id]() -> boost::asio::awaitable<void> {
        co_await release_undelivered(session_id, user, request_id);
    };
    return res;
}

boost::asio::awaitable<void> TokenHandler::release_undelivered(std::string session_id,
                                                               std::string user,
                                                               std::string request_id) const {
    // The token never reached the client, which therefore cannot end the session: end it now
    // with nothing used, so it holds no concurrent slot and charges no minutes.
    store::EndRequest end;
    end.session_id = session_id;
    end.reported_duration_s = 0;
    end.message_count = 0;
    end.ended_by = "undelivered";
    end.ended_at_ms = clock_.now_ms();
    auto outcome = co_await sessions_.end_session(std::move(end));
    if (!outcome) {
        spdlog::warn("token {}: session {} was not delivered and could not be released: {}",
                     request_id, session_id, outcome.error().details);
        co_return;
    }
    quota_denials_.forget(user);
    if (observer_ != nullptr && !outcome->already_ended) {
        observer_->session_ended(user, 0);
    }
    spdlog::info(
        "token {}: client closed before its token was delivered; session {} ended "
        "as undelivered (user {})",
        request_id, session_id, user);
}

}  // namespace voicegate::api
