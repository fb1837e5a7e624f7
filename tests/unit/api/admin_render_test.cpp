#include "api/admin_render.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "store/rollup.hpp"

namespace voicegate::api {
namespace {
namespace json = boost::json;

constexpr std::int64_t kNow = 1'795'782'665'120;  // 2026-11-27T12:31:05.120Z

// AdminParams.*: moved from admin_params_test.cpp with the rendering (assertions unchanged).
TEST(AdminParams, TimesAreIsoUtcWithMilliseconds) {
    EXPECT_EQ(iso_time(kNow), "2026-11-27T12:31:05.120Z");
    EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00.000Z");
}

TEST(AdminParams, CsvCellsAreQuotedAndDefusedAgainstFormulas) {
    EXPECT_EQ(csv_cell("plain"), "plain");
    EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(csv_cell("line\nbreak"), "\"line\nbreak\"");
    EXPECT_EQ(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    EXPECT_EQ(csv_cell("+1"), "'+1");
    EXPECT_EQ(csv_cell("-2"), "'-2");
    EXPECT_EQ(csv_cell("@SUM"), "'@SUM");
}

// Probe 2026-12: a leading tab or CR (possible through a JWT `sub`) was left as it was.
TEST(AdminParams, CsvCellsStartingWithTabOrCarriageReturnAreDefused) {
    EXPECT_EQ(csv_cell("\t=1+2"), "'\t=1+2");
    EXPECT_EQ(csv_cell("\r=1+2"), "\"'\r=1+2\"");
}

store::SessionRow ended_row() {
    store::SessionRow r;
    r.issued.session_id = "sess_1";
    r.issued.user_id = "=cmd";
    r.issued.model = "gpt-realtime";
    r.issued.issued_at_ms = kNow;
    r.issued.token_expires_at = kNow / 1000 + 60;
    r.status = "ended";
    r.ended_at_ms = kNow + 90'000;
    r.ended_by = "user";
    r.reported_duration_s = 90;
    r.observed_duration_s = 60;
    r.message_count = 4;
    r.estimated_cost_usd = 0.25;
    return r;
}

TEST(AdminRender, SessionsJsonAndCsvShareTheirColumns) {
    const std::vector<store::SessionRow> rows{ended_row()};
    const auto body = sessions_json(rows, "c1next");
    EXPECT_EQ(body.at("nextCursor"), "c1next");
    const auto& s = body.at("sessions").as_array().at(0).as_object();
    EXPECT_EQ(s.at("userId"), "=cmd");
    EXPECT_EQ(s.at("issuedAt"), "2026-11-27T12:31:05.120Z");
    EXPECT_EQ(s.at("billableMinutes").as_double(), 1.0) << "min(reported, observed)";
    EXPECT_TRUE(sessions_json({}, "").at("nextCursor").is_null());

    const auto csv = sessions_csv(rows);
    const auto header_end = csv.find("\r\n");
    ASSERT_NE(header_end, std::string::npos);
    std::string header = csv.substr(0, header_end);
    std::size_t columns = 1;
    for (const char c : header) {
        columns += c == ',' ? 1 : 0;
    }
    EXPECT_EQ(columns, s.size()) << header;
    EXPECT_EQ(header.rfind("sessionId,userId,model,", 0), 0U) << header;
    EXPECT_NE(csv.find("sess_1,'=cmd,gpt-realtime,"), std::string::npos) << csv;
    EXPECT_EQ(sessions_csv_filename({20'000, 20'001}),
              "voicegate-sessions-2024-10-04-2024-10-05.csv");
}

TEST(AdminRender, EventsKeepTheirDetailAsJsonWhenItIsJson) {
    store::EventPage page;
    store::Event e;
    e.id = 7;
    e.at_ms = kNow;
    e.type = "token_denied";
    e.detail = R"({"limit":"10/min"})";
    page.events.push_back(e);
    e.id = 6;
    e.detail = "not json";
    page.events.push_back(e);
    const auto body = events_json(page, "e6");
    const auto& list = body.at("events").as_array();
    ASSERT_EQ(list.size(), 2U);
    EXPECT_EQ(list.at(0).at("detail").at("limit"), "10/min");
    EXPECT_EQ(list.at(1).at("detail"), "not json");
    EXPECT_TRUE(list.at(0).at("userId").is_null());
    EXPECT_EQ(body.at("nextCursor"), "e6");
}

TEST(AdminRender, UsageAndLiveCarryTheCostBasisAndTheirDays) {
    store::UsageQuery q;
    q.from_day = 20'000;
    q.to_day = 20'001;
    q.group_by = "user";
    store::UsageReport report;
    report.totals.sessions = 3;
    report.totals.billable_ms = 90'000;
    store::UsageRow row;
    row.key = "u1";
    row.usage.sessions = 3;
    report.rows.push_back(row);
    const auto usage = usage_json(report, q);
    EXPECT_EQ(usage.at("from"), "2024-10-04");
    EXPECT_EQ(usage.at("groupBy"), "user");
    EXPECT_EQ(usage.at("totals").at("billableMinutes").as_double(), 1.5);
    EXPECT_EQ(usage.at("rows").as_array().at(0).as_object().begin()->key(), "key");
    EXPECT_TRUE(usage.at("costIsEstimate").as_bool());

    store::LiveReport live;
    live.open_sessions = 1;
    live.sessions.push_back({ended_row(), kNow + 60'000});
    const auto body = live_json(live, kNow);
    EXPECT_EQ(body.at("now"), "2026-11-27T12:31:05.120Z");
    EXPECT_EQ(body.at("openSessions").as_int64(), 1);
    EXPECT_EQ(body.at("sessions").as_array().at(0).at("reservationEndsAt"),
              "2026-11-27T12:32:05.120Z");
    EXPECT_EQ(body.at("costBasis"), usage.at("costBasis"));
}

}  // namespace
}  // namespace voicegate::api
