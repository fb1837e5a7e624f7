#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"

namespace voicegate::upstream {

class HttpClient;

/// Fetches a JWKS document: the body at a URL, or a failure. The shape auth::JwtTokenVerifier
/// takes for refreshing JWT_JWKS_URL (auth::JwksFetcher). Here, not in auth/, so auth/ stays pure (it may
/// include only core/); the HTTP work lives in the .cpp.
using JwksFetch =
    std::function<boost::asio::awaitable<Result<std::string>>(const std::string& url)>;

/// A fetch that GETs the URL through `client` (Accept: application/json, 10 s deadline):
/// bad_request for a malformed URL, upstream_unavailable when the request fails, otherwise as
/// jwks_answer(). Thread safety: the fetch may run on any of the client's loops.
JwksFetch http_jwks_fetch(std::shared_ptr<HttpClient> client);

/// What a JWKS endpoint's answer means: the body on HTTP 200, else upstream_rejected naming
/// the status ("JWKS HTTP 404"). Pure.
Result<std::string> jwks_answer(int status, std::string body);

}  // namespace voicegate::upstream
