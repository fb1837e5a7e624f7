#include "upstream/openai_client.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "emulator/sdp.hpp"
#include "support/fake_upstream_server.hpp"
#include "support/log_capture.hpp"
#include "support/run_coro.hpp"
#include "support/test_certs.hpp"
#include "unit/upstream/upstream_test_util.hpp"

#include <spdlog/spdlog.h>

namespace voicegate::upstream {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using test::FakeUpstreamServer;
using testing_util::elapsed_ms;
using test::run_coro;

constexpr const char* kKey = "sk-test-SECRETKEY0123456789abcdefghij";
// Scheduling slack for timing assertions: the machine is shared and tests may run under ASan.
constexpr std::int64_t kSlackMs = 400;

http::Response ok() {
    return test::client_secret_response();
}

json::object diary_session() {
    return json::object{{"type", "realtime"},
                        {"model", "gpt-realtime"},
                        {"instructions", "You are a friendly diary-writing helper."},
                        {"audio", {{"output", {{"voice", "alloy"}}}}},
                        {"max_output_tokens", 4096}};
}

class OpenAiClientTest : public ::testing::Test {
protected:
    OpenAiOptions options_for(const FakeUpstreamServer& server) {
        OpenAiOptions o;
        o.api_key = kKey;
        o.base_url = server.base_url();
        o.connect_timeout = 500ms;
        o.total_timeout = 3s;
        o.retry_base_delay = 10ms;
        o.retry_max_delay = 40ms;
        return o;
    }

    std::unique_ptr<OpenAiClient> make_client(OpenAiOptions o) {
        return std::make_unique<OpenAiClient>(std::move(o), std::vector<asio::io_context*>{&ioc_});
    }

    Result<ClientSecret> mint(OpenAiClient& client, int ttl = 120) {
        ClientSecretRequest req;
        req.ttl_seconds = ttl;
        req.session = diary_session();
        req.request_id = "req_test_1";
        return run_coro(ioc_, client.create_client_secret(req));
    }

    asio::io_context ioc_;
};

TEST_F(OpenAiClientTest, SendsTheExactGaRequest) {
    FakeUpstreamServer server([](const http::Request&) { return ok(); });
    auto client = make_client(options_for(server));
    auto r = mint(*client, 120);
    ASSERT_TRUE(r.has_value()) << r.error().details;

    const auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1U);
    const auto& req = reqs[0];
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/v1/realtime/client_secrets");
    EXPECT_EQ(req.header("authorization").value_or(""), std::string("Bearer ") + kKey);
    EXPECT_EQ(req.header("content-type").value_or(""), "application/json");
    EXPECT_FALSE(req.header("openai-beta").has_value());
    EXPECT_EQ(req.header("host").value_or(""), "127.0.0.1:" + std::to_string(server.port()));
    const json::value expected = {{"expires_after", {{"anchor", "created_at"}, {"seconds", 120}}},
                                  {"session", diary_session()}};
    EXPECT_EQ(json::parse(req.body), expected);
}

TEST_F(OpenAiClientTest, MapsTheAnswer) {
    FakeUpstreamServer server([](const http::Request&) {
        return test::client_secret_response("ek_68af296e8e408191a1120ab6383263c2", 1756310470,
                                            "sess_C9CiUVUzUzYIssh3ELY1d", "gpt-realtime", "alloy");
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(r->value, "ek_68af296e8e408191a1120ab6383263c2");
    EXPECT_EQ(r->expires_at, 1756310470);
    EXPECT_EQ(r->session_id, "sess_C9CiUVUzUzYIssh3ELY1d");
    EXPECT_EQ(r->model, "gpt-realtime");
    EXPECT_EQ(r->voice, "alloy");
}

TEST_F(OpenAiClientTest, TakesACustomVoiceId) {
    FakeUpstreamServer server([](const http::Request&) {
        http::Response res;
        res.body = R"({"value":"ek_abc","expires_at":5,"session":{"id":"sess_1","model":"m",
                       "audio":{"output":{"voice":{"id":"voice_1234"}}}}})";
        return res;
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(r->voice, "voice_1234");
    EXPECT_EQ(r->model, "m");
}

TEST_F(OpenAiClientTest, SequentialCallsReuseOneConnection) {
    FakeUpstreamServer server([](const http::Request&) { return ok(); });
    auto client = make_client(options_for(server));
    for (int i = 0; i < 10; ++i) {
        auto r = mint(*client);
        ASSERT_TRUE(r.has_value()) << r.error().details;
    }
    EXPECT_EQ(client->http().connections_opened(), 1U);
    EXPECT_EQ(server.connections_accepted(), 1U);
    EXPECT_EQ(server.request_count(), 10U);
}

TEST_F(OpenAiClientTest, ConcurrentCallsOpenAtMostPoolSize) {
    FakeUpstreamServer server([](const http::Request&) { return ok(); });
    server.set_delay(40ms);
    auto o = options_for(server);
    o.pool_size = 3;
    o.max_connections = 3;
    auto client = make_client(o);
    std::atomic<int> succeeded{0};
    ClientSecretRequest req;
    req.session = diary_session();
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 9; ++i) {
            asio::co_spawn(ioc_, client->create_client_secret(req),
                           [&](std::exception_ptr e, Result<ClientSecret> r) {
                               if (!e && r.has_value()) {
                                   ++succeeded;
                               }
                           });
        }
        ioc_.restart();
        ioc_.run();
    }
    EXPECT_EQ(succeeded.load(), 18);
    EXPECT_LE(client->http().connections_opened(), 3U);
    EXPECT_LE(server.connections_accepted(), 3U);
    EXPECT_EQ(client->http().idle_connections(ioc_, client->base().origin),
              client->http().connections_opened());
}

