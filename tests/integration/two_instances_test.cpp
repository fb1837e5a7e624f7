// Exactness across instances with two real processes (SPEC §4, §3.3): two
// `voicegate serve` sharing one PostgreSQL schema and one Redis, as behind a
// load balancer. The fixture is in two_instances.hpp; without PostgreSQL or
// Redis these tests FAIL with instructions.
#include "integration/two_instances.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace voicegate::test {
namespace {
namespace json = boost::json;

TEST_F(TwoInstancesTest, UserRateLimitIsExactAcrossTwoProcesses) {
    constexpr int kLimit = 10;
    constexpr int kRequests = 40;
    ASSERT_NO_FATAL_FAILURE(
        start({{"VOICEGATE_RATE_USER", "10/min"}, {"VOICEGATE_RATE_IP", "1000/min"}}));
    const auto auth = bearer("shared-user");
    std::atomic<int> ok{0};
    std::atomic<int> limited{0};
    std::mutex failures_mutex;
    std::vector<std::string> failures;  // gtest assertions are not made from the client threads
    std::atomic<bool> go{false};
    std::vector<std::thread> clients;
    clients.reserve(kRequests);
    for (int i = 0; i < kRequests; ++i) {
        clients.emplace_back([&, i] {
            while (!go.load()) {
                std::this_thread::yield();
            }
            auto r = instance(i % 2).post("/api/realtime/token", "{}", auth);
            std::string problem;
            if (r.status == 200) {
                ++ok;
            } else if (r.status == 429) {
                ++limited;
                if (r.header("retry-after").empty()) {
                    problem = "429 without Retry-After";
                } else if (json::parse(r.body).at("code") != "rate_limited") {
                    problem = "429 body: " + r.body;
                } else if (r.header("ratelimit-policy").find("\"user\";q=10;w=60") ==
                           std::string::npos) {
                    problem = "RateLimit-Policy: " + r.header("ratelimit-policy");
                }
            } else {
                problem = std::to_string(r.status) + " " + r.body + " " + r.error;
            }
            if (!problem.empty()) {
                const std::lock_guard lock(failures_mutex);
                failures.push_back("instance " + std::to_string(i % 2) + ": " + problem);
            }
        });
    }
    go = true;
    for (auto& t : clients) {
        t.join();
    }
    for (const auto& f : failures) {
        ADD_FAILURE() << f;
    }
    EXPECT_EQ(ok.load(), kLimit);
    EXPECT_EQ(limited.load(), kRequests - kLimit);
    // Refused requests never reached "OpenAI"; the issued ones are all in the
    // shared database.
    EXPECT_EQ(upstream_client_secrets(), kLimit);
    PgAdmin admin(schema().base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    EXPECT_EQ(admin.scalar("SELECT count(*) FROM " + schema().table("sessions") +
                           " WHERE user_id = 'shared-user'"),
              kLimit)
        << admin.last_error();
    // Another user still has a full allowance on either instance.
    EXPECT_EQ(instance(1).post("/api/realtime/token", "{}", bearer("someone-else")).status, 200);
    EXPECT_EQ(instance(0).post("/api/realtime/token", "{}", bearer("someone-else")).status, 200);
}

TEST_F(TwoInstancesTest, SessionIssuedOnOneInstanceEndsOnTheOther) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto tok = instance(0).post("/api/realtime/token", "{}", bearer("alice"));
    ASSERT_EQ(tok.status, 200) << tok.body;
    const std::string sid(json::parse(tok.body).at("sessionId").as_string());
    const std::string end =
        R"({"sessionId":")" + sid + R"(","duration":42.5,"messageCount":7,"endedBy":"timeout"})";

    // Someone else cannot end it, on either instance.
    auto bob = instance(1).post("/api/realtime/end", end, bearer("bob"));
    EXPECT_EQ(bob.status, 403) << bob.body;
    EXPECT_EQ(json::parse(bob.body).at("code"), "forbidden");

    auto first = instance(1).post("/api/realtime/end", end, bearer("alice"));
    ASSERT_EQ(first.status, 200) << first.body;
    auto first_body = json::parse(first.body).as_object();
    EXPECT_EQ(first_body.at("success"), true);
    EXPECT_EQ(first_body.if_contains("alreadyEnded"), nullptr) << first.body;

    const std::string again_body =
        R"({"sessionId":")" + sid + R"(","duration":1,"endedBy":"user"})";
    auto again = instance(0).post("/api/realtime/end", again_body, bearer("alice"));
    ASSERT_EQ(again.status, 200) << again.body;
    auto body = json::parse(again.body).as_object();
    EXPECT_EQ(body.at("alreadyEnded"), true);
    EXPECT_EQ(body.at("sessionData").at("duration"), 42.5);
    EXPECT_EQ(body.at("sessionData").at("messageCount"), 7);
    EXPECT_EQ(body.at("sessionData").at("endedBy"), "timeout");

    EXPECT_EQ(instance(0).post("/api/realtime/end", end, bearer("bob")).status, 403);

    PgAdmin admin(schema().base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    EXPECT_EQ(admin.scalar("SELECT count(*) FROM " + schema().table("sessions") +
                           " WHERE ended_at_ms IS NOT NULL"),
              1)
        << admin.last_error();
}

// Quotas across instances: start({{"VOICEGATE_QUOTA_CONCURRENT", "2"}, ...})
// and spread the requests over instance(0) and instance(1) as above.

}  // namespace
}  // namespace voicegate::test
