#include "upstream/jwks_fetcher.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "support/fake_upstream_server.hpp"
#include "support/loop_thread.hpp"
#include "upstream/http_client.hpp"

namespace voicegate::upstream {
namespace {

TEST(JwksFetcher, AnOkAnswerIsItsBody) {
    auto r = jwks_answer(200, R"({"keys":[]})");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, R"({"keys":[]})");
}

TEST(JwksFetcher, AnyOtherStatusIsUpstreamRejectedNamingIt) {
    for (int status : {201, 301, 404, 500}) {
        auto r = jwks_answer(status, "whatever");
        ASSERT_FALSE(r) << status;
        EXPECT_EQ(r.error().code, Error::upstream_rejected);
        EXPECT_EQ(r.error().details, "JWKS HTTP " + std::to_string(status));
    }
}

// The fetch through a real HTTP server on loopback: the body, the path asked for and the
// Accept header; a refusal names the status; a malformed URL and a closed port fail as such.
class HttpJwksFetchTest : public ::testing::Test {
protected:
    test::LoopThread loop_;
    std::shared_ptr<HttpClient> client_ = std::make_shared<HttpClient>(
        std::vector<boost::asio::io_context*>{&loop_.io()}, HttpClientOptions{});
    JwksFetch fetch_ = http_jwks_fetch(client_);

    Result<std::string> get(const std::string& url) { return loop_.run(fetch_(url)); }
};

TEST_F(HttpJwksFetchTest, GetsTheDocumentAtTheUrlsPath) {
    test::FakeUpstreamServer server([](const http::Request&) {
        http::Response res;
        res.body = R"({"keys":[{"kid":"k1"}]})";
        return res;
    });
    auto r = get("http://127.0.0.1:" + std::to_string(server.port()) + "/.well-known/jwks.json");
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(*r, R"({"keys":[{"kid":"k1"}]})");
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].path, "/.well-known/jwks.json");
    EXPECT_EQ(seen[0].header("accept").value_or(""), "application/json");
}

TEST_F(HttpJwksFetchTest, ANon200AnswerIsRejectedNamingTheStatus) {
    test::FakeUpstreamServer server([](const http::Request&) {
        http::Response res;
        res.status = 404;
        res.body = "{}";
        return res;
    });
    auto r = get("http://127.0.0.1:" + std::to_string(server.port()) + "/jwks");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::upstream_rejected);
    EXPECT_EQ(r.error().details, "JWKS HTTP 404");
}

TEST_F(HttpJwksFetchTest, AMalformedUrlIsABadRequestAndAClosedPortUnavailable) {
    auto bad = get("not a url");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Error::bad_request);
    std::uint16_t closed = 0;
    {
        test::FakeUpstreamServer gone([](const http::Request&) { return http::Response{}; });
        closed = gone.port();
    }
    auto down = get("http://127.0.0.1:" + std::to_string(closed) + "/jwks");
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, Error::upstream_unavailable);
}

}  // namespace
}  // namespace voicegate::upstream
