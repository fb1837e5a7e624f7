#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <openssl/types.h>

#include "auth/jwks.hpp"
#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace voicegate::auth {

/// Least HS256 secret length in bytes (RFC 7518 §3.2: a key as long as the hash output).
inline constexpr std::size_t kMinHs256SecretBytes = 32;
/// Longest `sub` accepted, in bytes (it becomes a database and rate-limit key).
inline constexpr std::size_t kMaxSubjectBytes = 256;

/// What a verifier is configured with (SPEC §2.1 JWT_*, §4). Built once at start-up.
struct JwtConfig {
    std::string hs256_secret;            // secret, never logged; empty: HS256 refused
    std::string issuer;                  // empty: `iss` not checked
    std::vector<std::string> audiences;  // empty: `aud` not checked; else one must be in `aud`
    std::int64_t leeway_s = 30;          // clock skew allowed on exp / nbf / iat
    std::size_t max_token_bytes = kMaxTokenBytes;
};

/// The verified identity. Everything here comes from a token whose signature and time
/// window were checked.
struct Claims {
    std::string sub;               // required, non-empty (Supabase: the user's uuid)
    std::string role;              // empty if absent (Supabase: "authenticated"; "admin" for ops)
    std::int64_t exp = 0;          // unix seconds
    std::string iss;               // empty if absent
    std::vector<std::string> aud;  // `aud` as a list (a string becomes one element)
    boost::json::object raw;       // the whole claims set (email, app_metadata, ...)
};

/// Outcome of `JwtVerifier::verify_detailed`: the public result plus the internal reason.
struct Verification {
    Result<Claims> claims;
    JwtReason reason = JwtReason::ok;

    /// True if fetching the JWKS again could make this token verify (its `kid`, or any key for
    /// its `alg`, is unknown). Gate the fetch with `JwksCache::should_refresh`.
    bool refresh_may_help() const { return reason == JwtReason::unknown_kid; }
};

/// Verifies compact JWS access tokens: HS256 with the configured secret, RS256 and ES256 with
/// the keys of a JwksCache (SPEC §4). Rules:
///  - `alg` must be configured: HS256 only with a secret, RS256/ES256 only with a key set;
///    `none` and every other `alg` are refused. An HMAC is only ever keyed with the configured
///    secret, never with an RSA/EC key, and a key only verifies the `alg` of its own type.
///  - the signature is checked before any claim is believed (HMAC compared in constant time;
///    ES256 signatures are the 64-byte JWS r||s form);
///  - `exp` is required and numeric; `exp`, `nbf` and `iat` are checked with the leeway;
///  - `iss` and `aud` are checked when configured; `sub` must be a non-empty string.
/// Every failure is `Error::unauthorized` with a short public message ("invalid token",
/// "token expired", "token not yet valid") and the precise reason in `details`; neither ever
/// contains the token.
/// Thread safety: immutable after construction; `verify*` may be called concurrently from any
/// thread. The clock and the cache are borrowed and must outlive the verifier.
class JwtVerifier {
public:
    /// Builds a verifier. `jwks` may be null (no RS256/ES256). Fails with a startup message
    /// if neither a secret nor a key set is given, or if the secret is shorter than
    /// `kMinHs256SecretBytes`.
    [[nodiscard]] static Result<JwtVerifier> create(JwtConfig config, const JwksCache* jwks,
                                                    const Clock& clock);

    /// Verifies `token` (the bare compact JWS). Thread-safe.
    [[nodiscard]] Result<Claims> verify(std::string_view token) const;

    /// Like `verify`, and says why a token was refused (metrics, audit log, JWKS refresh).
    /// Thread-safe.
    [[nodiscard]] Verification verify_detailed(std::string_view token) const;

    /// Verifies the token of an `Authorization` header value (`Bearer <jwt>`); a missing or
    /// non-bearer header is refused with "missing bearer token". Thread-safe.
    [[nodiscard]] Verification verify_authorization(std::string_view authorization_header) const;

    /// True if HS256 is configured. Pure.
    bool hs256_enabled() const { return !config_.hs256_secret.empty(); }

private:
    JwtVerifier(JwtConfig config, const JwksCache* jwks, const Clock& clock);
    /// Stage 1 of verify_detailed: the signature under a key of the token's `alg`; the refusal,
    /// or nullopt when it verifies.
    std::optional<Verification> check_signature(const ParsedJwt& jwt) const;

    JwtConfig config_;
    const JwksCache* jwks_;
    const Clock* clock_;
    std::shared_ptr<EVP_MAC> hmac_;   // fetched once; OpenSSL objects safe to share
    std::shared_ptr<EVP_MD> sha256_;  // fetched once, so verification skips implicit fetches
};

}  // namespace voicegate::auth