TEST_F(OpenAiClientTest, IdleConnectionsAreBoundedByPoolSize) {
    FakeUpstreamServer server([](const http::Request&) { return ok(); });
    server.set_delay(40ms);
    auto o = options_for(server);
    o.pool_size = 2;
    o.max_connections = 0;  // unlimited: a burst opens what it needs, the excess is closed after
    auto client = make_client(o);
    ClientSecretRequest req;
    req.session = diary_session();
    std::atomic<int> succeeded{0};
    for (int i = 0; i < 6; ++i) {
        asio::co_spawn(ioc_, client->create_client_secret(req),
                       [&](std::exception_ptr e, Result<ClientSecret> r) {
                           if (!e && r.has_value()) {
                               ++succeeded;
                           }
                       });
    }
    ioc_.run();
    EXPECT_EQ(succeeded.load(), 6);
    EXPECT_EQ(client->http().connections_opened(), 6U);
    EXPECT_EQ(client->http().idle_connections(ioc_, client->base().origin), 2U);
}

TEST_F(OpenAiClientTest, MissingModelFallsBackToTheRequestedOne) {
    FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.body = R"({"value":"ek_abc","expires_at":5,"session":{"id":"sess_1"}})";
        return r;
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(r->model, "gpt-realtime");
    EXPECT_EQ(r->voice, "");
}

TEST_F(OpenAiClientTest, RefusedConnectionIsUnavailable) {
    OpenAiOptions o;
    o.api_key = kKey;
    o.base_url = "http://127.0.0.1:" + std::to_string(testing_util::closed_port()) + "/v1";
    o.retry_base_delay = 10ms;
    o.retry_max_delay = 40ms;
    auto client = make_client(o);
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_unavailable);
    EXPECT_EQ(r.error().status(), 503);
    EXPECT_GT(r.error().retry_after_s, 0);
    EXPECT_NE(r.error().details.find("refused"), std::string::npos) << r.error().details;
    EXPECT_EQ(client->http().connections_opened(), 0U);
}

// ---- faults: one table (issue 13 scope 6: these were sixteen near-identical tests) ----

// What one row expects of a failed (or, with `ok`, a successful) mint.
struct FaultCase {
    std::string name;
    // The upstream's answers in order; the last one repeats.
    std::vector<http::Response> answers;
    std::function<void(OpenAiOptions&)> tweak;  // null: the fixture's options
    bool ok = false;
    Error code = Error::internal;  // checked when !ok
    int status = 0;                // 0: not checked
    int retry_after_s = -2;        // -2: not checked; -1: > 0
    std::size_t requests = 0;      // 0: not checked
    std::vector<std::string> details_has;
    std::vector<std::string> details_lacks;
    std::vector<std::string> public_lacks;
    std::int64_t min_ms = 0;  // 0: not checked
    std::int64_t max_ms = 0;  // 0: not checked
};

std::ostream& operator<<(std::ostream& os, const FaultCase& c) {
    return os << c.name;
}

http::Response with_header(http::Response r, const char* name, const char* value) {
    r.set(name, value);
    return r;
}

http::Response body_of(std::string body) {
    http::Response r;
    r.body = std::move(body);
    return r;
}

