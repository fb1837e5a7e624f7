// Identity and abuse control over real HTTP (SPEC §3.2 rows 401, 403, 429; SPEC §4).
#include <gtest/gtest.h>

#include <fstream>

#include <boost/json.hpp>

#include "integration/app_harness.hpp"
#include "support/jwt_factory.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

constexpr const char* kSecret = "integration-secret-0123456789abcdef-xyz";

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

json::object claims(const std::string& sub, std::int64_t exp_offset = 600) {
    return {{"sub", sub},
            {"exp", now_s() + exp_offset},
            {"aud", "authenticated"},
            {"role", "authenticated"},
            {"iss", "https://proj.supabase.co/auth/v1"}};
}

std::vector<std::pair<std::string, std::string>> bearer(const std::string& t) {
    return {{"Authorization", "Bearer " + t}};
}

TEST(Identity, JwtAttackSuiteIsAll401AndNeverReachesUpstream) {
    ExternalEmulator upstream;
    const auto rsa = TestKey::rsa();
    const auto ec = TestKey::ec();
    const std::string dir = make_temp_dir();
    {
        std::ofstream(dir + "/jwks.json")
            << jwks_json({rsa.public_jwk("rsa-1", "RS256"), ec.public_jwk("ec-1", "ES256")});
    }
    RunningApp app(test_config({{"OPENAI_API_KEY", upstream.key()},
                                {"OPENAI_BASE_URL", upstream.base_url()},
                                {"JWT_SECRET", kSecret},
                                {"JWT_JWKS_FILE", dir + "/jwks.json"},
                                {"JWT_ISSUER", "https://proj.supabase.co/auth/v1"},
                                {"JWT_AUDIENCE", "authenticated"}}));
    const json::object hs{{"alg", "HS256"}, {"typ", "JWT"}};
    auto with = [](json::object c, const char* k, json::value v) {
        c[k] = std::move(v);
        return c;
    };
    const std::vector<std::pair<std::string, std::string>> attacks = {
        {"alg none", compact(R"({"alg":"none","typ":"JWT"})", json::serialize(claims("u")), "")},
        {"HS256 keyed with the RSA public key (PEM)",
         sign_hs256({{"alg", "HS256"}, {"kid", "rsa-1"}}, claims("u"), rsa.public_pem())},
        {"HS256 keyed with the RSA public key (DER)",
         sign_hs256({{"alg", "HS256"}, {"kid", "rsa-1"}}, claims("u"), rsa.public_der())},
        {"expired", sign_hs256(hs, claims("u", -120), kSecret)},
        {"nbf in the future", sign_hs256(hs, with(claims("u"), "nbf", now_s() + 3600), kSecret)},
        {"wrong iss", sign_hs256(hs, with(claims("u"), "iss", "https://evil.example"), kSecret)},
        {"wrong aud", sign_hs256(hs, with(claims("u"), "aud", "other"), kSecret)},
        {"bad signature", sign_hs256(hs, claims("u"), "not-the-secret-0123456789abcdefgh")},
        {"two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0"},
        {"bad base64", "eyJhbGciOiJIUzI1NiJ9.%%%.abc"},
        {"header not JSON", compact("not json", json::serialize(claims("u")), "sig")},
        {"oversized",
         sign_hs256(hs, with(claims("u"), "pad", json::value(std::string(9000, 'a'))), kSecret)},
        {"unknown kid",
         sign_rs256({{"alg", "RS256"}, {"kid", "nope"}}, claims("u"), TestKey::rsa())},
        {"RS256 token against the EC key",
         sign_rs256({{"alg", "RS256"}, {"kid", "ec-1"}}, claims("u"), rsa)},
        {"no exp", sign_hs256(hs,
                              json::object{{"sub", "u"},
                                           {"aud", "authenticated"},
                                           {"iss", "https://proj.supabase.co/auth/v1"}},
                              kSecret)},
    };
    for (const auto& [name, token] : attacks) {
        auto r = app.post("/api/realtime/token", "{}", bearer(token));
        EXPECT_EQ(r.status, 401) << name << ": " << r.body;
        EXPECT_EQ(r.header("www-authenticate").rfind("Bearer", 0), 0U) << name;
        EXPECT_EQ(r.body.find(token), std::string::npos) << name;
    }
    EXPECT_EQ(app.post("/api/realtime/token", "{}").status, 401) << "no token at all";
    EXPECT_EQ(upstream.client_secret_requests(), 0U);

    // The genuine article, in each algorithm, passes.
    EXPECT_EQ(
        app.post("/api/realtime/token", "{}", bearer(sign_hs256(hs, claims("h"), kSecret))).status,
        200);
    EXPECT_EQ(app.post("/api/realtime/token", "{}",
                       bearer(sign_rs256({{"alg", "RS256"}, {"kid", "rsa-1"}}, claims("r"), rsa)))
                  .status,
              200);
    EXPECT_EQ(app.post("/api/realtime/token", "{}",
                       bearer(sign_es256({{"alg", "ES256"}, {"kid", "ec-1"}}, claims("e"), ec)))
                  .status,
              200);
    EXPECT_EQ(upstream.client_secret_requests(), 3U);
}

