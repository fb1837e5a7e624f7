// Admin access by JWT (test review D2; README: "the admin token or an admin JWT"): a JWT whose
// `role` claim is the string "admin" opens /api/admin/* and proxied /metrics; a user's JWT, an
// expired admin JWT and `role: ["admin"]` do not. The App runs on a ManualClock so that the
// per-address limit on failed admin sign-ins (10 a minute) can be refilled between groups.
#include <gtest/gtest.h>

#include <functional>

#include <boost/json.hpp>

#include "fakes/manual_clock.hpp"
#include "integration/app_harness.hpp"
#include "support/jwt_factory.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

constexpr const char* kSecret = "admin-jwt-secret-0123456789abcdef-xyz";
const std::vector<std::string> kAdminPaths{"/api/admin/usage", "/api/admin/live",
                                           "/api/admin/sessions", "/api/admin/events"};
// /metrics from behind a reverse proxy is not a loopback client: it needs the admin identity.
const std::pair<std::string, std::string> kProxied{"X-Forwarded-For", "203.0.113.7"};

struct AdminJwt : ::testing::Test {
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
    RunningApp app{test_config({{"JWT_SECRET", kSecret}}), clock};

    std::string jwt(json::value role, std::int64_t exp_offset_s = 600) const {
        json::object claims{{"sub", "operator-1"},
                            {"aud", "authenticated"},
                            {"exp", clock->now_s() + exp_offset_s}};
        claims["role"] = std::move(role);
        return sign_hs256({{"alg", "HS256"}, {"typ", "JWT"}}, claims, kSecret);
    }
    HttpResult get(const std::string& path, const std::string& token, bool proxied = false) const {
        std::vector<std::pair<std::string, std::string>> h{{"Authorization", "Bearer " + token}};
        if (proxied) {
            h.push_back(kProxied);
        }
        return app.get(path, h);
    }
    // The failed-sign-in allowance (10 a minute per address) refills.
    void next_minute() const { clock->advance_ms(61'000); }
};

TEST_F(AdminJwt, AdminRoleOpensEveryAdminRouteAndProxiedMetrics) {
    const auto admin = jwt("admin");
    for (const auto& path : kAdminPaths) {
        auto r = get(path, admin);
        EXPECT_EQ(r.status, 200) << path << " " << r.body;
        EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0U) << path;
    }
    auto m = get("/metrics", admin, true);
    EXPECT_EQ(m.status, 200) << m.body;
    EXPECT_NE(m.body.find("voicegate_build_info"), std::string::npos);
    // Without the proxy header the loopback scrape needs no identity at all; with it and no
    // token it is refused (what the admin JWT above was needed for).
    EXPECT_EQ(app.get("/metrics", {kProxied}).status, 401);
}

TEST_F(AdminJwt, UserRoleExpiredAdminAndRoleArrayAre401) {
    // Each token is made when its group starts (the clock moves between groups).
    const std::vector<std::pair<std::string, std::function<std::string()>>> cases{
        {"user role", [&] { return jwt("authenticated"); }},
        {"expired admin", [&] { return jwt("admin", -120); }},
        {"role as array", [&] { return jwt(json::array{"admin"}); }},
    };
    for (const auto& [name, make_token] : cases) {
        next_minute();
        const auto token = make_token();
        for (const auto& path : kAdminPaths) {
            auto r = get(path, token);
            EXPECT_EQ(r.status, 401) << name << " " << path << " " << r.body;
            EXPECT_EQ(r.header("www-authenticate"), "Bearer") << name << " " << path;
            EXPECT_EQ(json::parse(r.body).at("success"), false) << name << " " << path;
        }
        auto m = get("/metrics", token, true);
        EXPECT_EQ(m.status, 401) << name << " /metrics " << m.body;
        EXPECT_EQ(m.body.find("voicegate_build_info"), std::string::npos) << name;
    }
    // An admin JWT made now still passes: the refusals above were about the claims.
    next_minute();
    EXPECT_EQ(get("/api/admin/usage", jwt("admin")).status, 200);
    EXPECT_EQ(get("/metrics", jwt("admin"), true).status, 200);
}

}  // namespace
}  // namespace voicegate::test
