#include <gtest/gtest.h>

#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "api/access_config.hpp"
#include "api/handlers.hpp"
#include "core/text.hpp"
#include "fakes/fake_realtime_api.hpp"
#include "fakes/fake_session_store.hpp"
#include "fakes/manual_clock.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "support/config_from_env.hpp"
#include "support/jwt_factory.hpp"
#include "support/log_capture.hpp"
#include "support/run_coro.hpp"

namespace voicegate::api {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;

http::Request json_request(std::string body) {
    http::Request r;
    r.method = "POST";
    r.path = "/api/realtime/token";
    r.headers = {{"content-type", "application/json"}, {"user-agent", "diary/1.0"}};
    r.body = std::move(body);
    r.client_ip = "127.0.0.1";
    r.request_id = "req_test";
    return r;
}

template <class F>
http::Response run(F&& f) {
    asio::io_context ioc;
    return test::run_coro(ioc, std::forward<F>(f)());
}

std::string header_of(const http::Response& res, std::string_view name) {
    for (const auto& [k, v] : res.headers) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

// The in-process limiter behind the asynchronous interface, or a shared store that is down
// (failing closed or open); records every call.
class SwitchableLimiter final : public ratelimit::AsyncLimiter {
public:
    enum class Mode { normal, unavailable, fail_open };
    explicit SwitchableLimiter(ratelimit::Limiter& inner) : inner_(inner) {}
    asio::awaitable<Result<std::vector<ratelimit::Decision>>> check(
        std::vector<ratelimit::LimitCheck> checks) override {
        calls.push_back(checks);
        if (mode == Mode::unavailable) {
            co_return fail(Error::store_unavailable, {}, "redis: test says it is down");
        }
        if (mode == Mode::fail_open) {
            co_return std::vector<ratelimit::Decision>(checks.size());
        }
        co_return ratelimit::check_in_order(inner_, checks);
    }
    Mode mode = Mode::normal;
    std::vector<std::vector<ratelimit::LimitCheck>> calls;

private:
    ratelimit::Limiter& inner_;
};

class HandlerTest : public ::testing::Test {
protected:
    explicit HandlerTest(config::Config cfg = test::config_from_env()) : cfg_(std::move(cfg)) {}
    config::Config cfg_;
    test::FakeRealtimeApi realtime_;
    test::FakeSessionStore store_;
    test::ManualClock clock_;
    ratelimit::MemoryLimiter memory_limiter_{clock_};
    SwitchableLimiter limiter_{memory_limiter_};
    // The token handler's settings as cfg_ has them now.
    TokenSettings token_settings() const {
        return {cfg_.tokens, quota_limits(cfg_.quota), cfg_.server.dev};
    }
    std::unique_ptr<auth::JwtTokenVerifier> verifier_ =
        token_verifier_from(cfg_.auth, {}, clock_, {});
    RatePolicy rates_{rate_settings_from(cfg_.limits), limiter_};
    QuotaDenials quota_denials_{clock_};
    TokenHandler token_{token_settings(),
                        verifier_.get(),
                        rates_,
                        quota_denials_,
                        realtime_,
                        store_,
                        clock_};
    EndHandler end_{cfg_.server.dev, verifier_.get(), quota_denials_, store_, clock_};

    http::Response token(std::string body) {
        auto req = json_request(std::move(body));
        return run(
            [&]() -> asio::awaitable<http::Response> { co_return co_await token_.handle(req); });
    }
    http::Response end(std::string body) {
        auto req = json_request(std::move(body));
        req.path = "/api/realtime/end";
        return run(
            [&]() -> asio::awaitable<http::Response> { co_return co_await end_.handle(req); });
    }
};

TEST_F(HandlerTest, TokenSuccessHasExactlyTheDiaryAppShape) {
    auto res =
        token(R"({"userId":"user_12345","sessionConfig":{"model":"gpt-realtime","voice":"alloy",
        "instructions":"You are a friendly diary-writing helper.","maxOutputTokens":4096}})");
    ASSERT_EQ(res.status, 200) << res.body;
    auto body = json::parse(res.body).as_object();
    EXPECT_EQ(body.size(), 5U) << res.body;
    EXPECT_EQ(body.at("success"), true);
    EXPECT_EQ(body.at("token"), "ek_68af296e8e408191a1120ab6383263c2");
    EXPECT_EQ(body.at("sessionId"), "sess_C9CiUVUzUzYIssh3ELY1d");
    EXPECT_EQ(body.at("expiresAt"), 1756310470);
    EXPECT_EQ(body.at("config"), (json::object{{"model", "gpt-realtime"}, {"voice", "alloy"}}));

