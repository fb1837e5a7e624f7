#include "alerts/detector.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"

namespace voicegate::alerts {
namespace {

constexpr std::int64_t kMinute = 60'000;
// 2026-09-21 00:00:00 UTC, a window boundary for every window length used here.
constexpr std::int64_t kMidnight = 1'790'000'000'000LL / 86'400'000LL * 86'400'000LL;

double figure(const Alert& a, const std::string& name) {
    for (const auto& [k, v] : a.figures) {
        if (k == name) {
            return v;
        }
    }
    ADD_FAILURE() << "no figure " << name;
    return -1;
}

struct DetectorTest : ::testing::Test {
    test::ManualClock clock{kMidnight};
    config::AlertsConfig cfg;  // the defaults

    std::vector<Alert> burst(Detector& d, const std::string& user, int n) {
        for (int i = 0; i < n; ++i) {
            d.token_requested(user);
        }
        return d.evaluate({});
    }
};

TEST_F(DetectorTest, UserRateNewUserAlertsAtTheFloor) {
    Detector d(cfg, clock);
    EXPECT_TRUE(burst(d, "u1", 29).empty());
    auto alerts = burst(d, "u1", 20);  // crosses at 30, once per window
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].rule, "user_rate");
    EXPECT_EQ(alerts[0].subject, "u1");
    EXPECT_EQ(figure(alerts[0], "requests"), 30);
    EXPECT_EQ(figure(alerts[0], "window_s"), 60);
    EXPECT_EQ(alerts[0].suppressed, 0U);
    EXPECT_TRUE(burst(d, "u1", 100).empty());  // same window: already reported
    EXPECT_TRUE(burst(d, "u2", 10).empty());   // another user is unaffected
}

TEST_F(DetectorTest, UserRateComparesWithTheUsersBaseline) {
    Detector d(cfg, clock);
    for (int w = 0; w < 30; ++w) {  // a steady 8 requests a minute
        EXPECT_TRUE(burst(d, "busy", 8).empty());
        clock.advance_ms(kMinute);
    }
    // 79 > floor but not > 10 x ~8: usual enough for this user.
    EXPECT_TRUE(burst(d, "busy", 79).empty());
    clock.advance_ms(kMinute);
    // The 79 raised the baseline to ~22; far above that fires.
    for (int w = 0; w < 30; ++w) {
        (void)burst(d, "busy", 8);
        clock.advance_ms(kMinute);
    }
    auto alerts = burst(d, "busy", 200);
    ASSERT_EQ(alerts.size(), 1U);
    const double baseline = figure(alerts[0], "baseline");
    EXPECT_NEAR(baseline, 8, 0.1);
    EXPECT_EQ(figure(alerts[0], "requests"), std::floor(10 * baseline) + 1);
}

TEST_F(DetectorTest, UserRateAbsoluteMaximum) {
    cfg.user_rate.factor = 0;  // only the absolute threshold
    cfg.user_rate.max = 100;
    Detector d(cfg, clock);
    EXPECT_TRUE(burst(d, "u", 99).empty());
    auto alerts = burst(d, "u", 1);
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(figure(alerts[0], "requests"), 100);
}

TEST_F(DetectorTest, UserRateOffNeverAlerts) {
    cfg.user_rate.enabled = false;
    Detector d(cfg, clock);
    EXPECT_TRUE(burst(d, "u", 1000).empty());
}

TEST_F(DetectorTest, CooldownMakesAnIncidentOneAlertAndCountsTheRest) {
    cfg.user_rate.factor = 0;  // absolute threshold only: every window of the burst crosses it
    cfg.user_rate.max = 30;
    Detector d(cfg, clock);
    ASSERT_EQ(burst(d, "u", 40).size(), 1U);
    for (int w = 0; w < 5; ++w) {  // the burst goes on for five more windows
        clock.advance_ms(kMinute);
        EXPECT_TRUE(burst(d, "u", 40).empty());
    }
    EXPECT_EQ(d.suppressed_total(), 5U);
    clock.advance_ms(15 * kMinute);  // past the 900 s cool-down
    auto alerts = burst(d, "u", 40);
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].suppressed, 5U);  // reported with the next alert
    clock.advance_ms(15 * kMinute + kMinute);
    alerts = burst(d, "u", 40);
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].suppressed, 0U);
}

TEST_F(DetectorTest, CooldownIsPerRuleAndSubject) {
    Detector d(cfg, clock);
    ASSERT_EQ(burst(d, "a", 30).size(), 1U);
    ASSERT_EQ(burst(d, "b", 30).size(), 1U);
    for (int i = 0; i < 25; ++i) {
        d.token_denied();
    }
    auto alerts = d.evaluate({});
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].rule, "denial_spike");
}

