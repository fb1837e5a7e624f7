#include "api/calls_handler.hpp"

#include <spdlog/spdlog.h>

#include "api/request_prologue.hpp"
#include "core/digest.hpp"
#include "core/ids.hpp"
#include "http/response.hpp"

namespace voicegate::api {

namespace {

constexpr std::size_t kSessionIdChars = 21;  // sess_ + 21 base62, as OpenAI's look

}  // namespace

std::string safety_key_from(const config::UpstreamConfig& upstream) {
    if (!upstream.safety_id_key.empty()) {
        return upstream.safety_id_key;
    }
    return hmac_sha256_hex(upstream.api_key, "voicegate OpenAI-Safety-Identifier key v1");
}

std::string safety_identifier(const std::string& key, const std::string& user_id) {
    return hmac_sha256_hex(key, user_id);
}

CallsHandler::CallsHandler(CallsSettings settings, const auth::TokenVerifier* verifier,
                           const RatePolicy& rates, const QuotaDenials& quota_denials,
                           upstream::RealtimeApi& realtime, store::SessionStore& sessions,
                           CallRecorder& recorder, const Clock& clock, Observer* observer)
    : settings_(std::move(settings)),
      verifier_(verifier),
      realtime_(realtime),
      recorder_(recorder),
      issuer_(IssuerSettings{settings_.quota, settings_.dev}, rates, quota_denials, sessions, clock,
              observer) {}

boost::asio::awaitable<http::Response> CallsHandler::handle(http::Request& req) const {
    auto claims = co_await authenticate(verifier_, req);
    if (!claims) {
        co_return http::error_response(claims.error(), settings_.dev);
    }
    auto in = parse_call_request(req, settings_.tokens);
    if (!in) {
        co_return http::error_response(in.error(), settings_.dev);
    }
    CallParams& call = *in;
    TokenParams& params = call.session;
    params.user_id = acting_user(*claims, params.user_id);
    const std::string& user = params.user_id;
    const bool other_media = allows_other_media(settings_.tokens, params.profile);
    if (auto offer = check_sdp_offer(call.sdp, other_media); !offer) {
        co_return issuer_.fail_for(offer.error(), user);
    }
    auto admission = co_await issuer_.admit(req, user);
    if (admission.refused) {
        co_return std::move(*admission.refused);
    }
    // The session is voicegate's own, recorded (quotas decided) before anything is created
    // upstream: a refused user costs no upstream call.
    const auto cap_ms = call_cap_ms(settings_.tokens, params.profile, settings_.quota.reserve_ms);
    auto record = issuer_.new_session(req, params, random_id("sess_", kSessionIdChars));
    record.quota.reserve_ms = cap_ms;
    record.token_expires_at = (record.issued_at_ms + cap_ms) / 1000;
    const store::AttachRequest at{record.session_id,   user,   {},
                                  record.issued_at_ms, cap_ms, req.client_ip};
    auto refused = co_await issuer_.record(req, std::move(record), admission.limits);
    if (refused) {
        co_return std::move(*refused);
    }
    auto answer = co_await connect(req, call, at);
    if (!answer) {
        auto res = issuer_.fail_for(answer.error(), user);
        admission.limits.add_headers_to(res);
        co_return res;
    }
    if (http::client_gone(req)) {
        auto why = "call " + req.request_id + ": client closed before its answer was ready";
        co_await abandon(at.session_id, user, answer->call_id, std::move(why));
        http::Response gone;
        gone.action = http::Action::drop;
        gone.log_user = user;
        co_return gone;
    }
    co_return relayed(req, *answer, call, at, admission.limits);
}

boost::asio::awaitable<Result<upstream::CallAnswer>> CallsHandler::connect(
    const http::Request& req, const CallParams& call, const store::AttachRequest& at) const {
    const auto& user = at.caller_user_id;
    upstream::CallRequest up;
    up.sdp = call.sdp;
    up.session = build_upstream_session(call.session);
    up.safety_identifier = safety_identifier(settings_.safety_key, user);
    up.request_id = req.request_id;
    auto answer = co_await realtime_.create_call(up);
    if (!answer) {
        // The upstream client logged it. The app gets no call: release what was reserved.
        auto why = "call " + req.request_id + ": the upstream failed";
        co_await issuer_.release_undelivered(at.session_id, user, std::move(why));
        co_return answer.error();
    }
    auto recorded = at;
    recorded.call_id = answer->call_id;
    auto saved = co_await recorder_.record_call(std::move(recorded));
    if (!saved) {
        // An unsupervised call must not run: end it, and answer as the store failed.
        spdlog::error("call {}: the call of session {} could not be recorded: {}", req.request_id,
                      at.session_id, saved.error().details);
        auto why = "call " + req.request_id + ": not recorded";
        co_await abandon(at.session_id, user, answer->call_id, std::move(why));
        co_return saved.error();
    }
    co_return answer;
}

boost::asio::awaitable<void> CallsHandler::abandon(std::string session_id, std::string user,
                                                   std::string call_id, std::string why) const {
    auto hung_up = co_await realtime_.hangup(std::move(call_id), std::string());
    if (!hung_up && hung_up.error().code != Error::call_gone) {
        spdlog::warn("{}: the upstream call of session {} could not be hung up: {}", why,
                     session_id, hung_up.error().details);
    }
    co_await issuer_.release_undelivered(std::move(session_id), std::move(user), std::move(why));
}

http::Response CallsHandler::relayed(const http::Request& req, const upstream::CallAnswer& answer,
                                     const CallParams& call, const store::AttachRequest& at,
                                     const RateVerdict& limits) const {
    const auto& user = at.caller_user_id;
    issuer_.issued(user);
    if (auto* observer = issuer_.observer(); observer != nullptr) {
        observer->call_recorded(true);
    }
    spdlog::debug("call {}: relayed for session {} (user {}, model {})", req.request_id,
                  at.session_id, user, call.session.model);
    http::Response res;
    if (call.json_form) {
        res = http::json_response(
            201,
            call_response_body(answer, at.session_id, (at.at_ms + at.cap_ms) / 1000, call.session));
    } else {
        res.status = 201;
        res.content_type = "application/sdp";
        res.body = answer.sdp;
    }
    res.set("X-Session-Id", at.session_id);
    res.set("Location", "/api/realtime/calls/" + at.session_id);
    res.set("Cache-Control", "no-store");
    limits.add_headers_to(res);
    res.log_user = user;
    // The app never got its answer, so it will never connect: end the call and the session.
    res.on_undelivered = [this, session_id = at.session_id, user, call_id = answer.call_id,
                          request_id = req.request_id]() -> boost::asio::awaitable<void> {
        auto why = "call " + request_id + ": client closed before its answer was delivered";
        co_await abandon(session_id, user, call_id, std::move(why));
    };
    return res;
}

}  // namespace voicegate::api
