// GET /metrics through the real App over HTTP: exact counter movements, access control, and a
// real scrape checked by promtool.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "integration/app_harness.hpp"
#include "support/eventually.hpp"

namespace voicegate::test {
namespace {

// The value of the sample `key` (name with its labels, exactly as rendered), or -1 if absent.
double sample(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
            line[key.size()] == ' ') {
            return std::stod(line.substr(key.size() + 1));
        }
    }
    return -1;
}

std::string scrape(const RunningApp& app,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto r = http_request("127.0.0.1", app.port(), "GET", "/metrics", {}, headers);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return r.body;
}

std::string token_body(const std::string& user) {
    return R"({"userId":")" + user + R"(","sessionConfig":{"model":"gpt-realtime"}})";
}

TEST(MetricsIntegration, UsageGaugesAreTheDatabasesNotOneProcesss) {
    // Sessions issued by an earlier process on the same database count as open here: the gauges
    // come from the store (every instance), not from what this process saw.
    const std::string db = "sqlite:" + make_temp_dir() + "/shared.db";
    std::string ended_id;
    {
        RunningApp before(test_config({{"DATABASE_URL", db}, {"VOICEGATE_ALERTS", "0"}}));
        for (const char* user : {"ann", "ben", "cat"}) {
            auto r = before.post("/api/realtime/token", token_body(user));
            ASSERT_EQ(r.status, 200) << r.body;
            ended_id =
                std::string(boost::json::parse(r.body).as_object().at("sessionId").as_string());
        }
        auto end = before.post("/api/realtime/end", R"({"sessionId":")" + ended_id +
                                                        R"(","duration":600,"endedBy":"user"})");
        ASSERT_EQ(end.status, 200) << end.body;
    }
    RunningApp app(test_config({{"DATABASE_URL", db}, {"VOICEGATE_ALERTS", "0"}}));
    std::string m;
    ASSERT_TRUE(eventually(
        [&] {
            m = scrape(app);
            return sample(m, "voicegate_open_sessions") == 2;
        },
        std::chrono::seconds(10)))
        << m;
    // Billable time is the smaller of the reported 600 s and the observed (a few milliseconds).
    EXPECT_GE(sample(m, "voicegate_billable_time_today_seconds"), 0);
    EXPECT_LT(sample(m, "voicegate_billable_time_today_seconds"), 5);
    EXPECT_GE(sample(m, "voicegate_estimated_cost_usd_today"), 0) << "a sample, priced";
    EXPECT_NE(m.find("all instances on this database"), std::string::npos);
}

