#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "config/config.hpp"
#include "core/error.hpp"
#include "upstream/realtime_api.hpp"

namespace voicegate::api {

/// A validated `POST /api/realtime/token` request (SPEC §3.1).
struct TokenParams {
    std::string user_id;          // body userId, or "anonymous" (auth off)
    std::string requested_model;  // as the client sent it (may be an alias)
    std::string model;            // after aliases and defaults
    std::optional<std::string> voice;
    std::optional<std::string> instructions;
    std::optional<boost::json::value> max_output_tokens;  // int 1..4096 or "inf"
    std::vector<std::string> warnings;
    std::string profile;  // selected server-side profile, empty if none
    /// The profile's fields that are not client-visible (turn_detection, transcription,
    /// noise_reduction, tools, tool_choice, speed).
    boost::json::object profile_extras;
};

/// Validates a token request body against the policy. Every failure is a 400 `bad_request`
/// naming the field. Pure (no I/O), so it is unit-tested and fuzzed
/// (fuzz/targets/token_request.cpp).
Result<TokenParams> parse_token_request(const boost::json::object& body,
                                        const config::TokenPolicy& policy);

/// The GA `session` object sent upstream: only fields the client gave (or policy sets). Pure.
boost::json::object build_upstream_session(const TokenParams& params);

/// The 200 body of /api/realtime/token: exactly `success, token, sessionId, expiresAt, config`
/// (+ `warnings` when there are any). Pure.
boost::json::object token_response_body(const upstream::ClientSecret& secret,
                                        const std::vector<std::string>& warnings);

/// A validated `POST /api/realtime/end` request (SPEC §3.3).
struct EndParams {
    std::string session_id;
    double duration_s = 0;
    std::int64_t message_count = 0;
    std::string ended_by = "user";
};

/// Validates an end request body; failures are 400 naming the field. Pure.
Result<EndParams> parse_end_request(const boost::json::object& body);

/// Renders a duration in seconds as JSON: an integer when whole (320), else a number. Pure.
boost::json::value duration_json(double seconds);

}  // namespace voicegate::api
