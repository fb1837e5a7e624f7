#include "api/gate.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/ids.hpp"

namespace voicegate::api {

namespace {

ratelimit::Rate must_rate(const std::string& text, const char* name) {
    auto r = ratelimit::parse_rate(text);
    if (!r) {
        throw std::runtime_error(std::string(name) + ": " + std::string(r.error().public_message()));
    }
    return *r;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("JWT_JWKS_FILE: cannot read " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

Gate::Gate(const config::Config& config, const Clock& clock, ratelimit::Limiter& limiter,
           JwksFetcher fetch_jwks)
    : config_(config),
      clock_(clock),
      limiter_(limiter),
      fetch_jwks_(std::move(fetch_jwks)),
      rate_user_(must_rate(config.limits.rate_user, "VOICEGATE_RATE_USER")),
      rate_ip_(must_rate(config.limits.rate_ip, "VOICEGATE_RATE_IP")) {
    auto trusted = net::CidrList::parse(config.limits.trusted_proxies);
    auto rules = net::IpRules::parse(config.limits.ip_allow, config.limits.ip_deny);
    if (!trusted || !rules) {
        throw std::runtime_error("IP lists: " +
                                 std::string(!trusted ? trusted.error().public_message()
                                                      : rules.error().public_message()));
    }
    trusted_ = std::move(*trusted);
    ip_rules_ = std::move(*rules);
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
    if (!body) {
        spdlog::warn("JWKS: fetching {} failed: {}", config_.auth.jwks_url, body.error().details);
        co_return;
    }
    auto keys = auth::parse_jwks(*body);
    if (!keys) {
        spdlog::warn("JWKS: {} is not a usable key set: {}", config_.auth.jwks_url,
                     keys.error().details);
        co_return;
    }
    spdlog::info("JWKS: loaded {} key(s) from {}", keys->keys.size(), config_.auth.jwks_url);
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

boost::asio::awaitable<bool> Gate::is_admin(const http::Request& req) const {
    const auto header = req.header("authorization").value_or("");
    if (!config_.auth.admin_token.empty() && header.size() > 7 &&
        (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ") &&
        constant_time_equals(header.substr(7), config_.auth.admin_token)) {
        co_return true;
    }
    if (verifier_) {
        auto v = verifier_->verify_authorization(header);
        co_return v.claims && v.claims->role == "admin";
    }
    co_return false;
}

Result<void> Gate::limit_token(const std::string& user, const std::string& ip,
                               std::vector<std::pair<std::string, std::string>>& headers) const {
    auto by_ip = limiter_.check("ip:" + ip, rate_ip_);
    // A request refused by the address limit does not also spend the user's allowance.
    auto by_user = by_ip && by_ip->allowed ? limiter_.check("user:" + user, rate_user_)
                                           : Result<ratelimit::Decision>(ratelimit::Decision{
                                                 true, 0, 0, 0, 0, 0});
    if (!by_ip || !by_user) {
        return fail(Error::store_unavailable, "Rate limiting is unavailable; try again later.",
                    !by_ip ? by_ip.error().details : by_user.error().details);
    }
    std::vector<ratelimit::NamedDecision> checks;
    if (by_user->limit > 0) {
        checks.push_back({"user", *by_user});
    }
    checks.push_back({"ip", *by_ip});
    auto h = ratelimit::render_headers(checks);
    headers.emplace_back("RateLimit-Policy", h.policy);
    headers.emplace_back("RateLimit", h.ratelimit);
    if (!by_user->allowed || !by_ip->allowed) {
        Failure f = fail(Error::rate_limited,
                         !by_user->allowed ? "Too many token requests for this user; slow down."
                                           : "Too many token requests from this address; slow down.");
        f.retry_after_s = static_cast<int>(h.retry_after_s);
        f.details = !by_user->allowed ? "user limit " + config_.limits.rate_user
                                      : "ip limit " + config_.limits.rate_ip;
        return f;
    }
    return {};
}

}  // namespace voicegate::api
