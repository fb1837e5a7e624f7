// The pure parts of the store's call supervision: stored names (ended_by, event types), the
// error codes of refusals, and the rollup deltas of a call's end and a late client report.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "store/event_type.hpp"
#include "store/rollup.hpp"
#include "store/supervision.hpp"

namespace voicegate::store {
namespace {

TEST(CallEndNames, EveryEndHasAStoredNameThatParsesBack) {
    std::set<std::string> names;
    for (int i = 0; i <= static_cast<int>(CallEnd::gone); ++i) {
        const auto end = static_cast<CallEnd>(i);
        const std::string name = call_end_name(end);
        EXPECT_TRUE(names.insert(name).second) << name;
        EXPECT_EQ(parse_call_end(name), end);
    }
    EXPECT_EQ(names, (std::set<std::string>{"cap", "quota", "lock_violation", "hangup",
                                            "upstream_expired", "closed", "gone"}));
    // A client's endedBy is never a server end.
    for (const char* client : {"user", "timeout", "error", ""}) {
        EXPECT_FALSE(parse_call_end(client)) << client;
    }
}

TEST(CallEndNames, OnlyVoicegatesOwnHangUpsAreHangUps) {
    EXPECT_TRUE(voicegate_hung_up(CallEnd::cap));
    EXPECT_TRUE(voicegate_hung_up(CallEnd::quota));
    EXPECT_TRUE(voicegate_hung_up(CallEnd::lock_violation));
    EXPECT_TRUE(voicegate_hung_up(CallEnd::hangup));
    EXPECT_FALSE(voicegate_hung_up(CallEnd::upstream_expired));
    EXPECT_FALSE(voicegate_hung_up(CallEnd::closed));
    EXPECT_FALSE(voicegate_hung_up(CallEnd::gone));
}

TEST(EventTypes, CallEventsHaveTheirNames) {
    std::set<std::string> names;
    for (const auto t : event_types()) {
        EXPECT_TRUE(names.insert(event_type_name(t)).second);
        EXPECT_EQ(parse_event_type(event_type_name(t)), t);
    }
    for (const char* n : {"call_relayed", "call_attached", "call_hung_up", "lock_violation"}) {
        EXPECT_TRUE(parse_event_type(n)) << n;
    }
}

TEST(CallErrors, RefusalsAreConflicts) {
    EXPECT_EQ(error_info(Error::conflict).status, 409);
    EXPECT_EQ(error_info(Error::conflict).code, "conflict");
    EXPECT_EQ(error_info(Error::lease_lost).status, 409);
    EXPECT_EQ(error_info(Error::lease_lost).code, "lease_lost");
}

TEST(CallRollups, TrueUsageAndLateReportsTouchOnlyTheirColumns) {
    TrueUsage u;
    u.tokens.input_text = 1;
    u.tokens.cached_audio = 2;
    u.tokens.output_audio = 3;
    u.transcription_in_tokens = 99;  // not a rollup column
    u.cost_usd = 0.25;
    const UsageCounters t = true_usage_delta(u);
    UsageCounters expect;
    std::size_t n = 0;
    for (const auto c : usage_columns()) {
        if (is_money_column(c)) {
            continue;
        }
        if (c == "true_input_text_tokens") {
            expect.n[n] = 1;
        } else if (c == "true_cached_audio_tokens") {
            expect.n[n] = 2;
        } else if (c == "true_output_audio_tokens") {
            expect.n[n] = 3;
        }
        ++n;
    }
    EXPECT_EQ(n, expect.n.size());
    EXPECT_EQ(t.n, expect.n);
    EXPECT_DOUBLE_EQ(t.true_cost_usd, 0.25);
    EXPECT_DOUBLE_EQ(t.cost_usd, 0);

    const UsageCounters late = late_report_delta(80.25, 6);
    EXPECT_EQ(late.n[2], 80250);  // reported ms
    EXPECT_EQ(late.n[4], 6);      // messages
    EXPECT_EQ(late.n[1], 0);      // not another end
    EXPECT_EQ(late.n[3], 0);      // no billable time: the server's end charged it
}

}  // namespace
}  // namespace voicegate::store