    ASSERT_EQ(realtime_.requests.size(), 1U);
    const auto& sent = realtime_.requests[0];
    EXPECT_EQ(sent.ttl_seconds, 1800);
    EXPECT_EQ(sent.session, json::parse(R"({"type":"realtime","model":"gpt-realtime",
        "instructions":"You are a friendly diary-writing helper.",
        "audio":{"output":{"voice":"alloy"}},"max_output_tokens":4096})"));

    ASSERT_EQ(store_.rows.count("sess_C9CiUVUzUzYIssh3ELY1d"), 1U);
    const auto& row = store_.rows["sess_C9CiUVUzUzYIssh3ELY1d"].issued;
    EXPECT_EQ(row.user_id, "user_12345");
    EXPECT_EQ(row.user_agent, "diary/1.0");
    EXPECT_EQ(row.issued_at_ms, clock_.now_ms());
}

TEST_F(HandlerTest, SeedAppRequestIsAliasedAndTemperatureWarned) {
    auto res = token(R"({"userId":"u","sessionConfig":{"model":"gpt-4o-realtime-preview-2024-12-17",
        "voice":"alloy","instructions":"x","temperature":0.8,"maxOutputTokens":4096}})");
    ASSERT_EQ(res.status, 200) << res.body;
    auto body = json::parse(res.body).as_object();
    EXPECT_EQ(body.at("warnings"),
              (json::array{"temperature is not supported by the Realtime GA API and was ignored"}));
    EXPECT_EQ(realtime_.requests[0].session.at("model"), "gpt-realtime");
    EXPECT_FALSE(realtime_.requests[0].session.contains("temperature"));
}

TEST_F(HandlerTest, EmptyBodyUsesDefaultsAndAnonymous) {
    http::Request req;
    req.method = "POST";
    auto res =
        run([&]() -> asio::awaitable<http::Response> { co_return co_await token_.handle(req); });
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(realtime_.requests[0].session,
              (json::object{{"type", "realtime"}, {"model", "gpt-realtime"}}));
    EXPECT_EQ(store_.rows.begin()->second.issued.user_id, "anonymous");
}

TEST_F(HandlerTest, ValidationErrorsName400Field) {
    struct Case {
        const char* body;
        const char* field;
    };
    for (const auto& c : std::vector<Case>{
             {R"({"sessionConfig":{"model":"gpt-9"}})", "sessionConfig.model"},
             {R"({"sessionConfig":{"voice":"onyx"}})", "sessionConfig.voice"},
             {R"({"sessionConfig":{"temperature":2}})", "sessionConfig.temperature"},
             {R"({"sessionConfig":{"temperature":"hot"}})", "sessionConfig.temperature"},
             {R"({"sessionConfig":{"maxOutputTokens":0}})", "sessionConfig.maxOutputTokens"},
             {R"({"sessionConfig":{"maxOutputTokens":4097}})", "sessionConfig.maxOutputTokens"},
             {R"({"sessionConfig":{"maxOutputTokens":"lots"}})", "sessionConfig.maxOutputTokens"},
             {R"({"sessionConfig":{"instructions":5}})", "sessionConfig.instructions"},
             {R"({"sessionConfig":{"tools":[]}})", "sessionConfig.tools"},
             {R"({"sessionConfig":[]})", "sessionConfig"},
             {R"({"userId":42})", "userId"},
             {R"({"extra":1})", "extra"},
         }) {
        auto res = token(c.body);
        EXPECT_EQ(res.status, 400) << c.body;
        auto body = json::parse(res.body).as_object();
        EXPECT_EQ(body.at("success"), false);
        EXPECT_EQ(body.at("code"), "bad_request");
        EXPECT_EQ(std::string(body.at("error").as_string()).rfind(c.field, 0), 0U)
            << c.body << " -> " << res.body;
        EXPECT_FALSE(body.contains("details")) << "details only in dev mode";
    }
    EXPECT_TRUE(realtime_.requests.empty()) << "invalid requests never reach upstream";
}

