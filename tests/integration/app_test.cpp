// The whole App in-process over real HTTP on loopback, against the built-in emulator.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "emulator/options.hpp"
#include "integration/app_harness.hpp"
#include "support/eventually.hpp"
#include "support/log_capture.hpp"
#include "support/mapped_rss.hpp"
#include "unit/emulator/emulator_fixtures.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

json::object parse(const HttpResult& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v.is_object() ? v.as_object() : json::object{};
}

const char* kDiaryRequest = R"({"userId":"user_12345","sessionConfig":{
    "model":"gpt-4o-realtime-preview-2024-12-17","voice":"alloy",
    "instructions":"You are a friendly diary-writing helper.","temperature":0.8,
    "maxOutputTokens":4096}})";

TEST(AppIntegration, DiaryAppFlowTokenThenEnd) {
    RunningApp app(test_config());
    auto res = app.post("/api/realtime/token", kDiaryRequest);
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_FALSE(res.header("x-request-id").empty());
    auto body = parse(res);
    // Exactly the diary app's keys plus the temperature warning.
    EXPECT_EQ(body.size(), 6U) << res.body;
    EXPECT_EQ(body.at("success"), true);
    const std::string token(body.at("token").as_string());
    EXPECT_EQ(token.rfind("ek_", 0), 0U);
    const std::string session(body.at("sessionId").as_string());
    EXPECT_EQ(session.rfind("sess_", 0), 0U);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    EXPECT_NEAR(static_cast<double>(body.at("expiresAt").as_int64()), now + 1800, 5);
    // The retired model the seed app asks for was mapped to a current one, which the emulator's
    // GA validation accepted (it rejects shut-down models and GA-invalid bodies).
    EXPECT_EQ(body.at("config"), (json::object{{"model", "gpt-realtime"}, {"voice", "alloy"}}));
    EXPECT_EQ(body.at("warnings").as_array().size(), 1U);

    auto end = app.post(
        "/api/realtime/end",
        R"({"sessionId":")" + session + R"(","duration":320,"messageCount":15,"endedBy":"user"})");
    ASSERT_EQ(end.status, 200) << end.body;
    EXPECT_EQ(json::parse(end.body),
              json::parse(R"({"success":true,"message":"Session ended and logged successfully",
                  "sessionData":{"sessionId":")" +
                          session + R"(","duration":320,"messageCount":15,"endedBy":"user"}})"));
    auto again = app.post("/api/realtime/end",
                          R"({"sessionId":")" + session + R"(","duration":1,"endedBy":"error"})");
    ASSERT_EQ(again.status, 200);
    auto a = parse(again);
    EXPECT_EQ(a.at("alreadyEnded"), true);
    EXPECT_EQ(a.at("sessionData").at("duration"), 320);
    EXPECT_EQ(a.at("sessionData").at("endedBy"), "user");
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string session_of(const HttpResult& r) {
    auto body = parse(r);
    return body.contains("sessionId") ? std::string(body.at("sessionId").as_string()) : "";
}

// SPEC §4 over HTTP: a session reserves VOICEGATE_SESSION_MAX_MINUTES until /end settles it,
// so a client that never calls /end is charged the whole reservation, and a user at the daily
// cap gets 403 quota_exhausted with the reset time (next UTC midnight).
TEST(AppIntegration, DailyMinutesQuotaChargesSessionsNeverEnded) {
    RunningApp app(test_config({{"VOICEGATE_QUOTA_MINUTES_PER_DAY", "60"},
                                {"VOICEGATE_SESSION_MAX_MINUTES", "30"},
                                {"VOICEGATE_QUOTA_CONCURRENT", "0"}}));
    const std::string body = R"({"userId":"quota-user"})";
    auto first = app.post("/api/realtime/token", body);
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_EQ(app.post("/api/realtime/token", body).status, 200);  // never ended either

    const auto before = unix_now();
    auto refused = app.post("/api/realtime/token", body);
    const auto after = unix_now();
    ASSERT_EQ(refused.status, 403) << refused.body;
    auto json_body = parse(refused);
    EXPECT_EQ(json_body.at("success"), false);
    EXPECT_EQ(json_body.at("code"), "quota_exhausted");
    EXPECT_FALSE(json_body.contains("token"));
    const auto resets_at = json_body.at("resetsAt").as_int64();
    const auto midnight = [](std::int64_t t) { return (t / 86400 + 1) * 86400; };
    EXPECT_TRUE(resets_at == midnight(before) || resets_at == midnight(after)) << resets_at;
    const auto retry_after = std::stoll(refused.header("retry-after"));
    EXPECT_NEAR(static_cast<double>(retry_after), static_cast<double>(resets_at - before), 3);
    // Another user is not affected.
    EXPECT_EQ(app.post("/api/realtime/token", R"({"userId":"someone-else"})").status, 200);

    // Ending the first session settles it to its billable time (~0 s observed): room again.
    auto end = app.post("/api/realtime/end", R"({"sessionId":")" + session_of(first) +
                                                 R"(","duration":60,"messageCount":1})");
    ASSERT_EQ(end.status, 200) << end.body;
    auto again = app.post("/api/realtime/token", body);
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(app.post("/api/realtime/token", body).status, 403);
}

