#include <gtest/gtest.h>

#include "http/router.hpp"

namespace voicegate::http {
namespace {

boost::asio::awaitable<Response> ok(Request&) {
    co_return Response{};
}

TEST(RouterRoutes, MetricRouteNamesAreThePatterns) {
    Router r;
    r.add("POST", "/api/realtime/token", ok);
    r.add("GET", "/api/realtime/token", ok);  // same path, another method: one route
    r.add("GET", "/a.css", ok, "static");
    r.add("GET", "/b.js", ok, "static");  // shares the name
    r.add_prefix("GET", "/files/", ok);
    EXPECT_EQ(r.routes(), (std::vector<std::string>{"/api/realtime/token", "static", "/files/*"}));
    EXPECT_EQ(r.route_index("/api/realtime/token"), 0U);
    EXPECT_EQ(r.route_index("/a.css"), 1U);
    EXPECT_EQ(r.route_index("/b.js"), 1U);
    EXPECT_EQ(r.route_index("/files/x/y"), 2U);
    // Unknown paths, including raw query-like paths, never become a route of their own.
    EXPECT_EQ(r.route_index("/api/realtime/token/extra"), 3U);
    EXPECT_EQ(r.route_index("/user/12345"), r.routes().size());
}

}  // namespace
}  // namespace voicegate::http
