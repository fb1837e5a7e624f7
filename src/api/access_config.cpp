#include "api/access_config.hpp"

#include <stdexcept>

namespace voicegate::api {

namespace {

ratelimit::Rate must_rate(const std::string& text, const char* name) {
    auto r = ratelimit::parse_rate(text);
    if (!r) {
        throw std::runtime_error(std::string(name) + ": " +
                                 std::string(r.error().public_message()));
    }
    return *r;
}

}  // namespace

net::IpAdmission ip_admission_from(const config::LimitsConfig& limits) {
    auto trusted = net::CidrList::parse(limits.trusted_proxies);
    auto rules = net::IpRules::parse(limits.ip_allow, limits.ip_deny);
    if (!trusted || !rules) {
        throw std::runtime_error("IP lists: " + std::string(!trusted
                                                                ? trusted.error().public_message()
                                                                : rules.error().public_message()));
    }
    return {std::move(*trusted), std::move(*rules)};
}

RateSettings rate_settings_from(const config::LimitsConfig& limits) {
    RateSettings s;
    s.user = must_rate(limits.rate_user, "VOICEGATE_RATE_USER");
    s.ip = must_rate(limits.rate_ip, "VOICEGATE_RATE_IP");
    s.user_label = limits.rate_user;
    s.ip_label = limits.rate_ip;
    for (const auto& [path, rate] : limits.route_rates) {
        s.routes.emplace_back(path, must_rate(rate, "VOICEGATE_RATE_ROUTES"));
    }
    return s;
}

auth::JwtSettings jwt_settings_from(const config::AuthConfig& auth, std::string jwks_file_text) {
    auth::JwtSettings s;
    s.jwt.hs256_secret = auth.jwt_secret;
    s.jwt.issuer = auth.issuer;
    s.jwt.audiences = auth.audiences;
    s.jwks_file = auth.jwks_file;
    s.jwks_text = std::move(jwks_file_text);
    s.jwks_url = auth.jwks_url;
    return s;
}

std::unique_ptr<auth::JwtTokenVerifier> token_verifier_from(const config::AuthConfig& auth,
                                                            std::string jwks_file_text,
                                                            const Clock& clock,
                                                            auth::JwksFetcher fetch_jwks) {
    if (auth.mode != "jwt") {
        return nullptr;
    }
    return std::make_unique<auth::JwtTokenVerifier>(
        jwt_settings_from(auth, std::move(jwks_file_text)), clock, std::move(fetch_jwks));
}

}  // namespace voicegate::api
