#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace voicegate::http {

/// Whether a request from `origin` may read the answer, under the configured `allowed` origins
/// ("*" allows any). False without an Origin header. Pure.
bool cors_allows(const std::vector<std::string>& allowed, std::optional<std::string_view> origin);

/// The 204 answer to an OPTIONS request (CORS preflight or plain) on a path that allows
/// `methods` (comma-separated, non-empty): Allow, and for an allowed `origin` the
/// Access-Control-Allow-{Origin,Methods,Headers} and Max-Age; Vary: Origin whenever origins are
/// configured, so caches key on it, reflected or not. Pure.
Response cors_preflight(const std::vector<std::string>& allowed,
                        std::optional<std::string_view> origin, const std::string& methods);

/// Adds the CORS headers of an actual answer to `res`: for an allowed `origin`,
/// Access-Control-Allow-Origin and Access-Control-Expose-Headers: `expose`; Vary: Origin
/// whenever origins are configured. Pure (modifies only `res`).
void cors_decorate(Response& res, const std::vector<std::string>& allowed,
                   std::optional<std::string_view> origin, std::string_view expose);

}  // namespace voicegate::http
