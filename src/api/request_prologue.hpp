#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "auth/token_verifier.hpp"
#include "core/error.hpp"
#include "http/message.hpp"
#include "http/response.hpp"

namespace voicegate::api {

/// The caller's verified claims; nullopt when authentication is off (`verifier` null). A
/// 401 (with WWW-Authenticate) for a missing, invalid or expired token. The caller must
/// co_await at once (`req` must outlive the call).
boost::asio::awaitable<Result<std::optional<auth::Claims>>> authenticate(
    const auth::TokenVerifier* verifier, const http::Request& req);

/// The user a request acts for (SPEC §3.1): with auth on, the verified token's subject (a
/// userId the client gave is ignored); with auth off, the userId it gave (`given`). Pure.
inline std::string acting_user(const std::optional<auth::Claims>& claims,
                               const std::string& given) {
    return claims ? claims->sub : given;
}

/// A request that passed the prologue: who sent it and what it asks for.
template <class Params>
struct Authenticated {
    std::optional<auth::Claims> claims;  // nullopt: authentication is off
    Params params;
};

/// The prologue every JSON API route shares: authenticate, then parse the body as a JSON
/// object, then `parse` it into the route's parameters (a pure function returning Result).
/// The first failure is the answer (401, 400 or 415). The caller must co_await at once.
template <class Parse, class Params = typename std::invoke_result_t<
                           Parse, const boost::json::object&>::value_type>
boost::asio::awaitable<Result<Authenticated<Params>>> read_request(
    const auth::TokenVerifier* verifier, const http::Request& req, Parse parse) {
    auto claims = co_await authenticate(verifier, req);
    if (!claims) {
        co_return claims.error();
    }
    auto body = http::parse_json_object(req);
    if (!body) {
        co_return body.error();
    }
    auto params = parse(*body);
    if (!params) {
        co_return params.error();
    }
    co_return Authenticated<Params>{std::move(*claims), std::move(*params)};
}

}  // namespace voicegate::api
