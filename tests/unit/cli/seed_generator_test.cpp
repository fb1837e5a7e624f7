#include "cli/seed_generator.hpp"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "fakes/fake_session_store.hpp"

namespace voicegate::cli {
namespace {

constexpr std::int64_t kNow = 1'795'000'000'000;  // 2026-11-18
constexpr std::int64_t kDayMs = 86'400'000;

SeedPlan plan_of(std::int64_t sessions) {
    SeedPlan plan;
    plan.sessions = sessions;
    plan.users = 1000;
    plan.days = 30;
    plan.now_ms = kNow;
    return plan;
}

TEST(SeedGenerator, SessionsAreRealisticAndInTimeOrder) {
    const auto plan = plan_of(20'000);
    SeedGenerator gen(plan);
    std::map<std::string, int> per_user;
    std::map<std::string, int> ended_by;
    std::set<std::string> models;
    std::int64_t previous = 0;
    int ended = 0;
    int denials = 0;
    int over_reported = 0;
    std::map<std::int64_t, int> per_instant;
    const std::int64_t first_day = kNow / kDayMs * kDayMs - 29 * kDayMs;
    for (int i = 0; i < plan.sessions; ++i) {
        auto s = gen.next();
        const auto& r = s.issued;
        ASSERT_EQ(r.session_id.rfind("sess_", 0), 0u);
        ASSERT_GE(r.issued_at_ms, previous) << "sessions come in issue order";
        previous = r.issued_at_ms;
        ASSERT_GE(r.issued_at_ms, first_day);
        ASSERT_LT(r.issued_at_ms, kNow);
        ++per_instant[r.issued_at_ms];
        ++per_user[r.user_id];
        models.insert(r.model);
        if (s.end) {
            ++ended;
            ++ended_by[s.end->ended_by];
            const double observed_s = (s.end->ended_at_ms - r.issued_at_ms) / 1000.0;
            ASSERT_GE(s.end->reported_duration_s, 5.0 * 0.99);
            ASSERT_LE(s.end->reported_duration_s, 1800 * 1.25 + 0.1);
            ASSERT_LE(s.end->ended_at_ms, kNow);
            if (s.end->reported_duration_s > observed_s) {
                ++over_reported;
            }
            ASSERT_GE(s.end->message_count, 0);
        }
        for (const auto& d : s.denials) {
            ++denials;
            EXPECT_EQ(d.type, "token_denied");
            EXPECT_TRUE(d.reason == "rate_limited" || d.reason == "quota_exhausted") << d.reason;
            EXPECT_EQ(d.user_id, r.user_id);
        }
    }
    // About 10% never ended; the ended-by mix is 80/12/8.
    EXPECT_NEAR(ended / 20'000.0, 0.9, 0.02);
    EXPECT_NEAR(ended_by["user"] / static_cast<double>(ended), 0.80, 0.02);
    EXPECT_NEAR(ended_by["timeout"] / static_cast<double>(ended), 0.12, 0.02);
    EXPECT_NEAR(ended_by["error"] / static_cast<double>(ended), 0.08, 0.02);
    EXPECT_NEAR(denials / 20'000.0, 0.03, 0.01);
    EXPECT_GT(over_reported, 0) << "some clients over-report, so billable minutes differ";
    EXPECT_GE(models.size(), 4u);
    // Today's sessions are spread up to now, not piled onto one instant (kNow is mid-day: a
    // time drawn later than now is drawn again, not clamped to now).
    int most_at_one_instant = 0;
    for (const auto& [t, n] : per_instant) {
        most_at_one_instant = std::max(most_at_one_instant, n);
    }
    EXPECT_LE(most_at_one_instant, 2);
    // Skewed activity: the heaviest user has far more sessions than the median one.
    std::vector<int> counts;
    for (const auto& [u, n] : per_user) {
        counts.push_back(n);
    }
    std::sort(counts.rbegin(), counts.rend());
    EXPECT_GT(counts.front(), 50 * counts[counts.size() / 2]);
    EXPECT_EQ(per_user.begin()->first.rfind("seed-user-", 0), 0u);
}

TEST(SeedGenerator, SameSeedSameData) {
    SeedGenerator a(plan_of(500));
    SeedGenerator b(plan_of(500));
    for (int i = 0; i < 500; ++i) {
        auto x = a.next();
        auto y = b.next();
        ASSERT_EQ(x.issued.user_id, y.issued.user_id);
        ASSERT_EQ(x.issued.issued_at_ms, y.issued.issued_at_ms);
        ASSERT_EQ(x.issued.model, y.issued.model);
        ASSERT_EQ(x.end.has_value(), y.end.has_value());
    }
}

TEST(RunSeed, WritesEverySessionThroughTheStoreAndReportsProgress) {
    test::FakeSessionStore store;
    auto plan = plan_of(3'000);
    plan.in_flight = 64;
    std::vector<SeedProgress> reports;
    auto r = run_seed(store, plan, [&](const SeedProgress& p) { reports.push_back(p); });
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(store.rows.size(), 3'000u);
    int ended = 0;
    for (const auto& [id, row] : store.rows) {
        ended += row.status == "ended" ? 1 : 0;
    }
    EXPECT_EQ(ended, store.ends);
    EXPECT_NEAR(ended / 3'000.0, 0.9, 0.04);
    ASSERT_FALSE(reports.empty());
    EXPECT_TRUE(reports.back().finished);
    EXPECT_EQ(reports.back().done, 3'000);
    EXPECT_EQ(reports.back().total, 3'000);
}

TEST(RunSeed, StopsAtTheFirstStoreFailure) {
    test::FakeSessionStore store;
    store.fail_writes = true;
    auto r = run_seed(store, plan_of(100), [](const SeedProgress&) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::store_unavailable);
    EXPECT_TRUE(store.rows.empty());
}

TEST(RenderProgress, ShowsBarCountsRateAndEta) {
    SeedProgress p;
    p.done = 250'000;
    p.total = 1'000'000;
    p.elapsed_s = 10;
    const auto line = render_progress(p);
    EXPECT_NE(line.find("[#######......................."), std::string::npos) << line;
    EXPECT_NE(line.find(" 25%"), std::string::npos) << line;
    EXPECT_NE(line.find("250,000/1,000,000 sessions"), std::string::npos) << line;
    EXPECT_NE(line.find("25,000/s"), std::string::npos) << line;
    EXPECT_NE(line.find("ETA 30s"), std::string::npos) << line;
}

}  // namespace
}  // namespace voicegate::cli