http::Response acting(http::Action action) {
    http::Response r;
    r.action = action;
    return r;
}

http::Response rate_limited() {
    return test::openai_error_response(429, "rate_limit_error", "rate_limit_exceeded",
                                       "Rate limit reached for requests");
}

std::vector<FaultCase> fault_cases() {
    using test::openai_error_response;
    std::vector<FaultCase> cases;
    {
        FaultCase c;
        c.name = "RetriesA500ThenSucceeds";
        c.answers = {openai_error_response(500, "server_error", "", "boom"), ok()};
        c.ok = true;
        c.requests = 2;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "HonoursRetryAfterMs";
        c.answers = {with_header(rate_limited(), "retry-after-ms", "300"), ok()};
        c.ok = true;
        c.requests = 2;
        c.min_ms = 300;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "HonoursRetryAfterSeconds";
        c.answers = {with_header(openai_error_response(503, "server_error", "", "Slow Down"),
                                 "retry-after", "1"),
                     ok()};
        c.ok = true;
        c.min_ms = 1000;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "RateLimitAfterRetriesIs503WithUpstreamRetryAfter";
        c.answers = {with_header(rate_limited(), "retry-after", "7")};
        c.tweak = [](OpenAiOptions& o) { o.max_retries = 0; };
        c.code = Error::upstream_unavailable;
        c.status = 503;
        c.retry_after_s = 7;
        c.requests = 1;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "InsufficientQuotaIsNeverRetried";
        c.answers = {with_header(
            with_header(openai_error_response(429, "insufficient_quota", "insufficient_quota",
                                              "You exceeded your current quota, please check "
                                              "your plan and billing details."),
                        "retry-after-ms", "10"),
            "x-should-retry", "true")};
        c.code = Error::upstream_rejected;
        c.status = 502;
        c.details_has = {"quota"};
        c.requests = 1;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "BadRequestIs502WithDetailsButAGenericMessage";
        c.answers = {
            openai_error_response(400, "invalid_request_error", "invalid_value",
                                  "Invalid value: 'onyx'. Supported values are: 'alloy', 'ash'.")};
        c.code = Error::upstream_rejected;
        c.status = 502;
        c.details_has = {"Invalid value: 'onyx'", "invalid_value"};
        c.public_lacks = {"onyx", "Invalid value"};
        c.requests = 1;  // 400 is not retried
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "ShouldRetryFalseOverridesA500";
        c.answers = {with_header(openai_error_response(500, "server_error", "", "no"),
                                 "x-should-retry", "false")};
        c.code = Error::upstream_rejected;
        c.requests = 1;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "ShouldRetryTrueOverridesA400";
        c.answers = {
            with_header(openai_error_response(400, "invalid_request_error", "", "try again"),
                        "x-should-retry", "true"),
            ok()};
        c.ok = true;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "ServerErrorsAfterRetriesAre502";
        c.answers = {openai_error_response(502, "server_error", "", "bad gateway")};
        c.code = Error::upstream_rejected;
        c.status = 502;
        c.requests = 3;  // 1 + max_retries (2)
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "GarbageJsonIsBadResponse";
        c.answers = {body_of("<html>oops</html>")};
        c.code = Error::upstream_bad_response;
        c.status = 502;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "TruncatedJsonIsBadResponse";
        c.answers = {body_of(R"({"value":"ek_abc","expires_at":12)")};
        c.code = Error::upstream_bad_response;
        cases.push_back(c);
    }
    const std::vector<std::pair<std::string, std::string>> bad_bodies = {
        {"NoValue", R"({"expires_at":1,"session":{"id":"sess_1","model":"m"}})"},
        {"ValueNotEk",
         R"({"value":"sk-nope","expires_at":1,"session":{"id":"sess_1","model":"m"}})"},
        {"ValueNotAString", R"({"value":7,"expires_at":1,"session":{"id":"sess_1","model":"m"}})"},
        {"ExpiresAtAString",
         R"({"value":"ek_x","expires_at":"1","session":{"id":"sess_1","model":"m"}})"},
        {"ExpiresAtFractional",
         R"({"value":"ek_x","expires_at":1.5,"session":{"id":"sess_1","model":"m"}})"},
        {"NoSessionId", R"({"value":"ek_x","expires_at":1,"session":{"model":"m"}})"},
        {"NoSession", R"({"value":"ek_x","expires_at":1})"},
        {"AnArray", R"(["value","ek_x"])"},
    };
    for (const auto& [name, body] : bad_bodies) {
        FaultCase c;
        c.name = "MissingOrInvalidFieldsAreBadResponse_" + name;
        c.answers = {body_of(body)};
        c.code = Error::upstream_bad_response;
        c.details_lacks = {"ek_x"};  // the body never leaks
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "HangIsUpstreamTimeoutWithinTheDeadline";
        c.answers = {acting(http::Action::hang)};
        c.tweak = [](OpenAiOptions& o) { o.total_timeout = 300ms; };
        c.code = Error::upstream_timeout;
        c.status = 504;
        c.min_ms = 290;
        c.max_ms = 300 + kSlackMs;
        c.requests = 1;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "ResetIsUnavailableAfterRetries";
        c.answers = {acting(http::Action::reset)};
        c.code = Error::upstream_unavailable;
        c.status = 503;
        c.retry_after_s = -1;
        c.requests = 3;  // 1 + max_retries (2)
        cases.push_back(c);
    }
    {
        // Attempts at ~0 and ~300 ms; a third would start at ~600 ms, past the deadline, so the
        // client gives up with the upstream's answer instead of sleeping into a timeout.
        FaultCase c;
        c.name = "RetryDelaysNeverPassTheDeadline";
        c.answers = {with_header(openai_error_response(503, "server_error", "", "overloaded"),
                                 "retry-after-ms", "300")};
        c.tweak = [](OpenAiOptions& o) {
            o.total_timeout = 500ms;
            o.max_retries = 10;
        };
        c.code = Error::upstream_rejected;
        c.requests = 2;
        c.min_ms = 300;
        c.max_ms = 500 + kSlackMs;
        cases.push_back(c);
    }
    {
        FaultCase c;
        c.name = "TimeoutCoversAllAttempts";
        c.answers = {openai_error_response(500, "server_error", "", "boom"),
                     acting(http::Action::hang)};
        c.tweak = [](OpenAiOptions& o) { o.total_timeout = 400ms; };
        c.code = Error::upstream_timeout;
        c.min_ms = 390;
        c.max_ms = 400 + kSlackMs;
        c.requests = 2;
        cases.push_back(c);
    }
    return cases;
}

