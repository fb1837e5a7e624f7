#pragma once

#include <string>
#include <string_view>

namespace voicegate::http {

/// The media type of a Content-Type value (RFC 9110 §8.3.1): `type/subtype` lowercased, with
/// the parameters after ';' and surrounding whitespace dropped ("Application/JSON; charset=utf-8"
/// -> "application/json"). Empty when the value is not `token/token`. Pure.
std::string media_type(std::string_view content_type);

/// True if `content_type` names JSON: `application/json` or a structured-syntax suffix type
/// `application/<anything>+json` (RFC 6839), case-insensitive, parameters ignored. Not
/// `text/notjson`, not `application/jsonx`. Pure.
bool is_json_media_type(std::string_view content_type);

}  // namespace voicegate::http
