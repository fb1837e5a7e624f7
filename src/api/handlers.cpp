#include "api/handlers.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "api/token_request.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "http/response.hpp"
#include "web/static_files.hpp"

namespace voicegate::api {
namespace json = boost::json;

store::QuotaLimits quota_limits(const config::QuotaConfig& quota) {
    store::QuotaLimits limits;
    limits.concurrent = quota.concurrent;
    limits.sessions_per_day = quota.sessions_per_day;
    limits.minutes_per_day = quota.minutes_per_day;
    limits.reserve_ms = static_cast<std::int64_t>(quota.session_max_minutes) * 60'000;
    return limits;
}

TokenHandler::TokenHandler(const config::Config& config, const Gate& gate,
                           upstream::RealtimeApi& realtime, store::SessionStore& sessions,
                           const Clock& clock, Observer* observer)
    : config_(config),
      gate_(gate),
      realtime_(realtime),
      sessions_(sessions),
      clock_(clock),
      observer_(observer) {}

boost::asio::awaitable<http::Response> TokenHandler::deny(const http::Request& req,
                                                          const Failure& failure,
                                                          const std::string& user) const {
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
    auto res = http::error_response(failure, config_.server.dev);
    res.log_user = user;
    co_return res;
}

boost::asio::awaitable<http::Response> TokenHandler::handle(http::Request& req) const {
    const bool dev = config_.server.dev;
    auto claims = co_await gate_.authenticate(req);
    if (!claims) {
        co_return http::error_response(claims.error(), dev);
    }
    auto body = http::parse_json_object(req);
    if (!body) {
        co_return http::error_response(body.error(), dev);
    }
    auto params = parse_token_request(*body, config_.tokens);
    if (!params) {
        co_return http::error_response(params.error(), dev);
    }
    if (*claims) {
        // With auth on, the user is the verified subject; a userId in the body is ignored.
        params->user_id = (*claims)->sub;
    }
    if (observer_ != nullptr) {
        observer_->token_requested(params->user_id);
    }
    std::vector<std::pair<std::string, std::string>> limit_headers;
    auto allowed = co_await gate_.limit_token(params->user_id, req.client_ip, limit_headers);
    if (!allowed) {
        auto res = co_await deny(req, allowed.error(), params->user_id);
        for (auto& h : limit_headers) {
            res.headers.push_back(std::move(h));
        }
        co_return res;
    }
    if (auto refused = gate_.recent_quota_denial(params->user_id)) {
        // Refused by the store moments ago: do not mint a secret that would be thrown away.
        const Failure failure = std::move(*refused);
        if (observer_ != nullptr) {
            observer_->quota_decision(metrics::DecisionMetrics::Quota::cached);
        }
        auto res = co_await deny(req, failure, params->user_id);
        for (auto& h : limit_headers) {
            res.headers.push_back(std::move(h));
        }
        co_return res;
    }
    if (clock_.now_ms() < store_down_until_ms_.load(std::memory_order_relaxed) &&
        !sessions_.ready()) {
        // The store could not record a session a moment ago and still says it is not ready: do
        // not mint a secret that could not be accounted for either; the client retries after a
        // second.
        auto failure = fail(Error::store_unavailable, {}, "the store failed moments ago");
        failure.retry_after_s = 1;
        auto res = http::error_response(failure, dev);
        res.log_user = params->user_id;
        co_return res;
    }
    upstream::ClientSecretRequest up;
    up.ttl_seconds = config_.tokens.ttl_s;
    up.session = build_upstream_session(*params);
    up.request_id = req.request_id;
    auto secret = co_await realtime_.create_client_secret(up);
    if (!secret) {
        // The upstream client already logged the failure with both request ids.
        auto res = http::error_response(secret.error(), dev);
        res.log_user = params->user_id;
        co_return res;
    }
    if (http::client_gone(req)) {
        // The client gave up while the upstream answered (a phone losing signal): reserve
        // nothing for a token nobody will receive. The secret expires upstream unused.
        spdlog::info(
            "token {}: client closed the connection before its token was ready; "
            "nothing recorded (user {})",
            req.request_id, params->user_id);
        http::Response gone;
        gone.action = http::Action::drop;
        gone.log_user = params->user_id;
        co_return gone;
    }
    store::SessionRecord rec;
    rec.session_id = secret->session_id;
    rec.user_id = params->user_id;
    rec.model = secret->model.empty() ? params->model : secret->model;
    rec.voice = secret->voice;
    rec.profile = params->profile;
    rec.issued_at_ms = clock_.now_ms();
    rec.token_expires_at = secret->expires_at;
    rec.client_ip = req.client_ip;
    if (auto ua = req.header("user-agent")) {
        rec.user_agent = std::string(utf8_prefix(*ua, 256));
    }
    rec.quota = quota_limits(config_.quota);
    auto saved = co_await sessions_.create_session(std::move(rec));
    if (!saved && saved.error().code == Error::quota_exhausted) {
        // The store decided, atomically with every other instance. The secret minted above is
        // dropped unused (never logged or returned); it expires upstream on its own.
        const Failure failure = saved.error();
        if (observer_ != nullptr) {
            observer_->quota_decision(metrics::DecisionMetrics::quota_reason(failure));
        }
        gate_.note_quota_denial(params->user_id, failure);
        auto res = co_await deny(req, failure, params->user_id);
        for (auto& h : limit_headers) {
            res.headers.push_back(std::move(h));
        }
        co_return res;
    }
    if (!saved) {
        // Never hand out a token the service cannot account for.
        if (saved.error().code == Error::store_unavailable) {
            store_down_until_ms_.store(clock_.now_ms() + 1'000, std::memory_order_relaxed);
        }
        if (auto held_back = store_errors_.admit()) {
            spdlog::error(
                "token {}: session {} not recorded: {} ({} similar failure(s) since the "
                "last report)",
                req.request_id, secret->session_id, saved.error().details, *held_back);
        }
        auto res = http::error_response(saved.error(), dev);
        res.log_user = params->user_id;
        co_return res;
    }
    if (store_down_until_ms_.load(std::memory_order_relaxed) != 0) {
        store_down_until_ms_.store(0, std::memory_order_relaxed);  // the store works again
    }
    if (observer_ != nullptr) {
        observer_->quota_decision(metrics::DecisionMetrics::Quota::allowed);
        observer_->token_issued(params->user_id);
    }
    spdlog::debug("token {}: issued {} for session {} (user {}, model {})", req.request_id,
                  redact_secret(secret->value), secret->session_id, params->user_id, secret->model);
    auto res = http::json_response(200, token_response_body(*secret, params->warnings));
    res.set("Cache-Control", "no-store");
    for (auto& h : limit_headers) {
        res.headers.push_back(std::move(h));
    }
    res.log_user = params->user_id;
    res.on_undelivered = [this, session_id = secret->session_id, user = params->user_id,
                          request_id = req.request_id]() -> boost::asio::awaitable<void> {
        co_await release_undelivered(session_id, user, request_id);
    };
    co_return res;
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
    gate_.forget_quota_denial(user);
    if (observer_ != nullptr && !outcome->already_ended) {
        observer_->session_ended(user, 0);
    }
    spdlog::info(
        "token {}: client closed before its token was delivered; session {} ended "
        "as undelivered (user {})",
        request_id, session_id, user);
}

EndHandler::EndHandler(const config::Config& config, const Gate& gate,
                       store::SessionStore& sessions, const Clock& clock, Observer* observer)
    : config_(config), gate_(gate), sessions_(sessions), clock_(clock), observer_(observer) {}

boost::asio::awaitable<http::Response> EndHandler::handle(http::Request& req) const {
    const bool dev = config_.server.dev;
    auto claims = co_await gate_.authenticate(req);
    if (!claims) {
        co_return http::error_response(claims.error(), dev);
    }
    auto body = http::parse_json_object(req);
    if (!body) {
        co_return http::error_response(body.error(), dev);
    }
    auto params = parse_end_request(*body);
    if (!params) {
        co_return http::error_response(params.error(), dev);
    }
    store::EndRequest end;
    end.session_id = params->session_id;
    end.reported_duration_s = params->duration_s;
    end.message_count = params->message_count;
    end.ended_by = params->ended_by;
    end.ended_at_ms = clock_.now_ms();
    end.client_ip = req.client_ip;
    if (*claims) {
        // Only the session's owner may end it (403 otherwise).
        end.check_owner = true;
        end.caller_user_id = (*claims)->sub;
    }
    auto outcome = co_await sessions_.end_session(std::move(end));
    if (!outcome) {
        co_return http::error_response(outcome.error(), dev);
    }
    const auto& row = outcome->row;
    if (!outcome->already_ended) {
        // A slot or some minutes may have come free: let the store decide the user's next token.
        gate_.forget_quota_denial(row.issued.user_id);
        if (observer_ != nullptr) {
            observer_->session_ended(row.issued.user_id,
                                     store::billable_ms(row.reported_duration_s.value_or(0),
                                                        row.observed_duration_s.value_or(0)));
        }
    }
    json::object data;
    data["sessionId"] = row.issued.session_id;
    data["duration"] = duration_json(row.reported_duration_s.value_or(0));
    data["messageCount"] = row.message_count.value_or(0);
    data["endedBy"] = row.ended_by.value_or("user");
    json::object out;
    out["success"] = true;
    out["message"] = outcome->already_ended ? "Session was already ended; nothing changed"
                                            : "Session ended and logged successfully";
    out["sessionData"] = std::move(data);
    if (outcome->already_ended) {
        out["alreadyEnded"] = true;
    }
    auto res = http::json_response(200, out);
    res.log_user = row.issued.user_id;
    co_return res;
}

http::Response options_response(const config::Config& config) {
    json::object out;
    out["success"] = true;
    json::array models;
    for (const auto& m : config.tokens.models) {
        models.emplace_back(m);
    }
    out["models"] = std::move(models);
    out["defaultModel"] = config.tokens.default_model;
    json::array voices;
    for (const auto& v : config.tokens.voices) {
        voices.emplace_back(v);
    }
    out["voices"] = std::move(voices);
    out["defaultVoice"] = "alloy";
    json::object aliases;
    for (const auto& [from, to] : config.tokens.aliases) {
        aliases[from] = to;
    }
    out["aliases"] = std::move(aliases);
    out["maxInstructionsBytes"] = config.tokens.max_instructions_bytes;
    out["tokenTtl"] = config.tokens.ttl_s;
    json::array profiles;
    for (const auto& p : config.tokens.profiles) {
        json::array locked;
        for (const auto& [k, v] : p.fields) {
            locked.emplace_back(k);
        }
        json::array overridable;
        for (const auto& o : p.allow_override) {
            overridable.emplace_back(o);
        }
        // Names and shape only: a profile's instructions and tools stay on the server.
        profiles.emplace_back(json::object{{"name", p.name},
                                           {"description", p.description},
                                           {"fields", std::move(locked)},
                                           {"allowOverride", std::move(overridable)}});
    }
    out["profiles"] = std::move(profiles);
    out["emulator"] = config.uses_emulator();
    out["realtimeCallsUrl"] = realtime_calls_url(config);
    return http::json_response(200, out);
}

std::string realtime_calls_url(const config::Config& config) {
    if (config.uses_emulator()) {
        return "/v1/realtime/calls";
    }
    std::string base = config.upstream.base_url;
    while (!base.empty() && base.back() == '/') {
        base.pop_back();
    }
    return base + "/realtime/calls";
}

http::Response health_response() {
    return http::json_response(200, json::object{{"success", true}, {"status", "ok"}});
}

http::Response ready_response(const store::SessionStore& sessions) {
    if (!sessions.ready()) {
        auto res = http::json_response(503, json::object{{"success", false},
                                                         {"error", "Storage is not ready."},
                                                         {"code", "store_unavailable"}});
        res.set("Retry-After", "1");
        return res;
    }
    return http::json_response(200, json::object{{"success", true}, {"status", "ready"}});
}

namespace {

/// The asset at `path`, else the index.html of the directory `path` names ("/", "/dashboard",
/// "/dashboard/"), else nullptr.
const web::Asset* find_page(std::string_view path) {
    if (const auto* asset = web::find_asset(path)) {
        return asset;
    }
    std::string index(path);
    if (index.empty() || index.back() != '/') {
        index += '/';
    }
    index += "index.html";
    return web::find_asset(index);
}

/// `scheme://host[:port]` of an http(s) URL; empty if it is not one or is OpenAI's (already
/// allowed) or holds characters that do not belong in a CSP source.
std::string extra_connect_origin(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos ||
        (url.substr(0, scheme_end) != "https" && url.substr(0, scheme_end) != "http")) {
        return {};
    }
    const auto host_end = url.find_first_of("/?#", scheme_end + 3);
    std::string origin(url.substr(0, host_end));
    if (origin == "https://api.openai.com" ||
        origin.find_first_of(" ;,'\"\r\n") != std::string::npos) {
        return {};
    }
    return origin;
}

}  // namespace

http::Response static_response(const http::Request& req, bool dev, std::string_view upstream_base) {
    const auto* asset = find_page(req.path);
    if (asset == nullptr) {
        return http::error_response(fail(Error::not_found), dev);
    }
    http::Response res;
    res.content_type = std::string(asset->content_type);
    res.body = std::string(asset->body);
    res.set("Cache-Control", "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    if (asset->content_type.rfind("text/html", 0) == 0) {
        const std::string extra = extra_connect_origin(upstream_base);
        res.set("Content-Security-Policy",
                "default-src 'self'; connect-src 'self' https://api.openai.com" +
                    (extra.empty() ? std::string() : " " + extra) +
                    "; media-src 'self' blob:; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; frame-ancestors 'none'");
        res.set("Referrer-Policy", "no-referrer");
    }
    return res;
}

}  // namespace voicegate::api
