// Anomaly alerts through the real App: a burst of token requests raises exactly one webhook
// POST and one `alert` event.
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "integration/app_harness.hpp"
#include "store/sqlite_db.hpp"
#include "support/eventually.hpp"
#include "support/fake_upstream_server.hpp"

namespace voicegate::test {
namespace {

std::int64_t count_rows(const std::string& db, const std::string& sql) {
    store::SqliteConnectionOptions o;
    o.path = db;
    auto conn = store::SqliteConnection::open(o);
    if (!conn) {
        ADD_FAILURE() << "cannot open " << db;
        return -1;
    }
    auto rows = (*conn)->query_ints(sql);
    if (!rows || rows->empty()) {
        ADD_FAILURE() << "query failed: " << sql;
        return -1;
    }
    return rows->front();
}

http::Response ok_json() {
    http::Response r;
    r.body = "{}";
    return r;
}

struct AlertsIntegration : ::testing::Test {
    std::string dir = make_temp_dir();
    std::string db = dir + "/vg.db";

    config::Config config(const std::string& webhook) {
        return test_config({{"DATABASE_URL", "sqlite:" + db},
                            {"VOICEGATE_ALERT_WEBHOOK_URL", webhook},
                            {"VOICEGATE_ALERT_INTERVAL_S", "1"},
                            {"VOICEGATE_ALERT_USER_RATE", "factor=0,max=5"},
                            {"VOICEGATE_ALERT_DENIALS", "off"},
                            {"VOICEGATE_RATE_USER", "1000/min"},
                            {"VOICEGATE_RATE_IP", "1000/min"},
                            {"VOICEGATE_QUOTA_CONCURRENT", "0"},
                            {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "0"},
                            {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "0"}});
    }
};

TEST_F(AlertsIntegration, BurstRaisesOneWebhookPostAndOneAlertEvent) {
    FakeUpstreamServer hook([](const http::Request&) { return ok_json(); });
    {
        RunningApp app(config("http://127.0.0.1:" + std::to_string(hook.port()) + "/hooks/vg"));
        for (int i = 0; i < 20; ++i) {
            ASSERT_EQ(app.post("/api/realtime/token", R"({"userId":"burst-user"})").status, 200);
        }
        ASSERT_TRUE(eventually([&] { return hook.request_count() >= 1; }));
        // The burst goes on; two more evaluations pass: still one alert (cool-down).
        for (int i = 0; i < 20; ++i) {
            ASSERT_EQ(app.post("/api/realtime/token", R"({"userId":"burst-user"})").status, 200);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2'500));
        ASSERT_EQ(hook.request_count(), 1U);
        const auto req = hook.requests().front();
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.path, "/hooks/vg");
        EXPECT_EQ(req.header("content-type").value_or(""), "application/json");
        auto body = boost::json::parse(req.body).as_object();
        EXPECT_EQ(body.at("type"), "alert");
        EXPECT_EQ(body.at("rule"), "user_rate");
        EXPECT_EQ(body.at("subject"), "burst-user");
        EXPECT_EQ(body.at("figures").at("requests"), 5);
        EXPECT_EQ(body.at("figures").at("max"), 5);
        EXPECT_EQ(req.body.find("ek_"), std::string::npos);  // no token, no key
        EXPECT_EQ(req.body.find("sk-"), std::string::npos);

        auto m = app.get("/metrics").body;
        EXPECT_NE(m.find("voicegate_alerts_total{rule=\"user_rate\"} 1\n"), std::string::npos) << m;
        EXPECT_NE(m.find("voicegate_alert_webhook_total{result=\"sent\"} 1\n"), std::string::npos);
    }
    EXPECT_EQ(count_rows(db, "SELECT count(*) FROM events WHERE type = 'alert'"), 1);
    EXPECT_EQ(
        count_rows(db,
                   "SELECT count(*) FROM events WHERE type = 'alert' AND reason = 'user_rate' "
                   "AND user_id = 'burst-user' AND json_extract(detail, '$.figures.requests') "
                   "= 5 AND json_extract(detail, '$.subject') = 'burst-user'"),
        1);
}

// Records when each webhook POST arrives (steady clock) and answers 503 to the first
// `failures` of them, 200 afterwards.
class RecordingHook {
public:
    explicit RecordingHook(int failures)
        : failures_(failures), server_([this](const http::Request&) {
              const std::lock_guard lock(mutex_);
              arrivals_.push_back(std::chrono::steady_clock::now());
              if (static_cast<int>(arrivals_.size()) <= failures_) {
                  return openai_error_response(503, "server_error", "", "down");
              }
              return ok_json();
          }) {}
    std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/h"; }
    std::size_t count() const { return server_.request_count(); }
    std::vector<http::Request> requests() const { return server_.requests(); }
    // Milliseconds between consecutive arrivals.
    std::vector<std::int64_t> gaps_ms() const {
        const std::lock_guard lock(mutex_);
        std::vector<std::int64_t> out;
        for (std::size_t i = 1; i < arrivals_.size(); ++i) {
            out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(arrivals_[i] -
                                                                                arrivals_[i - 1])
                              .count());
        }
        return out;
    }

private:
    const int failures_;
    mutable std::mutex mutex_;
    std::vector<std::chrono::steady_clock::time_point> arrivals_;
    FakeUpstreamServer server_;
};

bool metrics_has(const RunningApp& app, const std::string& line) {
    return app.get("/metrics").body.find(line + "\n") != std::string::npos;
}

TEST_F(AlertsIntegration, FailedWebhookIsRetriedWithBackoff) {
    RecordingHook hook(2);
    RunningApp app(config(hook.url()));
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(app.post("/api/realtime/token", R"({"userId":"retry-user"})").status, 200);
    }
    // Back-off 1 s, then 2 s (src/alerts/notifier.cpp: retry_base x 2^attempt): the third
    // attempt succeeds.
    ASSERT_TRUE(eventually([&] { return hook.count() >= 3; }, std::chrono::seconds(10)));
    ASSERT_TRUE(eventually(
        [&] { return metrics_has(app, "voicegate_alert_webhook_total{result=\"sent\"} 1"); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(hook.count(), 3U);  // no fourth attempt after the success
    const auto gaps = hook.gaps_ms();
    ASSERT_EQ(gaps.size(), 2U);
    EXPECT_GE(gaps[0], 900) << "first retry after " << gaps[0] << " ms, not ~1 s";
    EXPECT_GE(gaps[1], 1'900) << "second retry after " << gaps[1] << " ms, not ~2 s";
    const auto reqs = hook.requests();
    EXPECT_EQ(reqs[0].body, reqs[2].body);  // the same alert each time
    EXPECT_TRUE(metrics_has(app, "voicegate_alert_webhook_total{result=\"failed\"} 0"));
}

TEST_F(AlertsIntegration, WebhookGivesUpAfterEveryRetryFailsAndCountsItFailed) {
    RecordingHook hook(1'000);  // never succeeds
    RunningApp app(config(hook.url()));
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(app.post("/api/realtime/token", R"({"userId":"doomed-user"})").status, 200);
    }
    // The default 3 retries after the first attempt, 1 s, 2 s and 4 s apart; then it gives up.
    ASSERT_TRUE(eventually(
        [&] { return metrics_has(app, "voicegate_alert_webhook_total{result=\"failed\"} 1"); },
        std::chrono::seconds(20)));
    EXPECT_EQ(hook.count(), 4U);
    const auto gaps = hook.gaps_ms();
    ASSERT_EQ(gaps.size(), 3U);
    EXPECT_GE(gaps[0], 900);
    EXPECT_GE(gaps[1], 1'900);
    EXPECT_GE(gaps[2], 3'900);
    EXPECT_TRUE(metrics_has(app, "voicegate_alert_webhook_total{result=\"sent\"} 0"));
    // Still one alert: the give-up raises nothing further.
    EXPECT_TRUE(metrics_has(app, "voicegate_alerts_total{rule=\"user_rate\"} 1"));
}

}  // namespace
}  // namespace voicegate::test
