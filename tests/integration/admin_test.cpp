// The admin API (docs/admin-api.md) over real HTTP: sessions made through /token and /end,
// then every admin endpoint's numbers.
#include <algorithm>
#include <chrono>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "integration/app_harness.hpp"
#include "support/pg_test_db.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

const char* kAdminToken = "admin-test-token-0123456789-abcdef";

// Runs on SQLite (a file) and on PostgreSQL (a throw-away schema of VOICEGATE_TEST_PG_URL).
class AdminApi : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        std::map<std::string, std::string> env{{"VOICEGATE_ADMIN_TOKEN", kAdminToken},
                                               {"VOICEGATE_RATE_USER", "5/min"}};
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
    HttpResult admin(const std::string& target, bool auth = true) const {
        std::vector<std::pair<std::string, std::string>> h;
        if (auth) {
            h.emplace_back("Authorization", std::string("Bearer ") + kAdminToken);
        }
        return http_request("127.0.0.1", app_->port(), "GET", target, {}, h);
    }
    json::object body(const HttpResult& r) const {
        boost::system::error_code ec;
        auto v = json::parse(r.body, ec);
        EXPECT_FALSE(ec) << r.body;
        return v.is_object() ? v.as_object() : json::object{};
    }
    std::string issue(const std::string& user) {
        auto r = app_->post("/api/realtime/token", R"({"userId":")" + user + R"("})");
        EXPECT_EQ(r.status, 200) << r.body;
        return std::string(body(r).at("sessionId").as_string());
    }
    std::unique_ptr<PgTestSchema> pg_schema_;
    std::unique_ptr<RunningApp> app_;
};

TEST_P(AdminApi, EveryEndpointCountsWhatWentThroughTokenAndEnd) {
    const auto s1 = issue("user-a");
    issue("user-a");
    issue("user-b");
    auto end = app_->post(
        "/api/realtime/end",
        R"({"sessionId":")" + s1 + R"(","duration":0.5,"messageCount":3,"endedBy":"user"})");
    ASSERT_EQ(end.status, 200) << end.body;

    auto usage = admin("/api/admin/usage");
    ASSERT_EQ(usage.status, 200) << usage.body;
    auto u = body(usage);
    EXPECT_EQ(u.at("costIsEstimate"), true);
    EXPECT_FALSE(u.at("costBasis").as_string().empty());
    const auto& totals = u.at("totals").as_object();
    EXPECT_EQ(totals.at("sessions").to_number<std::int64_t>(), 3);
    EXPECT_EQ(totals.at("endedSessions").to_number<std::int64_t>(), 1);
    EXPECT_EQ(totals.at("messages").to_number<std::int64_t>(), 3);
    EXPECT_EQ(totals.at("endedBy").at("user").to_number<std::int64_t>(), 1);
    EXPECT_GT(totals.at("estimatedCostUsd").to_number<double>(), 0.0);
    EXPECT_LE(totals.at("billableMinutes").to_number<double>(), 0.5 / 60 + 1e-9);
    EXPECT_EQ(u.at("rows").as_array().size(), 30U);  // every day of the default range

    auto by_user = body(admin("/api/admin/usage?groupBy=user"));
    const auto& rows = by_user.at("rows").as_array();
    ASSERT_EQ(rows.size(), 2U);
    std::map<std::string, std::int64_t> sessions_by_user;
    for (const auto& r : rows) {
        sessions_by_user[std::string(r.at("key").as_string())] =
            r.at("sessions").to_number<std::int64_t>();
    }
    EXPECT_EQ(sessions_by_user["user-a"], 2);
    EXPECT_EQ(sessions_by_user["user-b"], 1);

    auto one = body(admin("/api/admin/usage?groupBy=model&userId=user-b"));
    EXPECT_EQ(one.at("totals").at("sessions").to_number<std::int64_t>(), 1);

    auto live = body(admin("/api/admin/live"));
    EXPECT_EQ(live.at("openSessions").to_number<std::int64_t>(), 2);
    EXPECT_EQ(live.at("sessions").as_array().size(), 2U);
    EXPECT_EQ(live.at("today").at("sessions").to_number<std::int64_t>(), 3);

    auto page1 = body(admin("/api/admin/sessions?limit=2"));
    ASSERT_EQ(page1.at("sessions").as_array().size(), 2U);
    ASSERT_TRUE(page1.at("nextCursor").is_string());
    auto page2 = body(admin("/api/admin/sessions?limit=2&cursor=" +
                            std::string(page1.at("nextCursor").as_string())));
    ASSERT_EQ(page2.at("sessions").as_array().size(), 1U);
    EXPECT_TRUE(page2.at("nextCursor").is_null());
    auto ended = body(admin("/api/admin/sessions?status=ended"));
    ASSERT_EQ(ended.at("sessions").as_array().size(), 1U);
    const auto& row = ended.at("sessions").as_array()[0].as_object();
    EXPECT_EQ(row.at("sessionId").as_string(), s1);
    EXPECT_EQ(row.at("endedBy").as_string(), "user");
    EXPECT_EQ(row.at("messageCount").to_number<std::int64_t>(), 3);

    auto csv = admin("/api/admin/sessions?format=csv&userId=user-a");
    ASSERT_EQ(csv.status, 200) << csv.body;
    EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
    EXPECT_NE(csv.header("content-disposition").find("voicegate-sessions-"), std::string::npos);
    EXPECT_EQ(csv.body.rfind("sessionId,userId,model,voice,profile,status,issuedAt,", 0), 0U)
        << csv.body;
    std::size_t lines = 0;
    for (const char c : csv.body) {
        lines += c == '\n' ? 1 : 0;
    }
    EXPECT_EQ(lines, 3U);  // header + user-a's two sessions

    auto events = body(admin("/api/admin/events?type=token_issued"));
    EXPECT_EQ(events.at("events").as_array().size(), 3U);
    auto ev_page = body(admin("/api/admin/events?limit=1"));
    ASSERT_TRUE(ev_page.at("nextCursor").is_string());
    auto ev_next = admin("/api/admin/events?limit=1&cursor=" +
                         std::string(ev_page.at("nextCursor").as_string()));
    EXPECT_EQ(ev_next.status, 200) << ev_next.body;
}

