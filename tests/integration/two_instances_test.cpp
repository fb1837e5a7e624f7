// Exactness across instances with two real processes (SPEC §4, §3.3): two
// `voicegate serve` sharing one PostgreSQL schema and one Redis, as behind a
// load balancer. The fixture is in two_instances.hpp; without PostgreSQL or
// Redis these tests FAIL with instructions.
#include "integration/two_instances.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/eventually.hpp"
#include "unit/api/relay_offers.hpp"

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

// Seconds from now until `resets_at` as the body says it, and the Retry-After header.
void expect_quota_refusal(const HttpResult& r, std::int64_t min_wait_s, std::int64_t max_wait_s) {
    ASSERT_EQ(r.status, 403) << r.body;
    auto body = json::parse(r.body).as_object();
    EXPECT_EQ(body.at("code"), "quota_exhausted") << r.body;
    EXPECT_EQ(body.if_contains("token"), nullptr) << "a refused request got a token";
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::int64_t resets_at = body.at("resetsAt").to_number<std::int64_t>();
    EXPECT_GE(resets_at - now, min_wait_s) << r.body;
    EXPECT_LE(resets_at - now, max_wait_s) << r.body;
    ASSERT_FALSE(r.header("retry-after").empty());
    EXPECT_NEAR(std::stoll(r.header("retry-after")), resets_at - now, 2);
}

TEST_F(TwoInstancesTest, ConcurrentQuotaIsExactAcrossTwoProcesses) {
    constexpr int kLimit = 5;
    constexpr int kRequests = 20;
    ASSERT_NO_FATAL_FAILURE(start({{"VOICEGATE_QUOTA_CONCURRENT", std::to_string(kLimit)},
                                   {"VOICEGATE_SESSION_MAX_MINUTES", "30"}}));
    const auto auth = bearer("quota-user");
    std::atomic<bool> go{false};
    std::vector<HttpResult> results(kRequests);
    std::vector<std::thread> clients;
    for (int i = 0; i < kRequests; ++i) {
        clients.emplace_back([&, i] {
            while (!go.load()) {
                std::this_thread::yield();
            }
            results[static_cast<std::size_t>(i)] =
                instance(i % 2).post("/api/realtime/token", "{}", auth);
        });
    }
    go = true;
    for (auto& t : clients) {
        t.join();
    }
    std::vector<std::string> issued;
    int refused = 0;
    for (const auto& r : results) {
        if (r.status == 200) {
            issued.emplace_back(json::parse(r.body).at("sessionId").as_string());
        } else {
            ++refused;
            // A slot frees when the earliest reservation runs out (30 minutes), at the whole
            // minute that follows.
            expect_quota_refusal(r, 29 * 60, 31 * 60 + 5);
        }
    }
    EXPECT_EQ(static_cast<int>(issued.size()), kLimit);
    EXPECT_EQ(refused, kRequests - kLimit);
    PgAdmin admin(schema().base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    EXPECT_EQ(admin.scalar("SELECT count(*) FROM " + schema().table("sessions") +
                           " WHERE user_id = 'quota-user'"),
              kLimit)
        << admin.last_error();
    ASSERT_FALSE(issued.empty());

    // Ending one session (on the other instance than the one that issued it, whichever that
    // was) frees exactly one slot, for both instances.
    const std::string end = R"({"sessionId":")" + issued.front() +
                            R"(","duration":60,"messageCount":2,"endedBy":"user"})";
    ASSERT_EQ(instance(1).post("/api/realtime/end", end, auth).status, 200);
    EXPECT_EQ(instance(1).post("/api/realtime/token", "{}", auth).status, 200);
    expect_quota_refusal(instance(1).post("/api/realtime/token", "{}", auth), 0, 31 * 60 + 5);
}

TEST_F(TwoInstancesTest, NeverEndedSessionsUseUpTheDailyMinutesOnEveryInstance) {
    // Two never-ended 30-minute reservations reach a 60-minute day: the client that skips /end
    // is charged, and the other instance knows it.
    ASSERT_NO_FATAL_FAILURE(start({{"VOICEGATE_QUOTA_CONCURRENT", "0"},
                                   {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "60"},
                                   {"VOICEGATE_SESSION_MAX_MINUTES", "30"}}));
    const auto auth = bearer("never-ends");
    ASSERT_EQ(instance(0).post("/api/realtime/token", "{}", auth).status, 200);
    ASSERT_EQ(instance(0).post("/api/realtime/token", "{}", auth).status, 200);
    // Refused until the next UTC midnight, on the instance that issued nothing.
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::int64_t to_midnight = 86'400 - now % 86'400;
    expect_quota_refusal(instance(1).post("/api/realtime/token", "{}", auth), to_midnight - 5,
                         to_midnight + 5);
    // Another user is not affected.
    EXPECT_EQ(instance(1).post("/api/realtime/token", "{}", bearer("someone-else")).status, 200);
}