class OpenAiClientFaults : public OpenAiClientTest,
                           public ::testing::WithParamInterface<FaultCase> {};

TEST_P(OpenAiClientFaults, AnswerIsMappedAndRetriedAsTheRowSays) {
    const auto& c = GetParam();
    std::atomic<std::size_t> n{0};
    FakeUpstreamServer server([&](const http::Request&) {
        const auto i = n++;
        return c.answers.at(std::min(i, c.answers.size() - 1));
    });
    auto o = options_for(server);
    if (c.tweak) {
        c.tweak(o);
    }
    auto client = make_client(o);
    const auto start = std::chrono::steady_clock::now();
    auto r = mint(*client);
    const auto ms = elapsed_ms(start);
    if (c.ok) {
        ASSERT_TRUE(r.has_value()) << r.error().details;
    } else {
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, c.code) << r.error().details;
        if (c.status != 0) {
            EXPECT_EQ(r.error().status(), c.status);
        }
        if (c.retry_after_s == -1) {
            EXPECT_GT(r.error().retry_after_s, 0);
        } else if (c.retry_after_s >= 0) {
            EXPECT_EQ(r.error().retry_after_s, c.retry_after_s);
        }
        for (const auto& s : c.details_has) {
            EXPECT_NE(r.error().details.find(s), std::string::npos) << r.error().details;
        }
        for (const auto& s : c.details_lacks) {
            EXPECT_EQ(r.error().details.find(s), std::string::npos) << r.error().details;
        }
        for (const auto& s : c.public_lacks) {
            EXPECT_EQ(r.error().public_message().find(s), std::string::npos);
        }
    }
    if (c.requests != 0) {
        EXPECT_EQ(server.request_count(), c.requests);
    }
    if (c.min_ms != 0) {
        EXPECT_GE(ms, c.min_ms);
    }
    if (c.max_ms != 0) {
        EXPECT_LT(ms, c.max_ms);
    }
}

INSTANTIATE_TEST_SUITE_P(Table, OpenAiClientFaults, ::testing::ValuesIn(fault_cases()),
                         [](const auto& row) { return row.param.name; });

