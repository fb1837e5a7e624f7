// Shared rate limits over real HTTP (SPEC §4): in-process Apps with REDIS_URL on the test Redis
// (VOICEGATE_TEST_REDIS_URL), as several voicegate instances behind a load balancer would run.
// Outages go through a TcpProxy, so the Redis other tests share is never stopped.
#include <atomic>
#include <chrono>
#include <thread>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "integration/app_harness.hpp"
#include "ratelimit/redis_url.hpp"
#include "support/eventually.hpp"
#include "support/log_capture.hpp"
#include "support/redis_test_env.hpp"
#include "support/tcp_proxy.hpp"

#include <spdlog/spdlog.h>

namespace voicegate::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class RedisLimits : public ::testing::Test {
protected:
    void SetUp() override {
        VOICEGATE_REQUIRE_TEST_REDIS(url_);
        auto parsed = ratelimit::parse_redis_url(url_);
        ASSERT_TRUE(parsed) << url_;
        host_ = parsed->host == "localhost" ? "127.0.0.1" : parsed->host;
        port_ = parsed->port;
        prefix_ = unique_key_prefix();
    }
    // An App on the shared Redis (or `redis_url`), with a prefix of its own to this test.
    config::Config cfg(std::map<std::string, std::string> env, const std::string& redis_url = {}) {
        env["REDIS_URL"] = redis_url.empty() ? url_ : redis_url;
        env["VOICEGATE_REDIS_KEY_PREFIX"] = prefix_;
        // Quotas off: these tests are about the rate limits, with many sessions of one user.
        env.emplace("VOICEGATE_QUOTA_CONCURRENT", "0");
        env.emplace("VOICEGATE_QUOTA_MINUTES_PER_DAY", "0");
        env.emplace("VOICEGATE_QUOTA_SESSIONS_PER_DAY", "0");
        return test_config(std::move(env));
    }
    std::string proxied_url(const TcpProxy& proxy) const {
        return "redis://127.0.0.1:" + std::to_string(proxy.port()) + "/0";
    }

    LogCapture log_;  // first: outlives the Apps
    std::string url_;
    std::string host_;
    std::uint16_t port_ = 0;
    std::string prefix_;
};

TEST_F(RedisLimits, TwoInstancesShareOneUserLimitExactly) {
    constexpr int kLimit = 5;
    constexpr int kRequests = 24;
    const std::map<std::string, std::string> env{{"VOICEGATE_RATE_USER", "5/min"},
                                                 {"VOICEGATE_RATE_IP", "1000/min"}};
    RunningApp a(cfg(env));
    RunningApp b(cfg(env));
    std::atomic<int> ok{0};
    std::atomic<int> limited{0};
    std::atomic<int> other{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kRequests; ++i) {
        clients.emplace_back([&, i] {
            const auto& app = i % 2 == 0 ? a : b;
            auto r = app.post("/api/realtime/token", R"({"userId":"shared-user"})");
            if (r.status == 200) {
                ++ok;
            } else if (r.status == 429) {
                ++limited;
                EXPECT_EQ(json::parse(r.body).at("code"), "rate_limited");
                EXPECT_FALSE(r.header("retry-after").empty());
                EXPECT_NE(r.header("ratelimit-policy").find("\"user\";q=5;w=60"), std::string::npos)
                    << r.header("ratelimit-policy");
            } else {
                ++other;
                ADD_FAILURE() << r.status << " " << r.body;
            }
        });
    }
    for (auto& t : clients) {
        t.join();
    }
    EXPECT_EQ(ok.load(), kLimit);
    EXPECT_EQ(limited.load(), kRequests - kLimit);
    EXPECT_EQ(other.load(), 0);
    // Another user still has a full allowance on either instance.
    EXPECT_EQ(b.post("/api/realtime/token", R"({"userId":"someone-else"})").status, 200);
    EXPECT_EQ(log_.count("redis: unreachable"), 0) << log_.text();
}

