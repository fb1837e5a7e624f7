#include "api/pipeline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/access_config.hpp"
#include "fakes/manual_clock.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "support/config_from_env.hpp"
#include "support/run_coro.hpp"

namespace voicegate::api {
namespace {
namespace asio = boost::asio;

std::string header_of(const http::Response& res, std::string_view name) {
    for (const auto& [k, v] : res.headers) {
        if (k == name) {
            return v;
        }
    }
    return "<none>";
}

http::Request request(std::string method, std::string path, std::string origin = {}) {
    http::Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.target = r.path;
    r.client_ip = "127.0.0.1";
    if (!origin.empty()) {
        r.headers.emplace_back("origin", std::move(origin));
    }
    return r;
}

// A pipeline over a router with GET /api/slow (waits `slow_ms` on the loop), GET /healthz and
// POST /api/realtime/end, for the configuration `env` and the options given.
class PipelineTest : public ::testing::Test {
protected:
    void build(std::map<std::string, std::string> env, PipelineOptions options) {
        cfg_ = test::config_from_env(std::move(env));
        admission_ = ip_admission_from(cfg_->limits);
        rates_ = std::make_unique<RatePolicy>(rate_settings_from(cfg_->limits), limiter_, nullptr);
        router_.add("GET", "/api/slow", [this](http::Request&) -> asio::awaitable<http::Response> {
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(slow_ms_));
            co_await t.async_wait(asio::use_awaitable);
            http::Response res;
            res.body = "slow";
            co_return res;
        });
        router_.add("GET", "/healthz", [](http::Request&) -> asio::awaitable<http::Response> {
            http::Response res;
            res.body = "ok";
            co_return res;
        });
        router_.add(
            "POST", "/api/realtime/end",
            [](http::Request&) -> asio::awaitable<http::Response> { co_return http::Response{}; });
        pipeline_ = std::make_unique<Pipeline>(admission_, *rates_, router_, std::move(options));
    }
    http::Response handle(http::Request req) {
        return test::run_coro(io_, [&]() -> asio::awaitable<http::Response> {
            co_return co_await pipeline_->handle(req);
        }());
    }

    asio::io_context io_;
    test::ManualClock clock_;
    ratelimit::MemoryLimiter memory_{clock_};
    ratelimit::SyncLimiterAdapter limiter_{memory_};
    std::optional<config::Config> cfg_;
    net::IpAdmission admission_;
    std::unique_ptr<RatePolicy> rates_;
    http::Router router_;
    std::unique_ptr<Pipeline> pipeline_;
    int slow_ms_ = 50;
};

TEST_F(PipelineTest, DispatchesAndAddsTheCorsHeadersOfAnAllowedOrigin) {
    build({}, {false, {"https://app.example"}, 0});
    auto res = handle(request("GET", "/healthz", "https://app.example"));
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "ok");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "https://app.example");
    EXPECT_EQ(header_of(res, "Access-Control-Expose-Headers"),
              "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, X-Session-Id, Location");
    EXPECT_EQ(header_of(res, "Vary"), "Origin");
    auto refused = handle(request("GET", "/healthz", "https://evil.example"));
    EXPECT_EQ(header_of(refused, "Access-Control-Allow-Origin"), "<none>");
    EXPECT_EQ(header_of(refused, "Vary"), "Origin");
}

TEST_F(PipelineTest, SetsTheRouteIndexForTheMetrics) {
    build({}, {});
    auto req = request("GET", "/healthz");
    (void)test::run_coro(io_, [&]() -> asio::awaitable<http::Response> {
        co_return co_await pipeline_->handle(req);
    }());
    EXPECT_EQ(req.route, router_.route_index("/healthz"));
}

TEST_F(PipelineTest, AnswersOptionsWithThePreflightOfTheRoute) {
    build({}, {false, {"https://app.example"}, 0});
    auto res = handle(request("OPTIONS", "/api/realtime/end", "https://app.example"));
    EXPECT_EQ(res.status, 204);
    EXPECT_EQ(header_of(res, "Allow"), "POST, OPTIONS");
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Methods"), "POST, OPTIONS");
    EXPECT_EQ(header_of(res, "Vary"), "Origin");
    auto unknown = handle(request("OPTIONS", "/nowhere", "https://app.example"));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(header_of(unknown, "Access-Control-Allow-Origin"), "<none>");
}

TEST_F(PipelineTest, RefusesAClientOutsideTheIpAllowListBeforeAnythingElse) {
    build({{"VOICEGATE_IP_ALLOW", "10.0.0.0/8"}}, {false, {"https://app.example"}, 0});
    auto res = handle(request("OPTIONS", "/api/realtime/end", "https://app.example"));
    EXPECT_EQ(res.status, 403);
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "<none>");
}

TEST_F(PipelineTest, ShedsApiRequestsBeyondMaxInFlightWith503AndRetryAfter) {
    build({}, {false, {"https://app.example"}, 1});
    std::optional<http::Response> first;
    std::optional<http::Response> second;
    std::optional<http::Response> health;
    auto r1 = request("GET", "/api/slow", "https://app.example");
    auto r2 = request("GET", "/api/slow", "https://app.example");
    auto r3 = request("GET", "/healthz");
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { first = co_await pipeline_->handle(r1); },
        asio::detached);
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { second = co_await pipeline_->handle(r2); },
        asio::detached);
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { health = co_await pipeline_->handle(r3); },
        asio::detached);
    io_.run();
    ASSERT_TRUE(first && second && health);
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(second->status, 503);
    EXPECT_EQ(header_of(*second, "Retry-After"), "1");
    EXPECT_EQ(header_of(*second, "Access-Control-Allow-Origin"), "https://app.example");
    EXPECT_EQ(header_of(*second, "Access-Control-Expose-Headers"), "X-Request-Id, Retry-After");
    EXPECT_EQ(header_of(*second, "Vary"), "Origin");
    EXPECT_EQ(health->status, 200);  // not an /api/ path: never shed
    // The slot is given back: the next request goes through.
    EXPECT_EQ(handle(request("GET", "/api/slow")).status, 200);
}

TEST_F(PipelineTest, ASheddedAnswerToARefusedOriginHasNoCorsHeadersAtAll) {
    build({}, {false, {"https://app.example"}, 1});
    std::optional<http::Response> second;
    auto r1 = request("GET", "/api/slow");
    auto r2 = request("GET", "/api/slow", "https://evil.example");
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { (void)co_await pipeline_->handle(r1); },
        asio::detached);
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { second = co_await pipeline_->handle(r2); },
        asio::detached);
    io_.run();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 503);
    EXPECT_EQ(header_of(*second, "Vary"), "<none>");
    EXPECT_EQ(header_of(*second, "Access-Control-Allow-Origin"), "<none>");
}

TEST_F(PipelineTest, AppliesPerRouteLimitsBeforeTheHandlerWithTheirHeaders) {
    build({{"VOICEGATE_RATE_ROUTES", "/healthz=2/min"}}, {});
    EXPECT_EQ(handle(request("GET", "/healthz")).status, 200);
    auto second = handle(request("GET", "/healthz"));
    EXPECT_EQ(second.status, 200);
    EXPECT_NE(header_of(second, "RateLimit-Policy"), "<none>");
    auto third = handle(request("GET", "/healthz"));
    EXPECT_EQ(third.status, 429);
    EXPECT_NE(third.body, "ok");
    EXPECT_NE(header_of(third, "Retry-After"), "<none>");
}

}  // namespace
}  // namespace voicegate::api
