#include "auth/token_verifier.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/text.hpp"

namespace voicegate::auth {

JwtTokenVerifier::JwtTokenVerifier(JwtSettings settings, const Clock& clock, JwksFetcher fetch_jwks)
    : settings_(std::move(settings)), clock_(clock), fetch_jwks_(std::move(fetch_jwks)) {
    if (!settings_.jwks_file.empty() || !settings_.jwks_url.empty()) {
        jwks_ = std::make_unique<JwksCache>(settings_.refresh_floor_ms);
        if (!settings_.jwks_file.empty()) {
            auto keys = parse_jwks(settings_.jwks_text);
            if (!keys) {
                throw std::runtime_error("JWT_JWKS_FILE " + settings_.jwks_file + ": " +
                                         keys.error().details);
            }
            for (const auto& why : keys->skipped) {
                spdlog::warn("JWKS: skipped a key: {}", why);
            }
            jwks_->update(std::move(*keys));
        }
    }
    auto verifier = JwtVerifier::create(settings_.jwt, jwks_.get(), clock);
    if (!verifier) {
        throw std::runtime_error("JWT: " + std::string(verifier.error().public_message()) + " " +
                                 verifier.error().details);
    }
    verifier_.emplace(std::move(*verifier));
}

bool JwtTokenVerifier::may_refresh() const {
    return jwks_ && !settings_.jwks_url.empty() && jwks_->should_refresh(clock_.now_ms());
}

boost::asio::awaitable<void> JwtTokenVerifier::prime() const {
    if (may_refresh()) {
        co_await refresh_jwks();
    }
}

boost::asio::awaitable<void> JwtTokenVerifier::refresh_jwks() const {
    if (!fetch_jwks_) {
        co_return;
    }
    auto body = co_await fetch_jwks_(settings_.jwks_url);
    const auto where = redact_url_userinfo(settings_.jwks_url);
    if (!body) {
        spdlog::warn("JWKS: fetching {} failed: {}", where, body.error().details);
        co_return;
    }
    auto keys = parse_jwks(*body);
    if (!keys) {
        spdlog::warn("JWKS: {} is not a usable key set: {}", where, keys.error().details);
        co_return;
    }
    spdlog::info("JWKS: loaded {} key(s) from {}", keys->keys.size(), where);
    jwks_->update(std::move(*keys));
}

boost::asio::awaitable<Result<Claims>> JwtTokenVerifier::verify(std::string authorization) const {
    auto v = verifier_->verify_authorization(authorization);
    if (!v.claims && v.refresh_may_help() && may_refresh()) {
        co_await refresh_jwks();
        v = verifier_->verify_authorization(authorization);
    }
    co_return std::move(v.claims);
}

Result<Claims> JwtTokenVerifier::verify_cached(std::string_view authorization) const {
    return verifier_->verify_authorization(authorization).claims;
}

}  // namespace voicegate::auth
