#include "api/metrics_endpoint.hpp"

#include <gtest/gtest.h>

namespace voicegate::api {
namespace {

http::Request request(std::string ip,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request r;
    r.method = "GET";
    r.path = "/metrics";
    r.client_ip = std::move(ip);
    r.headers = std::move(headers);
    return r;
}

TEST(MetricsAccess, LoopbackIsOpenWithoutAToken) {
    config::MetricsConfig c;
    EXPECT_EQ(metrics_access(c, request("127.0.0.1")), MetricsAccess::allowed);
    EXPECT_EQ(metrics_access(c, request("::1")), MetricsAccess::allowed);
    EXPECT_EQ(metrics_access(c, request("10.0.0.7")), MetricsAccess::ask_admin);
    // Through a reverse proxy on the same host: not a loopback client.
    EXPECT_EQ(metrics_access(c, request("127.0.0.1", {{"x-forwarded-for", "203.0.113.9"}})),
              MetricsAccess::ask_admin);
    EXPECT_EQ(metrics_access(c, request("127.0.0.1", {{"forwarded", "for=203.0.113.9"}})),
              MetricsAccess::ask_admin);
}

TEST(MetricsAccess, TokenIsRequiredFromEveryoneWhenSet) {
    config::MetricsConfig c;
    c.token = "mt-0123456789-abcdef";
    EXPECT_EQ(metrics_access(c, request("127.0.0.1")), MetricsAccess::refused);
    EXPECT_EQ(
        metrics_access(c, request("10.0.0.7", {{"authorization", "Bearer mt-0123456789-abcdef"}})),
        MetricsAccess::allowed);
    EXPECT_EQ(
        metrics_access(c, request("10.0.0.7", {{"authorization", "Bearer mt-0123456789-abcdeX"}})),
        MetricsAccess::refused);
    EXPECT_EQ(metrics_access(c, request("10.0.0.7", {{"authorization", "mt-0123456789-abcdef"}})),
              MetricsAccess::refused);
}

TEST(MetricsAccess, ResponseIsPrometheusText) {
    auto res = metrics_response("x 1\n");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(res.body, "x 1\n");
}

}  // namespace
}  // namespace voicegate::api
