#pragma once

#include <string_view>

#include <boost/json/fwd.hpp>

#include "core/error.hpp"
#include "http/message.hpp"

namespace voicegate::http {

/// Builds a JSON response with the given status. Pure.
Response json_response(int status, const boost::json::value& body);

/// Builds the SPEC §3.2 error body `{success:false, error, code[, details]}` with the right
/// status and headers (Retry-After, WWW-Authenticate, ...). `dev` adds `details`. Pure.
Response error_response(const Failure& failure, bool dev);

/// Parses a request body as a JSON object: 415 if the content type is not JSON, 400
/// `invalid_json` if it does not parse or is not an object. An empty body is `{}`. Pure.
Result<boost::json::object> parse_json_object(const Request& req);

}  // namespace voicegate::http
