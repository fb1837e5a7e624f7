#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/ids.hpp"

namespace voicegate {
namespace {

TEST(Ids, RandomIdHasPrefixLengthAndAlphabet) {
    const auto id = random_id("sess_", 21);
    ASSERT_EQ(id.size(), 26U);
    EXPECT_EQ(id.rfind("sess_", 0), 0U);
    for (char c : id.substr(5)) {
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
    }
    EXPECT_NE(random_id("x", 16), random_id("x", 16));
}

TEST(Ids, RedactKeepsOnlyLastFour) {
    EXPECT_EQ(redact_secret("ek_68af296e8e408191a1120ab6383263c2"), "ek_…63c2");
    EXPECT_EQ(redact_secret("sk-proj-abcd-efgh-ijkl-mnop-qrst-uvwxyz"), "sk-…wxyz");
    EXPECT_EQ(redact_secret("ek_short"), "ek_…");
    EXPECT_EQ(redact_secret("abc"), "…");
}

TEST(Ids, ConstantTimeEquals) {
    EXPECT_TRUE(constant_time_equals("secret-token", "secret-token"));
    EXPECT_FALSE(constant_time_equals("secret-token", "secret-tokem"));
    EXPECT_FALSE(constant_time_equals("secret", "secret-token"));
    EXPECT_FALSE(constant_time_equals("", "x"));
    EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(Errors, TableMapsStatusAndCode) {
    EXPECT_EQ(error_info(Error::rate_limited).status, 429);
    EXPECT_EQ(error_info(Error::upstream_timeout).status, 504);
    EXPECT_EQ(error_info(Error::upstream_unavailable).status, 503);
    EXPECT_EQ(error_info(Error::quota_exhausted).code, "quota_exhausted");
    EXPECT_EQ(fail(Error::bad_request, "model: not allowed").public_message(),
              "model: not allowed");
    EXPECT_EQ(fail(Error::bad_request).public_message(), error_info(Error::bad_request).message);
}

}  // namespace
}  // namespace voicegate