TEST_F(DetectorTest, UserMinutesFloorAndBaseline) {
    Detector d(cfg, clock);
    d.session_ended("new", 59 * kMinute);
    EXPECT_TRUE(d.evaluate({}).empty());
    d.session_ended("new", 2 * kMinute);  // 61 minutes today, no history
    auto alerts = d.evaluate({});
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].rule, "user_minutes");
    EXPECT_EQ(alerts[0].subject, "new");
    EXPECT_EQ(figure(alerts[0], "minutes"), 61);

    // A heavy user: 30 minutes a day for weeks, then 140 (< 5 x 30) is not unusual...
    for (int day = 0; day < 20; ++day) {
        clock.advance_ms(24 * 60 * kMinute);
        d.session_ended("heavy", 30 * kMinute);
        EXPECT_TRUE(d.evaluate({}).empty());
    }
    clock.advance_ms(24 * 60 * kMinute);
    d.session_ended("heavy", 140 * kMinute);
    EXPECT_TRUE(d.evaluate({}).empty());
    // ...but 151 is.
    d.session_ended("heavy", 11 * kMinute);
    alerts = d.evaluate({});
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_NEAR(figure(alerts[0], "baseline"), 30, 0.5);
}

TEST_F(DetectorTest, UserMinutesAbsoluteThreshold) {
    cfg.user_minutes.factor = 0;
    cfg.user_minutes.max = 240;
    Detector d(cfg, clock);
    d.session_ended("u", 239 * kMinute);
    EXPECT_TRUE(d.evaluate({}).empty());
    d.session_ended("u", kMinute);
    EXPECT_EQ(d.evaluate({}).size(), 1U);
}

TEST_F(DetectorTest, DenialSpikeAbsoluteAndRelative) {
    cfg.denials.factor = 0;  // only the absolute 120/min
    Detector d(cfg, clock);
    for (int i = 0; i < 119; ++i) {
        d.token_denied();
    }
    EXPECT_TRUE(d.evaluate({}).empty());
    d.token_denied();
    auto alerts = d.evaluate({});
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].subject, "all");
    EXPECT_EQ(figure(alerts[0], "denials"), 120);
}

TEST_F(DetectorTest, UpstreamErrorSpikeNeedsRatioAndCount) {
    Detector d(cfg, clock);  // ratio 0.5, floor 10 errors, per minute
    EXPECT_TRUE(d.evaluate({0, 0}).empty());
    clock.advance_ms(10'000);
    EXPECT_TRUE(d.evaluate({100, 9}).empty());  // few errors
    clock.advance_ms(10'000);
    EXPECT_TRUE(d.evaluate({200, 30}).empty());  // 30 of 200: ratio too low
    clock.advance_ms(10'000);
    auto alerts = d.evaluate({230, 60});  // 60 of 230 in the last minute... 0.26
    EXPECT_TRUE(alerts.empty());
    clock.advance_ms(60'000);
    EXPECT_TRUE(d.evaluate({230, 60}).empty());  // quiet minute
    clock.advance_ms(10'000);
    alerts = d.evaluate({250, 75});  // 15 errors of 20 calls in the last minute
    ASSERT_EQ(alerts.size(), 1U);
    EXPECT_EQ(alerts[0].rule, "upstream_error_spike");
    EXPECT_EQ(figure(alerts[0], "errors"), 15);
    EXPECT_EQ(figure(alerts[0], "calls"), 20);
    EXPECT_DOUBLE_EQ(figure(alerts[0], "error_ratio"), 0.75);
}

TEST_F(DetectorTest, AlertJsonCarriesFiguresNotSecrets) {
    Alert a;
    a.rule = "user_rate";
    a.subject = "user-1";
    a.at_ms = kMidnight + 1'234;
    a.figures = {{"requests", 31}, {"baseline", 2.12345}};
    a.suppressed = 3;
    auto v = boost::json::parse(to_json(a)).as_object();
    EXPECT_EQ(v.at("type"), "alert");
    EXPECT_EQ(v.at("rule"), "user_rate");
    EXPECT_EQ(v.at("subject"), "user-1");
    EXPECT_EQ(v.at("suppressed"), 3);
    EXPECT_EQ(v.at("figures").at("requests"), 31);
    EXPECT_DOUBLE_EQ(v.at("figures").at("baseline").as_double(), 2.123);
    EXPECT_EQ(std::string(v.at("at").as_string()).substr(10), "T00:00:01.234Z");
}

}  // namespace
}  // namespace voicegate::alerts
