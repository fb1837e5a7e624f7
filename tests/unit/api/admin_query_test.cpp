#include "api/admin_query.hpp"

#include <gtest/gtest.h>

#include "store/quota.hpp"
#include "store/rollup.hpp"

namespace voicegate::api {
namespace {

constexpr std::int64_t kNow = 1'795'782'665'120;  // 2026-11-27T12:31:05.120Z

// AdminParams.*: moved from admin_params_test.cpp with the parsing (assertions unchanged).
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

TEST(AdminQuery, UsageQueryHasDefaultsAndNamesTheFirstBadParameter) {
    auto q = usage_query("", kNow);
    ASSERT_TRUE(q);
    EXPECT_EQ(store::format_day(q->to_day), "2026-11-27");
    EXPECT_EQ(q->to_day - q->from_day, 29);
    EXPECT_EQ(q->group_by, "day");
    EXPECT_EQ(q->limit, 100U);
    q = usage_query("groupBy=user&userId=u1&model=m&limit=3", kNow);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->group_by, "user");
    EXPECT_EQ(q->user_id, "u1");
    EXPECT_EQ(q->model, "m");
    EXPECT_EQ(q->limit, 3U);
    EXPECT_EQ(usage_query("groupBy=week", kNow).error().public_message(),
              "groupBy: expected one of day, user, model");
    EXPECT_EQ(usage_query("limit=0", kNow).error().public_message(),
              "limit: expected an integer from 1 to 10000");
    // Several problems: the day range is named first, as the handler always did.
    EXPECT_EQ(usage_query("to=x&groupBy=week", kNow).error().public_message(),
              "to: expected a date YYYY-MM-DD");
    EXPECT_EQ(usage_query("status=ended", kNow).error().public_message(),
              "status: unknown parameter");
}

TEST(AdminQuery, SessionsQueryLimitsDependOnTheFormatAndTheCursorIsChecked) {
    auto json = sessions_query("status=ended&endedBy=timeout", kNow);
    ASSERT_TRUE(json);
    EXPECT_FALSE(json->csv);
    EXPECT_EQ(json->query.limit, 50U);
    EXPECT_EQ(json->query.status, "ended");
    EXPECT_EQ(json->query.ended_by, "timeout");
    EXPECT_EQ(json->query.to_ms - json->query.from_ms, 30 * store::kMsPerDay);
    EXPECT_EQ(json->query.from_ms, json->days.first * store::kMsPerDay);
    auto csv = sessions_query("format=csv", kNow);
    ASSERT_TRUE(csv);
    EXPECT_TRUE(csv->csv);
    EXPECT_EQ(csv->query.limit, 100'000U);
    EXPECT_FALSE(sessions_query("limit=1001", kNow));
    EXPECT_TRUE(sessions_query("format=csv&limit=1001", kNow));
    const store::SessionCursor c{kNow, "sess_1"};
    auto paged = sessions_query("cursor=" + encode_session_cursor(c), kNow);
    ASSERT_TRUE(paged);
    ASSERT_TRUE(paged->query.after);
    EXPECT_EQ(paged->query.after->session_id, "sess_1");
    EXPECT_EQ(sessions_query("cursor=zz", kNow).error().public_message(),
              "cursor: malformed (use nextCursor of the previous page)");
}

TEST(AdminQuery, EventsQueryAndEventCursors) {
    auto q = events_query("type=token_denied&sessionId=s&cursor=e42", kNow);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->type, "token_denied");
    EXPECT_EQ(q->session_id, "s");
    EXPECT_EQ(q->before_id, 42);
    EXPECT_EQ(q->limit, 100U);
    EXPECT_EQ(encode_event_cursor(42), "e42");
    EXPECT_EQ(decode_event_cursor("e42"), 42);
    for (const char* bad : {"", "e", "e0", "e-1", "x42", "e4x", "42"}) {
        EXPECT_FALSE(decode_event_cursor(bad)) << bad;
    }
    EXPECT_EQ(events_query("cursor=e0", kNow).error().public_message(),
              "cursor: malformed (use nextCursor of the previous page)");
    EXPECT_FALSE(events_query("type=login", kNow));
}

}  // namespace
}  // namespace voicegate::api
