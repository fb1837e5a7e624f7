// Fixes from the 2026-12 probe report (../shared/reviews/probe-2026-12.md), each over real
// HTTP to the in-process App: echoed text cut as whole UTF-8 characters (D5), admin
// authentication throttled per client (D7), Content-Type parsed as a media type (D8), per-IP
// limits per IPv6 /64, `Vary: Origin` on every CORS answer, and /readyz while SQLite writes fail.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "integration/app_harness.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

const char* kAdminToken = "probe-admin-token-0123456789abcdef0123";

// The body parsed strictly: Boost.JSON refuses bytes that are not UTF-8.
std::optional<json::object> strict_object(const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) {
        return std::nullopt;
    }
    return v.as_object();
}

std::string e_acutes(int n) {
    std::string s = "a";
    for (int i = 0; i < n; ++i) {
        s += "\xC3\xA9";
    }
    return s;
}

// Probe D5: "a" + 40 × "é" cut at byte 64 left half a character in the 400 body.
TEST(ProbeFixes, EchoedModelVoiceAndProfileAreCutAsWholeCharacters) {
    RunningApp app(test_config());
    const auto value = e_acutes(40);
    for (const std::string& body : {R"({"sessionConfig":{"voice":")" + value + R"("}})",
                                    R"({"sessionConfig":{"model":")" + value + R"("}})",
                                    R"({"sessionConfig":{"profile":")" + value + R"("}})"}) {
        auto r = app.post("/api/realtime/token", body);
        EXPECT_EQ(r.status, 400) << r.body;
        auto o = strict_object(r.body);
        ASSERT_TRUE(o) << "not valid UTF-8 JSON: " << r.body;
        const std::string error(o->at("error").as_string());
        EXPECT_NE(error.find(e_acutes(31)), std::string::npos) << error;  // 63 bytes kept
    }
}

// Probe D7: failed admin bearer tokens were never throttled (25k guesses/s).
TEST(ProbeFixes, FailedAdminSignInsAreThrottledPerClientAddress) {
    RunningApp app(test_config(
        {{"VOICEGATE_ADMIN_TOKEN", kAdminToken}, {"VOICEGATE_TRUSTED_PROXIES", "127.0.0.1/32"}}));
    auto admin = [&](const std::string& ip, const std::string& token) {
        return http_request("127.0.0.1", app.port(), "GET", "/api/admin/live", {},
                            {{"Authorization", "Bearer " + token}, {"X-Forwarded-For", ip}});
    };
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(admin("198.51.100.7", "wrong-guess-" + std::to_string(i)).status, 401) << i;
    }
    auto throttled = admin("198.51.100.7", "wrong-guess-10");
    EXPECT_EQ(throttled.status, 429) << throttled.body;
    EXPECT_FALSE(throttled.header("retry-after").empty());
    auto o = strict_object(throttled.body);
    ASSERT_TRUE(o) << throttled.body;
    EXPECT_EQ(o->at("code"), "rate_limited");
    EXPECT_EQ(o->at("success"), false);
    // The right token from the throttled address is refused too (no oracle for a guesser) ...
    EXPECT_EQ(admin("198.51.100.7", kAdminToken).status, 429);
    // ... while another client signs in, and /metrics with the token still works.
    EXPECT_EQ(admin("198.51.100.8", kAdminToken).status, 200);
    EXPECT_EQ(admin("198.51.100.8", "wrong").status, 401);
}