TEST_F(HandlerTest, InstructionsOverLimitRejected) {
    std::string big(cfg_.tokens.max_instructions_bytes + 1, 'a');
    auto res = token(R"({"sessionConfig":{"instructions":")" + big + "\"}}");
    EXPECT_EQ(res.status, 400);
    EXPECT_NE(res.body.find("sessionConfig.instructions"), std::string::npos);
}

TEST_F(HandlerTest, BadJsonAndWrongContentType) {
    EXPECT_EQ(token("{not json").status, 400);
    EXPECT_NE(token("{not json").body.find("invalid_json"), std::string::npos);
    auto req = json_request("{}");
    req.headers = {{"content-type", "text/plain"}};
    auto res =
        run([&]() -> asio::awaitable<http::Response> { co_return co_await token_.handle(req); });
    EXPECT_EQ(res.status, 415);
}

TEST_F(HandlerTest, UpstreamFailureDetailsOnlyInDevMode) {
    realtime_.next =
        fail(Error::upstream_rejected, {}, "upstream said: Incorrect API key provided");
    auto res = token("{}");
    EXPECT_EQ(res.status, 502);
    EXPECT_EQ(res.body.find("Incorrect API key"), std::string::npos);
    EXPECT_TRUE(store_.rows.empty());

    cfg_.server.dev = true;
    const TokenHandler dev_token{token_settings(), verifier_.get(), rates_, quota_denials_,
                                 realtime_,        store_,          clock_};
    auto req = json_request("{}");
    auto dev = run(
        [&]() -> asio::awaitable<http::Response> { co_return co_await dev_token.handle(req); });
    EXPECT_EQ(dev.status, 502);
    EXPECT_NE(dev.body.find("Incorrect API key"), std::string::npos);
}

TEST_F(HandlerTest, StoreFailureMeansNoToken) {
    store_.fail_writes = true;
    auto res = token("{}");
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(res.body.find("ek_"), std::string::npos);
}

