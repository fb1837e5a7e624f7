#include "upstream/http_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "support/fake_upstream_server.hpp"
#include "support/run_coro.hpp"
#include "unit/upstream/upstream_test_util.hpp"

namespace voicegate::upstream {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::run_coro;

TEST(BaseUrl, ParsesHttpsAndHttp) {
    auto a = parse_base_url("https://api.openai.com/v1");
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->origin.tls);
    EXPECT_EQ(a->origin.host, "api.openai.com");
    EXPECT_EQ(a->origin.port, 443);
    EXPECT_EQ(a->origin.host_header, "api.openai.com");
    EXPECT_EQ(a->path, "/v1");

    auto b = parse_base_url("http://127.0.0.1:8089/v1/");
    ASSERT_TRUE(b.has_value());
    EXPECT_FALSE(b->origin.tls);
    EXPECT_EQ(b->origin.port, 8089);
    EXPECT_EQ(b->origin.host_header, "127.0.0.1:8089");
    EXPECT_EQ(b->path, "/v1");

    auto c = parse_base_url("HTTPS://[::1]:8443");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->origin.host, "::1");
    EXPECT_EQ(c->origin.host_header, "[::1]:8443");
    EXPECT_EQ(c->path, "");
    EXPECT_NE(a->origin.key, c->origin.key);
}

TEST(BaseUrl, RejectsWhatItCannotUse) {
    for (const char* bad : {"", "api.openai.com/v1", "ftp://x/v1", "https://user:pw@x/v1",
                            "https://x/v1?a=b", "https://x/v1#f", "https:///v1", "https://x:0/"}) {
        EXPECT_FALSE(parse_base_url(bad).has_value()) << bad;
    }
}

TEST(Loopback, RecognisesLoopbackHosts) {
    for (const char* h :
         {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"}) {
        EXPECT_TRUE(is_loopback_host(h)) << h;
    }
    for (const char* h :
         {"api.openai.com", "10.0.0.1", "0.0.0.0", "::", "localhost.evil.com", "128.0.0.1", ""}) {
        EXPECT_FALSE(is_loopback_host(h)) << h;
    }
}

TEST(TransportErrors, MapToFailures) {
    TransportError e;
    e.kind = TransportErrorKind::timeout;
    EXPECT_EQ(e.to_failure().code, Error::upstream_timeout);
    EXPECT_FALSE(e.retryable());
    e.kind = TransportErrorKind::connect;
    EXPECT_EQ(e.to_failure().code, Error::upstream_unavailable);
    EXPECT_TRUE(e.retryable());
    e.kind = TransportErrorKind::tls_verify;
    EXPECT_EQ(e.to_failure().code, Error::upstream_unavailable);
    EXPECT_FALSE(e.retryable());
    e.kind = TransportErrorKind::protocol;
    EXPECT_EQ(e.to_failure().code, Error::upstream_bad_response);
}

HttpRequest get(std::string target) {
    HttpRequest r;
    r.method = "GET";
    r.target = std::move(target);
    return r;
}

TEST(HttpClient, RequestsFromAnUnknownLoopWorkUnpooled) {
    test::FakeUpstreamServer server([](const http::Request& req) {
        http::Response r;
        r.body = req.target;
        return r;
    });
    asio::io_context pooled;
    asio::io_context other;
    HttpClient client({&pooled}, {});
    const auto base = parse_base_url(server.base_url());
    ASSERT_TRUE(base.has_value());
    const auto origin = base->origin;
    const auto req = get("/v1/x");
    for (int i = 0; i < 2; ++i) {
        auto r =
            run_coro(other, client.request(origin, req, std::chrono::steady_clock::now() + 2s));
        ASSERT_TRUE(r.has_value()) << r.error().detail;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "/v1/x");
        EXPECT_EQ(r->header("content-type").value_or(""), "application/json");
    }
    EXPECT_EQ(client.connections_opened(), 2U);
    for (int i = 0; i < 2; ++i) {
        auto r =
            run_coro(pooled, client.request(origin, req, std::chrono::steady_clock::now() + 2s));
        ASSERT_TRUE(r.has_value()) << r.error().detail;
    }
    EXPECT_EQ(client.connections_opened(), 3U);
    EXPECT_EQ(client.idle_connections(pooled, origin), 1U);
}

TEST(HttpClient, MaxConnectionsMakesRequestsWaitForAFreeOne) {
    test::FakeUpstreamServer server([](const http::Request&) { return http::Response{}; });
    server.set_delay(100ms);
    asio::io_context ioc;
    HttpClientOptions o;
    o.max_connections = 1;
    HttpClient client({&ioc}, o);
    const auto origin = parse_base_url(server.base_url())->origin;
    const auto req = get("/");
    int ok = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i) {
        asio::co_spawn(ioc, client.request(origin, req, start + 3s),
                       [&](std::exception_ptr e, HttpResult r) {
                           if (!e && r.has_value() && r->status == 200) {
                               ++ok;
                           }
                       });
    }
    ioc.run();
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(client.connections_opened(), 1U);
    EXPECT_GE(testing_util::elapsed_ms(start), 200);  // served one after the other
}

TEST(HttpClient, ConnectionCloseIsNotPooled) {
    test::FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.close = true;
        return r;
    });
    asio::io_context ioc;
    HttpClient client({&ioc}, {});
    const auto origin = parse_base_url(server.base_url())->origin;
    const auto req = get("/");
    for (int i = 0; i < 3; ++i) {
        auto r = run_coro(ioc, client.request(origin, req, std::chrono::steady_clock::now() + 2s));
        ASSERT_TRUE(r.has_value()) << r.error().detail;
    }
    EXPECT_EQ(client.connections_opened(), 3U);
    EXPECT_EQ(client.idle_connections(ioc, origin), 0U);
}

TEST(HttpClient, OversizedBodyIsTooLarge) {
    test::FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.body = std::string(4096, 'x');
        return r;
    });
    asio::io_context ioc;
    HttpClientOptions o;
    o.body_limit = 1024;
    HttpClient client({&ioc}, o);
    const auto origin = parse_base_url(server.base_url())->origin;
    const auto req = get("/");
    auto r = run_coro(ioc, client.request(origin, req, std::chrono::steady_clock::now() + 2s));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, TransportErrorKind::too_large);
    EXPECT_EQ(r.error().to_failure().code, Error::upstream_bad_response);
}

TEST(HttpClient, ResolvesHostNames) {
    test::FakeUpstreamServer server([](const http::Request&) { return http::Response{}; });
    asio::io_context ioc;
    HttpClient client({&ioc}, {});
    const auto origin = parse_base_url(server.base_url("localhost"))->origin;
    const auto req = get("/");
    auto r = run_coro(ioc, client.request(origin, req, std::chrono::steady_clock::now() + 2s));
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace voicegate::upstream
