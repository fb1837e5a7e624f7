#include "cli/usage_report.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "store/rollup.hpp"

namespace voicegate::cli {
namespace {

const std::int64_t kToday = *store::parse_day("2026-11-27");

store::UsageQuery query_of(UsageCliOptions o) {
    auto q = usage_query_from(o, kToday);
    EXPECT_TRUE(q) << (q ? "" : std::string(q.error().public_message()));
    return q ? *q : store::UsageQuery{};
}

std::string error_of(UsageCliOptions o) {
    auto q = usage_query_from(o, kToday);
    return q ? "" : std::string(q.error().public_message());
}

TEST(UsageCli, SinceTakesDaysWeeksOrADate) {
    UsageCliOptions o;
    o.since = "7d";
    auto q = query_of(o);
    EXPECT_EQ(store::format_day(q.from_day), "2026-11-21");
    EXPECT_EQ(store::format_day(q.to_day), "2026-11-27");
    o.since = "2w";
    EXPECT_EQ(store::format_day(query_of(o).from_day), "2026-11-14");
    o.since = "2026-11-01";
    o.until = "2026-11-30";
    q = query_of(o);
    EXPECT_EQ(store::format_day(q.from_day), "2026-11-01");
    EXPECT_EQ(store::format_day(q.to_day), "2026-11-30");
    o.since = "1d";
    o.until = "2026-11-10";
    q = query_of(o);
    EXPECT_EQ(q.from_day, q.to_day) << "1d: the --until day alone";
}

TEST(UsageCli, BadOptionsNameTheOption) {
    UsageCliOptions o;
    o.since = "0d";
    EXPECT_NE(error_of(o).find("--since"), std::string::npos);
    o.since = "2026-13-01";
    EXPECT_NE(error_of(o).find("--since"), std::string::npos);
    o.since = "7d";
    o.until = "27/11/2026";
    EXPECT_NE(error_of(o).find("--until"), std::string::npos);
    o.until = "";
    o.since = "2027-01-01";
    EXPECT_NE(error_of(o).find("must not be after --until"), std::string::npos);
    o.since = "400d";
    EXPECT_NE(error_of(o).find("366 days"), std::string::npos);
    o.since = "7d";
    o.group_by = "week";
    EXPECT_NE(error_of(o).find("--group-by"), std::string::npos);
    o.group_by = "day";
    o.format = "xml";
    EXPECT_NE(error_of(o).find("--format"), std::string::npos);
}

store::UsageReport sample_report() {
    store::UsageReport r;
    store::UsageTotals a;
    a.sessions = 3;
    a.ended_sessions = 2;
    a.reported_ms = 90'000;
    a.billable_ms = 60'000;
    a.messages = 7;
    a.cost_usd = 0.096;
    a.ended_user = 1;
    a.ended_timeout = 1;
    a.denied = {{"rate_limited", 2}};
    store::UsageTotals b = a;
    b.sessions = 1;
    b.denied = {{"quota_exhausted", 1}};
    r.rows = {{"u,1", a}, {"=u2", b}};
    r.totals = a;
    r.totals.sessions = 4;
    r.totals.denied = {{"rate_limited", 2}, {"quota_exhausted", 1}};
    return r;
}

TEST(UsageCli, CsvHasAHeaderARowPerGroupAndTotalQuotedSafely) {
    UsageCliOptions o;
    o.group_by = "user";
    const auto csv = render_usage(sample_report(), query_of(o), "csv");
    EXPECT_EQ(csv,
              "key,sessions,ended,minutes,billable_minutes,messages,est_cost_usd,ended_user,"
              "ended_timeout,ended_error,denied\r\n"
              "\"u,1\",3,2,1.5,1.0,7,0.10,1,1,0,2\r\n"
              "'=u2,1,2,1.5,1.0,7,0.10,1,1,0,1\r\n"
              "TOTAL,4,2,1.5,1.0,7,0.10,1,1,0,3\r\n");
}

TEST(UsageCli, TableIsAlignedWithTotalsDenialsAndTheEstimateLabel) {
    UsageCliOptions o;
    const auto q = query_of(o);
    const auto text = render_usage(sample_report(), q, "table");
    EXPECT_EQ(text.rfind("usage 2026-10-29 .. 2026-11-27 (UTC), by day\n", 0), 0U) << text;
    EXPECT_NE(text.find("\nTOTAL "), std::string::npos) << text;
    EXPECT_NE(text.find("denied by reason: quota_exhausted 1, rate_limited 2"), std::string::npos);
    EXPECT_NE(text.find("est_cost_usd: Estimate"), std::string::npos) << text;
    // Every table line has the same width up to its last column.
    std::vector<std::size_t> widths;
    std::size_t start = text.find('\n') + 1;
    for (int line = 0; line < 3; ++line) {
        const auto end = text.find('\n', start);
        widths.push_back(end - start);
        start = end + 1;
    }
    EXPECT_EQ(widths[0], widths[1]);
    EXPECT_EQ(widths[1], widths[2]);
}

TEST(UsageCli, JsonIsTheAdminApiBodyWithPlainNumbers) {
    UsageCliOptions o;
    const auto text = render_usage(sample_report(), query_of(o), "json");
    auto body = boost::json::parse(text).as_object();
    EXPECT_EQ(body.at("success"), true);
    EXPECT_EQ(body.at("groupBy"), "day");
    EXPECT_EQ(body.at("costIsEstimate"), true);
    EXPECT_EQ(body.at("totals").as_object().at("sessions").as_int64(), 4);
    EXPECT_EQ(body.at("rows").as_array().size(), 2U);
    EXPECT_EQ(text.find("E0"), std::string::npos) << "no 9.6E-2 style numbers: " << text;
    EXPECT_NE(text.find("\"estimatedCostUsd\":0.096"), std::string::npos) << text;
}

}  // namespace
}  // namespace voicegate::cli