TEST_P(AdminApi, RefusedTokensAreCountedByReason) {
    // 5 tokens a minute per user, 2 open sessions per user (the default quota).
    int rate_limited = 0;
    int quota_exhausted = 0;
    const auto minute = [] {
        return std::chrono::duration_cast<std::chrono::minutes>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    const auto first_minute = minute();
    for (int i = 0; i < 12; ++i) {
        auto r = app_->post("/api/realtime/token", R"({"userId":"user-greedy"})");
        rate_limited += r.status == 429 ? 1 : 0;
        quota_exhausted += r.status == 403 ? 1 : 0;
    }
    ASSERT_GT(rate_limited, 0);
    ASSERT_GT(quota_exhausted, 0);
    auto usage = body(admin("/api/admin/usage?groupBy=user"));
    const auto& denied = usage.at("totals").at("denied");
    EXPECT_EQ(denied.at("rate_limited").to_number<int>(), rate_limited);
    EXPECT_EQ(denied.at("quota_exhausted").to_number<int>(), quota_exhausted);
    const auto& row = usage.at("rows").as_array().at(0).as_object();
    EXPECT_EQ(row.at("key").as_string(), "user-greedy");
    EXPECT_EQ(row.at("denied").at("rate_limited").to_number<int>(), rate_limited);
    EXPECT_EQ(row.at("sessions").to_number<int>(), 12 - rate_limited - quota_exhausted);
    auto live = body(admin("/api/admin/live"));
    EXPECT_EQ(live.at("today").at("denied").at("quota_exhausted").to_number<int>(),
              quota_exhausted);
    // Every refusal is counted above; the audit keeps the first 5 per user and reason a minute.
    auto events = body(admin("/api/admin/events?type=token_denied&userId=user-greedy"));
    const auto sampled =
        static_cast<std::size_t>(std::min(rate_limited, 5) + std::min(quota_exhausted, 5));
    if (minute() == first_minute) {
        EXPECT_EQ(events.at("events").as_array().size(), sampled);
    } else {  // the requests straddled a minute: each minute has its own sample
        EXPECT_GE(events.at("events").as_array().size(), sampled);
        EXPECT_LE(events.at("events").as_array().size(),
                  static_cast<std::size_t>(rate_limited + quota_exhausted));
    }
}

TEST_P(AdminApi, WithoutTheAdminIdentityIs401) {
    for (const char* path :
         {"/api/admin/usage", "/api/admin/live", "/api/admin/sessions", "/api/admin/events"}) {
        auto r = admin(path, false);
        EXPECT_EQ(r.status, 401) << path;
        EXPECT_EQ(r.header("www-authenticate"), "Bearer") << path;
        EXPECT_EQ(body(r).at("success"), false);
    }
    auto wrong = http_request("127.0.0.1", app_->port(), "GET", "/api/admin/usage", {},
                              {{"Authorization", "Bearer not-the-admin-token"}});
    EXPECT_EQ(wrong.status, 401);
}

TEST_P(AdminApi, BadParametersAre400NamingThem) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"/api/admin/usage?from=2026-13-01", "from"},
        {"/api/admin/usage?to=yesterday", "to"},
        {"/api/admin/usage?from=2026-11-10&to=2026-11-01", "to"},
        {"/api/admin/usage?from=2024-01-01&to=2026-01-01", "from"},
        {"/api/admin/usage?groupBy=week", "groupBy"},
        {"/api/admin/usage?groupBy=user&limit=0", "limit"},
        {"/api/admin/usage?limit=10001", "limit"},
        {"/api/admin/usage?colour=red", "colour"},
        {"/api/admin/sessions?cursor=zz", "cursor"},
        {"/api/admin/sessions?limit=1001", "limit"},
        {"/api/admin/sessions?status=open", "status"},
        {"/api/admin/sessions?format=xml", "format"},
        {"/api/admin/events?cursor=12", "cursor"},
        {"/api/admin/events?type=nope", "type"},
        {"/api/admin/live?x=1", "x"},
    };
    for (const auto& [target, name] : cases) {
        auto r = admin(target);
        EXPECT_EQ(r.status, 400) << target << " " << r.body;
        auto b = body(r);
        EXPECT_EQ(b.at("code"), "bad_request") << target;
        EXPECT_EQ(std::string(b.at("error").as_string()).rfind(name + ":", 0), 0U)
            << target << " " << r.body;
    }
}

INSTANTIATE_TEST_SUITE_P(Engines, AdminApi, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& param_info) { return param_info.param; });

TEST(AdminApiOff, WithoutAdminTokenOrJwtTheRoutesAre404) {
    RunningApp app(test_config());
    EXPECT_EQ(app.get("/api/admin/usage").status, 404);
}

}  // namespace
}  // namespace voicegate::test