// The chaos run's finding: during a store outage every token request still minted a secret
// upstream that could not be recorded. After a store failure, while the store says it is not
// ready, a second of 503s without minting.
TEST_F(HandlerTest, AfterAStoreFailureTokensAreRefusedForASecondWithoutMinting) {
    store_.fail_writes = true;
    ASSERT_EQ(token("{}").status, 503);
    EXPECT_EQ(realtime_.requests.size(), 1U);
    clock_.advance_ms(500);
    auto res = token("{}");
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(header_of(res, "Retry-After"), "1");
    EXPECT_NE(res.body.find("store_unavailable"), std::string::npos) << res.body;
    EXPECT_EQ(realtime_.requests.size(), 1U) << "no secret minted while the store is down";
    // Once the store says it is ready again, tokens are minted at once (no waiting out the
    // second), as /readyz promises.
    store_.fail_writes = false;
    EXPECT_EQ(token("{}").status, 200);
    EXPECT_EQ(realtime_.requests.size(), 2U);
    // A second after a failure the store is tried again even if it still says not ready.
    store_.fail_writes = true;
    ASSERT_EQ(token("{}").status, 503);
    clock_.advance_ms(1'100);
    EXPECT_EQ(token("{}").status, 503);
    EXPECT_EQ(realtime_.requests.size(), 4U) << "after the second, the store is asked again";
}

TEST_F(HandlerTest, TokenHandsTheConfiguredQuotasToTheStore) {
    ASSERT_EQ(token(R"({"userId":"u"})").status, 200);
    const auto& q = store_.rows["sess_C9CiUVUzUzYIssh3ELY1d"].issued.quota;
    EXPECT_EQ(q.concurrent, 2);
    EXPECT_EQ(q.sessions_per_day, 200);
    EXPECT_EQ(q.minutes_per_day, 60);
    EXPECT_EQ(q.reserve_ms, 30 * 60'000);
}

TEST_F(HandlerTest, QuotaRefusalIs403WithResetTimeAndSparesUpstreamForAWhile) {
    ASSERT_EQ(token(R"({"userId":"u"})").status, 200);  // a session of u, ended below
    Failure refusal = fail(Error::quota_exhausted, "Daily minutes quota exhausted for this user.");
    refusal.resets_at = clock_.now_ms() / 1000 + 3600;
    refusal.retry_after_s = 3600;
    store_.refuse_creates = refusal;

    auto res = token(R"({"userId":"u"})");
    ASSERT_EQ(res.status, 403) << res.body;
    auto body = json::parse(res.body).as_object();
    EXPECT_EQ(body.at("success"), false);
    EXPECT_EQ(body.at("code"), "quota_exhausted");
    EXPECT_EQ(body.at("resetsAt"), refusal.resets_at);
    EXPECT_EQ(body.at("error"), "Daily minutes quota exhausted for this user.");
    EXPECT_EQ(header_of(res, "Retry-After"), "3600");
    EXPECT_EQ(res.body.find("ek_"), std::string::npos) << "the minted secret is dropped";
    ASSERT_FALSE(store_.events.empty());
    EXPECT_EQ(store_.events.back().type, "token_denied");
    EXPECT_EQ(store_.events.back().reason, "quota_exhausted");
    EXPECT_EQ(realtime_.requests.size(), 2U);

    // Refused again at once without minting upstream, Retry-After counting down.
    clock_.advance_ms(1000);
    auto cached = token(R"({"userId":"u"})");
    EXPECT_EQ(cached.status, 403);
    EXPECT_EQ(json::parse(cached.body).at("resetsAt"), refusal.resets_at);
    EXPECT_EQ(header_of(cached, "Retry-After"), "3599");
    EXPECT_EQ(realtime_.requests.size(), 2U);
    EXPECT_EQ(store_.events.back().reason, "quota_exhausted");
    // Other users are not affected.
    store_.refuse_creates.reset();
    EXPECT_EQ(token(R"({"userId":"v"})").status, 200);
    EXPECT_EQ(realtime_.requests.size(), 3U);
    store_.refuse_creates = refusal;
    // The fake upstream hands out one session id: give the session back to u.
    store_.rows["sess_C9CiUVUzUzYIssh3ELY1d"].issued.user_id = "u";
    store_.rows["sess_C9CiUVUzUzYIssh3ELY1d"].status = "issued";

    // After 5 s the store is asked again.
    clock_.advance_ms(4000);
    EXPECT_EQ(token(R"({"userId":"u"})").status, 403);
    EXPECT_EQ(realtime_.requests.size(), 4U);

    // Ending one of u's sessions here forgets the refusal at once.
    store_.refuse_creates.reset();
    EXPECT_EQ(token(R"({"userId":"u"})").status, 403) << "still remembered";
    EXPECT_EQ(realtime_.requests.size(), 4U);
    ASSERT_EQ(end(R"({"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","duration":60})").status, 200);
    EXPECT_EQ(token(R"({"userId":"u"})").status, 200);
    EXPECT_EQ(realtime_.requests.size(), 5U);
}

// Probe D2: a token the client never received must not hold its quota. The server runs
// on_undelivered when the answer could not be written; it ends the session with nothing used.
TEST_F(HandlerTest, UndeliveredTokenEndsItsSessionWithNothingCharged) {
    auto res = token(R"({"userId":"u"})");
    ASSERT_EQ(res.status, 200) << res.body;
    ASSERT_TRUE(res.on_undelivered) << "the token answer must say how to release it";
    clock_.advance_ms(2'000);
    run([&]() -> asio::awaitable<http::Response> {
        co_await res.on_undelivered();
        co_return http::Response{};
    });
    const auto& row = store_.rows.at("sess_C9CiUVUzUzYIssh3ELY1d");
    EXPECT_EQ(row.status, "ended");
    EXPECT_EQ(row.ended_by, "undelivered");
    EXPECT_EQ(row.reported_duration_s, 0.0);
    // The session is over, so the client's own /end (if it ever had the id) changes nothing.
    auto again = end(R"({"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","duration":60})");
    EXPECT_EQ(again.status, 200);
    EXPECT_NE(again.body.find(R"("alreadyEnded":true)"), std::string::npos) << again.body;
    // Refusals are answered without on_undelivered (nothing was reserved).
    Failure refusal = fail(Error::quota_exhausted, "Daily minutes quota exhausted for this user.");
    refusal.resets_at = clock_.now_ms() / 1000 + 3600;
    store_.refuse_creates = refusal;
    EXPECT_FALSE(token(R"({"userId":"w"})").on_undelivered);
}

TEST_F(HandlerTest, EndOnceThenAlreadyEnded) {
    ASSERT_EQ(token(R"({"userId":"u1"})").status, 200);
    clock_.advance_ms(125'000);
    auto res = end(
        R"({"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","duration":320,"messageCount":15,"endedBy":"user"})");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(json::parse(res.body), json::parse(R"({"success":true,
        "message":"Session ended and logged successfully",
        "sessionData":{"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","duration":320,"messageCount":15,"endedBy":"user"}})"));
    const auto& row = store_.rows["sess_C9CiUVUzUzYIssh3ELY1d"];
    EXPECT_DOUBLE_EQ(*row.reported_duration_s, 320);
    EXPECT_DOUBLE_EQ(*row.observed_duration_s, 125);

    auto again = end(
        R"({"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","duration":999,"messageCount":1,"endedBy":"timeout"})");
    ASSERT_EQ(again.status, 200);
    auto body = json::parse(again.body).as_object();
    EXPECT_EQ(body.at("alreadyEnded"), true);
    EXPECT_EQ(body.at("sessionData").at("duration"), 320);
    EXPECT_EQ(body.at("sessionData").at("endedBy"), "user");
    EXPECT_EQ(store_.ends, 1);
}

TEST_F(HandlerTest, EndValidationAndUnknownSession) {
    EXPECT_EQ(end(R"({"sessionId":"sess_nope","duration":1})").status, 404);
    for (const char* body :
         {R"({"duration":1})", R"({"sessionId":"s"})", R"({"sessionId":"s","duration":-1})",
          R"({"sessionId":"s","duration":1,"messageCount":-2})",
          R"({"sessionId":"s","duration":1,"endedBy":"crash"})",
          R"({"sessionId":"s","duration":1,"bogus":true})", R"({"sessionId":7,"duration":1})"}) {
        EXPECT_EQ(end(body).status, 400) << body;
    }
}

TEST_F(HandlerTest, RateLimitPerUserIs429WithHeadersAndAuditEvent) {
    // Default policy: 10 token requests per user per minute.
    for (int i = 0; i < 10; ++i) {
        auto ok = token(R"({"userId":"busy"})");
        ASSERT_EQ(ok.status, 200) << i;
    }
    auto limited = token(R"({"userId":"busy"})");
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(json::parse(limited.body).at("code"), "rate_limited");
    bool retry = false;
    bool policy = false;
    for (const auto& [k, v] : limited.headers) {
        retry |= k == "Retry-After" && std::stoi(v) >= 1;
        policy |= k == "RateLimit-Policy" && v.find("\"user\";q=10;w=60") != std::string::npos;
    }
    EXPECT_TRUE(retry);
    EXPECT_TRUE(policy);
    EXPECT_EQ(realtime_.requests.size(), 10U) << "a limited request never reaches upstream";
    ASSERT_EQ(store_.events.size(), 1U);
    EXPECT_EQ(store_.events[0].type, "token_denied");
    EXPECT_EQ(store_.events[0].reason, "rate_limited");
    // Another user is unaffected; time heals.
    EXPECT_EQ(token(R"({"userId":"calm"})").status, 200);
    clock_.advance_ms(6'001);
    EXPECT_EQ(token(R"({"userId":"busy"})").status, 200);
}

TEST_F(HandlerTest, RateLimitChecksAddressThenUserInOneCall) {
    ASSERT_EQ(token(R"({"userId":"u1"})").status, 200);
    ASSERT_EQ(limiter_.calls.size(), 1U);
    ASSERT_EQ(limiter_.calls[0].size(), 2U);
    EXPECT_EQ(limiter_.calls[0][0].key, "ip:127.0.0.1");
    EXPECT_EQ(limiter_.calls[0][0].rate.to_string(), "60/min");
    EXPECT_EQ(limiter_.calls[0][1].key, "user:u1");
    EXPECT_EQ(limiter_.calls[0][1].rate.to_string(), "10/min");
}

TEST_F(HandlerTest, LimiterUnavailableIs503WithRetryAfterAndNoUpstreamCall) {
    limiter_.mode = SwitchableLimiter::Mode::unavailable;
    auto res = token(R"({"userId":"u"})");
    EXPECT_EQ(res.status, 503);
    auto body = json::parse(res.body).as_object();
    EXPECT_EQ(body.at("code"), "store_unavailable");
    EXPECT_EQ(body.at("error"), "Rate limiting is unavailable; try again later.");
    EXPECT_FALSE(body.contains("details")) << "details only in dev mode";
    bool retry = false;
    for (const auto& [k, v] : res.headers) {
        retry |= k == "Retry-After" && v == "1";
        EXPECT_NE(k, "RateLimit");
    }
    EXPECT_TRUE(retry);
    EXPECT_TRUE(realtime_.requests.empty());
    ASSERT_EQ(store_.events.size(), 1U);
    EXPECT_EQ(store_.events[0].reason, "store_unavailable");
}

TEST_F(HandlerTest, LimiterFailingOpenAllowsWithoutRateLimitHeaders) {
    limiter_.mode = SwitchableLimiter::Mode::fail_open;
    for (int i = 0; i < 15; ++i) {  // more than the 10/min user policy
        auto res = token(R"({"userId":"u"})");
        ASSERT_EQ(res.status, 200) << i;
        for (const auto& [k, v] : res.headers) {
            EXPECT_NE(k, "RateLimit-Policy");
            EXPECT_NE(k, "RateLimit");
        }
    }
}

TEST_F(HandlerTest, AddressRefusalDoesNotSpendTheUserAllowance) {
    // 60/min per address: spend it with other users, then "keep" is refused by address only.
    for (int i = 0; i < 60; ++i) {
        ASSERT_EQ(token(R"({"userId":"other)" + std::to_string(i) + R"("})").status, 200) << i;
    }
    auto refused = token(R"({"userId":"keep"})");
    EXPECT_EQ(refused.status, 429);
    EXPECT_NE(refused.body.find("address"), std::string::npos) << refused.body;
    EXPECT_EQ(memory_limiter_.check("user:keep", ratelimit::Rate{10, 60'000, 10})->remaining, 9)
        << "the refused request did not count against the user";
}

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef-test";

class JwtHandlerTest : public HandlerTest {
protected:
    JwtHandlerTest() : HandlerTest(test::config_from_env({{"JWT_SECRET", kSecret}})) {}
    std::string jwt(const std::string& sub, std::int64_t exp_offset_s = 600) {
        return test::sign_hs256({{"alg", "HS256"}, {"typ", "JWT"}},
                                {{"sub", sub},
                                 {"exp", clock_.now_s() + exp_offset_s},
                                 {"aud", "authenticated"},
                                 {"role", "authenticated"}},
                                kSecret);
    }
    http::Response call(const auto& handler, std::string body, const std::string& bearer) {
        auto req = json_request(std::move(body));
        if (!bearer.empty()) {
            req.headers.emplace_back("authorization", "Bearer " + bearer);
        }
        return run(
            [&]() -> asio::awaitable<http::Response> { co_return co_await handler.handle(req); });
    }
};

TEST_F(JwtHandlerTest, TokenNeedsAValidJwtAndUsesItsSubject) {
    auto none = call(token_, "{}", "");
    EXPECT_EQ(none.status, 401);
    bool www = false;
    for (const auto& [k, v] : none.headers) {
        www |= k == "WWW-Authenticate" && v.rfind("Bearer", 0) == 0;
    }
    EXPECT_TRUE(www);
    EXPECT_EQ(call(token_, "{}", jwt("u1", -3600)).status, 401) << "expired";
    EXPECT_EQ(call(token_, "{}", jwt("u1") + "x").status, 401) << "bad signature";
    EXPECT_TRUE(realtime_.requests.empty());

    auto ok = call(token_, R"({"userId":"someone-else"})", jwt("uuid-1234"));
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(store_.rows.begin()->second.issued.user_id, "uuid-1234") << "body userId ignored";
}

TEST_F(JwtHandlerTest, OnlyTheOwnerCanEndASession) {
    ASSERT_EQ(call(token_, "{}", jwt("owner")).status, 200);
    const std::string end_body = R"({"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","duration":5})";
    EXPECT_EQ(call(end_, end_body, "").status, 401);
    auto other = call(end_, end_body, jwt("intruder"));
    EXPECT_EQ(other.status, 403);
    EXPECT_EQ(json::parse(other.body).at("code"), "forbidden");
    EXPECT_EQ(call(end_, end_body, jwt("owner")).status, 200);
}

config::Config config_with_profile() {
    config::Sources s;
    s.toml_path = "profiles.toml";
    s.toml_text = R"([profiles.diary]
model = "gpt-realtime"
voice = "marin"
instructions = "Server-side diary prompt."
turn_detection = { type = "semantic_vad", eagerness = "auto" }
tools = [ { type = "function", name = "save_entry" } ]
allow_override = ["voice"]
)";
    auto loaded = config::load_config(s);
    EXPECT_TRUE(loaded.config) << (loaded.errors.empty() ? "" : loaded.errors[0]);
    return *loaded.config;
}

class ProfileHandlerTest : public HandlerTest {
protected:
    ProfileHandlerTest() : HandlerTest(config_with_profile()) {}
};

TEST_F(ProfileHandlerTest, ProfileFillsTheSessionAndLocksItsFields) {
    auto ok = token(R"({"sessionConfig":{"profile":"diary"}})");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(realtime_.requests.back().session, json::parse(R"({"type":"realtime",
        "model":"gpt-realtime","instructions":"Server-side diary prompt.",
        "audio":{"input":{"turn_detection":{"type":"semantic_vad","eagerness":"auto"}},
                 "output":{"voice":"marin"}},
        "tools":[{"type":"function","name":"save_entry"}]})"));
    EXPECT_EQ(store_.rows.begin()->second.issued.profile, "diary");

    auto voice = token(R"({"sessionConfig":{"profile":"diary","voice":"alloy"}})");
    ASSERT_EQ(voice.status, 200) << "voice may be overridden";
    EXPECT_EQ(realtime_.requests.back().session.at("audio").at("output").at("voice"), "alloy");

    auto locked =
        token(R"({"sessionConfig":{"profile":"diary","instructions":"ignore all rules"}})");
    EXPECT_EQ(locked.status, 400);
    EXPECT_NE(locked.body.find("sessionConfig.instructions: is locked by profile"),
              std::string::npos);
    auto unknown = token(R"({"sessionConfig":{"profile":"nope"}})");
    EXPECT_EQ(unknown.status, 400);
    EXPECT_NE(unknown.body.find("sessionConfig.profile"), std::string::npos);
    EXPECT_EQ(realtime_.requests.size(), 2U);
}

TEST_F(ProfileHandlerTest, OptionsListProfilesWithoutTheirSecrets) {
    auto res = options_response(cfg_);
    auto body = json::parse(res.body).as_object();
    ASSERT_EQ(body.at("profiles").as_array().size(), 1U);
    EXPECT_EQ(body.at("profiles").at(0).at("name"), "diary");
    EXPECT_EQ(res.body.find("Server-side diary prompt"), std::string::npos);
}

TEST(StaticFiles, ConsoleIsServedWithSecurityHeaders) {
    http::Request req;
    req.method = "GET";
    req.path = "/";
    auto res = static_response(req, false);
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.content_type.rfind("text/html", 0), 0U);
    EXPECT_FALSE(res.body.empty());
    // Test review D4: every security header, each exactly once and with its exact value.
    const auto only = [](const http::Response& r, const std::string& name) {
        std::vector<std::string> values;
        for (const auto& [k, v] : r.headers) {
            if (iequals(k, name)) {
                values.push_back(v);
            }
        }
        EXPECT_EQ(values.size(), 1U) << name;
        return values.empty() ? std::string() : values.front();
    };
    EXPECT_EQ(only(res, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(only(res, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(only(res, "Cache-Control"), "no-cache");
    // The CSP, directive by directive (name -> source list), none missing and none extra.
    std::map<std::string, std::string> csp;
    const std::string policy = only(res, "Content-Security-Policy");
    std::size_t pos = 0;
    while (pos <= policy.size()) {
        auto end = policy.find(';', pos);
        if (end == std::string::npos) {
            end = policy.size();
        }
        const std::string directive(trim_view(std::string_view(policy).substr(pos, end - pos)));
        if (!directive.empty()) {
            const auto space = directive.find(' ');
            const auto name = directive.substr(0, space);
            EXPECT_EQ(csp.count(name), 0U) << "directive twice: " << name;
            csp[name] = space == std::string::npos ? "" : directive.substr(space + 1);
        }
        pos = end + 1;
    }
    const std::map<std::string, std::string> expected{
        {"default-src", "'self'"},
        {"connect-src", "'self' https://api.openai.com"},
        {"media-src", "'self' blob:"},
        {"img-src", "'self' data:"},
        {"style-src", "'self'"},
        {"script-src", "'self'"},
        {"frame-ancestors", "'none'"},
    };
    EXPECT_EQ(csp, expected) << policy;
    // A script is no page: no CSP or Referrer-Policy, but still nosniff and revalidation.
    req.path = "/console.js";
    auto js = static_response(req, false);
    ASSERT_EQ(js.status, 200);
    EXPECT_EQ(only(js, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(only(js, "Cache-Control"), "no-cache");
    for (const auto& [k, v] : js.headers) {
        EXPECT_FALSE(iequals(k, "Content-Security-Policy") || iequals(k, "Referrer-Policy")) << k;
    }
    req.path = "/nope.js";
    EXPECT_EQ(static_response(req, false).status, 404);
}

TEST(StaticFiles, DashboardIsServedAtItsDirectoryWithTheChartingLibrary) {
    http::Request req;
    req.method = "GET";
    for (const char* path : {"/dashboard", "/dashboard/", "/dashboard/index.html"}) {
        req.path = path;
        auto res = static_response(req, false);
        ASSERT_EQ(res.status, 200) << path;
        EXPECT_EQ(res.content_type.rfind("text/html", 0), 0U) << path;
        EXPECT_NE(res.body.find("dashboard"), std::string::npos) << path;
    }
    req.path = "/dashboard/vendor/chart.umd.min.js";
    auto lib = static_response(req, false);
    ASSERT_EQ(lib.status, 200);
    EXPECT_EQ(lib.content_type.rfind("text/javascript", 0), 0U);
    EXPECT_NE(lib.body.find("Chart.js v4"), std::string::npos);
    req.path = "/dashboard/nope";
    EXPECT_EQ(static_response(req, false).status, 404);
}

TEST(StaticFiles, CspAllowsTheUpstreamOriginOnlyWhenItIsAnotherOne) {
    http::Request req;
    req.method = "GET";
    req.path = "/";
    const auto csp = [&](std::string_view base) {
        return header_of(static_response(req, false, base), "Content-Security-Policy");
    };
    const std::string plain = "connect-src 'self' https://api.openai.com;";
    EXPECT_NE(csp("").find(plain), std::string::npos) << csp("");
    EXPECT_NE(csp("https://api.openai.com/v1").find(plain), std::string::npos);
    EXPECT_NE(csp("http://127.0.0.1:9000/v1")
                  .find("connect-src 'self' https://api.openai.com http://127.0.0.1:9000;"),
              std::string::npos);
    EXPECT_NE(csp("https://x.example;script-src *").find(plain), std::string::npos)
        << "nothing that could inject a directive";
    EXPECT_NE(csp("ftp://x.example/v1").find(plain), std::string::npos);
}

TEST(Options, RealtimeCallsUrlFollowsTheUpstream) {
    auto emu = json::parse(options_response(test::config_from_env()).body).as_object();
    EXPECT_EQ(emu.at("realtimeCallsUrl"), "/v1/realtime/calls");
    EXPECT_EQ(realtime_calls_url(test::config_from_env({{"OPENAI_API_KEY", "sk-test-fake-key-0123"},
                                              {"OPENAI_BASE_URL", "https://up.example/v1/"}})),
              "https://up.example/v1/realtime/calls");
}

}  // namespace
}  // namespace voicegate::api
