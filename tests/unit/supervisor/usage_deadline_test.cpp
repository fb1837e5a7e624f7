#include <gtest/gtest.h>

#include "supervisor/deadline.hpp"
#include "supervisor/usage.hpp"

namespace voicegate::supervisor {
namespace {

using store::CallEnd;

// gpt-realtime's defaults (USD per 1M): text 4.00 / cached 0.40 / out 16.00, audio 32.00 /
// 0.40 / 64.00, image 5.00 / 0.50.
const ModelPrice* realtime_price() {
    return &default_prices().at("gpt-realtime");
}

SidebandEvent response(std::string id, TokenUsage t) {
    SidebandEvent e;
    e.kind = SidebandEvent::Kind::usage;
    e.response_id = std::move(id);
    e.tokens = t;
    return e;
}

TEST(UsageAccumulator, SumsByModalityAndPricesCachedApart) {
    UsageAccumulator acc({}, realtime_price());
    TokenUsage a;
    a.input_text = 200;
    a.input_audio = 1000;
    a.cached_text = 100;
    a.cached_audio = 200;
    a.output_text = 100;
    a.output_audio = 400;
    EXPECT_TRUE(acc.add(response("resp_1", a)));
    // 100*4 + 100*0.4 + 800*32 + 200*0.4 + 100*16 + 400*64 = 53,320 per 1M.
    EXPECT_DOUBLE_EQ(acc.total().cost_usd, 0.05332);
    TokenUsage b;
    b.input_text = 50;
    b.output_text = 10;
    EXPECT_TRUE(acc.add(response("resp_2", b)));
    EXPECT_FALSE(acc.add(response("resp_1", a)));  // the same response again: counted once
    SidebandEvent tr;
    tr.kind = SidebandEvent::Kind::transcription_usage;
    tr.transcription_in_tokens = 17;
    tr.transcription_out_tokens = 9;
    EXPECT_TRUE(acc.add(tr));
    tr.transcription_in_tokens = tr.transcription_out_tokens = 0;
    tr.transcription_seconds = 2.5;
    EXPECT_TRUE(acc.add(tr));
    EXPECT_FALSE(acc.add(SidebandEvent{}));  // ignored kinds add nothing

    const auto& t = acc.total();
    EXPECT_EQ(t.tokens.input_text, 250);
    EXPECT_EQ(t.tokens.input_audio, 1000);
    EXPECT_EQ(t.tokens.cached_text, 100);
    EXPECT_EQ(t.tokens.cached_audio, 200);
    EXPECT_EQ(t.tokens.output_text, 110);
    EXPECT_EQ(t.tokens.output_audio, 400);
    EXPECT_EQ(t.responses, 2);
    EXPECT_EQ(t.transcription_in_tokens, 17);
    EXPECT_EQ(t.transcription_out_tokens, 9);
    EXPECT_DOUBLE_EQ(t.transcription_seconds, 2.5);
    // + 50*4 + 10*16 = 360: transcription is not priced (no rates in the table).
    EXPECT_DOUBLE_EQ(t.cost_usd, 0.05368);
    EXPECT_EQ(acc.version(), 4u);
}

TEST(UsageAccumulator, ContinuesFromACheckpointAndNoPriceMeansNoCost) {
    store::TrueUsage so_far;
    so_far.tokens.input_text = 1000;
    so_far.responses = 3;
    UsageAccumulator acc(so_far, realtime_price());
    EXPECT_DOUBLE_EQ(acc.total().cost_usd, 0.004);  // priced at once
    TokenUsage b;
    b.output_audio = 1200;
    acc.add(response("", b));  // no id: always counted
    acc.add(response("", b));
    EXPECT_EQ(acc.total().responses, 5);
    EXPECT_DOUBLE_EQ(acc.total().cost_usd, 0.004 + 2 * 1200 * 64 / 1e6);

    UsageAccumulator unpriced({}, nullptr);
    unpriced.add(response("r", b));
    EXPECT_EQ(unpriced.total().tokens.output_audio, 1200);
    EXPECT_EQ(unpriced.total().cost_usd, 0);
}

TEST(UsageAccumulator, CumulativeFiguresReplace) {
    UsageAccumulator acc({}, realtime_price());
    SidebandEvent e;
    e.kind = SidebandEvent::Kind::usage;
    e.cumulative = true;
    e.tokens.input_audio = 600;
    acc.add(e);
    e.tokens.input_audio = 900;
    acc.add(e);
    EXPECT_EQ(acc.total().tokens.input_audio, 900);
}

constexpr std::int64_t kMidnight = 1'796'083'200'000;  // 2026-12-01T00:00:00Z
constexpr std::int64_t kHour = 3'600'000;

TEST(Deadlines, Cap) {
    EXPECT_EQ(cap_deadline(1000, 2000), 3000);
    EXPECT_EQ(cap_deadline(1000, 0), std::nullopt);
    EXPECT_EQ(utc_day_start_ms(kMidnight + 5 * kHour + 7), kMidnight);
    EXPECT_EQ(utc_day_start_ms(kMidnight), kMidnight);
}

TEST(Deadlines, QuotaDrainedByEveryLiveCall) {
    const std::int64_t now = kMidnight + 10 * kHour;
    const std::int64_t quota = 60 * 60'000;  // 60 minutes
    // 40 min settled, one live call for 5 min: 15 min left at 1x.
    store::UserMinutes m{40 * 60'000, {now - 5 * 60'000}};
    EXPECT_EQ(quota_deadline(now, quota, m), now + 15 * 60'000);
    // A second live call, started 1 min ago: 14 min left, drained 2x: 7 min.
    m.live_started_at_ms.push_back(now - 60'000);
    EXPECT_EQ(quota_deadline(now, quota, m), now + 7 * 60'000);
    // Three calls and 10,000 ms left: rounded up to the ms.
    store::UserMinutes odd{quota - 10'000, {now, now, now}};
    EXPECT_EQ(quota_deadline(now, quota, odd), now + 3334);
    // Nothing left: now. No quota: none.
    store::UserMinutes over{quota + 1, {now - 1000}};
    EXPECT_EQ(quota_deadline(now, quota, over), now);
    EXPECT_EQ(quota_deadline(now, 0, over), std::nullopt);
    // A live call started yesterday counts only since midnight.
    store::UserMinutes overnight{0, {kMidnight - kHour}};
    EXPECT_EQ(quota_deadline(kMidnight + 10 * 60'000, quota, overnight),
              kMidnight + 10 * 60'000 + 50 * 60'000);
    // This call not listed (yet): k is still 1.
    EXPECT_EQ(quota_deadline(now, quota, store::UserMinutes{}), now + quota);
}

TEST(Deadlines, EarliestWinsCapOnTie) {
    EXPECT_EQ(earliest_deadline(5000, 7000), (HangupDeadline{5000, CallEnd::cap}));
    EXPECT_EQ(earliest_deadline(9000, 7000), (HangupDeadline{7000, CallEnd::quota}));
    EXPECT_EQ(earliest_deadline(7000, 7000), (HangupDeadline{7000, CallEnd::cap}));
    EXPECT_EQ(earliest_deadline(std::nullopt, 7000), (HangupDeadline{7000, CallEnd::quota}));
    EXPECT_EQ(earliest_deadline(std::nullopt, std::nullopt), std::nullopt);
}

}  // namespace
}  // namespace voicegate::supervisor
