#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

namespace voicegate::auth {

/// Largest compact JWS accepted, in bytes. Longer input is refused before any decoding.
inline constexpr std::size_t kMaxTokenBytes = std::size_t{8} * 1024;

/// Why a token was refused. Internal: for logs, metrics, audit events and the JWKS refresh
/// rule; clients only ever see a short public message (and `details` in dev mode).
enum class JwtReason {
    ok,                // verified
    missing,           // empty token / no bearer credentials
    oversized,         // longer than the configured limit
    malformed,         // not three base64url segments of JSON objects, bad claim types
    unsupported_alg,   // `alg` unknown to this service, including `none`
    alg_not_allowed,   // `alg` known but not configured (e.g. HS256 without a secret)
    unknown_kid,       // no key for this `kid` (or for this `alg`): a JWKS refresh may help
    key_mismatch,      // the `kid` names a key that cannot verify this `alg`
    bad_signature,     // the signature does not verify
    expired,           // `exp` + leeway is past
    not_yet_valid,     // `nbf` - leeway is in the future
    issued_in_future,  // `iat` - leeway is in the future
    wrong_issuer,      // `iss` differs from the configured issuer
    wrong_audience,    // `aud` does not contain a configured audience
    missing_subject,   // `sub` absent, empty, not a string or too long
};

/// Stable snake_case name of `reason` (for metrics labels and audit events). Pure.
std::string_view to_string(JwtReason reason);

/// A JWT refusal: the internal reason plus a precise, token-free explanation.
struct JwtError {
    JwtReason reason = JwtReason::malformed;
    std::string detail;  // never contains the token; attacker-controlled values are sanitised
};

/// Result of the pure parsing step.
template <class T>
using JwtResult = boost::system::result<T, JwtError>;

/// boost::system::result requires this to throw on value() of an error; a bug if reached.
[[noreturn]] void throw_exception_from_error(const JwtError& e, const boost::source_location& loc);

/// The protected header fields voicegate looks at.
struct JwtHeader {
    std::string alg;  // required
    std::string kid;  // empty if absent
    std::string typ;  // empty if absent; informational, not enforced
};

/// A compact JWS split and decoded, signature not yet verified: nothing in it may be trusted.
struct ParsedJwt {
    JwtHeader header;
    boost::json::object claims;
    std::string signing_input;  // "<header b64>.<payload b64>", the bytes that are signed
    std::string signature;      // decoded signature bytes
};

/// Parses a compact JWS: exactly three base64url segments (no padding), a header that is a JSON
/// object with a string `alg` (and optional string `kid`/`typ`, no `crit`), and a claims set
/// that is a JSON object. Input longer than `max_bytes` is refused before any work.
/// Failures are `oversized` or `malformed`. Pure; thread-safe.
[[nodiscard]] JwtResult<ParsedJwt> parse_jwt(std::string_view token,
                                             std::size_t max_bytes = kMaxTokenBytes);

/// Decodes unpadded base64url (RFC 4648 §5, as JWS uses it). Refuses padding, characters
/// outside the alphabet, impossible lengths and non-zero trailing bits. Pure; thread-safe.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view in);

/// Encodes bytes as unpadded base64url. Pure; thread-safe.
std::string base64url_encode(std::string_view in);

/// Extracts the credentials of an `Authorization: Bearer <token>` header value: the scheme is
/// case-insensitive, surrounding whitespace and extra spaces after the scheme are tolerated;
/// the token must be non-empty token68 characters. The view points into `authorization_header`.
/// Pure; thread-safe.
[[nodiscard]] std::optional<std::string_view> extract_bearer(std::string_view authorization_header);

/// Makes an attacker-controlled string safe for a details message or a log line: printable
/// ASCII only (others become '?'), at most `max_len` bytes (then "..."). Pure; thread-safe.
std::string sanitize_for_details(std::string_view s, std::size_t max_len = 64);

}  // namespace voicegate::auth
