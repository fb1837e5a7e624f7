#include <gtest/gtest.h>
TEST(Integration, BinaryPathKnown) { EXPECT_STRNE(VOICEGATE_BINARY, ""); }
