#include "app/supervision.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace voicegate::app {
namespace {

TEST(SupervisionWiring, CallPolicyFromTheProfile) {
    config::TokenPolicy tokens;
    config::Profile diary;
    diary.name = "diary";
    diary.fields =
        boost::json::parse(R"({"voice":"marin","instructions":"Be brief."})").as_object();
    diary.allow_override = {"voice"};
    tokens.profiles.push_back(diary);

    const auto p = call_policy_for(tokens, "diary");
    EXPECT_EQ(p.profile_fields, diary.fields);
    EXPECT_EQ(p.allow_override, diary.allow_override);
    EXPECT_EQ(p.on_violation, supervisor::OnViolation::reapply);
    tokens.profiles.front().on_violation = "hangup";
    EXPECT_EQ(call_policy_for(tokens, "diary").on_violation, supervisor::OnViolation::hangup);
    // No profile, or one no longer configured: the model alone is locked.
    EXPECT_TRUE(call_policy_for(tokens, "").profile_fields.empty());
    EXPECT_TRUE(call_policy_for(tokens, "gone").profile_fields.empty());
}

}  // namespace
}  // namespace voicegate::app
