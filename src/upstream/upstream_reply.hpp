#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "upstream/http_client.hpp"
#include "upstream/realtime_api.hpp"

// What OpenAI answers, read without I/O: the client-secret body, error bodies and statuses,
// retry hints. Kept apart from the client (openai_client.hpp) so the fuzzer links only this.

namespace voicegate::upstream {

/// The delay an upstream response asks for before a retry: `retry-after-ms` (milliseconds),
/// else `retry-after` (seconds, or an HTTP date relative to `now_unix_s`), at most one day.
/// nullopt if absent or unparsable. Pure.
std::optional<std::chrono::milliseconds> retry_after_hint(const HttpResponse& response,
                                                          std::int64_t now_unix_s);

/// Whether an upstream HTTP answer is worth retrying: `x-should-retry` decides when present;
/// otherwise 408, 409, 429 and >= 500. `insufficient_quota` is never retried. Pure.
bool should_retry_status(const HttpResponse& response);

/// True when the answer is a 429 whose error `code` or `type` is `insufficient_quota`. Pure.
bool is_insufficient_quota(const HttpResponse& response);

/// Validates a `/realtime/client_secrets` 200 body and extracts the fields voicegate uses;
/// `requested_model` fills in a missing `session.model`. upstream_bad_response otherwise, with
/// details that never include the body. Pure.
Result<ClientSecret> parse_client_secret(std::string_view body, std::string_view requested_model);

/// True for a call id voicegate accepts from the upstream: 1..128 characters of [A-Za-z0-9_-]
/// (OpenAI's `rtc_...`, Azure's `rtc_<hex>`, UUIDs): safe in a URL path and a log-free store
/// column. Pure.
bool valid_call_id(std::string_view call_id);

/// The call id a `Location` names: its last path segment (query and fragment dropped), if that
/// is a valid call id; nullopt otherwise. Pure.
std::optional<std::string> call_id_from_location(std::string_view location);

/// Validates a `POST /realtime/calls` success: status 201, a text body (any `text/*`,
/// `application/sdp`, or no Content-Type: the real API answers `text/plain`) starting with
/// `v=0`, and a `Location` whose last path segment is a valid call id. upstream_bad_response
/// otherwise, with details that never include the body or the Location. Pure.
Result<CallAnswer> parse_call_answer(const HttpResponse& response);

/// The `multipart/form-data` body of `POST /realtime/calls` (RFC 7578): part `sdp`
/// (Content-Type application/sdp) holding `sdp` byte for byte, then part `session`
/// (application/json) holding `session_json`, separated by `boundary`, which must occur in
/// neither. Pure.
std::string call_form_body(std::string_view boundary, std::string_view sdp,
                           std::string_view session_json);

/// The Failure for an upstream answer that is not a success (SPEC §3.2): insufficient_quota ->
/// upstream_rejected; 429 -> upstream_unavailable with retry_after_s from the hint (relative to
/// `now_unix_s`); other 4xx/5xx -> upstream_rejected; anything else -> upstream_bad_response.
/// `details` describe the upstream error (type, code, param, message cut to 300 bytes). Pure.
Failure upstream_http_failure(const HttpResponse& response, std::int64_t now_unix_s);

}  // namespace voicegate::upstream
