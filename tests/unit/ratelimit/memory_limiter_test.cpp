#include "ratelimit/memory_limiter.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"

namespace voicegate::ratelimit {
namespace {

bool allowed(MemoryLimiter& l, std::string_view key, const Rate& rate) {
    auto d = l.check(key, rate);
    EXPECT_TRUE(d);
    return d && d->allowed;
}

TEST(MemoryLimiter, PeekDecidesWithoutCounting) {
    test::ManualClock clock;
    MemoryLimiter limiter(clock);
    const Rate rate{2, 60'000, 2};
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(limiter.peek("k", rate).allowed);  // looking spends nothing
    }
    EXPECT_TRUE(allowed(limiter, "k", rate));
    EXPECT_TRUE(allowed(limiter, "k", rate));
    const auto full = limiter.peek("k", rate);
    EXPECT_FALSE(full.allowed);
    EXPECT_EQ(full.retry_after_ms, 30'000);
    clock.advance_ms(30'000);
    EXPECT_TRUE(limiter.peek("k", rate).allowed);
}

TEST(MemoryLimiter, LimitsPerKeyAndRefillsWithTheClock) {
    test::ManualClock clock;
    MemoryLimiter limiter(clock);
    const Rate rate{3, 60'000, 3};
    EXPECT_TRUE(allowed(limiter, "user:a", rate));
    EXPECT_TRUE(allowed(limiter, "user:a", rate));
    EXPECT_TRUE(allowed(limiter, "user:a", rate));
    auto denied = limiter.check("user:a", rate);
    ASSERT_TRUE(denied);
    EXPECT_FALSE(denied->allowed);
    EXPECT_EQ(denied->retry_after_ms, 20'000);
    EXPECT_EQ(denied->limit, 3);
    EXPECT_EQ(denied->window_s, 60);

    // Other keys are independent.
    EXPECT_TRUE(allowed(limiter, "user:b", rate));
    EXPECT_TRUE(allowed(limiter, "ip:user:a", rate));

    clock.advance_ms(19'999);
    EXPECT_FALSE(allowed(limiter, "user:a", rate));
    clock.advance_ms(1);
    EXPECT_TRUE(allowed(limiter, "user:a", rate));
    EXPECT_FALSE(allowed(limiter, "user:a", rate));
}

TEST(MemoryLimiter, ExactUnderConcurrencyOnOneKey) {
    test::ManualClock clock;  // frozen: the window never moves during the test
    MemoryLimiter limiter(clock);
    const Rate rate{100, 3'600'000, 100};
    std::atomic<int> passed{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                auto d = limiter.check("user:hot", rate);
                if (d && d->allowed) {
                    ++passed;
                } else {
                    ++refused;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(passed.load(), 100);
    EXPECT_EQ(refused.load(), 8 * 2000 - 100);
}

TEST(MemoryLimiter, ExactUnderConcurrencyAcrossManyKeys) {
    test::ManualClock clock;
    MemoryLimiter limiter(clock);
    const Rate rate{5, 60'000, 5};
    std::atomic<int> passed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                if (allowed(limiter, "k" + std::to_string(i % 50), rate)) {
                    ++passed;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(passed.load(), 50 * 5);
}

TEST(MemoryLimiter, MemoryStaysBoundedUnderAFloodOfKeys) {
    test::ManualClock clock;
    MemoryLimiterOptions options;
    options.shards = 4;
    options.max_keys_per_shard = 32;
    MemoryLimiter limiter(clock, options);
    const Rate rate{10, 3'600'000, 10};
    for (int i = 0; i < 20'000; ++i) {
        EXPECT_TRUE(allowed(limiter, "flood:" + std::to_string(i), rate));
        ASSERT_LE(limiter.size(), 4U * 32U);
    }
    EXPECT_GT(limiter.size(), 4U * 16U);  // it evicts in batches, not down to nothing
}

TEST(MemoryLimiter, EvictsIdleKeysFirstAndKeepsBusyOnes) {
    test::ManualClock clock;
    MemoryLimiterOptions options;
    options.shards = 1;
    options.max_keys_per_shard = 16;
    MemoryLimiter limiter(clock, options);
    const Rate slow{1, 3'600'000, 1};  // one per hour: a used key stays "busy" for an hour
    const Rate fast{100, 1000, 100};   // idle again after 10 ms

    // A busy key that has used its one request.
    EXPECT_TRUE(allowed(limiter, "busy", slow));
    EXPECT_FALSE(allowed(limiter, "busy", slow));
    for (int i = 0; i < 15; ++i) {
        EXPECT_TRUE(allowed(limiter, "idle" + std::to_string(i), fast));
    }
    EXPECT_EQ(limiter.size(), 16U);
    clock.advance_ms(1000);  // all "idle*" keys are fully refilled now
    EXPECT_TRUE(allowed(limiter, "newcomer", fast));
    EXPECT_EQ(limiter.size(), 2U);  // the idle ones went, the busy one stayed
    EXPECT_FALSE(allowed(limiter, "busy", slow));
}

TEST(MemoryLimiter, WhenFullOfBusyKeysDropsTheClosestToIdle) {
    test::ManualClock clock;
    MemoryLimiterOptions options;
    options.shards = 1;
    options.max_keys_per_shard = 16;
    MemoryLimiter limiter(clock, options);
    const Rate rate{1, 3'600'000, 1};
    // Key i is used at t = i seconds, so key 0 has the smallest TAT.
    for (int i = 0; i < 16; ++i) {
        EXPECT_TRUE(allowed(limiter, "k" + std::to_string(i), rate));
        clock.advance_ms(1000);
    }
    EXPECT_TRUE(allowed(limiter, "k16", rate));
    EXPECT_EQ(limiter.size(), 16U);             // 1/16 of 16 = one key dropped
    EXPECT_TRUE(allowed(limiter, "k0", rate));  // the oldest was forgotten
    EXPECT_FALSE(allowed(limiter, "k15", rate));
}

TEST(MemoryLimiter, SweepDropsOnlyIdleKeys) {
    test::ManualClock clock;
    MemoryLimiter limiter(clock);
    const Rate rate{2, 1000, 2};
    for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(allowed(limiter, "k" + std::to_string(i), rate));
    }
    EXPECT_EQ(limiter.sweep(), 0U);
    EXPECT_EQ(limiter.size(), 100U);
    clock.advance_ms(500);
    EXPECT_EQ(limiter.sweep(), 100U);
    EXPECT_EQ(limiter.size(), 0U);
}

TEST(MemoryLimiter, PeriodicSweepHappensOnTraffic) {
    test::ManualClock clock;
    MemoryLimiterOptions options;
    options.shards = 1;
    options.sweep_interval_ms = 10'000;
    MemoryLimiter limiter(clock, options);
    const Rate rate{10, 1000, 10};
    for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(allowed(limiter, "k" + std::to_string(i), rate));
    }
    clock.advance_ms(10'000);
    EXPECT_TRUE(allowed(limiter, "another", rate));
    EXPECT_EQ(limiter.size(), 1U);
}

}  // namespace
}  // namespace voicegate::ratelimit