TEST_F(OpenAiClientTest, StaleIdleConnectionIsReplaced) {
    test::FakeUpstreamOptions fo;
    fo.idle_timeout = 100ms;  // the server closes idle keep-alive connections quickly
    FakeUpstreamServer server([](const http::Request&) { return ok(); }, fo);
    auto client = make_client(options_for(server));
    ASSERT_TRUE(mint(*client).has_value());
    std::this_thread::sleep_for(400ms);
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(client->http().connections_opened(), 2U);
    EXPECT_EQ(server.request_count(), 2U);  // detected before sending, no wasted attempt
}

TEST_F(OpenAiClientTest, ReusedConnectionFailingBeforeAnyByteIsRetriedOnceFresh) {
    std::atomic<int> n{0};
    FakeUpstreamServer server([&](const http::Request&) {
        http::Response r = ok();
        if (n++ == 1) {
            r.action = http::Action::reset;  // the second request, on the reused connection
        }
        return r;
    });
    auto o = options_for(server);
    o.max_retries = 0;  // only the stale-connection retry can save the call
    auto client = make_client(o);
    ASSERT_TRUE(mint(*client).has_value());
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(server.request_count(), 3U);
    EXPECT_EQ(client->http().connections_opened(), 2U);
}

TEST_F(OpenAiClientTest, SecretsNeverReachTheLog) {
    test::LogCapture capture;

    const std::string ek = "ek_SECRETTOKEN0123456789abcdef0123";
    std::atomic<int> n{0};
    FakeUpstreamServer server([&](const http::Request& req) {
        switch (n++) {
            case 0: {
                // An upstream that echoes the key it got (OpenAI masks it; do not rely on that).
                const auto auth = std::string(req.header("authorization").value_or(""));
                return test::openai_error_response(401, "invalid_request_error", "invalid_api_key",
                                                   "Incorrect API key provided: " + auth);
            }
            case 1:
                return test::openai_error_response(500, "server_error", "", "boom");
            case 2: {
                http::Response r;  // a token, but no session: bad response
                r.body = R"({"value":")" + ek + R"(","expires_at":1})";
                return r;
            }
            default:
                return test::client_secret_response(ek);
        }
    });
    auto client = make_client(options_for(server));
    auto r1 = mint(*client);
    ASSERT_FALSE(r1.has_value());
    EXPECT_EQ(r1.error().details.find(kKey), std::string::npos);
    auto r2 = mint(*client);  // 500 (retried, logged at debug), then the bad answer
    ASSERT_FALSE(r2.has_value());
    EXPECT_EQ(r2.error().code, Error::upstream_bad_response);
    auto r3 = mint(*client);
    ASSERT_TRUE(r3.has_value());

    const std::string log = capture.text();
    EXPECT_NE(log.find("request_id=req_test_1"), std::string::npos) << log;
    EXPECT_NE(log.find("upstream_request_id=req_"), std::string::npos) << log;
    EXPECT_EQ(log.find(kKey), std::string::npos) << log;
    EXPECT_EQ(log.find("SECRETKEY"), std::string::npos) << log;
    EXPECT_EQ(log.find(ek), std::string::npos) << log;
    EXPECT_EQ(log.find("SECRETTOKEN"), std::string::npos) << log;
}

TEST_F(OpenAiClientTest, RejectsBadOptionsAtStartup) {
    OpenAiOptions o;
    o.base_url = "http://127.0.0.1:1/v1";
    EXPECT_THROW(make_client(o), std::invalid_argument);  // no key
    o.api_key = "sk-x\r\nX-Injected: 1";
    try {
        make_client(o);
        ADD_FAILURE() << "accepted a key with CR/LF";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("sk-x"), std::string::npos);
    }
    o.api_key = kKey;
    o.base_url = "ftp://example.com/v1";
    EXPECT_THROW(make_client(o), std::invalid_argument);
    o.base_url = "https://api.openai.com/v1";
    o.ca_file = "/nonexistent/ca.pem";
    EXPECT_THROW(make_client(o), std::runtime_error);
}

// ---- TLS ------------------------------------------------------------------------------------

TEST_F(OpenAiClientTest, TlsUntrustedSelfSignedCertificateFails) {
    test::TestCerts certs({"localhost"}, {}, /*self_signed=*/true);
    test::FakeUpstreamOptions fo;
    fo.tls = true;
    fo.cert_file = certs.cert_file();
    fo.key_file = certs.key_file();
    FakeUpstreamServer server([](const http::Request&) { return ok(); }, fo);
    auto o = options_for(server);
    o.base_url = server.base_url("localhost");  // system CAs only
    auto client = make_client(o);
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_unavailable);
    EXPECT_NE(r.error().details.find("certificate"), std::string::npos) << r.error().details;
    EXPECT_EQ(server.request_count(), 0U);
    EXPECT_EQ(client->http().tls_handshakes(), 1U);  // verification failures are not retried
}

