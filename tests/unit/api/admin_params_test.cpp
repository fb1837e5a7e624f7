#include <gtest/gtest.h>

#include "api/admin_handlers.hpp"
#include "store/rollup.hpp"

namespace voicegate::api {
namespace {

constexpr std::int64_t kNow = 1'795'782'665'120;  // 2026-11-27T12:31:05.120Z

TEST(AdminParams, DatesDefaultToTheLast30DaysAndAreChecked) {
    auto r = admin_day_range({}, kNow);
    ASSERT_TRUE(r);
    EXPECT_EQ(store::format_day(r->second), "2026-11-27");
    EXPECT_EQ(store::format_day(r->first), "2026-10-29");
    r = admin_day_range({{"from", "2026-02-28"}, {"to", "2026-03-01"}}, kNow);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->second - r->first, 1);
    EXPECT_FALSE(admin_day_range({{"from", "2026-02-29"}}, kNow));  // not a leap year
    EXPECT_TRUE(admin_day_range({{"from", "2024-02-29"}, {"to", "2024-03-01"}}, kNow));
    EXPECT_EQ(admin_day_range({{"from", "2026-11-05"}, {"to", "2026-11-01"}}, kNow)
                  .error()
                  .public_message(),
              "to: is before from");
    EXPECT_EQ(admin_day_range({{"from", "2025-11-26"}}, kNow).error().public_message(),
              "from: the range is longer than 366 days");
    EXPECT_TRUE(admin_day_range({{"from", "2025-11-27"}}, kNow));  // exactly 366 days
    EXPECT_EQ(admin_day_range({{"to", "27/11/2026"}}, kNow).error().public_message(),
              "to: expected a date YYYY-MM-DD");
}

TEST(AdminParams, UnknownAndRepeatedParametersAreRefusedByName) {
    auto p = admin_params("from=2026-11-01&userId=a%20b", {"from", "userId"});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->at("userId"), "a b");
    EXPECT_EQ(admin_params("colour=red", {"from"}).error().public_message(),
              "colour: unknown parameter");
    EXPECT_EQ(admin_params("from=a&from=b", {"from"}).error().public_message(),
              "from: given more than once");
}

TEST(AdminParams, TimesAreIsoUtcWithMilliseconds) {
    EXPECT_EQ(iso_time(kNow), "2026-11-27T12:31:05.120Z");
    EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00.000Z");
}

TEST(AdminParams, SessionCursorRoundTripsAndRejectsGarbage) {
    const store::SessionCursor c{kNow, "sess_AbC-12"};
    auto back = decode_session_cursor(encode_session_cursor(c));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->issued_at_ms, kNow);
    EXPECT_EQ(back->session_id, "sess_AbC-12");
    for (const char* bad : {"", "zz", "c1", "c1zz", "c1313", "c12e", "eyJhIjoxfQ"}) {
        EXPECT_FALSE(decode_session_cursor(bad)) << bad;
    }
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

}  // namespace
}  // namespace voicegate::api
