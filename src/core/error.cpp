#include "core/error.hpp"

#include <array>
#include <stdexcept>

namespace voicegate {
namespace {

constexpr std::array<ErrorInfo, 24> kTable{{
    {400, "bad_request", "The request is invalid."},
    {400, "invalid_json", "The request body is not valid JSON."},
    {400, "invalid_sdp", "The SDP offer is invalid."},
    {400, "sdp_policy", "The SDP offer is not allowed by the session profile."},
    {401, "unauthorized", "Authentication is required."},
    {403, "forbidden", "You are not allowed to do this."},
    {403, "ip_denied", "Requests from this address are not allowed."},
    {403, "quota_exhausted", "Your usage quota is exhausted."},
    {404, "not_found", "No such route."},
    {404, "session_not_found", "No such session."},
    {405, "method_not_allowed", "Method not allowed on this route."},
    {409, "conflict", "The request conflicts with the current state."},
    {409, "lease_lost", "Another instance supervises this call."},
    {413, "payload_too_large", "The request body is too large."},
    {415, "unsupported_media_type", "The request body must be application/json."},
    {429, "rate_limited", "Too many requests; slow down."},
    {500, "internal_error", "Internal server error."},
    {502, "upstream_error", "The voice provider rejected the request."},
    {502, "upstream_bad_response", "The voice provider sent an invalid response."},
    {503, "upstream_unavailable", "The voice provider is unreachable; try again later."},
    {503, "overloaded", "The service is overloaded; try again later."},
    {503, "store_unavailable", "Storage is unavailable; try again later."},
    {504, "upstream_timeout", "The voice provider did not answer in time."},
    {404, "call_gone", "The call has already ended."},
}};

}  // namespace

const ErrorInfo& error_info(Error e) {
    const auto i = static_cast<std::size_t>(e);
    return i < kTable.size() ? kTable[i] : kTable[static_cast<std::size_t>(Error::internal)];
}

void throw_exception_from_error(const Failure& f, const boost::source_location& /*loc*/) {
    throw std::logic_error("value() called on a failed Result: " +
                           std::string(error_info(f.code).code));
}

}  // namespace voicegate
