#include "core/log_throttle.hpp"

#include <gtest/gtest.h>

namespace voicegate {
namespace {

TEST(LogThrottle, OneLineAnIntervalWithTheCountHeldBack) {
    LogThrottle t(std::chrono::seconds(1));
    auto first = t.admit(10'000);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, 0U);
    for (int i = 0; i < 41; ++i) {
        EXPECT_FALSE(t.admit(10'000 + i * 20).has_value());
    }
    auto next = t.admit(11'000);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, 41U);
    EXPECT_FALSE(t.admit(11'500).has_value());
    auto later = t.admit(20'000);
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(*later, 1U);
}

}  // namespace
}  // namespace voicegate
