#include "api/request_prologue.hpp"

namespace voicegate::api {

boost::asio::awaitable<Result<std::optional<auth::Claims>>> authenticate(
    const auth::TokenVerifier* verifier, const http::Request& req) {
    if (verifier == nullptr) {
        co_return std::optional<auth::Claims>{};
    }
    auto claims = co_await verifier->verify(std::string(req.header("authorization").value_or("")));
    if (!claims) {
        co_return claims.error();
    }
    co_return std::optional<auth::Claims>{std::move(*claims)};
}

}  // namespace voicegate::api