// SPEC §7.3 "survives its own instance": the instance that relayed a call supervises it; after
// a kill -9 of that instance, the other takes the call over within the lease time (15 s lease,
// claims every 3 s) and re-joins its sideband. A clean end then reaches the store once.
TEST_F(TwoInstancesTest, KilledSupervisorsCallIsTakenOverWithinTheLease) {
    const std::string admin_token = "takeover-admin-token-0123456789abcdef";
    ASSERT_NO_FATAL_FAILURE(start({{"VOICEGATE_ADMIN_TOKEN", admin_token}}));
    const auto auth = bearer("taken-over");
    auto headers = auth;
    headers.emplace_back("Content-Type", "application/sdp");
    auto relayed = http_request("127.0.0.1", instance(0).port(), "POST", "/api/realtime/calls",
                                audio_only_offer(), headers);
    ASSERT_EQ(relayed.status, 201) << relayed.body;
    const auto sid = relayed.headers.find("x-session-id");
    ASSERT_NE(sid, relayed.headers.end());
    const std::string session = sid->second;

    auto emulator_json = [&](const std::string& path) {
        boost::system::error_code ec;
        auto v = json::parse(emulator().get(path).body, ec);
        return !ec && v.is_object() ? v.as_object() : json::object{};
    };
    const auto calls = emulator_json("/_emulator/calls");
    ASSERT_TRUE(calls.contains("calls") && !calls.at("calls").as_array().empty());
    const std::string call(calls.at("calls").as_array().back().at("call_id").as_string());
    auto sidebands = [&] {
        auto s = emulator_json("/_emulator/calls/" + call);
        return s.contains("sidebands") ? s.at("sidebands").to_number<std::int64_t>() : -1;
    };
    auto opened = [&] {
        return emulator_json("/_emulator/stats").at("sidebands_opened").to_number<std::int64_t>();
    };
    ASSERT_TRUE(eventually([&] { return sidebands() == 1; }, std::chrono::seconds(10)));
    ASSERT_EQ(opened(), 1);

    EXPECT_EQ(instance(0).kill(), 128 + SIGKILL);
    const auto killed = std::chrono::steady_clock::now();
    // The killed instance's sideband closes with its process; the other joins within the lease.
    ASSERT_TRUE(
        eventually([&] { return opened() == 2 && sidebands() == 1; }, std::chrono::seconds(25)))
        << "no other instance took the call over";
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    EXPECT_LE(took, 15.0 + 3.0 + 1.0) << "lease 15 s, claims every 3 s";
    // Supervised once: no third join while it lives.
    std::this_thread::sleep_for(std::chrono::seconds(4));
    EXPECT_EQ(opened(), 2);
    EXPECT_EQ(sidebands(), 1);

    // The phone leaves: the surviving instance records the end; the phone's /end is a first end.
    ASSERT_EQ(emulator().post("/_emulator/calls/" + call + "/leave", "{}").status, 200);
    ASSERT_TRUE(eventually([&] { return sidebands() == 0; }, std::chrono::seconds(10)));
    std::string ended_by;
    ASSERT_TRUE(eventually(
        [&] {
            auto r = http_request("127.0.0.1", instance(1).port(), "GET",
                                  "/api/admin/sessions?userId=taken-over", {},
                                  {{"Authorization", "Bearer " + admin_token}});
            boost::system::error_code ec;
            auto v = json::parse(r.body, ec);
            if (ec || !v.is_object() || !v.as_object().contains("sessions") ||
                v.at("sessions").as_array().empty()) {
                return false;
            }
            const auto& e = v.at("sessions").as_array().front().at("endedBy");
            ended_by = e.is_string() ? std::string(e.as_string()) : "";
            return !ended_by.empty();
        },
        std::chrono::seconds(10)));
    EXPECT_EQ(ended_by, "closed");
    auto end = HttpResult{};
    ASSERT_TRUE(eventually(
        [&] {
            end = instance(1).post("/api/realtime/end",
                                   R"({"sessionId":")" + session + R"(","duration":5})", auth);
            return end.status == 200;
        },
        std::chrono::seconds(10)))
        << end.body;
    EXPECT_EQ(end.body.find("alreadyEnded"), std::string::npos) << end.body;
}

}  // namespace
}  // namespace voicegate::test
