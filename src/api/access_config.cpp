#include "api/access_config.hpp"

namespace voicegate::api {


net::IpAdmission ip_admission_from(const config::LimitsConfig& limits) {
    return {limits.trusted_proxies, limits.ip_rules};
}

RateSettings rate_settings_from(const config::LimitsConfig& limits) {
    RateSettings s;
    s.user = limits.rate_user;
    s.ip = limits.rate_ip;
    s.user_label = limits.rate_user_text;
    s.ip_label = limits.rate_ip_text;
    s.routes = limits.route_rates;
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