// Probe D8: Content-Type was a case-sensitive substring match on "json".
TEST(ProbeFixes, ContentTypeIsParsedAsAMediaType) {
    RunningApp app(test_config({{"VOICEGATE_RATE_USER", "1000/s"},
                                {"VOICEGATE_RATE_IP", "1000/s"},
                                {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                                {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"},
                                {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "0"}}));
    auto with = [&](const std::string& ct) {
        return http_request("127.0.0.1", app.port(), "POST", "/api/realtime/token",
                            R"({"userId":"ct"})", {{"Content-Type", ct}});
    };
    for (const char* ok : {"application/json", "APPLICATION/JSON", "Application/Json",
                           "application/json; charset=utf-8", "application/json;charset=UTF-8",
                           "application/vnd.api+json"}) {
        auto r = with(ok);
        EXPECT_EQ(r.status, 200) << ok << ": " << r.body;
    }
    for (const char* bad : {"text/notjson", "application/jsonx", "text/plain", "json",
                            "application/x-www-form-urlencoded", "application/+json"}) {
        auto r = with(bad);
        EXPECT_EQ(r.status, 415) << bad << ": " << r.body;
        auto o = strict_object(r.body);
        ASSERT_TRUE(o) << r.body;
        EXPECT_EQ(o->at("success"), false);
    }
}

// Probe note: 2001:db8::1..4 each got a fresh per-IP bucket; IPv6 now counts per /64.
TEST(ProbeFixes, PerIpLimitCountsAnIpv6Slash64AsOneClient) {
    RunningApp app(test_config({{"VOICEGATE_TRUSTED_PROXIES", "127.0.0.1/32"},
                                {"VOICEGATE_RATE_IP", "2/min"},
                                {"VOICEGATE_RATE_USER", "100/min"},
                                {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                                {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"},
                                {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "0"}}));
    auto from = [&](const std::string& ip) {
        return app.post("/api/realtime/token", "{}", {{"X-Forwarded-For", ip}});
    };
    EXPECT_EQ(from("2001:db8::1").status, 200);
    EXPECT_EQ(from("2001:db8::2").status, 200);
    EXPECT_EQ(from("2001:db8::3").status, 429);
    EXPECT_EQ(from("2001:db8::4").status, 429);
    EXPECT_EQ(from("2001:db8:0:1::1").status, 200);  // the next /64 is another client
    // IPv4 stays per address; a v4-mapped address is the same client as its IPv4 form.
    EXPECT_EQ(from("198.51.100.1").status, 200);
    EXPECT_EQ(from("::ffff:198.51.100.1").status, 200);
    EXPECT_EQ(from("198.51.100.1").status, 429);
    EXPECT_EQ(from("198.51.100.2").status, 200);
}

// Probe note: the admin preflight had no Vary: Origin when the origin was not reflected.
TEST(ProbeFixes, EveryCorsAnswerVariesOnOrigin) {
    RunningApp app(test_config({{"VOICEGATE_CORS_ORIGINS", "https://app.example"},
                                {"VOICEGATE_ADMIN_TOKEN", kAdminToken}}));
    for (const char* origin : {"https://app.example", "https://evil.example"}) {
        for (const char* path : {"/api/admin/usage", "/api/realtime/token"}) {
            auto pre = http_request("127.0.0.1", app.port(), "OPTIONS", path, {},
                                    {{"Origin", origin},
                                     {"Access-Control-Request-Method", "GET"},
                                     {"Access-Control-Request-Headers", "authorization"}});
            EXPECT_EQ(pre.status, 204) << origin << path;
            EXPECT_EQ(pre.header("vary"), "Origin") << origin << path;
        }
        auto get = http_request("127.0.0.1", app.port(), "GET", "/api/admin/usage", {},
                                {{"Origin", origin}});
        EXPECT_EQ(get.header("vary"), "Origin") << origin;
    }
}

// Probe note: /readyz said ready while another process held the SQLite write lock and every
// write failed with 503.
TEST(ProbeFixes, ReadyzIsNotReadyWhileSqliteWritesFail) {
    const auto dir = make_temp_dir();
    const auto path = dir + "/ready.db";
    RunningApp app(test_config({{"DATABASE_URL", "sqlite:" + path},
                                {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                                {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"},
                                {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "0"}}));
    ASSERT_EQ(app.get("/readyz").status, 200);
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &other, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    auto refused = app.post("/api/realtime/token", R"({"userId":"locked"})");  // busy timeout
    EXPECT_EQ(refused.status, 503) << refused.body;
    auto not_ready = app.get("/readyz");
    EXPECT_EQ(not_ready.status, 503) << not_ready.body;
    ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close_v2(other);
    // No client writes: the probe write queued by /readyz brings readiness back.
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        status = app.get("/readyz").status;
        if (status == 200) {
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(status, 200);
    EXPECT_EQ(app.post("/api/realtime/token", R"({"userId":"unlocked"})").status, 200);
}

}  // namespace
}  // namespace voicegate::test
