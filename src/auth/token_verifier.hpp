#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "auth/jwks.hpp"
#include "auth/jwt_verifier.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace voicegate::auth {

/// Fetches a JWKS document (JSON text) from a URL; injected so that auth/ performs no I/O of
/// its own (the composition passes an HTTP client, a test a lambda). Must be co_awaited on an
/// event loop.
using JwksFetcher = std::function<boost::asio::awaitable<Result<std::string>>(const std::string&)>;

/// Verifies the bearer tokens of requests (SPEC §4); the handlers see only this interface.
/// Thread safety: implementations are safe to call concurrently from every event loop.
class TokenVerifier {
public:
    virtual ~TokenVerifier() = default;

    /// Verifies the token of an `Authorization` header value. A token naming a key the
    /// verifier does not know may first make it fetch its key set again (at most once per
    /// refresh floor, whoever asks). Every refusal is a 401 `unauthorized` Failure that never
    /// contains the token.
    virtual boost::asio::awaitable<Result<Claims>> verify(std::string authorization) const = 0;

    /// Verifies with the keys at hand and never fetches (the admin check: a guesser must not be
    /// able to make the service fetch). Same refusals as verify().
    virtual Result<Claims> verify_cached(std::string_view authorization) const = 0;
};

/// What the JWT verifier is built from (SPEC §2.1 JWT_*). The composition reads the
/// JWT_JWKS_FILE and passes its text, so the verifier itself reads no file.
struct JwtSettings {
    JwtConfig jwt;                           // HS256 secret, issuer, audiences
    std::string jwks_file;                   // its name, for messages; empty: no file
    std::string jwks_text;                   // the file's content (when jwks_file is set)
    std::string jwks_url;                    // empty: the key set is never fetched
    std::int64_t refresh_floor_ms = 30'000;  // least time between two fetches
};

/// The TokenVerifier of the service: a JwtVerifier (HS256 secret, RS256/ES256 keys) over a
/// JwksCache filled from the JWT_JWKS_FILE text and refreshed from JWT_JWKS_URL when a token
/// names an unknown `kid`, at most once per `refresh_floor_ms`.
/// Thread safety: immutable after construction except the key cache, which is thread-safe;
/// verify* may be called concurrently from every event loop.
class JwtTokenVerifier final : public TokenVerifier {
public:
    /// Builds the verifier; throws std::runtime_error with a clear message on a start-up
    /// problem (unusable JWKS text, no usable key, short secret). `clock` is borrowed.
    JwtTokenVerifier(JwtSettings settings, const Clock& clock, JwksFetcher fetch_jwks);

    /// Loads the key set from its URL when one is configured and the floor allows it. Logs and
    /// keeps going on failure: tokens then fail until a refresh succeeds.
    boost::asio::awaitable<void> prime() const;

    boost::asio::awaitable<Result<Claims>> verify(std::string authorization) const override;
    Result<Claims> verify_cached(std::string_view authorization) const override;

private:
    boost::asio::awaitable<void> refresh_jwks() const;
    bool may_refresh() const;

    JwtSettings settings_;
    const Clock& clock_;
    JwksFetcher fetch_jwks_;
    std::unique_ptr<JwksCache> jwks_;  // null without a key set; thread-safe
    std::optional<JwtVerifier> verifier_;
};

}  // namespace voicegate::auth
