#pragma once

#include <memory>
#include <string>

#include "api/rate_policy.hpp"
#include "auth/token_verifier.hpp"
#include "core/clock.hpp"
#include "config/config.hpp"
#include "net/ip_admission.hpp"

namespace voicegate::api {

// The one place where the access-control pieces are built from the configuration (its rates and
// CIDR lists are parsed once, when it is loaded).

/// The IP admission of [limits] (VOICEGATE_TRUSTED_PROXIES, VOICEGATE_IP_ALLOW / _DENY). Pure.
net::IpAdmission ip_admission_from(const config::LimitsConfig& limits);

/// The rates of [limits] (VOICEGATE_RATE_USER, _IP, _ROUTES). Pure.
RateSettings rate_settings_from(const config::LimitsConfig& limits);

/// The JWT settings of [auth], with `jwks_file_text` the content of auth.jwks_file (read by the
/// composition; ignored when no file is configured). Pure.
auth::JwtSettings jwt_settings_from(const config::AuthConfig& auth, std::string jwks_file_text);

/// The token verifier of [auth], or nullptr when authentication is off (mode other than "jwt").
/// Throws std::runtime_error on a start-up problem (see JwtTokenVerifier).
std::unique_ptr<auth::JwtTokenVerifier> token_verifier_from(const config::AuthConfig& auth,
                                                            std::string jwks_file_text,
                                                            const Clock& clock,
                                                            auth::JwksFetcher fetch_jwks);

}  // namespace voicegate::api
