#include "ratelimit/gcra.hpp"

#include <array>
#include <string>

#include <gtest/gtest.h>

#include "ratelimit/limiter.hpp"

namespace voicegate::ratelimit {
namespace {

constexpr std::int64_t kNow = 1'790'000'000'000'000;  // microseconds

TEST(ParseRate, AcceptsTheDocumentedForms) {
    struct Case {
        const char* text;
        std::int64_t count;
        std::int64_t period_ms;
    };
    const std::array cases{
        Case{"10/s", 10, 1000},
        Case{"10/min", 10, 60'000},
        Case{"60/m", 60, 60'000},
        Case{"100/h", 100, 3'600'000},
        Case{"5/sec", 5, 1000},
        Case{"5/second", 5, 1000},
        Case{"5/minute", 5, 60'000},
        Case{"5/hour", 5, 3'600'000},
        Case{"5/hr", 5, 3'600'000},
        Case{"10/MIN", 10, 60'000},
        Case{" 10 / min ", 10, 60'000},
        Case{"1/s", 1, 1000},
        Case{"1000000/h", 1'000'000, 3'600'000},
    };
    for (const auto& c : cases) {
        auto r = parse_rate(c.text);
        ASSERT_TRUE(r) << c.text << ": " << r.error().message;
        EXPECT_EQ(r->count, c.count) << c.text;
        EXPECT_EQ(r->period_ms, c.period_ms) << c.text;
        EXPECT_EQ(r->effective_burst(), c.count) << c.text;
    }
}

TEST(ParseRate, RejectsJunkWithAClearMessage) {
    for (const char* junk : {"", "10", "/min", "10/", "ten/min", "10/day", "10/mins", "0/min",
                             "-5/min", "+5/min", "1.5/s", "10/min/h", "10 min", "10//min",
                             "99999999999999999999/s", "1000001/s", "10/ms", "0x10/s"}) {
        auto r = parse_rate(junk);
        ASSERT_FALSE(r) << junk;
        EXPECT_EQ(r.error().code, Error::bad_request);
        EXPECT_NE(r.error().message.find("expected N/s, N/min or N/h"), std::string::npos)
            << r.error().message;
        EXPECT_EQ(r.error().message.rfind("rate '", 0), 0U) << r.error().message;
    }
}

TEST(ParseRate, RoundTripsCanonicalText) {
    EXPECT_EQ(parse_rate("10/m")->to_string(), "10/min");
    EXPECT_EQ(parse_rate("3/second")->to_string(), "3/s");
    EXPECT_EQ(parse_rate("7/hour")->to_string(), "7/h");
    EXPECT_EQ(parse_rate("10/min")->window_s(), 60);
    EXPECT_EQ(parse_rate("10/min")->emission_interval_us(), 6'000'000);
}

TEST(Gcra, AllowsExactlyTheBurstAtOneInstant) {
    const Rate rate{10, 60'000, 10};
    std::int64_t tat = 0;
    for (int i = 0; i < 10; ++i) {
        const auto d = decide(tat, kNow, rate);
        ASSERT_TRUE(d.allowed) << i;
        EXPECT_EQ(d.remaining, 9 - i);
        tat = d.new_tat_us;
    }
    const auto denied = decide(tat, kNow, rate);
    EXPECT_FALSE(denied.allowed);
    EXPECT_EQ(denied.remaining, 0);
    EXPECT_EQ(denied.new_tat_us, tat);            // a refusal costs nothing
    EXPECT_EQ(denied.retry_after_us, 6'000'000);  // one emission interval
    EXPECT_EQ(denied.reset_after_us, 60'000'000);
}

TEST(Gcra, RefillsOneRequestPerEmissionInterval) {
    const Rate rate{10, 60'000, 10};
    std::int64_t tat = 0;
    for (int i = 0; i < 10; ++i) {
        tat = decide(tat, kNow, rate).new_tat_us;
    }
    EXPECT_FALSE(decide(tat, kNow + 5'999'999, rate).allowed);
    const auto d = decide(tat, kNow + 6'000'000, rate);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.retry_after_us, 6'000'000);
    tat = d.new_tat_us;
    EXPECT_FALSE(decide(tat, kNow + 6'000'000, rate).allowed);

    // After a full period idle, the whole burst is back.
    const auto later = decide(tat, kNow + 200'000'000, rate);
    ASSERT_TRUE(later.allowed);
    EXPECT_EQ(later.remaining, 9);
    EXPECT_EQ(later.retry_after_us, 0);
    EXPECT_EQ(later.reset_after_us, 6'000'000);
}

TEST(Gcra, RetryAfterShrinksAsTimePasses) {
    const Rate rate{1, 1000, 1};
    const auto first = decide(0, kNow, rate);
    ASSERT_TRUE(first.allowed);
    EXPECT_EQ(first.retry_after_us, 1'000'000);
    const auto d = decide(first.new_tat_us, kNow + 250'000, rate);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_us, 750'000);
    EXPECT_EQ(d.reset_after_us, 750'000);
}

TEST(Gcra, CustomBurstAndSustainedRate) {
    // 60/min sustained, 5 at once.
    const Rate rate{60, 60'000, 5};
    std::int64_t tat = 0;
    int allowed = 0;
    for (int i = 0; i < 100; ++i) {
        const auto d = decide(tat, kNow, rate);
        if (d.allowed) {
            ++allowed;
            tat = d.new_tat_us;
        }
    }
    EXPECT_EQ(allowed, 5);
    // Over the next 10 s, exactly 10 more (one per second) get through.
    allowed = 0;
    for (std::int64_t t = kNow; t <= kNow + 10'000'000; t += 100'000) {
        const auto d = decide(tat, t, rate);
        if (d.allowed) {
            ++allowed;
            tat = d.new_tat_us;
        }
    }
    EXPECT_EQ(allowed, 10);
}

TEST(Gcra, OldOrZeroTatMeansFresh) {
    const Rate rate{3, 1000, 3};
    EXPECT_EQ(decide(0, kNow, rate).remaining, 2);
    EXPECT_EQ(decide(kNow - 10'000'000, kNow, rate).remaining, 2);
}

TEST(Gcra, InvalidRatesFailClosed) {
    EXPECT_FALSE(decide(0, kNow, Rate{}).allowed);
    EXPECT_FALSE(decide(0, kNow, Rate{10, 0, 10}).allowed);
    EXPECT_FALSE(decide(0, kNow, Rate{0, 1000, 0}).allowed);
    EXPECT_EQ(decide(0, kNow, Rate{}).retry_after_us, 1'000'000);
}

TEST(Headers, RenderTheCurrentDraftFormat) {
    const Rate rate{10, 60'000, 10};
    Decision d = make_decision(decide(0, kNow, rate), rate);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.limit, 10);
    EXPECT_EQ(d.window_s, 60);
    EXPECT_EQ(d.remaining, 9);
    EXPECT_EQ(rate_limit_policy_item("user", d), "\"user\";q=10;w=60");
    EXPECT_EQ(rate_limit_item("user", d), "\"user\";r=9;t=6");
}

TEST(Headers, RefusalCarriesRetryAfterAndMatchingT) {
    const Rate rate{10, 60'000, 10};
    std::int64_t tat = 0;
    for (int i = 0; i < 10; ++i) {
        tat = decide(tat, kNow, rate).new_tat_us;
    }
    const Decision d = make_decision(decide(tat, kNow + 1'500'000, rate), rate);
    ASSERT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_ms, 4'500);
    EXPECT_EQ(retry_after_seconds(d), 5);  // rounded up
    EXPECT_EQ(rate_limit_item("user", d), "\"user\";r=0;t=5");

    const std::array<NamedDecision, 2> checks{
        NamedDecision{"user", d},
        NamedDecision{"ip",
                      make_decision(decide(0, kNow, Rate{60, 60'000, 60}), Rate{60, 60'000, 60})}};
    const auto h = render_headers(checks);
    EXPECT_EQ(h.policy, "\"user\";q=10;w=60, \"ip\";q=60;w=60");
    EXPECT_EQ(h.ratelimit, "\"user\";r=0;t=5, \"ip\";r=59;t=1");
    EXPECT_EQ(h.retry_after_s, 5);
}

TEST(Headers, RetryAfterIsAtLeastOneSecond) {
    Decision d;
    d.allowed = false;
    d.retry_after_ms = 1;
    EXPECT_EQ(retry_after_seconds(d), 1);
    d.retry_after_ms = 0;
    EXPECT_EQ(retry_after_seconds(d), 1);
    d.retry_after_ms = 1000;
    EXPECT_EQ(retry_after_seconds(d), 1);
    d.retry_after_ms = 1001;
    EXPECT_EQ(retry_after_seconds(d), 2);
}

TEST(Headers, AllowedRequestsHaveNoRetryAfterAndNamesAreEscaped) {
    const Rate rate{5, 1000, 5};
    const std::array<NamedDecision, 1> checks{
        NamedDecision{"we\"ird\\", make_decision(decide(0, kNow, rate), rate)}};
    const auto h = render_headers(checks);
    EXPECT_EQ(h.retry_after_s, 0);
    EXPECT_EQ(h.policy, "\"we\\\"ird\\\\\";q=5;w=1");
}

}  // namespace
}  // namespace voicegate::ratelimit
