#include <gtest/gtest.h>
// Replaced by app_test.cpp and binary_test.cpp once the App is wired (they wait as *.wip).
TEST(Integration, BinaryPathKnown) { EXPECT_STRNE(VOICEGATE_BINARY, ""); }
