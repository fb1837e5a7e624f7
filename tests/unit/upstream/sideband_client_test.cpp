// The sideband client's TLS path: the same verification and SNI as the upstream HTTP client
// (HttpClient::connect), against the TLS fake upstream. The WebSocket conversation itself is
// tested through the supervisor (tests/unit/supervisor/supervisor_test.cpp).
#include "upstream/sideband_client.hpp"

#include <gtest/gtest.h>

#include "support/fake_upstream_server.hpp"
#include "support/loop_thread.hpp"
#include "support/test_certs.hpp"
#include "unit/upstream/upstream_test_util.hpp"

namespace voicegate::upstream {
namespace {

constexpr const char* kKey = "sk-test-sideband-0123456789";

http::Response gone() {
    http::Response r;
    r.status = 404;
    r.body = R"({"error":{"code":"call_id_not_found"}})";
    return r;
}

test::FakeUpstreamOptions tls_options(const test::TestCerts& certs) {
    test::FakeUpstreamOptions fo;
    fo.tls = true;
    fo.cert_file = certs.cert_file();
    fo.key_file = certs.key_file();
    return fo;
}

SidebandConnector::JoinResult join(test::LoopThread& loop, const std::string& base,
                                   HttpClientOptions options) {
    auto http = std::make_shared<HttpClient>(std::vector<boost::asio::io_context*>{&loop.io()},
                                             std::move(options));
    WebSocketSidebandConnector connector(http, {});
    const SidebandEndpoint endpoint{parse_base_url(base)->origin, "/v1/realtime?call_id=rtc_1",
                                    kKey};
    return loop.run(connector.join(endpoint));
}

TEST(SidebandClient, JoinsOverVerifiedTlsWithSniAnd404IsGone) {
    test::TestCerts certs({"localhost"});
    test::FakeUpstreamServer server([](const http::Request&) { return gone(); },
                                    tls_options(certs));
    test::LoopThread loop;
    HttpClientOptions ho;
    ho.ca_file = certs.ca_file();
    auto r = join(loop, server.base_url("localhost"), ho);
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().gone);
    EXPECT_EQ(r.error().status, 404);
    EXPECT_EQ(server.tls_server_names(), std::vector<std::string>{"localhost"});
    const auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].method, "GET");
    EXPECT_EQ(reqs[0].target, "/v1/realtime?call_id=rtc_1");
    EXPECT_EQ(reqs[0].header("authorization").value_or(""), std::string("Bearer ") + kKey);
    EXPECT_EQ(reqs[0].header("upgrade").value_or(""), "websocket");
    EXPECT_FALSE(reqs[0].header("openai-beta").has_value());
    EXPECT_EQ(r.error().detail.find(kKey), std::string::npos);
    EXPECT_EQ(r.error().detail.find("rtc_1"), std::string::npos);
}

TEST(SidebandClient, UntrustedCertificateIsARetryableFailure) {
    test::TestCerts certs({"localhost"}, {}, /*self_signed=*/true);
    test::FakeUpstreamServer server([](const http::Request&) { return gone(); },
                                    tls_options(certs));
    test::LoopThread loop;
    auto r = join(loop, server.base_url("localhost"), {});  // the system CAs only
    ASSERT_FALSE(r.has_value());
    EXPECT_FALSE(r.error().gone);
    EXPECT_EQ(r.error().status, 0);
    EXPECT_NE(r.error().detail.find("tls_verify"), std::string::npos) << r.error().detail;
    EXPECT_EQ(server.request_count(), 0u);
}

TEST(SidebandClient, OtherStatusesAndRefusedConnectionsAreRetryable) {
    test::FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.status = 503;
        return r;
    });
    test::LoopThread loop;
    auto r = join(loop, server.base_url(), {});
    ASSERT_FALSE(r.has_value());
    EXPECT_FALSE(r.error().gone);
    EXPECT_EQ(r.error().status, 503);
    auto refused =
        join(loop, "http://127.0.0.1:" + std::to_string(testing_util::closed_port()) + "/v1", {});
    ASSERT_FALSE(refused.has_value());
    EXPECT_FALSE(refused.error().gone);
    EXPECT_NE(refused.error().detail.find("connect"), std::string::npos);
}

}  // namespace
}  // namespace voicegate::upstream
