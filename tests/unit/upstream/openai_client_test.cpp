#include "upstream/openai_client.hpp"

#include <atomic>
#include <memory>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/fake_upstream_server.hpp"
#include "support/test_certs.hpp"
#include "unit/upstream/upstream_test_util.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace voicegate::upstream {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using test::FakeUpstreamServer;
using testing_util::elapsed_ms;
using testing_util::run_coro;

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

TEST_F(OpenAiClientTest, RetriesA500ThenSucceeds) {
    std::atomic<int> n{0};
    FakeUpstreamServer server([&](const http::Request&) {
        return n++ == 0 ? test::openai_error_response(500, "server_error", "", "boom") : ok();
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(server.request_count(), 2U);
}

TEST_F(OpenAiClientTest, HonoursRetryAfterMs) {
    std::atomic<int> n{0};
    FakeUpstreamServer server([&](const http::Request&) {
        if (n++ == 0) {
            auto r = test::openai_error_response(429, "rate_limit_error", "rate_limit_exceeded",
                                                 "Rate limit reached for requests");
            r.set("retry-after-ms", "300");
            return r;
        }
        return ok();
    });
    auto client = make_client(options_for(server));
    const auto start = std::chrono::steady_clock::now();
    auto r = mint(*client);
    const auto ms = elapsed_ms(start);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_GE(ms, 300);
    EXPECT_EQ(server.request_count(), 2U);
}

TEST_F(OpenAiClientTest, HonoursRetryAfterSeconds) {
    std::atomic<int> n{0};
    FakeUpstreamServer server([&](const http::Request&) {
        if (n++ == 0) {
            auto r = test::openai_error_response(503, "server_error", "", "Slow Down");
            r.set("retry-after", "1");
            return r;
        }
        return ok();
    });
    auto client = make_client(options_for(server));
    const auto start = std::chrono::steady_clock::now();
    auto r = mint(*client);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_GE(elapsed_ms(start), 1000);
}

TEST_F(OpenAiClientTest, RateLimitAfterRetriesIs503WithUpstreamRetryAfter) {
    FakeUpstreamServer server([](const http::Request&) {
        auto r = test::openai_error_response(429, "rate_limit_error", "rate_limit_exceeded",
                                             "Rate limit reached for requests");
        r.set("retry-after", "7");
        return r;
    });
    auto o = options_for(server);
    o.max_retries = 0;
    auto client = make_client(o);
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_unavailable);
    EXPECT_EQ(r.error().status(), 503);
    EXPECT_EQ(r.error().retry_after_s, 7);
    EXPECT_EQ(server.request_count(), 1U);
}

TEST_F(OpenAiClientTest, InsufficientQuotaIsNeverRetried) {
    FakeUpstreamServer server([](const http::Request&) {
        auto r = test::openai_error_response(
            429, "insufficient_quota", "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.");
        r.set("retry-after-ms", "10");
        r.set("x-should-retry", "true");
        return r;
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_rejected);
    EXPECT_EQ(r.error().status(), 502);
    EXPECT_NE(r.error().details.find("quota"), std::string::npos);
    EXPECT_EQ(server.request_count(), 1U);
}

TEST_F(OpenAiClientTest, BadRequestIs502WithDetailsButAGenericMessage) {
    FakeUpstreamServer server([](const http::Request&) {
        return test::openai_error_response(
            400, "invalid_request_error", "invalid_value",
            "Invalid value: 'onyx'. Supported values are: 'alloy', 'ash'.");
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_rejected);
    EXPECT_EQ(r.error().status(), 502);
    EXPECT_NE(r.error().details.find("Invalid value: 'onyx'"), std::string::npos);
    EXPECT_NE(r.error().details.find("invalid_value"), std::string::npos);
    EXPECT_EQ(r.error().public_message().find("onyx"), std::string::npos);
    EXPECT_EQ(r.error().public_message().find("Invalid value"), std::string::npos);
    EXPECT_EQ(server.request_count(), 1U);  // 400 is not retried
}

TEST_F(OpenAiClientTest, ShouldRetryHeaderOverridesTheStatus) {
    FakeUpstreamServer server([](const http::Request&) {
        auto r = test::openai_error_response(500, "server_error", "", "no");
        r.set("x-should-retry", "false");
        return r;
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_rejected);
    EXPECT_EQ(server.request_count(), 1U);

    std::atomic<int> n{0};
    server.set_script([&](const http::Request&) {
        if (n++ == 0) {
            auto e = test::openai_error_response(400, "invalid_request_error", "", "try again");
            e.set("x-should-retry", "true");
            return e;
        }
        return ok();
    });
    auto r2 = mint(*client);
    ASSERT_TRUE(r2.has_value()) << r2.error().details;
}

TEST_F(OpenAiClientTest, ServerErrorsAfterRetriesAre502) {
    FakeUpstreamServer server([](const http::Request&) {
        return test::openai_error_response(502, "server_error", "", "bad gateway");
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_rejected);
    EXPECT_EQ(r.error().status(), 502);
    EXPECT_EQ(server.request_count(), 3U);  // 1 + max_retries (2)
}

TEST_F(OpenAiClientTest, GarbageJsonIsBadResponse) {
    FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.body = "<html>oops</html>";
        return r;
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_bad_response);
    EXPECT_EQ(r.error().status(), 502);

    server.set_script([](const http::Request&) {
        http::Response t;
        t.body = R"({"value":"ek_abc","expires_at":12)";  // truncated JSON
        return t;
    });
    auto r2 = mint(*client);
    ASSERT_FALSE(r2.has_value());
    EXPECT_EQ(r2.error().code, Error::upstream_bad_response);
}

TEST_F(OpenAiClientTest, MissingOrInvalidFieldsAreBadResponse) {
    const std::vector<std::string> bodies = {
        R"({"expires_at":1,"session":{"id":"sess_1","model":"m"}})",                    // no value
        R"({"value":"sk-nope","expires_at":1,"session":{"id":"sess_1","model":"m"}})",  // not ek_
        R"({"value":7,"expires_at":1,"session":{"id":"sess_1","model":"m"}})",
        R"({"value":"ek_x","expires_at":"1","session":{"id":"sess_1","model":"m"}})",
        R"({"value":"ek_x","expires_at":1.5,"session":{"id":"sess_1","model":"m"}})",
        R"({"value":"ek_x","expires_at":1,"session":{"model":"m"}})",  // no id
        R"({"value":"ek_x","expires_at":1})",                          // no session
        R"(["value","ek_x"])",
    };
    std::string body;
    FakeUpstreamServer server([&](const http::Request&) {
        http::Response r;
        r.body = body;
        return r;
    });
    auto client = make_client(options_for(server));
    for (const auto& b : bodies) {
        body = b;
        auto r = mint(*client);
        ASSERT_FALSE(r.has_value()) << b;
        EXPECT_EQ(r.error().code, Error::upstream_bad_response) << b;
        EXPECT_EQ(r.error().details.find("ek_x"), std::string::npos) << "body leaked: " << b;
    }
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

TEST_F(OpenAiClientTest, HangIsUpstreamTimeoutWithinTheDeadline) {
    FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.action = http::Action::hang;
        return r;
    });
    auto o = options_for(server);
    o.total_timeout = 300ms;
    auto client = make_client(o);
    const auto start = std::chrono::steady_clock::now();
    auto r = mint(*client);
    const auto ms = elapsed_ms(start);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_timeout);
    EXPECT_EQ(r.error().status(), 504);
    EXPECT_GE(ms, 290);
    EXPECT_LT(ms, 300 + kSlackMs);
    EXPECT_EQ(server.request_count(), 1U);
}

TEST_F(OpenAiClientTest, ResetIsUnavailableAfterRetries) {
    FakeUpstreamServer server([](const http::Request&) {
        http::Response r;
        r.action = http::Action::reset;
        return r;
    });
    auto client = make_client(options_for(server));
    auto r = mint(*client);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_unavailable);
    EXPECT_EQ(r.error().status(), 503);
    EXPECT_GT(r.error().retry_after_s, 0);
    EXPECT_EQ(server.request_count(), 3U);  // 1 + max_retries (2)
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

TEST_F(OpenAiClientTest, RetryDelaysNeverPassTheDeadline) {
    FakeUpstreamServer server([](const http::Request&) {
        auto r = test::openai_error_response(503, "server_error", "", "overloaded");
        r.set("retry-after-ms", "300");
        return r;
    });
    auto o = options_for(server);
    o.total_timeout = 500ms;
    o.max_retries = 10;
    auto client = make_client(o);
    const auto start = std::chrono::steady_clock::now();
    auto r = mint(*client);
    const auto ms = elapsed_ms(start);
    // Attempts at ~0 and ~300 ms; a third would start at ~600 ms, past the deadline, so the
    // client gives up with the upstream's answer instead of sleeping into a timeout.
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_rejected) << r.error().details;
    EXPECT_EQ(server.request_count(), 2U);
    EXPECT_GE(ms, 300);
    EXPECT_LT(ms, 500 + kSlackMs);
}

TEST_F(OpenAiClientTest, TimeoutCoversAllAttempts) {
    std::atomic<int> n{0};
    FakeUpstreamServer server([&](const http::Request&) {
        http::Response r;
        if (n++ == 0) {
            r = test::openai_error_response(500, "server_error", "", "boom");
        } else {
            r.action = http::Action::hang;
        }
        return r;
    });
    auto o = options_for(server);
    o.total_timeout = 400ms;
    auto client = make_client(o);
    const auto start = std::chrono::steady_clock::now();
    auto r = mint(*client);
    const auto ms = elapsed_ms(start);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Error::upstream_timeout);
    EXPECT_GE(ms, 390);
    EXPECT_LT(ms, 400 + kSlackMs);
    EXPECT_EQ(server.request_count(), 2U);
}

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
    auto out = std::make_shared<std::ostringstream>();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
    auto capture = std::make_shared<spdlog::logger>("capture", sink);
    capture->set_level(spdlog::level::trace);
    auto previous = spdlog::default_logger();
    spdlog::set_default_logger(capture);

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

    capture->flush();
    spdlog::set_default_logger(previous);
    const std::string log = out->str();
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
