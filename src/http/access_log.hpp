#pragma once

#include "core/text.hpp"
#include "http/message.hpp"

namespace voicegate::http {

/// Writes one JSON access-log line for a finished request (time, request id, method, route,
/// status, latency, user, IP, error code). Never logs headers or bodies, so no token or key
/// can leak. Thread-safe.
void log_access(std::string_view server, const Request& req, const Response& res,
                double latency_ms);

/// The one JSON string escaper (core/text.hpp): valid UTF-8 out, whatever the bytes in.
using voicegate::json_escape;

}  // namespace voicegate::http
