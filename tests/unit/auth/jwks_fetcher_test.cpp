#include "auth/jwks_fetcher.hpp"

#include <gtest/gtest.h>

namespace voicegate::auth {
namespace {

TEST(JwksFetcher, AnOkAnswerIsItsBody) {
    auto r = jwks_answer(200, R"({"keys":[]})");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, R"({"keys":[]})");
}

TEST(JwksFetcher, AnyOtherStatusIsUpstreamRejectedNamingIt) {
    for (int status : {201, 301, 404, 500}) {
        auto r = jwks_answer(status, "whatever");
        ASSERT_FALSE(r) << status;
        EXPECT_EQ(r.error().code, Error::upstream_rejected);
        EXPECT_EQ(r.error().details, "JWKS HTTP " + std::to_string(status));
    }
}

}  // namespace
}  // namespace voicegate::auth
