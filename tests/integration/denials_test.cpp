// A refused client must not fill the disk (probe 2026-12, D3): a burst of rate-limited token
// requests over real HTTP is counted exactly (usage report, metrics) while the audit log keeps
// only its bounded sample of them.
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "integration/app_harness.hpp"
#include "support/pg_test_db.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

const char* kAdminToken = "admin-test-token-0123456789-abcdef";

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

std::int64_t minute_now() {
    return std::chrono::duration_cast<std::chrono::minutes>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Runs on SQLite (a file) and on PostgreSQL (a throw-away schema of VOICEGATE_TEST_PG_URL).
class RefusedFlood : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        // One token a minute per user; the address limit out of the way; no anomaly alerts
        // (they would add their own events).
        std::map<std::string, std::string> env{{"VOICEGATE_ADMIN_TOKEN", kAdminToken},
                                               {"VOICEGATE_RATE_USER", "1/min"},
                                               {"VOICEGATE_RATE_IP", "100000/min"},
                                               {"VOICEGATE_ALERTS", "0"}};
        if (GetParam() == "Postgres") {
            VOICEGATE_REQUIRE_PG();
            pg_schema_ = std::make_unique<PgTestSchema>();
            env["DATABASE_URL"] = pg_schema_->url();
        }
        app_ = std::make_unique<RunningApp>(test_config(env));
    }
    void TearDown() override {
        app_.reset();  // closes the store before the schema is dropped
        pg_schema_.reset();
    }
    json::object admin(const std::string& target) const {
        auto r = http_request("127.0.0.1", app_->port(), "GET", target, {},
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
        EXPECT_EQ(r.status, 200) << target << ": " << r.body;
        boost::system::error_code ec;
        auto v = json::parse(r.body, ec);
        return !ec && v.is_object() ? v.as_object() : json::object{};
    }
    std::size_t denied_events() const {
        std::size_t n = 0;
        std::string target = "/api/admin/events?type=token_denied&limit=500";
        for (int pages = 0; pages < 100; ++pages) {
            auto page = admin(target);
            n += page.at("events").as_array().size();
            if (!page.at("nextCursor").is_string()) {
                break;
            }
            target = "/api/admin/events?type=token_denied&limit=500&cursor=" +
                     std::string(page.at("nextCursor").as_string());
        }
        return n;
    }
    std::unique_ptr<PgTestSchema> pg_schema_;
    std::unique_ptr<RunningApp> app_;
};

TEST_P(RefusedFlood, EveryRefusalIsCountedAndTheAuditKeepsABoundedSample) {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 250;  // 2,000 requests of one user
    std::atomic<int> ok{0};
    std::atomic<int> limited{0};
    std::atomic<int> other{0};
    const std::int64_t first_minute = minute_now();
    std::vector<std::thread> clients;
    for (int t = 0; t < kThreads; ++t) {
        clients.emplace_back([&] {
            for (int i = 0; i < kPerThread; ++i) {
                const auto r = app_->post("/api/realtime/token", R"({"userId":"flooder"})");
                (r.status == 200 ? ok : r.status == 429 ? limited : other)++;
            }
        });
    }
    for (auto& c : clients) {
        c.join();
    }
    const std::int64_t minutes = minute_now() - first_minute + 1;
    ASSERT_EQ(other.load(), 0);
    ASSERT_EQ(ok.load() + limited.load(), kThreads * kPerThread);
    ASSERT_GE(limited.load(), kThreads * kPerThread - static_cast<int>(minutes));

    // The usage report counts every 429, including those the audit did not keep.
    auto usage = admin("/api/admin/usage?groupBy=user");
    EXPECT_EQ(usage.at("totals").at("denied").at("rate_limited").to_number<int>(), limited.load());
    auto live = admin("/api/admin/live");
    EXPECT_EQ(live.at("today").at("denied").at("rate_limited").to_number<int>(), limited.load());

    // The audit keeps at most 5 refusals per user and reason a minute (the default sample).
    const std::size_t samples = denied_events();
    EXPECT_GE(samples, 1U);
    EXPECT_LE(samples, static_cast<std::size_t>(5 * minutes)) << "of " << limited.load();

    // The metrics count every refusal, and say how many became audit samples.
    auto m = http_request("127.0.0.1", app_->port(), "GET", "/metrics", {},
                          {{"Authorization", std::string("Bearer ") + kAdminToken}});
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_EQ(sample(m.body, R"(voicegate_token_denials_total{reason="rate_limited"})"),
              limited.load());
    EXPECT_EQ(sample(m.body, R"(voicegate_denial_audit_total{kept="sample"})"),
              static_cast<double>(samples));
    EXPECT_EQ(sample(m.body, R"(voicegate_denial_audit_total{kept="count_only"})"),
              static_cast<double>(limited.load()) - static_cast<double>(samples));
}

INSTANTIATE_TEST_SUITE_P(Stores, RefusedFlood, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace voicegate::test
