#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "emulator/validate.hpp"
#include "http/message.hpp"

// The emulator's OpenAI-shaped answers: error bodies and the fixed errors (auth, beta, URL,
// method, rate limit, quota, server error) in the wording and headers the real API uses.
// Internal to emulator/ (emulator.cpp).

namespace voicegate::emulator::detail {

/// An ApiError with this status, message, type, code and (optionally) param.
ApiError api_error(int status, std::string message, std::string type, std::string code,
                   std::string param = {});

/// A response with this status and `body` as JSON text.
http::Response json_answer(int status, const boost::json::value& body);

/// The response for `e`: its status, `{"error":{...}}`, and the code (else type) to log.
http::Response error_answer(const ApiError& e);

/// 401: no API key given.
ApiError missing_key();

/// 401 `invalid_api_key`: names the key in its redacted form only (sk-...abcd).
ApiError incorrect_key(std::string_view key);

/// 400 `beta_api_shape_disabled`: a retired Realtime Beta route.
ApiError beta_disabled();

/// 404: "Invalid URL (METHOD /path)".
ApiError invalid_url(const http::Request& req);

/// 405: "Invalid method for URL (METHOD /path)".
ApiError invalid_method(const http::Request& req);

/// 429 `rate_limit_exceeded` with retry-after, retry-after-ms and x-ratelimit-* headers.
http::Response rate_limited(std::int64_t retry_after_ms);

/// 429 `insufficient_quota`.
http::Response quota_exceeded();

/// 500 `server_error`.
http::Response server_error();

}  // namespace voicegate::emulator::detail