TEST(AppIntegration, ConcurrentSessionsQuotaOverHttp) {
    RunningApp app(test_config({{"VOICEGATE_QUOTA_CONCURRENT", "2"},
                                {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"},
                                {"VOICEGATE_SESSION_MAX_MINUTES", "10"}}));
    const std::string body = R"({"userId":"busy-user"})";
    auto first = app.post("/api/realtime/token", body);
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_EQ(app.post("/api/realtime/token", body).status, 200);
    const auto before = unix_now();
    auto refused = app.post("/api/realtime/token", body);
    ASSERT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(parse(refused).at("code"), "quota_exhausted");
    // Resets when the first reservation runs out, 10 minutes after it was issued, at the
    // whole minute that follows (slots are released at whole minutes).
    const auto resets_at = parse(refused).at("resetsAt").as_int64();
    EXPECT_GE(resets_at, before + 600 - 3);
    EXPECT_LE(resets_at, before + 660 + 3);
    EXPECT_EQ(resets_at % 60, 0);
    ASSERT_EQ(app.post("/api/realtime/end",
                       R"({"sessionId":")" + session_of(first) + R"(","duration":1})")
                  .status,
              200);
    EXPECT_EQ(app.post("/api/realtime/token", body).status, 200);
}

TEST(AppIntegration, ErrorRowsOfSpec32) {
    RunningApp app(test_config());
    // 400 bad JSON, wrong types, unknown model / voice.
    for (const char* bad : {"{oops", R"({"sessionConfig":{"model":"gpt-9"}})",
                            R"({"sessionConfig":{"voice":"onyx"}})", R"({"userId":5})"}) {
        auto r = app.post("/api/realtime/token", bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(parse(r).at("success"), false);
        EXPECT_FALSE(parse(r).contains("details"));
    }
    // 404 unknown route and unknown session.
    EXPECT_EQ(app.get("/nope").status, 404);
    EXPECT_EQ(parse(app.get("/nope")).at("code"), "not_found");
    auto unknown = app.post("/api/realtime/end", R"({"sessionId":"sess_unknown","duration":3})");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(parse(unknown).at("code"), "session_not_found");
    // 405 with Allow.
    auto wrong = app.get("/api/realtime/token");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.header("allow"), "POST");
    // 413 over 64 KiB.
    auto big =
        app.post("/api/realtime/token", R"({"userId":")" + std::string(70 * 1024, 'a') + "\"}");
    EXPECT_EQ(big.status, 413);
    // 415 not JSON.
    auto text = http_request("127.0.0.1", app.port(), "POST", "/api/realtime/token", "hi",
                             {{"Content-Type", "text/plain"}});
    EXPECT_EQ(text.status, 415);
    EXPECT_EQ(parse(text).at("code"), "unsupported_media_type");
}

TEST(AppIntegration, DevModeErrorsCarryDetails) {
    RunningApp app(test_config({{"VOICEGATE_DEV", "1"}}));
    for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
             {"/api/realtime/token", "{oops"},
             {"/api/realtime/end", R"({"sessionId":"sess_x","duration":1})"},
             {"/nope", "{}"}}) {
        auto r = app.post(path, body);
        EXPECT_GE(r.status, 400);
        EXPECT_TRUE(parse(r).contains("details")) << path << " " << r.body;
    }
}

TEST(AppIntegration, HealthReadyOptionsAndConsole) {
    RunningApp app(test_config());
    EXPECT_EQ(app.get("/healthz").status, 200);
    EXPECT_EQ(app.get("/readyz").status, 200);
    auto opts = parse(app.get("/api/realtime/options"));
    EXPECT_EQ(opts.at("defaultModel"), "gpt-realtime");
    EXPECT_EQ(opts.at("voices").as_array().size(), 10U);
    auto page = app.get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.header("content-type").rfind("text/html", 0), 0U);
}

