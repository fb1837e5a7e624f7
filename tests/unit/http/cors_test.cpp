#include "http/cors.hpp"

#include <gtest/gtest.h>

namespace voicegate::http {
namespace {

std::string header_of(const Response& res, std::string_view name) {
    for (const auto& [k, v] : res.headers) {
        if (k == name) {
            return v;
        }
    }
    return "<none>";
}

const std::vector<std::string> kApp{"https://app.example"};

TEST(Cors, AllowsListedOriginsOrAnyWithStar) {
    EXPECT_TRUE(cors_allows(kApp, "https://app.example"));
    EXPECT_FALSE(cors_allows(kApp, "https://evil.example"));
    EXPECT_FALSE(cors_allows(kApp, std::nullopt));
    EXPECT_TRUE(cors_allows({"*"}, "https://any.example"));
    EXPECT_FALSE(cors_allows({"*"}, std::nullopt));
    EXPECT_FALSE(cors_allows({}, "https://app.example"));
}

TEST(Cors, PreflightOfAnAllowedOriginReflectsItWithMethodsHeadersAndMaxAge) {
    const auto res = cors_preflight(kApp, "https://app.example", "POST");
    EXPECT_EQ(res.status, 204);
    EXPECT_TRUE(res.content_type.empty());
    EXPECT_EQ(header_of(res, "Allow"), "POST, OPTIONS");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "https://app.example");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Methods"), "POST, OPTIONS");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Headers"),
              "Authorization, Content-Type, X-Request-Id");
    EXPECT_EQ(header_of(res, "Access-Control-Max-Age"), "600");
    EXPECT_EQ(header_of(res, "Vary"), "Origin");
}

TEST(Cors, PreflightOfARefusedOriginHasNoCorsHeadersButVariesOnOrigin) {
    const auto res = cors_preflight(kApp, "https://evil.example", "GET");
    EXPECT_EQ(res.status, 204);
    EXPECT_EQ(header_of(res, "Allow"), "GET, OPTIONS");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "<none>");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Methods"), "<none>");
    EXPECT_EQ(header_of(res, "Vary"), "Origin");
}

TEST(Cors, WithoutConfiguredOriginsAnOptionsAnswerIsOnlyAllow) {
    const auto res = cors_preflight({}, "https://app.example", "GET, POST");
    EXPECT_EQ(res.headers.size(), 1u);
    EXPECT_EQ(header_of(res, "Allow"), "GET, POST, OPTIONS");
}

TEST(Cors, DecorateAddsOriginExposeAndVaryInThatOrder) {
    Response res;
    res.set("X-Existing", "1");
    cors_decorate(res, kApp, "https://app.example", "X-Request-Id, Retry-After");
    ASSERT_EQ(res.headers.size(), 4u);
    EXPECT_EQ(res.headers[1].first, "Access-Control-Allow-Origin");
    EXPECT_EQ(res.headers[1].second, "https://app.example");
    EXPECT_EQ(res.headers[2].first, "Access-Control-Expose-Headers");
    EXPECT_EQ(res.headers[2].second, "X-Request-Id, Retry-After");
    EXPECT_EQ(res.headers[3].first, "Vary");
    EXPECT_EQ(res.headers[3].second, "Origin");
}

TEST(Cors, DecorateForARefusedOriginOnlyVaries) {
    Response res;
    cors_decorate(res, kApp, "https://evil.example", "X-Request-Id");
    ASSERT_EQ(res.headers.size(), 1u);
    EXPECT_EQ(header_of(res, "Vary"), "Origin");
    Response plain;
    cors_decorate(plain, {}, "https://app.example", "X-Request-Id");
    EXPECT_TRUE(plain.headers.empty());
}

}  // namespace
}  // namespace voicegate::http
