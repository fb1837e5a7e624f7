#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "emulator/emulator.hpp"
#include "emulator_fixtures.hpp"
#include "fakes/manual_clock.hpp"
#include "http/server.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"
#include "support/run_coro.hpp"

namespace voicegate::emulator {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
using std::chrono::milliseconds;

constexpr const char* kKey = "sk-test-0123456789abcdef";

// The Emulator behind a real http::Server on 127.0.0.1:0, on `loops` event loops.
class EmulatorHttp : public ::testing::Test {
protected:
    void start(EmulatorOptions options = {}, std::size_t loops = 2) {
        emulator_ = std::make_unique<Emulator>(std::move(options), clock_);
        http::ServerOptions so;
        so.host = "127.0.0.1";
        so.port = 0;
        so.access_log = false;
        so.name = "emulator";
        std::vector<asio::io_context*> ctxs;
        for (std::size_t i = 0; i < loops; ++i) {
            ctxs.push_back(&ioc_[i]);
        }
        server_ = std::make_unique<http::Server>(ctxs, so, emulator_->handler());
        emulator_->set_connection_counter(
            [s = server_.get()] { return s->connections_accepted(); });
        server_->start();
        for (auto* c : ctxs) {
            threads_.emplace_back([this, c] {
                c->run();
                ++loops_done_;
            });
        }
    }