TEST(MetricsIntegration, CountersMoveByExactlyWhatHappened) {
    RunningApp app(test_config({{"VOICEGATE_RATE_USER", "3/min"},
                                {"VOICEGATE_QUOTA_CONCURRENT", "1"},
                                {"VOICEGATE_ALERTS", "0"}}));
    auto first = app.post("/api/realtime/token", token_body("alice"));
    ASSERT_EQ(first.status, 200) << first.body;
    const auto session =
        std::string(boost::json::parse(first.body).as_object().at("sessionId").as_string());
    // The store refuses the second open session; the third is refused from the gate's memory;
    // the fourth meets the user's rate limit.
    EXPECT_EQ(app.post("/api/realtime/token", token_body("alice")).status, 403);
    EXPECT_EQ(app.post("/api/realtime/token", token_body("alice")).status, 403);
    EXPECT_EQ(app.post("/api/realtime/token", token_body("alice")).status, 429);
    auto end = app.post("/api/realtime/end",
                        R"({"sessionId":")" + session + R"(","duration":30,"endedBy":"user"})");
    ASSERT_EQ(end.status, 200) << end.body;
    EXPECT_EQ(app.get("/no/such/route").status, 404);
    EXPECT_EQ(app.get("/console.js").status, 200);

    // Each request is counted after its response is written, on its connection's loop, so the
    // client may see a response before it is counted: wait until all seven have landed.
    const auto tok = std::string(R"(voicegate_http_requests_total{route="/api/realtime/token",)");
    std::string m;
    ASSERT_TRUE(eventually([&] {
        m = scrape(app);
        return sample(m, R"(voicegate_http_requests_total{route="static",status="200"})") == 1 &&
               sample(m, tok + R"(status="200"})") + sample(m, tok + R"(status="403"})") +
                       sample(m, tok + R"(status="429"})") ==
                   4 &&
               sample(m,
                      R"(voicegate_http_requests_total{route="/api/realtime/end",status="200"})") ==
                   1 &&
               sample(m, R"(voicegate_http_requests_total{route="other",status="404"})") == 1;
    })) << m;
    EXPECT_EQ(sample(m, tok + R"(status="200"})"), 1);
    EXPECT_EQ(sample(m, tok + R"(status="403"})"), 2);
    EXPECT_EQ(sample(m, tok + R"(status="429"})"), 1);
    EXPECT_EQ(sample(m, R"(voicegate_http_requests_total{route="/api/realtime/end",status="200"})"),
              1);
    EXPECT_EQ(sample(m, R"(voicegate_http_requests_total{route="other",status="404"})"), 1);
    EXPECT_EQ(
        sample(m, R"(voicegate_http_request_duration_seconds_count{route="/api/realtime/token"})"),
        4);
    EXPECT_EQ(
        sample(
            m,
            R"(voicegate_http_request_duration_seconds_bucket{route="/api/realtime/token",le="+Inf"})"),
        4);

    EXPECT_EQ(sample(m, R"(voicegate_limiter_decisions_total{check="token",result="allowed"})"), 3);
    EXPECT_EQ(
        sample(m, R"(voicegate_limiter_decisions_total{check="token",result="rate_limited"})"), 1);
    EXPECT_EQ(
        sample(m,
               R"(voicegate_limiter_decisions_total{check="token",result="limiter_unavailable"})"),
        0);
    EXPECT_EQ(sample(m, R"(voicegate_quota_decisions_total{result="allowed"})"), 1);
    EXPECT_EQ(sample(m, R"(voicegate_quota_decisions_total{result="concurrent"})"), 1);
    EXPECT_EQ(sample(m, R"(voicegate_quota_decisions_total{result="cached"})"), 1);
    EXPECT_EQ(sample(m, R"(voicegate_token_denials_total{reason="quota_exhausted"})"), 2);
    EXPECT_EQ(sample(m, R"(voicegate_token_denials_total{reason="rate_limited"})"), 1);
    // Two secrets were minted: the store refused the second one after it came back.
    EXPECT_EQ(sample(m, R"(voicegate_upstream_requests_total{outcome="2xx"})"), 2);
    EXPECT_EQ(sample(m, R"(voicegate_upstream_requests_total{outcome="5xx"})"), 0);
    EXPECT_EQ(sample(m, "voicegate_upstream_request_duration_seconds_count"), 2);
    EXPECT_EQ(sample(m, "voicegate_upstream_retries_total"), 0);
    EXPECT_GE(sample(m, "voicegate_upstream_connections_opened_total"), 1);
    // Writes: two session creations (one refused by its quota), one end, and the three refusals
    // counted in memory and written by the once-a-second flush: one to three flushes, depending
    // on when the requests fell (wait for the first), not one write per refusal.
    ASSERT_TRUE(eventually(
        [&] {
            m = scrape(app);
            return sample(m, "voicegate_store_write_batch_size_sum") >= 4;
        },
        std::chrono::seconds(5)))
        << m;
    EXPECT_LE(sample(m, "voicegate_store_write_batch_size_sum"), 6);
    EXPECT_EQ(sample(m, R"(voicegate_denial_audit_total{kept="sample"})"), 3);
    EXPECT_EQ(sample(m, R"(voicegate_denial_audit_total{kept="count_only"})"), 0);
    EXPECT_EQ(sample(m, "voicegate_store_write_batches_total"),
              sample(m, "voicegate_store_write_batch_size_count"));
    EXPECT_EQ(sample(m, "voicegate_store_commit_duration_seconds_count"),
              sample(m, "voicegate_store_write_batches_total"));
    EXPECT_EQ(sample(m, "voicegate_store_write_errors_total"), 0);
    // The usage gauges lag the store by up to 5 s (UsageGaugesAreTheDatabasesNotOneProcesss).
    EXPECT_GE(sample(m, "voicegate_open_sessions"), 0);
    EXPECT_GE(sample(m, "voicegate_billable_time_today_seconds"), 0);
    EXPECT_EQ(sample(m, R"(voicegate_build_info{version=")" VOICEGATE_VERSION
                        R"(",store="sqlite",limiter="memory"})"),
              1);
    EXPECT_GT(sample(m, "process_resident_memory_bytes"), 1e6);
    EXPECT_GT(sample(m, "process_start_time_seconds"), 1.7e9);
    EXPECT_GE(sample(m, "voicegate_open_connections"), 1);
    // No user id is a label.
    EXPECT_EQ(m.find("alice"), std::string::npos);
}

