// The JWKS URL refresh through the product's own wiring (test review D1): a real HTTP JWKS
// endpoint on loopback, the App started with JWT_JWKS_URL pointing at it, key rotations, and the
// 30 s refresh floor. The App runs on a ManualClock, so the floor is crossed without waiting.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "fakes/manual_clock.hpp"
#include "integration/app_harness.hpp"
#include "support/fake_upstream_server.hpp"
#include "support/jwt_factory.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

constexpr const char* kAudience = "authenticated";

// A JWKS document served over plain HTTP on 127.0.0.1; the document can be replaced (a key
// rotation at the identity provider) and every fetch is recorded.
class JwksEndpoint {
public:
    JwksEndpoint()
        : server_([this](const http::Request&) {
              http::Response r;
              const std::lock_guard lock(mutex_);
              r.body = document_;
              return r;
          }) {}
    void publish(const std::vector<json::object>& keys) {
        const std::lock_guard lock(mutex_);
        document_ = jwks_json(keys);
    }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(server_.port()) + "/auth/v1/jwks";
    }
    std::size_t fetches() const { return server_.request_count(); }
    std::vector<http::Request> requests() const { return server_.requests(); }

private:
    std::mutex mutex_;
    std::string document_ = R"({"keys":[]})";
    FakeUpstreamServer server_;
};

struct JwksRefresh : ::testing::Test {
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
    JwksEndpoint jwks;
    TestKey old_key = shared_ec_key();
    TestKey new_key = TestKey::ec();

    std::unique_ptr<RunningApp> start() {
        return std::make_unique<RunningApp>(
            test_config({{"JWT_JWKS_URL", jwks.url()},
                         {"JWT_AUDIENCE", kAudience},
                         {"VOICEGATE_RATE_USER", "100000/min"},
                         {"VOICEGATE_RATE_IP", "100000/min"},
                         {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                         {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "0"},
                         {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"}}),
            clock);
    }
    std::string token(const TestKey& key, const std::string& kid,
                      const std::string& sub = "rotating-user") const {
        const json::object claims{{"sub", sub},
                                  {"aud", kAudience},
                                  {"role", "authenticated"},
                                  {"exp", clock->now_s() + 600}};
        return sign_es256({{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid}}, claims, key);
    }
    static int post_token(const RunningApp& app, const std::string& jwt) {
        return app.post("/api/realtime/token", "{}", {{"Authorization", "Bearer " + jwt}}).status;
    }
};

TEST_F(JwksRefresh, RotatedKeyIsAcceptedOnTheFirstTryWithExactlyOneExtraFetch) {
    jwks.publish({old_key.public_jwk("k-old", "ES256")});
    auto app = start();

    // The first token finds the key set by one fetch (at start or on its unknown kid).
    EXPECT_EQ(post_token(*app, token(old_key, "k-old")), 200);
    ASSERT_EQ(jwks.fetches(), 1U);
    const auto first = jwks.requests().front();
    EXPECT_EQ(first.method, "GET");
    EXPECT_EQ(first.path, "/auth/v1/jwks");
    EXPECT_EQ(first.header("accept").value_or(""), "application/json");
    // A known kid needs no fetch.
    EXPECT_EQ(post_token(*app, token(old_key, "k-old")), 200);
    EXPECT_EQ(jwks.fetches(), 1U);

    // The provider rotates: a new key next to the old one. Past the floor, a token with the new
    // kid is accepted on its first try, after exactly one more fetch.
    jwks.publish({old_key.public_jwk("k-old", "ES256"), new_key.public_jwk("k-new", "ES256")});
    clock->advance_ms(31'000);
    EXPECT_EQ(post_token(*app, token(new_key, "k-new")), 200);
    EXPECT_EQ(jwks.fetches(), 2U);
    EXPECT_EQ(post_token(*app, token(new_key, "k-new")), 200);
    EXPECT_EQ(post_token(*app, token(old_key, "k-old")), 200);
    EXPECT_EQ(jwks.fetches(), 2U);

    // The old key is retired: after the next refresh its tokens are refused.
    jwks.publish({new_key.public_jwk("k-new", "ES256")});
    clock->advance_ms(31'000);
    const auto third = TestKey::ec();
    EXPECT_EQ(post_token(*app, token(third, "k-third")), 401);  // triggers the refresh
    EXPECT_EQ(jwks.fetches(), 3U);
    EXPECT_EQ(post_token(*app, token(old_key, "k-old")), 401);
    EXPECT_EQ(post_token(*app, token(new_key, "k-new")), 200);
    EXPECT_EQ(jwks.fetches(), 3U);
}

TEST_F(JwksRefresh, AFloodOfUnknownKidsFetchesAtMostOncePerThirtySeconds) {
    jwks.publish({old_key.public_jwk("k-old", "ES256")});
    auto app = start();
    ASSERT_EQ(post_token(*app, token(old_key, "k-old")), 200);
    ASSERT_EQ(jwks.fetches(), 1U);

    const auto stranger = TestKey::ec();
    // 8 clients at once, 5 tokens each, every one with a kid nobody published.
    const auto flood = [&](const std::string& tag) {
        std::atomic<int> refused{0};
        std::vector<std::thread> clients;
        for (int c = 0; c < 8; ++c) {
            clients.emplace_back([&, c] {
                for (int i = 0; i < 5; ++i) {
                    const auto kid = tag + "-" + std::to_string(c) + "-" + std::to_string(i);
                    refused += post_token(*app, token(stranger, kid)) == 401 ? 1 : 0;
                }
            });
        }
        for (auto& t : clients) {
            t.join();
        }
        return refused.load();
    };

    // Within 30 s of the first fetch: no fetch at all.
    EXPECT_EQ(flood("a"), 40);
    EXPECT_EQ(jwks.fetches(), 1U);
    clock->advance_ms(29'999);
    EXPECT_EQ(flood("b"), 40);
    EXPECT_EQ(jwks.fetches(), 1U);

    // A key rotated in now is not seen before the floor has passed...
    jwks.publish({old_key.public_jwk("k-old", "ES256"), new_key.public_jwk("k-new", "ES256")});
    EXPECT_EQ(post_token(*app, token(new_key, "k-new")), 401);
    EXPECT_EQ(jwks.fetches(), 1U);

    // ...and 30 s after the first fetch the whole flood makes exactly one fetch.
    clock->advance_ms(1);
    EXPECT_EQ(flood("c"), 40);
    EXPECT_EQ(jwks.fetches(), 2U);
    EXPECT_EQ(post_token(*app, token(new_key, "k-new")), 200);  // the fetch brought it
    EXPECT_EQ(jwks.fetches(), 2U);

    clock->advance_ms(29'000);
    EXPECT_EQ(flood("d"), 40);
    EXPECT_EQ(jwks.fetches(), 2U);
}

}  // namespace
}  // namespace voicegate::test
