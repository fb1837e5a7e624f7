#include "emulator/registry.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace voicegate::emulator {
namespace {

IssuedSecret secret(std::int64_t expires_at, std::string session_id = "sess_1") {
    IssuedSecret s;
    s.expires_at = expires_at;
    s.session_id = std::move(session_id);
    return s;
}

TEST(EmulatorSecretRegistry, KnownUnknownAndExpired) {
    SecretRegistry r(10);
    r.add("ek_a", secret(1100, "sess_a"), 1000);
    auto [ok, found] = r.check("ek_a", 1099, false);
    EXPECT_EQ(ok, SecretCheck::ok);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->session_id, "sess_a");
    EXPECT_EQ(r.check("ek_b", 1000, false).first, SecretCheck::unknown);
    EXPECT_EQ(r.check("ek_a", 1100, false).first, SecretCheck::expired);
    EXPECT_EQ(r.check("ek_a", 1100, false).first, SecretCheck::unknown);  // forgotten
    EXPECT_EQ(r.size(), 0U);
}

TEST(EmulatorSecretRegistry, ReuseAllowedUnlessSingleUse) {
    SecretRegistry r(10);
    r.add("ek_a", secret(2000), 1000);
    EXPECT_TRUE(r.mark_used("ek_a", false));
    EXPECT_TRUE(r.mark_used("ek_a", false));
    EXPECT_EQ(r.check("ek_a", 1000, false).first, SecretCheck::ok);
    EXPECT_EQ(r.check("ek_a", 1000, true).first, SecretCheck::used);
    EXPECT_FALSE(r.mark_used("ek_a", true));
    EXPECT_FALSE(r.mark_used("ek_unknown", false));
}

TEST(EmulatorSecretRegistry, BoundedDropsExpiredThenSoonestExpiring) {
    SecretRegistry r(3);
    r.add("ek_1", secret(1500), 1000);
    r.add("ek_2", secret(1200), 1000);
    r.add("ek_3", secret(1900), 1000);
    r.add("ek_4", secret(1800), 1000);  // full: ek_2 expires soonest
    EXPECT_EQ(r.size(), 3U);
    EXPECT_EQ(r.check("ek_2", 1000, false).first, SecretCheck::unknown);
    EXPECT_EQ(r.check("ek_1", 1000, false).first, SecretCheck::ok);
    r.add("ek_5", secret(3000), 1600);  // ek_1 (1500) has expired and goes first
    EXPECT_EQ(r.size(), 3U);
    EXPECT_EQ(r.check("ek_1", 1000, false).first, SecretCheck::unknown);
    EXPECT_EQ(r.check("ek_3", 1600, false).first, SecretCheck::ok);
    EXPECT_EQ(r.check("ek_4", 1600, false).first, SecretCheck::ok);
}

TEST(EmulatorSecretRegistry, ConcurrentUseIsSafe) {
    SecretRegistry r(1000);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&r, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string v = "ek_" + std::to_string(t) + "_" + std::to_string(i);
                r.add(v, secret(5000 + i), 1000);
                (void)r.check(v, 1000, true);
                (void)r.mark_used(v, true);
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(r.size(), 1000U);
}

TEST(EmulatorCallRegistry, HangUpKnownCallsAndEvictOldest) {
    CallRegistry c(2);
    c.add("rtc_1", CallRecord{"sess_1", "gpt-realtime", 10, false, {}, 0, 0, {}});
    c.add("rtc_2", CallRecord{"sess_2", "gpt-realtime", 11, false, {}, 0, 0, {}});
    EXPECT_TRUE(c.hang_up("rtc_1"));
    EXPECT_TRUE(c.hang_up("rtc_1"));  // idempotent
    EXPECT_TRUE(c.find("rtc_1")->hung_up);
    EXPECT_FALSE(c.hang_up("rtc_x"));
    c.add("rtc_3", CallRecord{"sess_3", "gpt-realtime", 12, false, {}, 0, 0, {}});
    EXPECT_EQ(c.size(), 2U);
    EXPECT_FALSE(c.find("rtc_1"));
    EXPECT_EQ(c.find("rtc_3")->session_id, "sess_3");
}

}  // namespace
}  // namespace voicegate::emulator
