#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace voicegate {

/// Every expected failure of the service. One table in error.cpp maps each value to an HTTP
/// status, a stable machine code and a public message (SPEC §3.2).
enum class Error {
    bad_request,             // 400
    invalid_json,            // 400
    invalid_sdp,             // 400 the SDP offer is empty, not SDP, or not one active audio line
    sdp_policy,              // 400 the offer breaks the profile's media policy (data_channel)
    unauthorized,            // 401
    forbidden,               // 403
    ip_denied,               // 403
    quota_exhausted,         // 403
    not_found,               // 404
    session_not_found,       // 404
    method_not_allowed,      // 405
    conflict,                // 409 the resource's state forbids it (e.g. a call already ended)
    lease_lost,              // 409 a supervised call's lease is held by another instance
    payload_too_large,       // 413
    unsupported_media_type,  // 415
    rate_limited,            // 429
    internal,                // 500
    upstream_rejected,       // 502 upstream answered with an error
    upstream_bad_response,   // 502 upstream answered garbage
    upstream_unavailable,    // 503 refused / reset / circuit open
    overloaded,              // 503
    store_unavailable,       // 503
    upstream_timeout,        // 504
    call_gone,               // 404 the upstream call has already ended (hang-up of an ended call)
};

/// Static description of an Error: what the client sees.
struct ErrorInfo {
    int status;
    std::string_view code;
    std::string_view message;
};

/// Looks up the public description of `e`. Thread-safe (pure).
const ErrorInfo& error_info(Error e);

/// A failure value: the kind, an optional public message that overrides the table's (it must
/// never hold upstream text or secrets), details that only dev mode shows, and an optional
/// Retry-After in seconds.
struct Failure {
    Error code = Error::internal;
    std::string message;  // public; empty -> table message
    std::string details;  // dev mode only; may hold upstream text (never secrets)
    int retry_after_s = -1;
    std::int64_t resets_at = 0;  // unix seconds, for quota_exhausted

    /// The message the client sees.
    std::string_view public_message() const {
        return message.empty() ? error_info(code).message : std::string_view(message);
    }
    int status() const { return error_info(code).status; }
};

/// Builds a Failure with a public message.
inline Failure fail(Error e, std::string message = {}, std::string details = {}) {
    Failure f;
    f.code = e;
    f.message = std::move(message);
    f.details = std::move(details);
    return f;
}

/// boost::system::result requires this to throw on value() of an error; a bug if reached.
[[noreturn]] void throw_exception_from_error(const Failure& f, const boost::source_location& loc);

/// `Result<T>`: a value or a Failure (STYLE §6.2).
template <class T>
using Result = boost::system::result<T, Failure>;

}  // namespace voicegate
