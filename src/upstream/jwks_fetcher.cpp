#include "upstream/jwks_fetcher.hpp"

#include <chrono>
#include <utility>

#include "upstream/http_client.hpp"

namespace voicegate::upstream {
namespace asio = boost::asio;

Result<std::string> jwks_answer(int status, std::string body) {
    if (status != 200) {
        return fail(Error::upstream_rejected, {}, "JWKS HTTP " + std::to_string(status));
    }
    return body;
}

JwksFetch http_jwks_fetch(std::shared_ptr<HttpClient> client) {
    return [client =
                std::move(client)](const std::string& url) -> asio::awaitable<Result<std::string>> {
        auto base = parse_base_url(url);
        if (!base) {
            co_return fail(Error::bad_request, {}, "bad JWKS URL");
        }
        HttpRequest req;
        req.method = "GET";
        req.target = base->path.empty() ? "/" : base->path;
        req.headers.emplace_back("Accept", "application/json");
        auto res = co_await client->request(
            base->origin, req, std::chrono::steady_clock::now() + std::chrono::seconds(10));
        if (!res) {
            co_return fail(Error::upstream_unavailable, {}, "JWKS fetch failed");
        }
        co_return jwks_answer(res->status, std::move(res->body));
    };
}

}  // namespace voicegate::upstream