TEST(Identity, SessionOwnedBySomeoneElseIs403) {
    RunningApp app(test_config({{"JWT_SECRET", kSecret}}));
    const json::object hs{{"alg", "HS256"}};
    auto tok =
        app.post("/api/realtime/token", "{}", bearer(sign_hs256(hs, claims("alice"), kSecret)));
    ASSERT_EQ(tok.status, 200) << tok.body;
    const std::string sid(json::parse(tok.body).at("sessionId").as_string());
    const std::string end = R"({"sessionId":")" + sid + R"(","duration":10})";
    auto bob = app.post("/api/realtime/end", end, bearer(sign_hs256(hs, claims("bob"), kSecret)));
    EXPECT_EQ(bob.status, 403);
    EXPECT_EQ(json::parse(bob.body).at("code"), "forbidden");
    EXPECT_EQ(
        app.post("/api/realtime/end", end, bearer(sign_hs256(hs, claims("alice"), kSecret))).status,
        200);
}

TEST(Identity, DeniedAddressIs403OnEveryRoute) {
    RunningApp app(test_config({{"VOICEGATE_IP_DENY", "127.0.0.0/8"}}));
    for (const char* path : {"/api/realtime/token", "/healthz", "/"}) {
        auto r = http_request("127.0.0.1", app.port(), "GET", path);
        EXPECT_EQ(r.status, 403) << path;
        EXPECT_EQ(json::parse(r.body).at("code"), "ip_denied");
    }
}

TEST(Identity, TrustedProxyForwardedAddressIsLimited) {
    // Quotas off: every request here is the anonymous user's.
    RunningApp app(test_config({{"VOICEGATE_TRUSTED_PROXIES", "127.0.0.1/32"},
                                {"VOICEGATE_RATE_IP", "2/min"},
                                {"VOICEGATE_RATE_USER", "100/min"},
                                {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                                {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"}}));
    auto from = [&](const std::string& ip) {
        return app.post("/api/realtime/token", "{}", {{"X-Forwarded-For", "203.0.113.9, " + ip}});
    };
    EXPECT_EQ(from("198.51.100.1").status, 200);
    EXPECT_EQ(from("198.51.100.1").status, 200);
    auto limited = from("198.51.100.1");
    EXPECT_EQ(limited.status, 429);
    EXPECT_FALSE(limited.header("retry-after").empty());
    EXPECT_NE(limited.header("ratelimit-policy").find("\"ip\";q=2;w=60"), std::string::npos)
        << limited.header("ratelimit-policy");
    EXPECT_FALSE(limited.header("ratelimit").empty());
    EXPECT_EQ(json::parse(limited.body).at("code"), "rate_limited");
    // Another client behind the same proxy has its own allowance.
    EXPECT_EQ(from("198.51.100.2").status, 200);
}

TEST(Identity, UserRateLimitOverHttp) {
    RunningApp app(test_config({{"VOICEGATE_RATE_USER", "3/min"},
                                {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                                {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"}}));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(app.post("/api/realtime/token", R"({"userId":"u"})").status, 200);
    }
    auto r = app.post("/api/realtime/token", R"({"userId":"u"})");
    EXPECT_EQ(r.status, 429);
    EXPECT_GE(std::stoi(r.header("retry-after")), 1);
}

TEST(Identity, OperatorRouteLimitAppliesToAnyRoute) {
    RunningApp app(
        test_config({{"VOICEGATE_RATE_ROUTES", "/api/realtime/end=2/min,/healthz=3/min"}}));
    const std::string body =
        R"({"sessionId":"sess_unknown","duration":1,"messageCount":0,"endedBy":"user"})";
    // Within the allowance the handler answers (an unknown session: 404), with the headers.
    for (int i = 0; i < 2; ++i) {
        auto r = app.post("/api/realtime/end", body);
        EXPECT_EQ(r.status, 404);
        EXPECT_NE(r.header("ratelimit-policy").find("\"route\";q=2;w=60"), std::string::npos)
            << r.header("ratelimit-policy");
    }
    auto limited = app.post("/api/realtime/end", body);
    EXPECT_EQ(limited.status, 429);
    EXPECT_GE(std::stoi(limited.header("retry-after")), 1);
    EXPECT_EQ(json::parse(limited.body).at("code"), "rate_limited");
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(app.get("/healthz").status, 200);
    }
    EXPECT_EQ(app.get("/healthz").status, 429);
    // An unlisted route has no operator limit and no headers.
    auto ready = app.get("/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_TRUE(ready.header("ratelimit-policy").empty());
}

}  // namespace
}  // namespace voicegate::test