TEST(MetricsIntegration, TokenIsRequiredWhenConfigured) {
    RunningApp app(test_config({{"VOICEGATE_METRICS_TOKEN", "mt-0123456789-abcdef"}}));
    auto none = app.get("/metrics");
    EXPECT_EQ(none.status, 401);
    EXPECT_NE(none.header("www-authenticate").find("Bearer"), std::string::npos);
    EXPECT_EQ(none.body.find("mt-0123456789"), std::string::npos);
    auto wrong = http_request("127.0.0.1", app.port(), "GET", "/metrics", {},
                              {{"Authorization", "Bearer mt-0123456789-abcdeX"}});
    EXPECT_EQ(wrong.status, 401);
    (void)scrape(app, {{"Authorization", "Bearer mt-0123456789-abcdef"}});
}

TEST(MetricsIntegration, ProxiedRequestsNeedTheAdminIdentity) {
    RunningApp app(test_config({{"VOICEGATE_ADMIN_TOKEN", "adm-0123456789-abcdef-0123456789"}}));
    EXPECT_EQ(app.get("/metrics").status, 200);  // a direct loopback client
    auto proxied = http_request("127.0.0.1", app.port(), "GET", "/metrics", {},
                                {{"X-Forwarded-For", "203.0.113.9"}});
    EXPECT_EQ(proxied.status, 401);
    (void)scrape(app, {{"X-Forwarded-For", "203.0.113.9"},
                       {"Authorization", "Bearer adm-0123456789-abcdef-0123456789"}});
}

TEST(MetricsIntegration, CanBeTurnedOff) {
    RunningApp app(test_config({{"VOICEGATE_METRICS", "0"}}));
    EXPECT_EQ(app.get("/metrics").status, 404);
}

// promtool (Debian package `prometheus`) lints a real scrape. Not optional: make test installs
// it through scripts/deps.sh.
TEST(PromtoolCheck, RealScrapePassesPromtoolCheckMetrics) {
    const int found = std::system("command -v promtool >/dev/null 2>&1");
    ASSERT_EQ(found, 0) << "promtool is not installed: install it with `sudo apt-get install -y "
                           "--no-install-recommends prometheus` (scripts/deps.sh, run by "
                           "`make test`, does this)";
    RunningApp app(test_config({{"VOICEGATE_RATE_USER", "2/min"}}));
    for (int i = 0; i < 3; ++i) {
        (void)app.post("/api/realtime/token", token_body("promtool-user"));
    }
    (void)app.get("/healthz");
    (void)app.get("/nope");
    const auto text = scrape(app);
    const auto dir = make_temp_dir();
    {
        std::ofstream out(dir + "/scrape.txt");
        out << text;
    }
    const std::string cmd =
        "promtool check metrics < " + dir + "/scrape.txt > " + dir + "/promtool.out 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream report(dir + "/promtool.out");
    std::stringstream ss;
    ss << report.rdbuf();
    EXPECT_EQ(rc, 0) << "promtool check metrics failed:\n" << ss.str();
    EXPECT_EQ(ss.str(), "");  // no lint warnings either
}

}  // namespace
}  // namespace voicegate::test