TEST_F(OpenAiClientTest, TlsTrustedViaCaFileSucceedsWithSni) {
    test::TestCerts certs({"localhost"});
    test::FakeUpstreamOptions fo;
    fo.tls = true;
    fo.cert_file = certs.cert_file();
    fo.key_file = certs.key_file();
    FakeUpstreamServer server([](const http::Request&) { return ok(); }, fo);
    auto o = options_for(server);
    o.base_url = server.base_url("localhost");
    o.ca_file = certs.ca_file();
    auto client = make_client(o);
    for (int i = 0; i < 3; ++i) {
        auto r = mint(*client);
        ASSERT_TRUE(r.has_value()) << r.error().details;
    }
    EXPECT_EQ(client->http().tls_handshakes(), 1U);  // kept alive: one handshake for 3 calls
    const auto names = server.tls_server_names();
    ASSERT_EQ(names.size(), 1U);
    EXPECT_EQ(names[0], "localhost");
    const auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 3U);
    EXPECT_EQ(reqs[0].header("authorization").value_or(""), std::string("Bearer ") + kKey);
    EXPECT_EQ(reqs[0].header("host").value_or(""), "localhost:" + std::to_string(server.port()));
}

TEST_F(OpenAiClientTest, TlsHostNameMismatchFails) {
    test::TestCerts certs({"upstream.example"});  // trusted chain, but for another name
    test::FakeUpstreamOptions fo;
    fo.tls = true;
    fo.cert_file = certs.cert_file();
    fo.key_file = certs.key_file();
    FakeUpstreamServer server([](const http::Request&) { return ok(); }, fo);
    auto o = options_for(server);
    o.base_url = server.base_url("localhost");
    o.ca_file = certs.ca_file();
    auto client = make_client(o);
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_unavailable);
    EXPECT_NE(r.error().details.find("certificate verification failed"), std::string::npos)
        << r.error().details;
    EXPECT_EQ(server.request_count(), 0U);
}

TEST_F(OpenAiClientTest, TlsIpAddressIsVerifiedAgainstIpSan) {
    test::TestCerts certs({"localhost"}, {"127.0.0.1"});
    test::FakeUpstreamOptions fo;
    fo.tls = true;
    fo.cert_file = certs.cert_file();
    fo.key_file = certs.key_file();
    FakeUpstreamServer server([](const http::Request&) { return ok(); }, fo);
    auto o = options_for(server);
    o.base_url = server.base_url("127.0.0.1");
    o.ca_file = certs.ca_file();
    auto client = make_client(o);
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    const auto names = server.tls_server_names();
    ASSERT_EQ(names.size(), 1U);
    EXPECT_EQ(names[0], "");  // no SNI for IP literals (RFC 6066)
}

// ---- Pure helpers -----------------------------------------------------------------------------

HttpResponse with_headers(int status, std::vector<std::pair<std::string, std::string>> h,
                          std::string body = {}) {
    HttpResponse r;
    r.status = status;
    r.headers = std::move(h);
    r.body = std::move(body);
    return r;
}

// ---- create_call / hangup (SPEC §7.1, §7.3) ------------------------------------------------

constexpr const char* kOffer =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
constexpr const char* kAnswer = "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\na=ice-lite\r\n";

http::Response call_created(
    std::string location = "/v1/realtime/calls/rtc_u0_E4TeWIkEAnw5DOa1vyO18",
    std::string type = "text/plain; charset=utf-8") {
    http::Response r;
    r.status = 201;
    r.content_type = std::move(type);
    r.body = kAnswer;
    if (!location.empty()) {
        r.set("location", std::move(location));
    }
    return r;
}

Result<CallAnswer> open_call(asio::io_context& ioc, OpenAiClient& client) {
    CallRequest req;
    req.sdp = kOffer;
    req.session = diary_session();
    req.safety_identifier = std::string(64, 'a');
    req.request_id = "req_call_1";
    return run_coro(ioc, client.create_call(req));
}