TEST_F(RedisLimits, UnreachableRedisFailsClosedWith503AndLogsOnce) {
    TcpProxy proxy(host_, port_);
    proxy.set_mode(TcpProxy::Mode::refuse);
    // A user limit high enough that the requests made while waiting for the reconnect below
    // cannot use it up.
    RunningApp app(cfg({{"VOICEGATE_RATE_USER", "1000/min"}}, proxied_url(proxy)));
    for (int i = 0; i < 30; ++i) {
        auto r = app.post("/api/realtime/token", R"({"userId":"u"})");
        ASSERT_EQ(r.status, 503) << r.body;
        auto body = json::parse(r.body).as_object();
        EXPECT_EQ(body.at("code"), "store_unavailable");
        EXPECT_EQ(body.at("error"), "Rate limiting is unavailable; try again later.");
        EXPECT_EQ(r.header("retry-after"), "1");
        EXPECT_TRUE(r.header("ratelimit").empty());
    }
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();
    EXPECT_NE(log_.text().find("fails closed"), std::string::npos) << log_.text();

    // Back: once every loop's connection is back (after its reconnect backoff; the log says so
    // once, for all of them), requests pass again on every loop.
    proxy.set_mode(TcpProxy::Mode::forward);
    EXPECT_TRUE(eventually([&] {
        (void)app.post("/api/realtime/token", R"({"userId":"u"})");  // a loop reconnects on use
        return log_.count("redis: reconnected") == 1;
    })) << log_.text();
    for (int i = 0; i < 6; ++i) {  // spread over both event loops
        auto r = app.post("/api/realtime/token", R"({"userId":"u"})");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_NE(r.header("ratelimit-policy").find("\"user\";q=1000;w=60"), std::string::npos)
            << r.header("ratelimit-policy");
    }
    EXPECT_EQ(log_.count("redis: reconnected"), 1) << log_.text();
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();
}

TEST_F(RedisLimits, UnreachableRedisFailsOpenWhenConfigured) {
    TcpProxy proxy(host_, port_);
    proxy.set_mode(TcpProxy::Mode::refuse);
    RunningApp app(cfg({{"VOICEGATE_REDIS_FAILURE_MODE", "open"}, {"VOICEGATE_RATE_USER", "2/min"}},
                       proxied_url(proxy)));
    for (int i = 0; i < 6; ++i) {  // more than the user limit: nothing is enforced
        auto r = app.post("/api/realtime/token", R"({"userId":"u"})");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_TRUE(r.header("ratelimit-policy").empty());
    }
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();
    EXPECT_NE(log_.text().find("fails open"), std::string::npos) << log_.text();
}

TEST_F(RedisLimits, HungRedisIs503WithinTheDeadline) {
    TcpProxy proxy(host_, port_);
    RunningApp app(cfg({{"VOICEGATE_REDIS_TIMEOUT_MS", "200"}}, proxied_url(proxy)));
    ASSERT_TRUE(eventually(
        [&] { return app.post("/api/realtime/token", R"({"userId":"u"})").status == 200; }));
    proxy.set_mode(TcpProxy::Mode::hang);
    for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto r = app.post("/api/realtime/token", R"({"userId":"u"})");
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    }
}

TEST_F(RedisLimits, RedisUrlPasswordNeverLogged) {
    RunningApp app(
        cfg({}, "redis://:n0t-the-password@" + host_ + ":" + std::to_string(port_) + "/0"));
    auto r = app.post("/api/realtime/token", R"({"userId":"u"})");
    EXPECT_EQ(r.status, 503) << "the test Redis has no password: AUTH is refused";
    EXPECT_EQ(r.body.find("n0t-the-password"), std::string::npos);
    const auto text = log_.text();
    EXPECT_NE(text.find("redis://:***@"), std::string::npos) << text;
    EXPECT_EQ(text.find("n0t-the-password"), std::string::npos) << text;
}

}  // namespace
}  // namespace voicegate::test