TEST(AppIntegration, CorsPreflightOnlyForConfiguredOrigins) {
    RunningApp app(test_config({{"VOICEGATE_CORS_ORIGINS", "https://diary.example"}}));
    auto ok = http_request("127.0.0.1", app.port(), "OPTIONS", "/api/realtime/token", "",
                           {{"Origin", "https://diary.example"},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "content-type"}});
    EXPECT_EQ(ok.status, 204);
    EXPECT_EQ(ok.header("access-control-allow-origin"), "https://diary.example");
    EXPECT_NE(ok.header("access-control-allow-methods").find("POST"), std::string::npos);
    auto other = http_request(
        "127.0.0.1", app.port(), "OPTIONS", "/api/realtime/token", "",
        {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(other.header("access-control-allow-origin"), "");
    auto post = app.post("/api/realtime/token", "{}", {{"Origin", "https://diary.example"}});
    EXPECT_EQ(post.header("access-control-allow-origin"), "https://diary.example");
}

// Every emulator fault mode: the service stays up and answers the right class in time.
struct FaultCase {
    std::string name;
    std::map<std::string, std::string> emulator;
    int status;
    bool retry_after;
};

void PrintTo(const FaultCase& c, std::ostream* os) {
    *os << c.name;
}

class FaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(FaultTest, RightErrorClassWithinDeadline) {
    const auto& c = GetParam();
    auto cfg = test_config({{"VOICEGATE_UPSTREAM_TIMEOUT_MS", "1500"},
                            {"VOICEGATE_UPSTREAM_CONNECT_TIMEOUT_MS", "500"},
                            {"VOICEGATE_UPSTREAM_RETRIES", "2"}});
    ASSERT_TRUE(emulator::apply_emulator_options(c.emulator, cfg.emulator.options).empty());
    RunningApp app(cfg);
    const auto start = std::chrono::steady_clock::now();
    auto r = app.post("/api/realtime/token", kDiaryRequest);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_LE(ms, 1500 + 500) << c.name << " answered after the deadline";
    if (c.retry_after) {
        EXPECT_FALSE(r.header("retry-after").empty()) << c.name;
    }
    if (c.status >= 400) {
        EXPECT_EQ(r.body.find("ek_"), std::string::npos);
        auto body = parse(r);
        EXPECT_EQ(body.at("success"), false);
        EXPECT_FALSE(body.contains("details")) << "upstream text leaks outside dev mode";
    }
    // Still up.
    EXPECT_EQ(app.get("/healthz").status, 200);
}

INSTANTIATE_TEST_SUITE_P(
    EmulatorFaults, FaultTest,
    ::testing::Values(
        FaultCase{"latency", {{"latency-ms", "150"}}, 200, false},
        FaultCase{"server_error", {{"error-rate", "1"}}, 502, false},
        FaultCase{"rate_limited", {{"rate-limit-rate", "1"}, {"retry-after-ms", "100"}}, 503, true},
        FaultCase{"insufficient_quota", {{"quota-rate", "1"}}, 502, false},
        FaultCase{"malformed", {{"malformed-rate", "1"}}, 502, false},
        FaultCase{"reset", {{"reset-rate", "1"}}, 503, true},
        FaultCase{"hang", {{"hang-rate", "1"}}, 504, false}),
    [](const auto& param_info) { return param_info.param.name; });

// Probe D2: with the default quotas (2 open sessions, 60 min a day, 30 min reserved each), two
// token requests the client abandons while the upstream is slow (a phone losing signal) used to
// lock the user out with 403 quota_exhausted. Now nothing is reserved for them.
TEST(AppIntegration, AbandonedTokenRequestsHoldNoQuota) {
    auto cfg = test_config();
    cfg.emulator.options.faults.latency_ms = 400;
    LogCapture capture;
    RunningApp app(cfg);
    const std::string request =
        "POST /api/realtime/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 19\r\n\r\n{\"userId\":\"victim\"}";
    for (int i = 0; i < 2; ++i) {
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket sock(io);
        sock.connect({boost::asio::ip::make_address("127.0.0.1"), app.port()});
        boost::asio::write(sock, boost::asio::buffer(request));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }  // the client gives up (closes) while the upstream is still answering
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    auto r = app.post("/api/realtime/token", R"({"userId":"victim"})");
    EXPECT_EQ(r.status, 200) << r.body;
    auto again = app.post("/api/realtime/token", R"({"userId":"victim"})");
    EXPECT_EQ(again.status, 200) << again.body;
    // The log says why (the access log records them as 499: tests/unit/http/server_test.cpp).
    EXPECT_EQ(capture.count("client closed the connection before its token was ready"), 2)
        << capture.text();
}

// The chaos run's finding: under overload every request queued for an upstream connection,
// so latency grew without bound (p99 4.9 s) and none was refused. Beyond max_in_flight API
// requests, a request is answered 503 overloaded at once, and the service recovers at once.
TEST(AppIntegration, BeyondMaxInFlightRequestsAreShedWith503) {
    auto cfg = test_config({{"VOICEGATE_MAX_IN_FLIGHT", "3"},
                            {"VOICEGATE_RATE_USER", "100000/s"},
                            {"VOICEGATE_RATE_IP", "100000/s"},
                            {"VOICEGATE_QUOTA_CONCURRENT", "0"}});
    cfg.emulator.options.faults.latency_ms = 1500;
    RunningApp app(cfg);
    std::vector<HttpResult> results(9);
    std::vector<std::thread> clients;
    const auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < results.size(); ++i) {
        clients.emplace_back([&, i] {
            results[i] =
                app.post("/api/realtime/token", R"({"userId":"u)" + std::to_string(i) + R"("})");
        });
    }
    for (auto& c : clients) {
        c.join();
    }
    int ok = 0;
    int shed = 0;
    for (const auto& r : results) {
        if (r.status == 200) {
            ++ok;
        } else {
            EXPECT_EQ(r.status, 503) << r.body;
            EXPECT_NE(r.body.find(R"("code":"overloaded")"), std::string::npos) << r.body;
            EXPECT_EQ(r.header("retry-after"), "1");
            ++shed;
        }
    }
    EXPECT_EQ(ok, 3);
    EXPECT_EQ(shed, 6);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    // Health stays answerable meanwhile, and the next token request is served.
    EXPECT_EQ(app.get("/healthz").status, 200);
    EXPECT_EQ(app.post("/api/realtime/token", R"({"userId":"after"})").status, 200);
}