TEST_F(OpenAiClientTest, CreateCallSendsTheMultipartFormAndReadsTheAnswer) {
    FakeUpstreamServer server([](const http::Request&) { return call_created(); });
    auto client = make_client(options_for(server));
    auto r = open_call(ioc_, *client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(r->sdp, kAnswer);  // byte for byte
    EXPECT_EQ(r->call_id, "rtc_u0_E4TeWIkEAnw5DOa1vyO18");

    ASSERT_EQ(server.request_count(), 1U);
    const auto req = server.requests().front();
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path, "/v1/realtime/calls");
    EXPECT_EQ(req.header("authorization").value_or(""), std::string("Bearer ") + kKey);
    EXPECT_EQ(req.header("openai-safety-identifier").value_or(""), std::string(64, 'a'));
    EXPECT_FALSE(req.header("openai-beta").has_value());
    // The emulator's own multipart reader takes the form apart as OpenAI would.
    const auto boundary = emulator::multipart_boundary(req.header("content-type").value_or(""));
    ASSERT_FALSE(boundary.empty()) << req.header("content-type").value_or("");
    auto parts = emulator::parse_multipart(req.body, boundary);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 2U);
    EXPECT_EQ((*parts)[0].name, "sdp");
    EXPECT_EQ((*parts)[0].content_type, "application/sdp");
    EXPECT_EQ((*parts)[0].body, kOffer);
    EXPECT_EQ((*parts)[1].name, "session");
    EXPECT_EQ((*parts)[1].content_type, "application/json");
    EXPECT_EQ(json::parse((*parts)[1].body), json::value(diary_session()));
}

TEST_F(OpenAiClientTest, CreateCallAcceptsTextAnswersAndAnyLocationForm) {
    const std::vector<std::pair<http::Response, std::string>> ok = {
        {call_created("/v1/realtime/calls/rtc_123", "application/sdp"), "rtc_123"},
        {call_created("https://api.openai.com/v1/realtime/calls/rtc_abc-DEF_9?x=1", "text/plain"),
         "rtc_abc-DEF_9"},
        {call_created("/v1/realtime/calls/0b2d6c1e-1111-2222-3333-444455556666/", ""),
         "0b2d6c1e-1111-2222-3333-444455556666"},
    };
    for (const auto& [answer, id] : ok) {
        FakeUpstreamServer server([answer = answer](const http::Request&) { return answer; });
        auto client = make_client(options_for(server));
        auto r = open_call(ioc_, *client);
        ASSERT_TRUE(r.has_value()) << id << ": " << r.error().details;
        EXPECT_EQ(r->call_id, id);
    }
}

TEST_F(OpenAiClientTest, CreateCallGarbageIs502AndACallItNamedIsHungUp) {
    const std::vector<std::pair<http::Response, bool>> bad = {
        {call_created(""), false},                                             // no Location
        {call_created("/v1/realtime/calls/rtc%20x"), false},                   // unsafe id
        {call_created("/v1/realtime/calls/rtc_1", "application/json"), true},  // not text
        {[] {
             auto r = call_created("/v1/realtime/calls/rtc_2");
             r.body = "<html>";
             return r;
         }(),
         true},
        {[] {
             auto r = call_created("/v1/realtime/calls/rtc_3");
             r.status = 200;
             return r;
         }(),
         true},
    };
    for (const auto& [answer, names_a_call] : bad) {
        FakeUpstreamServer server([answer = answer](const http::Request& req) {
            return req.path.ends_with("/hangup") ? http::Response{} : answer;
        });
        auto client = make_client(options_for(server));
        auto r = open_call(ioc_, *client);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, Error::upstream_bad_response);
        EXPECT_EQ(r.error().details.find("rtc_"), std::string::npos) << r.error().details;
        const auto requests = server.requests();
        ASSERT_EQ(requests.size(), names_a_call ? 2U : 1U);
        if (names_a_call) {
            EXPECT_TRUE(requests[1].path.starts_with("/v1/realtime/calls/rtc_"));
            EXPECT_TRUE(requests[1].path.ends_with("/hangup"));
        }
    }
}

