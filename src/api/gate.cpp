#include "api/gate.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/file.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"

namespace voicegate::api {

namespace {

// The limiter could not decide (Redis unreachable, failing closed): 503 with Retry-After.
Failure limiter_unavailable(const Failure& cause) {
    Failure f = fail(Error::store_unavailable, "Rate limiting is unavailable; try again later.",
                     cause.details);
    f.retry_after_s = 1;
    return f;
}

std::string read_text_file(const std::string& path) {
    auto text = read_file(path);
    if (!text) {
        throw std::runtime_error("JWT_JWKS_FILE: cannot read " + path);
    }
    return std::move(*text);
}

}  // namespace

Gate::Gate(const config::Config& config, const Clock& clock, ratelimit::AsyncLimiter& limiter,
           JwksFetcher fetch_jwks, metrics::DecisionMetrics* metrics)
    : config_(config),
      clock_(clock),
      limiter_(limiter),
      fetch_jwks_(std::move(fetch_jwks)),
      metrics_(metrics),
      rate_user_(config.limits.rate_user),
      rate_ip_(config.limits.rate_ip),
      admin_failures_(std::make_unique<ratelimit::MemoryLimiter>(
          clock, ratelimit::MemoryLimiterOptions{.shards = 4, .max_keys_per_shard = 4096})) {
    route_rates_ = config.limits.route_rates;
    trusted_ = config.limits.trusted_proxies;
    ip_rules_ = config.limits.ip_rules;
    if (config.auth.mode != "jwt") {
        return;
    }
    const bool keyset = !config.auth.jwks_file.empty() || !config.auth.jwks_url.empty();
    if (keyset) {
        jwks_ = std::make_unique<auth::JwksCache>(30'000);
        if (!config.auth.jwks_file.empty()) {
            auto keys = auth::parse_jwks(read_text_file(config.auth.jwks_file));
            if (!keys) {
                throw std::runtime_error("JWT_JWKS_FILE " + config.auth.jwks_file + ": " +
                                         keys.error().details);
            }
            for (const auto& why : keys->skipped) {
                spdlog::warn("JWKS: skipped a key: {}", why);
            }
            jwks_->update(std::move(*keys));
        }
    }
    auth::JwtConfig jc;
    jc.hs256_secret = config.auth.jwt_secret;
    jc.issuer = config.auth.issuer;
    jc.audiences = config.auth.audiences;
    auto verifier = auth::JwtVerifier::create(jc, jwks_.get(), clock);
    if (!verifier) {
        throw std::runtime_error("JWT: " + std::string(verifier.error().public_message()) + " " +
                                 verifier.error().details);
    }
    verifier_.emplace(std::move(*verifier));
}

boost::asio::awaitable<void> Gate::prime() {
    if (jwks_ && !config_.auth.jwks_url.empty() && jwks_->should_refresh(clock_.now_ms())) {
        co_await refresh_jwks();
    }
}

boost::asio::awaitable<void> Gate::refresh_jwks() const {
    if (!fetch_jwks_) {
        co_return;
    }
    auto body = co_await fetch_jwks_(config_.auth.jwks_url);
    const auto where = redact_url_userinfo(config_.auth.jwks_url);
    if (!body) {
        spdlog::warn("JWKS: fetching {} failed: {}", where, body.error().details);
        co_return;
    }
    auto keys = auth::parse_jwks(*body);
    if (!keys) {
        spdlog::warn("JWKS: {} is not a usable key set: {}", where, keys.error().details);
        co_return;
    }
    spdlog::info("JWKS: loaded {} key(s) from {}", keys->keys.size(), where);
    jwks_->update(std::move(*keys));
}

Result<void> Gate::admit(http::Request& req) const {
    if (!trusted_.empty()) {
        std::vector<std::string_view> xff;
        for (const auto& [k, v] : req.headers) {
            if (k == "x-forwarded-for") {
                xff.emplace_back(v);
            }
        }
        if (!xff.empty()) {
            req.client_ip = net::resolve_client_ip(req.client_ip, xff, trusted_);
        }
    }
    if (!ip_rules_.allowed(std::string_view(req.client_ip))) {
        return fail(Error::ip_denied, {}, "address " + req.client_ip + " is denied");
    }
    return {};
}

boost::asio::awaitable<Result<std::optional<auth::Claims>>> Gate::authenticate(
    const http::Request& req) const {
    if (!verifier_) {
        co_return std::optional<auth::Claims>{};
    }
    const auto header = req.header("authorization").value_or("");
    auto v = verifier_->verify_authorization(header);
    if (!v.claims && v.refresh_may_help() && jwks_ && !config_.auth.jwks_url.empty() &&
        jwks_->should_refresh(clock_.now_ms())) {
        co_await refresh_jwks();
        v = verifier_->verify_authorization(header);
    }
    if (!v.claims) {
        co_return v.claims.error();
    }
    co_return std::optional<auth::Claims>{std::move(*v.claims)};
}

boost::asio::awaitable<Result<bool>> Gate::is_admin(const http::Request& req) const {
    const auto header = req.header("authorization").value_or("");
    const std::string key = "admin-fail:" + net::rate_limit_key(req.client_ip);
    // An address that spent its failures is refused before any comparison, the right token
    // included: otherwise 429 vs 200 would still tell a guesser when it hit.
    if (!header.empty()) {
        const auto state = admin_failures_->peek(key, kAdminFailureRate);
        if (!state.allowed) {
            Failure f =
                fail(Error::rate_limited, "Too many failed admin sign-ins; try again later.");
            f.retry_after_s = static_cast<int>(ratelimit::retry_after_seconds(state));
            co_return f;
        }
    }
    bool admin = false;
    if (!config_.auth.admin_token.empty() && header.size() > 7 &&
        (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ") &&
        constant_time_equals(header.substr(7), config_.auth.admin_token)) {
        admin = true;
    } else if (verifier_) {
        auto v = verifier_->verify_authorization(header);
        admin = v.claims && v.claims->role == "admin";
    }
    if (!admin && !header.empty()) {
        (void)admin_failures_->check(key, kAdminFailureRate);
    }
    co_return admin;
}

boost::asio::awaitable<Result<void>> Gate::limit_token(
    const std::string& user, const std::string& ip,
    std::vector<std::pair<std::string, std::string>>& headers) const {
    // IP first: a request refused by the address limit does not also spend the user's allowance.
    std::vector<ratelimit::LimitCheck> checks;
    checks.push_back({"ip:" + net::rate_limit_key(ip), rate_ip_});
    checks.push_back({"user:" + user, rate_user_});
    using M = metrics::DecisionMetrics;
    auto decided = co_await limiter_.check(std::move(checks));
    if (!decided) {
        count(M::Check::token, M::Outcome::limiter_unavailable);
        co_return limiter_unavailable(decided.error());
    }
    static constexpr std::array<std::string_view, 2> kPolicies{"ip", "user"};
    std::vector<ratelimit::NamedDecision> named;
    const ratelimit::Decision* refused = nullptr;
    std::string_view refused_by;
    for (std::size_t i = 0; i < decided->size() && i < kPolicies.size(); ++i) {
        const auto& d = (*decided)[i];
        if (d.limit > 0) {  // limit 0: not enforced (a shared store failing open)
            named.push_back({kPolicies[i], d});
        }
        if (!d.allowed && refused == nullptr) {
            refused = &d;
            refused_by = kPolicies[i];
        }
    }
    // The user's policy first in the headers, as before the limiter went asynchronous.
    std::reverse(named.begin(), named.end());
    if (!named.empty()) {
        auto h = ratelimit::render_headers(named);
        headers.emplace_back("RateLimit-Policy", h.policy);
        headers.emplace_back("RateLimit", h.ratelimit);
    }
    count(M::Check::token, refused != nullptr ? M::Outcome::rate_limited : M::Outcome::allowed);
    if (refused != nullptr) {
        const bool by_user = refused_by == "user";
        Failure f = fail(Error::rate_limited,
                         by_user ? "Too many token requests for this user; slow down."
                                 : "Too many token requests from this address; slow down.");
        f.retry_after_s = static_cast<int>(ratelimit::retry_after_seconds(*refused));
        f.details = by_user ? "user limit " + config_.limits.rate_user_text
                            : "ip limit " + config_.limits.rate_ip_text;
        co_return f;
    }
    co_return Result<void>{};
}

const ratelimit::Rate* Gate::route_rate(std::string_view path) const {
    const auto it = std::find_if(route_rates_.begin(), route_rates_.end(),
                                 [&](const auto& r) { return r.first == path; });
    return it == route_rates_.end() ? nullptr : &it->second;
}

boost::asio::awaitable<Result<void>> Gate::limit_route(
    const std::string& path, const ratelimit::Rate& rate, const std::string& ip,
    std::vector<std::pair<std::string, std::string>>& headers) const {
    std::vector<ratelimit::LimitCheck> checks;
    checks.push_back({"route:" + path + ":ip:" + net::rate_limit_key(ip), rate});
    using M = metrics::DecisionMetrics;
    auto decided = co_await limiter_.check(std::move(checks));
    if (!decided) {
        count(M::Check::route, M::Outcome::limiter_unavailable);
        co_return limiter_unavailable(decided.error());
    }
    if (decided->empty()) {
        count(M::Check::route, M::Outcome::allowed);
        co_return Result<void>{};
    }
    const auto& d = decided->front();
    count(M::Check::route, d.allowed ? M::Outcome::allowed : M::Outcome::rate_limited);
    if (d.limit > 0) {  // limit 0: not enforced (a shared store failing open)
        std::vector<ratelimit::NamedDecision> named{{"route", d}};
        auto h = ratelimit::render_headers(named);
        headers.emplace_back("RateLimit-Policy", h.policy);
        headers.emplace_back("RateLimit", h.ratelimit);
    }
    if (!d.allowed) {
        Failure f = fail(Error::rate_limited, "Too many requests from this address; slow down.");
        f.retry_after_s = static_cast<int>(ratelimit::retry_after_seconds(d));
        f.details = "route limit " + path;
        co_return f;
    }
    co_return Result<void>{};
}

std::optional<Failure> Gate::recent_quota_denial(const std::string& user) const {
    const std::int64_t now = clock_.now_ms();
    std::lock_guard lock(quota_mutex_);
    const auto it = quota_denials_.find(user);
    if (it == quota_denials_.end()) {
        return std::nullopt;
    }
    if (it->second.until_ms <= now) {
        quota_denials_.erase(it);
        return std::nullopt;
    }
    Failure f = it->second.failure;
    f.retry_after_s = static_cast<int>(std::max<std::int64_t>(0, f.resets_at - now / 1000));
    return f;
}

void Gate::note_quota_denial(const std::string& user, const Failure& f) const {
    // Short on purpose: another instance may end one of the user's sessions meanwhile, and only
    // the store knows.
    constexpr std::int64_t kRememberMs = 5'000;
    constexpr std::size_t kMaxUsers = 100'000;
    const std::int64_t now = clock_.now_ms();
    const std::int64_t until = std::min(now + kRememberMs, f.resets_at * 1000);
    if (until <= now) {
        return;
    }
    std::lock_guard lock(quota_mutex_);
    if (quota_denials_.size() >= kMaxUsers) {
        // Bounded memory: drop what has run out, and everything if that is not enough.
        std::erase_if(quota_denials_, [now](const auto& kv) { return kv.second.until_ms <= now; });
        if (quota_denials_.size() >= kMaxUsers) {
            quota_denials_.clear();
        }
    }
    quota_denials_[user] = QuotaDenial{until, f};
}

void Gate::forget_quota_denial(const std::string& user) const {
    std::lock_guard lock(quota_mutex_);
    quota_denials_.erase(user);
}

}  // namespace voicegate::api