TEST(AppIntegration, UnreachableUpstreamIs503WithRetryAfter) {
    // A port nothing listens on: connection refused on every attempt.
    auto cfg = test_config({{"OPENAI_API_KEY", "sk-test-refused-0123456789"},
                            {"OPENAI_BASE_URL", "http://127.0.0.1:1/v1"},
                            {"VOICEGATE_UPSTREAM_TIMEOUT_MS", "2000"}});
    RunningApp app(cfg);
    auto r = app.post("/api/realtime/token", "{}");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_FALSE(r.header("retry-after").empty());
    EXPECT_EQ(r.body.find("sk-test"), std::string::npos);
}

TEST(AppIntegration, LogsNeverHoldKeyOrWholeToken) {
    LogCapture capture;
    std::string token;
    {
        auto cfg = test_config({{"VOICEGATE_LOG_LEVEL", "trace"}});
        cfg.emulator.options.faults.error_rate = 0;
        RunningApp app(cfg);
        auto r = app.post("/api/realtime/token", kDiaryRequest);
        ASSERT_EQ(r.status, 200);
        token = std::string(parse(r).at("token").as_string());
    }
    {
        auto cfg = test_config({{"OPENAI_API_KEY", "sk-proj-SECRET-SECRET-SECRET-0123"},
                                {"OPENAI_BASE_URL", "http://127.0.0.1:1/v1"},
                                {"VOICEGATE_UPSTREAM_TIMEOUT_MS", "500"}});
        RunningApp app(cfg);
        EXPECT_EQ(app.post("/api/realtime/token", "{}").status, 503);
    }
    const auto logs = capture.text();
    EXPECT_FALSE(logs.empty());
    EXPECT_EQ(logs.find(token), std::string::npos) << logs;
    EXPECT_EQ(logs.find("SECRET-SECRET-SECRET"), std::string::npos) << logs;
}

}  // namespace
}  // namespace voicegate::test

