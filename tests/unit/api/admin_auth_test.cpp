#include "api/admin_auth.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"
#include "support/jwt_factory.hpp"
#include "support/run_coro.hpp"

namespace voicegate::api {
namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef-test";

class AdminAuthTest : public ::testing::Test {
protected:
    static auth::JwtSettings settings() {
        auth::JwtSettings s;
        s.jwt.hs256_secret = kSecret;
        return s;
    }
    std::string jwt(const std::string& role) const {
        return test::sign_hs256({{"alg", "HS256"}, {"typ", "JWT"}},
                                {{"sub", "u1"}, {"exp", clock_.now_s() + 600}, {"role", role}},
                                kSecret);
    }
    Result<bool> is_admin(const std::string& authorization, const std::string& ip = "192.0.2.1") {
        http::Request req;
        req.client_ip = ip;
        if (!authorization.empty()) {
            req.headers.emplace_back("authorization", authorization);
        }
        return test::run_coro(io_, admin_.is_admin(req));
    }

    boost::asio::io_context io_;
    test::ManualClock clock_;
    auth::JwtTokenVerifier verifier_{settings(), clock_, {}};
    AdminAuth admin_{"admin-token-1234", &verifier_, clock_};
};

TEST_F(AdminAuthTest, AdminTokenOrAdminJwtAndNothingElse) {
    EXPECT_TRUE(admin_.enabled());
    EXPECT_TRUE(*is_admin("Bearer admin-token-1234"));
    EXPECT_TRUE(*is_admin("bearer admin-token-1234"));
    EXPECT_TRUE(*is_admin("Bearer " + jwt("admin")));
    EXPECT_FALSE(*is_admin("Bearer " + jwt("authenticated"))) << "a user's JWT";
    EXPECT_FALSE(*is_admin("Bearer admin-token-123"));
    EXPECT_FALSE(*is_admin(""));
}

TEST_F(AdminAuthTest, FailedSignInsAreThrottledPerAddressBeforeAnyComparison) {
    for (int i = 0; i < 10; ++i) {
        ASSERT_FALSE(*is_admin("Bearer guess-" + std::to_string(i)));
    }
    auto refused = is_admin("Bearer admin-token-1234");
    ASSERT_FALSE(refused) << "the right token too, once the address spent its failures";
    EXPECT_EQ(refused.error().code, Error::rate_limited);
    EXPECT_GT(refused.error().retry_after_s, 0);
    EXPECT_TRUE(*is_admin("Bearer admin-token-1234", "192.0.2.2")) << "another address";
    EXPECT_FALSE(*is_admin("")) << "no credential: neither counted nor throttled";
    clock_.advance_ms(6'000);
    EXPECT_TRUE(*is_admin("Bearer admin-token-1234")) << "one more attempt every 6 s";
}

TEST(AdminAuth, DisabledWithoutTokenOrVerifier) {
    test::ManualClock clock;
    EXPECT_FALSE(AdminAuth("", nullptr, clock).enabled());
    EXPECT_TRUE(AdminAuth("t", nullptr, clock).enabled());
}

}  // namespace
}  // namespace voicegate::api
