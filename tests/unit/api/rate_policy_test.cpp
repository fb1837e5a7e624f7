#include "api/rate_policy.hpp"

#include <map>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "api/access_config.hpp"
#include "fakes/manual_clock.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "support/config_from_env.hpp"
#include "support/run_coro.hpp"

namespace voicegate::api {
namespace {

// [limits] as loaded from the environment `env` (the rates parsed once, by the config).
config::LimitsConfig limits_from(std::map<std::string, std::string> env) {
    return test::config_from_env(std::move(env)).limits;
}

std::string header_of(const http::Headers& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

class RatePolicyTest : public ::testing::Test {
protected:
    static RateSettings settings() {
        return rate_settings_from(limits_from({{"VOICEGATE_RATE_USER", "2/min"},
                                               {"VOICEGATE_RATE_IP", "3/min"},
                                               {"VOICEGATE_RATE_ROUTES", "/api/realtime/options=1/min"}}));
    }
    RateVerdict token(const std::string& user, const std::string& ip) {
        return test::run_coro(io_, policy_.limit_token(user, ip));
    }

    boost::asio::io_context io_;
    test::ManualClock clock_;
    ratelimit::MemoryLimiter memory_{clock_};
    ratelimit::SyncLimiterAdapter limiter_{memory_};
    RatePolicy policy_{settings(), limiter_};
};

TEST_F(RatePolicyTest, TokenLimitsCountTheAddressThenTheUserWithHeaders) {
    auto first = token("u1", "10.0.0.1");
    ASSERT_TRUE(first.allowed);
    EXPECT_EQ(header_of(first.headers, "RateLimit-Policy").rfind("\"user\"", 0), 0U)
        << "the user's policy first: " << header_of(first.headers, "RateLimit-Policy");
    EXPECT_NE(header_of(first.headers, "RateLimit"), "");
    ASSERT_TRUE(token("u1", "10.0.0.1").allowed);
    auto refused = token("u1", "10.0.0.1");
    ASSERT_FALSE(refused.allowed);
    EXPECT_EQ(refused.allowed.error().code, Error::rate_limited);
    EXPECT_EQ(refused.allowed.error().details, "user limit 2/min");
    EXPECT_GT(refused.allowed.error().retry_after_s, 0);
    // The address is checked first, so the user's refusal spent its third request (3/min):
    // another user from it is refused by the address.
    auto by_ip = token("u2", "10.0.0.1");
    ASSERT_FALSE(by_ip.allowed);
    EXPECT_EQ(by_ip.allowed.error().details, "ip limit 3/min");
}

TEST_F(RatePolicyTest, RouteLimitsApplyOnlyToTheirPath) {
    EXPECT_EQ(policy_.route_rate("/api/realtime/token"), nullptr);
    const auto* rate = policy_.route_rate("/api/realtime/options");
    ASSERT_NE(rate, nullptr);
    auto ok = test::run_coro(io_, policy_.limit_route("/api/realtime/options", *rate, "::1"));
    EXPECT_TRUE(ok.allowed);
    EXPECT_EQ(header_of(ok.headers, "RateLimit-Policy").rfind("\"route\"", 0), 0U);
    auto refused = test::run_coro(io_, policy_.limit_route("/api/realtime/options", *rate, "::1"));
    ASSERT_FALSE(refused.allowed);
    EXPECT_EQ(refused.allowed.error().details, "route limit /api/realtime/options");
    EXPECT_EQ(refused.allowed.error().public_message(),
              "Too many requests from this address; slow down.");
}

TEST(RateVerdicts, UnenforcedPoliciesGiveNoHeadersAndAnUndecidedLimiterIs503) {
    const ratelimit::Decision open{};  // limit 0: a shared store failing open
    const std::vector<ratelimit::Decision> decided{open, open};
    config::LimitsConfig limits;
    auto verdict = token_verdict(decided, rate_settings_from(limits));
    EXPECT_TRUE(verdict.allowed);
    EXPECT_TRUE(verdict.headers.empty());
    EXPECT_TRUE(route_verdict(nullptr, "/x").allowed);

    auto down = limiter_unavailable(fail(Error::store_unavailable, {}, "redis down"));
    ASSERT_FALSE(down.allowed);
    EXPECT_EQ(down.allowed.error().code, Error::store_unavailable);
    EXPECT_EQ(down.allowed.error().retry_after_s, 1);
    EXPECT_EQ(down.allowed.error().details, "redis down");

    http::Response res;
    RateVerdict with_headers;
    with_headers.headers = {{"RateLimit-Policy", "p"}, {"RateLimit", "r"}};
    with_headers.add_headers_to(res);
    with_headers.add_headers_to(res);
    EXPECT_EQ(res.headers.size(), 4U);
}

// The rates are parsed once, when the configuration loads (a bad one is a config error naming
// its setting); rate_settings_from copies them with the text they were given as.
TEST(RateSettingsFrom, ParsesOnceAndNamesTheBadSetting) {
    auto s = rate_settings_from(limits_from({{"VOICEGATE_RATE_USER", "5/sec"}}));
    EXPECT_EQ(s.user.count, 5);
    EXPECT_EQ(s.user.period_ms, 1000);
    EXPECT_EQ(s.user_label, "5/sec");
    config::Sources bad;
    bad.env = {{"VOICEGATE_RATE_IP", "lots"}};
    auto loaded = config::load_config(bad);
    EXPECT_FALSE(loaded.config.has_value()) << "a bad rate must be refused";
    ASSERT_FALSE(loaded.errors.empty());
    EXPECT_EQ(loaded.errors[0].rfind("VOICEGATE_RATE_IP", 0), 0U) << loaded.errors[0];
}

}  // namespace
}  // namespace voicegate::api
