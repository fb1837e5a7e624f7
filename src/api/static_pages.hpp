#pragma once

#include <string_view>

#include "http/message.hpp"

namespace voicegate::api {

/// GET of an embedded static asset (a directory such as `/` or `/dashboard` serves its
/// `index.html`); 404 if unknown. The page's CSP lets it connect to its own origin, OpenAI and the
/// origin of `upstream_base` (OPENAI_BASE_URL, when it is another one). Pure.
http::Response static_response(const http::Request& req, bool dev,
                               std::string_view upstream_base = {});

}  // namespace voicegate::api