namespace voicegate::test {
namespace {

// The console's live session posts its SDP offer to `realtimeCallsUrl`: with the in-process
// emulator that is the emulator's own route on the service's origin, answering as OpenAI does.
TEST(AppIntegration, EmulatorCallsEndpointOnTheServiceOrigin) {
    RunningApp app(test_config());
    auto options = json::parse(app.get("/api/realtime/options").body).as_object();
    EXPECT_EQ(options.at("realtimeCallsUrl"), "/v1/realtime/calls");

    auto issued = parse(app.post("/api/realtime/token", "{}"));
    const std::string token(issued.at("token").as_string());
    auto call = http_request(
        "127.0.0.1", app.port(), "POST", "/v1/realtime/calls", emulator::fixtures::chrome_offer(),
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/sdp"}});
    ASSERT_EQ(call.status, 201) << call.body;
    EXPECT_EQ(call.header("location").rfind("/v1/realtime/calls/rtc_", 0), 0U);
    EXPECT_EQ(call.body.rfind("v=0\r\n", 0), 0U);
    EXPECT_EQ(call.header("content-type"), "text/plain; charset=utf-8");  // as OpenAI answers

    auto refused = http_request(
        "127.0.0.1", app.port(), "POST", "/v1/realtime/calls", emulator::fixtures::chrome_offer(),
        {{"Authorization", "Bearer ek_not-issued-0000"}, {"Content-Type", "application/sdp"}});
    EXPECT_EQ(refused.status, 401) << refused.body;
    EXPECT_EQ(refused.body.find("ek_not-issued-0000"), std::string::npos) << "secret echoed";
}

// After a burst, an idle service hands back the database pages it read through its memory
// map (the operator sees RSS fall back), and serves the next request as before.
TEST(AppIntegration, IdleServiceLetsGoOfItsMappedDatabase) {
    const std::string path = std::filesystem::canonical(make_temp_dir()).string() + "/idle.db";
    RunningApp app(test_config({{"DATABASE_URL", "sqlite:" + path}, {"VOICEGATE_ALERTS", "0"}}));
    std::string first;
    std::string last;
    for (int i = 0; i < 40; ++i) {
        auto r =
            app.post("/api/realtime/token", R"({"userId":"idle_)" + std::to_string(i) +
                                                R"(","sessionConfig":{"model":"gpt-realtime"}})");
        ASSERT_EQ(r.status, 200) << r.body;
        last = std::string(parse(r).at("sessionId").as_string());
        if (first.empty()) {
            first = last;
        }
    }
    // Move the pages from the WAL into the file (as SQLite's automatic checkpoints do), so the
    // next read goes through the map.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(app.post("/api/realtime/end",
                       R"({"sessionId":")" + first + R"(","duration":5,"endedBy":"user"})")
                  .status,
              200);
    ASSERT_GT(mapped_rss_kb(path), 0) << "the database is read through a memory map";
    EXPECT_TRUE(eventually([&] { return mapped_rss_kb(path) == 0; }, std::chrono::seconds(5)))
        << mapped_rss_kb(path) << " kB of the database still mapped after the service went idle";
    auto end = app.post("/api/realtime/end",
                        R"({"sessionId":")" + last + R"(","duration":5,"endedBy":"user"})");
    ASSERT_EQ(end.status, 200) << end.body;
    EXPECT_FALSE(parse(end).contains("alreadyEnded")) << end.body;
    EXPECT_EQ(parse(end).at("sessionData").as_object().at("sessionId").as_string(), last);
}

// With a real upstream the browser posts to {OPENAI_BASE_URL}/realtime/calls, which the page's
// CSP allows; voicegate itself has no calls route then.
TEST(AppIntegration, RealUpstreamCallsUrlAndCsp) {
    ExternalEmulator upstream;
    RunningApp app(test_config(
        {{"OPENAI_API_KEY", upstream.key()}, {"OPENAI_BASE_URL", upstream.base_url()}}));
    auto options = json::parse(app.get("/api/realtime/options").body).as_object();
    EXPECT_EQ(options.at("realtimeCallsUrl").as_string(), upstream.base_url() + "/realtime/calls");
    EXPECT_EQ(app.post("/v1/realtime/calls", "v=0").status, 404);
    const auto page = app.get("/");
    const auto origin = upstream.base_url().substr(0, upstream.base_url().size() - 3);
    const auto csp = page.header("content-security-policy");
    EXPECT_NE(csp.find("connect-src 'self' https://api.openai.com " + origin + ";"),
              std::string::npos)
        << csp;
}

}  // namespace
}  // namespace voicegate::test