TEST_F(OpenAiClientTest, CreateCallRetriesAnsweredRefusalsButNeverALostAnswer) {
    {
        std::atomic<int> n{0};
        FakeUpstreamServer server([&](const http::Request&) {
            return n++ == 0 ? test::openai_error_response(503, "server_error", "", "overloaded")
                            : call_created();
        });
        auto client = make_client(options_for(server));
        auto r = open_call(ioc_, *client);
        ASSERT_TRUE(r.has_value()) << r.error().details;
        EXPECT_EQ(server.request_count(), 2U) << "the upstream said no: safe to ask again";
    }
    {
        // The request arrived whole and the connection died: the upstream may have created a
        // call, so it is not sent again (a client secret would be).
        FakeUpstreamServer server([](const http::Request&) {
            auto r = call_created();
            r.action = http::Action::reset;
            return r;
        });
        auto client = make_client(options_for(server));
        auto r = open_call(ioc_, *client);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, Error::upstream_unavailable);
        EXPECT_EQ(server.request_count(), 1U);
    }
    {
        // Nor on a reused keep-alive connection (where a secret gets one fresh retry).
        std::atomic<int> n{0};
        FakeUpstreamServer server([&](const http::Request&) {
            auto r = call_created();
            if (n++ == 1) {
                r.action = http::Action::reset;
            }
            return r;
        });
        auto o = options_for(server);
        o.max_retries = 0;
        auto client = make_client(o);
        ASSERT_TRUE(open_call(ioc_, *client).has_value());
        EXPECT_FALSE(open_call(ioc_, *client).has_value());
        EXPECT_EQ(server.request_count(), 2U);
    }
}

TEST_F(OpenAiClientTest, HangupIsOkOr404CallGone) {
    FakeUpstreamServer server([](const http::Request& req) {
        if (req.path.find("rtc_gone") != std::string::npos) {
            return test::openai_error_response(404, "invalid_request_error", "call_id_not_found",
                                               "No session found for the provided call_id");
        }
        http::Response r;
        r.content_type.clear();
        return r;
    });
    auto client = make_client(options_for(server));
    auto ok = run_coro(ioc_, client->hangup("rtc_live", "req_h"));
    ASSERT_TRUE(ok.has_value()) << ok.error().details;
    auto gone = run_coro(ioc_, client->hangup("rtc_gone", "req_h"));
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, Error::call_gone);
    auto bad = run_coro(ioc_, client->hangup("../../files", "req_h"));
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, Error::call_gone);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U) << "an unsafe id is never sent";
    EXPECT_EQ(requests[0].path, "/v1/realtime/calls/rtc_live/hangup");
    EXPECT_EQ(requests[0].body, "");
    EXPECT_EQ(requests[0].header("authorization").value_or(""), std::string("Bearer ") + kKey);
}

TEST(RetryPolicy, RetryAfterHints) {
    EXPECT_EQ(retry_after_hint(with_headers(429, {{"retry-after-ms", "250"}}), 0), 250ms);
    EXPECT_EQ(retry_after_hint(with_headers(429, {{"retry-after-ms", "12.5"}}), 0), 13ms);
    EXPECT_EQ(retry_after_hint(with_headers(429, {{"retry-after", "3"}}), 0), 3000ms);
    EXPECT_EQ(retry_after_hint(with_headers(429, {{"retry-after", "0.5"}}), 0), 500ms);
    EXPECT_EQ(
        retry_after_hint(with_headers(429, {{"retry-after-ms", "100"}, {"retry-after", "9"}}), 0),
        100ms);
    // Sun, 06 Nov 1994 08:49:37 GMT == 784111777
    EXPECT_EQ(
        retry_after_hint(with_headers(503, {{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
                         784111777 - 5),
        5000ms);
    EXPECT_EQ(
        retry_after_hint(with_headers(503, {{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
                         784111777 + 5),
        0ms);
    EXPECT_FALSE(retry_after_hint(with_headers(429, {{"retry-after", "soon"}}), 0).has_value());
    EXPECT_FALSE(retry_after_hint(with_headers(429, {{"retry-after-ms", "-5"}}), 0).has_value());
    EXPECT_FALSE(retry_after_hint(with_headers(429, {}), 0).has_value());
}

TEST(RetryPolicy, RetryableStatuses) {
    for (int s : {408, 409, 429, 500, 502, 503, 504}) {
        EXPECT_TRUE(should_retry_status(with_headers(s, {}))) << s;
    }
    for (int s : {400, 401, 403, 404, 422}) {
        EXPECT_FALSE(should_retry_status(with_headers(s, {}))) << s;
    }
    EXPECT_FALSE(should_retry_status(with_headers(503, {{"x-should-retry", "false"}})));
    EXPECT_TRUE(should_retry_status(with_headers(400, {{"x-should-retry", "true"}})));
    const auto quota = with_headers(
        429, {{"x-should-retry", "true"}},
        R"({"error":{"message":"quota","type":"insufficient_quota","param":null,"code":null}})");
    EXPECT_TRUE(is_insufficient_quota(quota));
    EXPECT_FALSE(should_retry_status(quota));
}

}  // namespace
}  // namespace voicegate::upstream
