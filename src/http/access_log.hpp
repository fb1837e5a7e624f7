#pragma once

#include "http/message.hpp"

namespace voicegate::http {

/// Writes one JSON access-log line for a finished request (time, request id, method, route,
/// status, latency, user, IP, error code). Never logs headers or bodies, so no token or key
/// can leak. Thread-safe.
void log_access(std::string_view server, const Request& req, const Response& res,
                double latency_ms);

/// Escapes `s` for inclusion in a JSON string. Pure.
std::string json_escape(std::string_view s);

}  // namespace voicegate::http