    // Drains the server and lets every loop run out of work, so no coroutine frame (each
    // holds the server's state) outlives its io_context: with several loops, a frame destroyed
    // by the last io_context would otherwise tear down acceptors of contexts already gone.
    void TearDown() override {
        if (server_) {
            server_->begin_drain();
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (loops_done_.load() < threads_.size() &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(milliseconds(5));
        }
        for (auto& c : ioc_) {
            c.stop();  // only matters if the drain did not finish in time
        }
        for (auto& t : threads_) {
            t.join();
        }
        server_.reset();
    }

    test::HttpResult request(const std::string& method, const std::string& target,
                             const std::string& body = {}, const Headers& headers = {},
                             milliseconds timeout = std::chrono::seconds(10)) {
        return test::http_request("127.0.0.1", server_->port(), method, target, body, headers,
                                  timeout);
    }

    test::HttpResult issue(const std::string& body = R"({"session":{"type":"realtime"}})",
                           Headers headers = {{"Authorization", std::string("Bearer ") + kKey}}) {
        headers.emplace_back("Content-Type", "application/json");
        return request("POST", "/v1/realtime/client_secrets", body, headers);
    }

    std::string issue_token(const std::string& body = R"({"session":{"type":"realtime"}})") {
        const auto res = issue(body);
        EXPECT_EQ(res.status, 200) << res.body;
        return res.status == 200 ? std::string(json::parse(res.body).at("value").as_string()) : "";
    }

    test::HttpResult call(const std::string& token,
                          const std::string& sdp = fixtures::chrome_offer()) {
        return request("POST", "/v1/realtime/calls", sdp,
                       {{"Authorization", "Bearer " + token}, {"Content-Type", "application/sdp"}});
    }

    test::HttpResult post_faults(const std::string& body) {
        return request("POST", "/_emulator/faults", body, {{"Content-Type", "application/json"}});
    }

    json::object stats() {
        const auto res = request("GET", "/_emulator/stats");
        EXPECT_EQ(res.status, 200);
        return json::parse(res.body).as_object();
    }

    // The {"error":{...}} object of an error answer (and checks its four keys).
    static json::object error_of(const test::HttpResult& res) {
        const auto v = json::parse(res.body);
        const auto& e = v.at("error").as_object();
        EXPECT_EQ(e.size(), 4U) << res.body;
        EXPECT_TRUE(e.contains("message") && e.contains("type") && e.contains("param") &&
                    e.contains("code"))
            << res.body;
        return e;
    }

    test::ManualClock clock_;
    std::array<asio::io_context, 2> ioc_;
    std::unique_ptr<Emulator> emulator_;
    std::unique_ptr<http::Server> server_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> loops_done_{0};
};

// ---- client_secrets ----

TEST_F(EmulatorHttp, IssuesASecretWithTheEffectiveSession) {
    start();
    const auto res = issue(R"({"expires_after":{"anchor":"created_at","seconds":120},
        "session":{"type":"realtime","model":"gpt-realtime","instructions":"Be brief.",
                   "audio":{"output":{"voice":"marin"}},"max_output_tokens":4096}})");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.header("content-type"), "application/json");
    EXPECT_TRUE(std::regex_match(res.header("x-request-id"), std::regex("req_[0-9a-f]{32}")));
    EXPECT_TRUE(std::regex_match(res.header("openai-processing-ms"), std::regex(R"(\d+)")));
    EXPECT_EQ(res.header("access-control-allow-origin"), "*");
    const auto body = json::parse(res.body).as_object();
    EXPECT_EQ(body.size(), 3U);
    EXPECT_TRUE(
        std::regex_match(std::string(body.at("value").as_string()), std::regex("ek_[0-9a-f]{32}")));
    EXPECT_EQ(body.at("expires_at").as_int64(), clock_.now_s() + 120);
    const auto& s = body.at("session").as_object();
    EXPECT_TRUE(
        std::regex_match(std::string(s.at("id").as_string()), std::regex("sess_[A-Za-z0-9]{21}")));
    EXPECT_EQ(s.at("object"), "realtime.session");
    EXPECT_EQ(s.at("model"), "gpt-realtime");
    EXPECT_EQ(s.at("instructions"), "Be brief.");
    EXPECT_EQ(s.at("audio").at("output").at("voice"), "marin");
    EXPECT_EQ(s.at("max_output_tokens"), 4096);
    EXPECT_EQ(s.at("expires_at"), 0);
    EXPECT_EQ(s.at("tool_choice"), "auto");
    // Default TTL is 600 s.
    const auto d = json::parse(issue().body);
    EXPECT_EQ(d.at("expires_at").as_int64(), clock_.now_s() + 600);
}

TEST_F(EmulatorHttp, RejectsMissingAndWrongKeysWithoutEchoingThem) {
    EmulatorOptions o;
    o.api_key = kKey;
    start(o);
    auto res = issue("{}", {});
    EXPECT_EQ(res.status, 401);
    auto e = error_of(res);
    EXPECT_EQ(e.at("type"), "invalid_request_error");
    EXPECT_TRUE(e.at("code").is_null());
    EXPECT_NE(std::string(e.at("message").as_string()).find("You didn't provide an API key"),
              std::string::npos);

    const std::string wrong = "sk-proj-THISISSECRETwxyz";
    res = issue("{}", {{"Authorization", "Bearer " + wrong}});
    EXPECT_EQ(res.status, 401);
    e = error_of(res);
    EXPECT_EQ(e.at("code"), "invalid_api_key");
    EXPECT_EQ(
        std::string(e.at("message").as_string()).rfind("Incorrect API key provided: sk-…wxyz.", 0),
        0U);
    EXPECT_EQ(res.body.find("THISISSECRET"), std::string::npos);

    // An ek_ is not an API key.
    res = issue("{}", {{"Authorization", "Bearer ek_0123456789abcdef0123456789abcdef"}});
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(error_of(res).at("code"), "invalid_api_key");
    EXPECT_EQ(issue("{}").status, 200);
}

TEST_F(EmulatorHttp, AnySkKeyIsAcceptedWhenNoneIsConfigured) {
    start();
    EXPECT_EQ(issue("{}", {{"Authorization", "Bearer sk-anything"}}).status, 200);
    EXPECT_EQ(issue("{}", {{"Authorization", "bearer sk-lowercase-scheme"}}).status, 200);
    EXPECT_EQ(issue("{}", {{"Authorization", "Bearer pk-not-a-key"}}).status, 401);
    EXPECT_EQ(issue("{}", {{"Authorization", "Basic c2stYWJj"}}).status, 401);
}

TEST_F(EmulatorHttp, BetaHeaderIsRejected) {
    start();
    const auto res = issue(
        "{}", {{"Authorization", std::string("Bearer ") + kKey}, {"OpenAI-Beta", "realtime=v1"}});
    EXPECT_EQ(res.status, 400);
    const auto e = error_of(res);
    EXPECT_EQ(e.at("code"), "beta_api_shape_disabled");
    EXPECT_EQ(e.at("message"),
              "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA "
              "API.");
    // The retired beta endpoints too.
    const auto beta = request(
        "POST", "/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17", fixtures::chrome_offer(),
        {{"Authorization", std::string("Bearer ") + kKey}, {"Content-Type", "application/sdp"}});
    EXPECT_EQ(beta.status, 400);
    EXPECT_EQ(error_of(beta).at("code"), "beta_api_shape_disabled");
}

TEST_F(EmulatorHttp, ValidationErrorsReachTheWire) {
    start();
    auto res = issue(R"({"session":{"type":"realtime","temperature":0.8}})");
    EXPECT_EQ(res.status, 400);
    auto e = error_of(res);
    EXPECT_EQ(e.at("code"), "unknown_parameter");
    EXPECT_EQ(e.at("param"), "session.temperature");
    res = issue("not json");
    EXPECT_EQ(res.status, 400);
    EXPECT_TRUE(error_of(res).at("code").is_null());
    res =
        request("POST", "/v1/realtime/client_secrets", "{}",
                {{"Authorization", std::string("Bearer ") + kKey}, {"Content-Type", "text/plain"}});
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(error_of(res).at("code"), "unsupported_content_type");
    EXPECT_EQ(stats().at("secrets_issued").to_number<std::uint64_t>(), 0U);
}

// ---- calls ----

TEST_F(EmulatorHttp, IssuedTokenStartsACallThatCanBeHungUp) {
    start();
    const std::string token = issue_token();
    const auto res = call(token);
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_EQ(res.header("content-type"), "text/plain; charset=utf-8");  // as the API sends
    const std::string location = res.header("location");
    EXPECT_TRUE(std::regex_match(location, std::regex("/v1/realtime/calls/rtc_u0_[A-Za-z0-9]{22}")))
        << location;
    EXPECT_EQ(res.body.rfind("v=0\r\n", 0), 0U);
    EXPECT_NE(res.body.find("a=mid:0\r\n"), std::string::npos);
    EXPECT_NE(res.body.find("a=mid:1\r\n"), std::string::npos);
    EXPECT_NE(res.body.find("a=setup:active\r\n"), std::string::npos);
    EXPECT_EQ(res.header("access-control-expose-headers"), "Location, X-Request-Id");

    // A secret may start several sessions until it expires (the documented behaviour).
    EXPECT_EQ(call(token).status, 201);

    const Headers key = {{"Authorization", std::string("Bearer ") + kKey}};
    auto hang = request("POST", location + "/hangup", "", key);
    EXPECT_EQ(hang.status, 200);
    EXPECT_EQ(hang.body, "");
    EXPECT_EQ(request("POST", location + "/hangup", "", key).status, 200);
    hang = request("POST", "/v1/realtime/calls/rtc_nope/hangup", "", key);
    EXPECT_EQ(hang.status, 404);
    EXPECT_EQ(error_of(hang).at("code"), "call_id_not_found");
    // Hanging up takes the real key, not the ephemeral one.
    EXPECT_EQ(
        request("POST", location + "/hangup", "", {{"Authorization", "Bearer " + token}}).status,
        401);
    EXPECT_EQ(request("POST", location + "/hangup").status, 401);
}

TEST_F(EmulatorHttp, UnknownAndExpiredSecretsAreRejected) {
    start();
    auto res = call("ek_0123456789abcdef0123456789abcdef");
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(error_of(res).at("code"), "invalid_api_key");
    EXPECT_EQ(res.body.find("0123456789abcdef0123456789ab"), std::string::npos);  // redacted

    const std::string token = issue_token(R"({"expires_after":{"seconds":10}})");
    clock_.advance_ms(9'000);
    EXPECT_EQ(call(token).status, 201);
    clock_.advance_ms(1'000);
    res = call(token);
    EXPECT_EQ(res.status, 401);
    EXPECT_NE(std::string(error_of(res).at("message").as_string()).find("expired"),
              std::string::npos);
    EXPECT_EQ(call("").status, 401);
}

TEST_F(EmulatorHttp, SingleUseSecretsRefuseASecondCall) {
    EmulatorOptions o;
    o.single_use_secrets = true;
    start(o);
    const std::string token = issue_token();
    EXPECT_EQ(call(token, "not sdp").status, 400);  // a failed attempt does not use it up
    EXPECT_EQ(call(token).status, 201);
    const auto res = call(token);
    EXPECT_EQ(res.status, 401);
    EXPECT_NE(res.body.find("already been used"), std::string::npos);
}

TEST_F(EmulatorHttp, RejectsBodiesThatAreNotOffers) {
    start();
    const std::string token = issue_token();
    auto res = call(token, R"({"sdp":"v=0"})");
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(error_of(res).at("code"), "invalid_offer");
    res = request("POST", "/v1/realtime/calls", fixtures::chrome_offer(),
                  {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(error_of(res).at("code"), "unsupported_content_type");
}

std::string multipart(const std::string& boundary, const std::string& sdp,
                      const std::string& session) {
    std::string body = "--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"sdp\"\r\n"
                       "Content-Type: application/sdp\r\n\r\n" +
                       sdp + "\r\n";
    if (!session.empty()) {
        body += "--" + boundary +
                "\r\nContent-Disposition: form-data; name=\"session\"\r\n"
                "Content-Type: application/json\r\n\r\n" +
                session + "\r\n";
    }
    return body + "--" + boundary + "--\r\n";
}

TEST_F(EmulatorHttp, MultipartCallsWithTheRealKey) {
    start();
    const Headers h = {{"Authorization", std::string("Bearer ") + kKey},
                       {"Content-Type", "multipart/form-data; boundary=vgBoundary42"}};
    auto res =
        request("POST", "/v1/realtime/calls",
                multipart("vgBoundary42", fixtures::chrome_offer(),
                          R"({"type":"realtime","model":"gpt-realtime","instructions":"x"})"),
                h);
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_NE(res.body.find("a=mid:1\r\n"), std::string::npos);
    EXPECT_EQ(res.header("location").rfind("/v1/realtime/calls/rtc_", 0), 0U);

    res = request("POST", "/v1/realtime/calls",
                  multipart("vgBoundary42", fixtures::chrome_offer(), ""), h);
    EXPECT_EQ(res.status, 201) << res.body;

    res = request("POST", "/v1/realtime/calls",
                  multipart("vgBoundary42", fixtures::chrome_offer(),
                            R"({"type":"realtime","temperature":1})"),
                  h);
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(error_of(res).at("param"), "session.temperature");

    res = request("POST", "/v1/realtime/calls",
                  "--vgBoundary42\r\nContent-Disposition: form-data; name=\"session\"\r\n\r\n"
                  "{\"type\":\"realtime\"}\r\n--vgBoundary42--\r\n",
                  h);
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(error_of(res).at("code"), "missing_required_parameter");
    EXPECT_EQ(error_of(res).at("param"), "sdp");

    // Without a valid key: 401 before anything else.
    res = request(
        "POST", "/v1/realtime/calls", multipart("b", fixtures::chrome_offer(), ""),
        {{"Authorization", "Bearer nope"}, {"Content-Type", "multipart/form-data; boundary=b"}});
    EXPECT_EQ(res.status, 401);
}

// ---- routes, CORS ----

TEST_F(EmulatorHttp, UnknownRoutesAndMethodsAreOpenAiShaped) {
    start();
    auto res = request("GET", "/v1/models");
    EXPECT_EQ(res.status, 404);
    EXPECT_EQ(error_of(res).at("message"), "Invalid URL (GET /v1/models)");
    res = request("GET", "/v1/realtime/client_secrets");
    EXPECT_EQ(res.status, 405);
    EXPECT_EQ(error_of(res).at("message"),
              "Invalid method for URL (GET /v1/realtime/client_secrets)");
    EXPECT_EQ(request("GET", "/v1/realtime/sessions").status, 405);
    res = request("GET", "/v1/realtime?call_id=rtc_1");  // the sideband: a key first
    EXPECT_EQ(res.status, 401);
    res = request("GET", "/v1/realtime?call_id=rtc_1", "",
                  {{"Authorization", std::string("Bearer ") + kKey}});
    EXPECT_EQ(res.status, 404);
    EXPECT_EQ(error_of(res).at("code"), "call_id_not_found");
    EXPECT_EQ(request("GET", "/_emulator/nothing").status, 404);
    EXPECT_EQ(request("PUT", "/_emulator/stats").status, 405);
}

TEST_F(EmulatorHttp, AnswersCorsPreflights) {
    start();
    const auto res = request("OPTIONS", "/v1/realtime/calls", "",
                             {{"Origin", "http://localhost:3000"},
                              {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "authorization,content-type"}});
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.header("access-control-allow-origin"), "*");
    EXPECT_NE(res.header("access-control-allow-methods").find("POST"), std::string::npos);
    EXPECT_EQ(res.header("access-control-allow-headers"), "authorization,content-type");
    // The control routes too (a browser dashboard may drive faults).
    EXPECT_EQ(request("OPTIONS", "/_emulator/faults").status, 200);
}

// ---- faults ----

TEST_F(EmulatorHttp, ErrorRateOneGivesServerErrors) {
    EmulatorOptions o;
    o.faults.error_rate = 1.0;
    start(o);
    const auto res = issue();
    EXPECT_EQ(res.status, 500);
    const auto e = error_of(res);
    EXPECT_EQ(e.at("type"), "server_error");
    EXPECT_EQ(call("ek_x").status, 500);                        // faults come before auth
    EXPECT_EQ(request("GET", "/_emulator/stats").status, 200);  // control routes are spared
    EXPECT_EQ(stats().at("faults_injected").at("error").to_number<std::uint64_t>(), 2U);
}

TEST_F(EmulatorHttp, RateLimitCarriesRetryAfterHeaders) {
    EmulatorOptions o;
    o.faults.rate_limit_rate = 1.0;
    o.faults.retry_after_ms = 1500;
    start(o);
    const auto res = issue();
    EXPECT_EQ(res.status, 429);
    EXPECT_EQ(res.header("retry-after"), "2");
    EXPECT_EQ(res.header("retry-after-ms"), "1500");
    EXPECT_EQ(res.header("x-ratelimit-remaining-requests"), "0");
    const auto e = error_of(res);
    EXPECT_EQ(e.at("type"), "requests");
    EXPECT_EQ(e.at("code"), "rate_limit_exceeded");
    EXPECT_NE(std::string(e.at("message").as_string()).find("Please try again in 1.5s"),
              std::string::npos);
}

TEST_F(EmulatorHttp, QuotaRateOneGivesInsufficientQuota) {
    EmulatorOptions o;
    o.faults.quota_rate = 1.0;
    start(o);
    const auto res = issue();
    EXPECT_EQ(res.status, 429);
    EXPECT_EQ(res.header("retry-after"), "");
    EXPECT_EQ(error_of(res).at("code"), "insufficient_quota");
    EXPECT_EQ(error_of(res).at("type"), "insufficient_quota");
}

TEST_F(EmulatorHttp, MalformedRateOneGivesUnparseableSuccess) {
    EmulatorOptions o;
    o.faults.malformed_rate = 1.0;
    start(o);
    auto res = issue();
    EXPECT_EQ(res.status, 200);
    boost::system::error_code ec;
    json::parse(res.body, ec);
    EXPECT_TRUE(ec) << res.body;
    res = issue("{}", {});  // would be a 401: still a mangled 200
    EXPECT_EQ(res.status, 200);
    json::parse(res.body, ec);
    EXPECT_TRUE(ec) << res.body;
    res = call("ek_unknown");
    EXPECT_EQ(res.status, 201);
    EXPECT_EQ(stats().at("faults_injected").at("malformed").to_number<std::uint64_t>(), 3U);
}

TEST_F(EmulatorHttp, ResetRateOneResetsTheConnection) {
    EmulatorOptions o;
    o.faults.reset_rate = 1.0;
    start(o);
    const auto res = issue();
    EXPECT_EQ(res.status, 0);
    EXPECT_FALSE(res.error.empty());
    EXPECT_EQ(stats().at("faults_injected").at("reset").to_number<std::uint64_t>(), 1U);
}

TEST_F(EmulatorHttp, HangRateOneNeverAnswers) {
    EmulatorOptions o;
    o.faults.hang_rate = 1.0;
    start(o);
    const auto t0 = std::chrono::steady_clock::now();
    const auto res = request("POST", "/v1/realtime/client_secrets", "{}",
                             {{"Authorization", std::string("Bearer ") + kKey}}, milliseconds(300));
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(res.status, 0);
    EXPECT_FALSE(res.error.empty());
    EXPECT_GE(waited, milliseconds(290));
    EXPECT_EQ(stats().at("faults_injected").at("hang").to_number<std::uint64_t>(), 1U);
}

TEST_F(EmulatorHttp, LatencyDelaysWithoutBlockingTheLoop) {
    EmulatorOptions o;
    o.faults.latency_ms = 400;
    start(o, 1);  // one loop: a blocking delay would hold up the stats request too
    auto slow = std::async(std::launch::async, [this] {
        const auto t0 = std::chrono::steady_clock::now();
        auto res = issue();
        return std::make_pair(res, std::chrono::steady_clock::now() - t0);
    });
    // Until the slow request's delay has begun (test review D16: polled, not a 100 ms sleep
    // that a loaded machine could outrun, letting the stats request go first).
    ASSERT_TRUE(test::eventually([&] {
        return stats().at("faults_injected").at("latency").to_number<std::uint64_t>() == 1U;
    }));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(request("GET", "/_emulator/stats").status, 200);
    // A loop blocked by the 400 ms delay (begun just now) would take >= 300 ms here, and the
    // slow request would already be answered.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(290));
    EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    const auto [res, took] = slow.get();
    EXPECT_EQ(res.status, 200);
    EXPECT_GE(took, milliseconds(400));
    EXPECT_GE(std::stoi(res.header("openai-processing-ms")), 400);
    EXPECT_EQ(stats().at("faults_injected").at("latency").to_number<std::uint64_t>(), 1U);
}

TEST_F(EmulatorHttp, FaultsChangeAtRunTime) {
    start();
    auto res = post_faults(R"({"error_rate":1,"latency_ms":0})");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(json::parse(res.body).at("error_rate").to_number<double>(), 1.0);
    EXPECT_EQ(issue().status, 500);
    EXPECT_EQ(
        json::parse(request("GET", "/_emulator/faults").body).at("error_rate").to_number<double>(),
        1.0);
    EXPECT_DOUBLE_EQ(emulator_->faults().error_rate, 1.0);
    res = post_faults(R"({"error_rate":7})");
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(error_of(res).at("param"), "error_rate");
    EXPECT_EQ(request("DELETE", "/_emulator/faults").status, 200);
    EXPECT_EQ(issue().status, 200);
}

TEST_F(EmulatorHttp, SameSeedSameFaults) {
    auto run = [this](std::uint64_t seed) {
        EmulatorOptions o;
        o.seed = seed;
        o.faults.error_rate = 0.5;
        Emulator e(o, clock_);
        std::string outcomes;
        asio::io_context io;
        for (int i = 0; i < 24; ++i) {
            http::Request req;
            req.method = "POST";
            req.path = req.target = "/v1/realtime/client_secrets";
            req.headers = {{"authorization", std::string("Bearer ") + kKey}};
            req.body = "{}";
            outcomes += test::run_coro(io, e.handle(req)).status == 200 ? '.' : 'E';
        }
        return outcomes;
    };
    const std::string a = run(7);
    EXPECT_EQ(a, run(7));
    EXPECT_NE(a.find('.'), std::string::npos) << a;
    EXPECT_NE(a.find('E'), std::string::npos) << a;
}

// ---- stats ----

TEST_F(EmulatorHttp, StatsCountEverything) {
    start();
    const std::string token = issue_token();
    (void)issue_token();
    const auto c = call(token);
    ASSERT_EQ(c.status, 201);
    EXPECT_EQ(request("POST", c.header("location") + "/hangup", "",
                      {{"Authorization", std::string("Bearer ") + kKey}})
                  .status,
              200);
    (void)request("GET", "/v1/nothing");
    (void)request("POST", "/v1/realtime/sessions", "{}");
    ASSERT_EQ(post_faults(R"({"rate_limit_rate":1})").status, 200);
    EXPECT_EQ(issue().status, 429);

    const auto s = stats();
    EXPECT_EQ(s.at("secrets_issued").to_number<std::uint64_t>(), 2U);
    EXPECT_EQ(s.at("secrets_active").to_number<std::uint64_t>(), 2U);
    EXPECT_EQ(s.at("calls_created").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(s.at("calls_hung_up").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(s.at("calls_active").to_number<std::uint64_t>(), 1U);
    const auto& r = s.at("requests").as_object();
    EXPECT_EQ(r.at("client_secrets").to_number<std::uint64_t>(), 3U);
    EXPECT_EQ(r.at("calls").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(r.at("hangup").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(r.at("other").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(r.at("beta").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(r.at("control").to_number<std::uint64_t>(), 2U);  // the faults POST and this GET
    EXPECT_EQ(s.at("faults_injected").at("rate_limit").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(s.at("faults_injected").at("error").to_number<std::uint64_t>(), 0U);
    // One connection per request with the test client.
    EXPECT_EQ(s.at("connections_accepted").to_number<std::uint64_t>(), 9U);
    EXPECT_EQ(s.at("connections_accepted").to_number<std::uint64_t>(),
              server_->connections_accepted());
    EXPECT_EQ(emulator_->stats().calls_created, 1U);
}

TEST_F(EmulatorHttp, ConcurrentClientsAcrossLoops) {
    start();
    std::vector<std::future<int>> results;
    for (int i = 0; i < 8; ++i) {
        results.push_back(std::async(std::launch::async, [this] {
            int ok = 0;
            for (int j = 0; j < 10; ++j) {
                const std::string token = issue_token();
                ok += call(token).status == 201 ? 1 : 0;
            }
            return ok;
        }));
    }
    int total = 0;
    for (auto& r : results) {
        total += r.get();
    }
    EXPECT_EQ(total, 80);
    EXPECT_EQ(stats().at("calls_created").to_number<std::uint64_t>(), 80U);
}

}  // namespace
}  // namespace voicegate::emulator
