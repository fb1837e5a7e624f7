// SPEC §7.1 (POST /api/realtime/calls, the SDP relay) and §7.2 (POST /api/realtime/attach) over
// real HTTP against the in-process App: with its built-in emulator (which reads the multipart
// form and validates the session part as OpenAI does), an external emulator (to count what
// reached "OpenAI"), or a scripted upstream (to see the exact bytes exchanged).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "emulator/sdp.hpp"
#include "integration/app_harness.hpp"
#include "support/fake_upstream_server.hpp"
#include "support/jwt_factory.hpp"
#include "support/log_capture.hpp"
#include "unit/api/relay_offers.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;

constexpr const char* kSecret = "relay-test-secret-0123456789abcdef-xyz";

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpResult post_sdp(const RunningApp& app, const std::string& query, const std::string& offer,
                    Headers headers = {}) {
    headers.emplace_back("Content-Type", "application/sdp");
    return http_request("127.0.0.1", app.port(), "POST",
                        "/api/realtime/calls" + (query.empty() ? "" : "?" + query), offer, headers);
}

json::object body_of(const HttpResult& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v.is_object() ? v.as_object() : json::object{};
}

std::string code_of(const HttpResult& r) {
    auto b = body_of(r);
    return b.contains("code") ? std::string(b.at("code").as_string()) : "";
}

bool is_session_id(const std::string& s) {
    return s.size() == 26 && s.starts_with("sess_") &&
           s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                               5) == std::string::npos;
}

// Every header and the body, for "never shows X" checks.
std::string everything(const HttpResult& r) {
    std::string all = r.body;
    for (const auto& [k, v] : r.headers) {
        all += "\n" + k + ": " + v;
    }
    return all;
}

TEST(Relay, SdpFormRoundTripAgainstTheEmulator) {
    ExternalEmulator upstream;
    RunningApp app(test_config({{"OPENAI_API_KEY", upstream.key()},
                                {"OPENAI_BASE_URL", upstream.base_url()},
                                {"VOICEGATE_CORS_ORIGINS", "https://diary.example"}}));
    auto res = post_sdp(app, "userId=user_12345&voice=marin", audio_only_offer(),
                        {{"Origin", "https://diary.example"}});
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_EQ(res.header("content-type"), "application/sdp");
    // The emulator's answer to this offer: one audio section, the offer's mid, no data channel.
    EXPECT_TRUE(res.body.starts_with("v=0\r\n")) << res.body;
    EXPECT_NE(res.body.find("m=audio "), std::string::npos);
    EXPECT_NE(res.body.find("a=mid:0"), std::string::npos);
    EXPECT_EQ(res.body.find("m=application"), std::string::npos);
    const auto session = res.header("x-session-id");
    EXPECT_TRUE(is_session_id(session)) << session;
    EXPECT_EQ(res.header("location"), "/api/realtime/calls/" + session);
    EXPECT_EQ(res.header("cache-control"), "no-store");
    EXPECT_FALSE(res.header("ratelimit").empty());
    const auto exposed = res.header("access-control-expose-headers");
    EXPECT_NE(exposed.find("X-Session-Id"), std::string::npos) << exposed;
    EXPECT_NE(exposed.find("Location"), std::string::npos) << exposed;
    EXPECT_EQ(everything(res).find("rtc_"), std::string::npos) << "the call id stays server-side";

    auto stats = upstream.stats();
    EXPECT_EQ(stats.calls_created, 1U);
    const auto metrics = app.get("/metrics");
    EXPECT_NE(metrics.body.find("voicegate_calls_total{how=\"relayed\"} 1"), std::string::npos)
        << metrics.body.substr(0, 2000);
    EXPECT_EQ(stats.requests["client_secrets"], 0U) << "no ek_ was minted on the way";

    // The session is an issued session like /token's: /end works as SPEC §3.3 says.
    auto end = app.post("/api/realtime/end",
                        R"({"sessionId":")" + session + R"(","duration":12,"endedBy":"user"})");
    ASSERT_EQ(end.status, 200) << end.body;
    EXPECT_EQ(body_of(end).at("message"), "Session ended and logged successfully");
}

TEST(Relay, JsonFormRoundTripWithTheBuiltInEmulator) {
    RunningApp app(test_config());
    json::object req{{"userId", "user_12345"},
                     {"sessionConfig",
                      {{"model", "gpt-4o-realtime-preview-2024-12-17"},
                       {"voice", "alloy"},
                       {"instructions", "You are a friendly diary-writing helper."},
                       {"maxOutputTokens", 4096}}},
                     {"sdp", offer_with_data_channel()}};
    auto res = app.post("/api/realtime/calls", json::serialize(req));
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_TRUE(res.header("content-type").starts_with("application/json"));
    auto body = body_of(res);
    EXPECT_EQ(body.size(), 5U) << res.body;  // success, sdp, sessionId, expiresAt, config
    EXPECT_EQ(body.at("success"), true);
    const std::string answer(body.at("sdp").as_string());
    EXPECT_TRUE(answer.starts_with("v=0\r\n"));
    EXPECT_NE(answer.find("m=application"), std::string::npos) << "the data channel was allowed";
    const std::string session(body.at("sessionId").as_string());
    EXPECT_TRUE(is_session_id(session)) << session;
    EXPECT_EQ(res.header("x-session-id"), session);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    // The call's cap: VOICEGATE_SESSION_MAX_MINUTES (30) from now.
    EXPECT_NEAR(static_cast<double>(body.at("expiresAt").as_int64()), now + 1800, 5);
    EXPECT_EQ(body.at("config"), (json::object{{"model", "gpt-realtime"}, {"voice", "alloy"}}));
    EXPECT_EQ(res.body.find("rtc_"), std::string::npos);
}

// The exact bytes: the offer goes upstream unchanged inside the form, the answer comes back
// unchanged, the session part is /token's session object, the safety identifier is a keyed
// hash, and the call id shows up nowhere: not in the answer, not in the log.
TEST(Relay, BytesGoThroughUnchangedAndTheCallIdStaysHidden) {
    const std::string answer =
        "v=0\r\no=- 42 2 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\n"
        "a=ice-lite\r\nm=audio 3478 UDP/TLS/RTP/SAVPF 111\r\n";
    FakeUpstreamServer upstream([&](const http::Request& req) {
        http::Response r;
        if (req.path.ends_with("/hangup")) {
            return r;
        }
        r.status = 201;
        r.content_type = "text/plain; charset=utf-8";
        r.body = answer;
        r.set("location", "/v1/realtime/calls/rtc_u0_SECRETCALLID0123456789");
        return r;
    });
    auto cfg = test_config({{"OPENAI_API_KEY", "sk-test-relay-0123456789abcdef"},
                            {"OPENAI_BASE_URL", upstream.base_url()},
                            {"VOICEGATE_SAFETY_ID_KEY", "safety-key-for-the-relay-test"}});
    LogCapture capture;
    std::string session;
    {
        RunningApp app(cfg);
        const auto offer = offer_with_data_channel();
        auto res = post_sdp(app, "userId=diary-user&model=gpt-realtime&voice=marin", offer);
        ASSERT_EQ(res.status, 201) << res.body;
        EXPECT_EQ(res.body, answer);
        session = res.header("x-session-id");
        EXPECT_EQ(everything(res).find("SECRETCALLID"), std::string::npos);

        ASSERT_GE(upstream.request_count(), 1U);
        const auto sent = upstream.requests().front();
        EXPECT_EQ(sent.path, "/v1/realtime/calls");
        EXPECT_EQ(sent.header("authorization").value_or(""),
                  "Bearer sk-test-relay-0123456789abcdef");
        const auto safety = std::string(sent.header("openai-safety-identifier").value_or(""));
        EXPECT_EQ(safety.size(), 64U);
        EXPECT_EQ(safety.find("diary-user"), std::string::npos);
        auto parts = emulator::parse_multipart(
            sent.body, emulator::multipart_boundary(sent.header("content-type").value_or("")));
        ASSERT_TRUE(parts.has_value());
        ASSERT_EQ(parts->size(), 2U);
        EXPECT_EQ((*parts)[0].name, "sdp");
        EXPECT_EQ((*parts)[0].body, offer);
        EXPECT_EQ(json::parse((*parts)[1].body),
                  json::parse(R"({"type":"realtime","model":"gpt-realtime",
                                  "audio":{"output":{"voice":"marin"}}})"));

        // The same user gets the same identifier; another user another one.
        ASSERT_EQ(post_sdp(app, "userId=diary-user", audio_only_offer()).status, 201);
        ASSERT_EQ(post_sdp(app, "userId=someone-else", audio_only_offer()).status, 201);
        // The calls created (the supervisor's sideband joins reach this upstream too).
        std::vector<http::Request> all;
        for (const auto& r : upstream.requests()) {
            if (r.path == "/v1/realtime/calls") {
                all.push_back(r);
            }
        }
        ASSERT_EQ(all.size(), 3U);
        EXPECT_EQ(all[1].header("openai-safety-identifier").value_or(""), safety);
        EXPECT_NE(all[2].header("openai-safety-identifier").value_or(""), safety);
    }
    const auto log = capture.text();
    EXPECT_NE(log.find("relayed for session " + session), std::string::npos) << log;
    EXPECT_EQ(log.find("SECRETCALLID"), std::string::npos) << log;
    EXPECT_EQ(log.find("sk-test-relay"), std::string::npos);
}

constexpr const char* kProfiles = R"(
[profiles.locked]
instructions = "Server-side diary prompt."
data_channel = "deny"
on_violation = "hangup"
max_minutes = 5

[profiles.open]
instructions = "Server-side diary prompt."
data_channel = "allow"
)";

TEST(Relay, DataChannelPolicyPerProfile) {
    ExternalEmulator upstream;
    RunningApp app(test_config(
        {{"OPENAI_API_KEY", upstream.key()}, {"OPENAI_BASE_URL", upstream.base_url()}}, kProfiles));
    auto refused = post_sdp(app, "profile=locked", offer_with_data_channel());
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(code_of(refused), "sdp_policy");
    EXPECT_EQ(upstream.stats().calls_created, 0U) << "refused before anything was spent";

    auto audio_only = post_sdp(app, "profile=locked", audio_only_offer());
    ASSERT_EQ(audio_only.status, 201) << audio_only.body;
    EXPECT_EQ(audio_only.body.find("m=application"), std::string::npos);

    json::object as_json{{"sessionConfig", {{"profile", "locked"}}},
                         {"sdp", offer_with_data_channel()}};
    auto refused_json = app.post("/api/realtime/calls", json::serialize(as_json));
    EXPECT_EQ(refused_json.status, 400);
    EXPECT_EQ(code_of(refused_json), "sdp_policy");

    auto allowed = post_sdp(app, "profile=open", offer_with_data_channel());
    ASSERT_EQ(allowed.status, 201) << allowed.body;
    EXPECT_NE(allowed.body.find("m=application"), std::string::npos);
    EXPECT_EQ(upstream.stats().calls_created, 2U);
}

TEST(Relay, BadOffersAre400InvalidSdp) {
    ExternalEmulator upstream;
    RunningApp app(test_config(
        {{"OPENAI_API_KEY", upstream.key()}, {"OPENAI_BASE_URL", upstream.base_url()}}));
    const auto audio = audio_only_offer();
    for (const auto& offer : {std::string(), std::string("hello"), std::string("{\"sdp\":\"v=0\"}"),
                              audio.substr(0, audio.find("m=audio")),
                              with_line(audio, "m=audio 9 UDP/TLS/RTP/SAVPF 111")}) {
        auto r = post_sdp(app, "", offer);
        EXPECT_EQ(r.status, 400) << offer;
        EXPECT_EQ(code_of(r), "invalid_sdp") << r.body;
        auto b = body_of(r);
        EXPECT_EQ(b.at("success"), false);
        auto j = app.post("/api/realtime/calls", json::serialize(json::object{{"sdp", offer}}));
        EXPECT_EQ(j.status, 400);
        EXPECT_EQ(code_of(j), "invalid_sdp") << j.body;
    }
    auto missing = app.post("/api/realtime/calls", R"({"userId":"u"})");
    EXPECT_EQ(code_of(missing), "invalid_sdp");
    EXPECT_NE(missing.body.find("sdp: is required"), std::string::npos);
    auto text = http_request("127.0.0.1", app.port(), "POST", "/api/realtime/calls", audio,
                             {{"Content-Type", "text/plain"}});
    EXPECT_EQ(text.status, 415);
    auto bad_voice = post_sdp(app, "voice=robot", audio);
    EXPECT_EQ(bad_voice.status, 400);
    EXPECT_NE(bad_voice.body.find("voice: "), std::string::npos) << bad_voice.body;
    EXPECT_EQ(upstream.stats().calls_created, 0U);
}

TEST(Relay, RateLimitsAndQuotasApplyAsForTokens) {
    ExternalEmulator upstream;
    RunningApp app(test_config({{"OPENAI_API_KEY", upstream.key()},
                                {"OPENAI_BASE_URL", upstream.base_url()},
                                {"VOICEGATE_QUOTA_CONCURRENT", "1"},
                                {"VOICEGATE_RATE_USER", "3/min"}}));
    ASSERT_EQ(post_sdp(app, "userId=q", audio_only_offer()).status, 201);
    // One open session at most: a relayed call holds the slot as a token does.
    auto second = post_sdp(app, "userId=q", audio_only_offer());
    EXPECT_EQ(second.status, 403) << second.body;
    EXPECT_EQ(code_of(second), "quota_exhausted");
    auto token = app.post("/api/realtime/token", R"({"userId":"q"})");
    EXPECT_EQ(token.status, 403) << "one quota for both routes";
    auto limited = post_sdp(app, "userId=q", audio_only_offer());
    EXPECT_EQ(limited.status, 429) << limited.body;
    EXPECT_FALSE(limited.header("retry-after").empty());
    EXPECT_FALSE(limited.header("ratelimit-policy").empty());
    EXPECT_EQ(upstream.stats().calls_created, 1U);
}

// An upstream refusal after the session was recorded releases it at once: the user's only
// concurrent slot is free for the next try.
TEST(Relay, UpstreamFailureReleasesTheSession) {
    ExternalEmulator upstream;
    RunningApp app(test_config({{"OPENAI_API_KEY", upstream.key()},
                                {"OPENAI_BASE_URL", upstream.base_url()},
                                {"VOICEGATE_QUOTA_CONCURRENT", "1"}}));
    const auto url = upstream.base_url();  // http://127.0.0.1:PORT/v1
    const auto port = static_cast<std::uint16_t>(
        std::stoi(url.substr(url.rfind(':') + 1, url.rfind('/') - url.rfind(':') - 1)));
    auto faults = http_request("127.0.0.1", port, "POST", "/_emulator/faults",
                               R"({"quota_rate":1})", {{"Content-Type", "application/json"}});
    ASSERT_EQ(faults.status, 200) << faults.body;
    auto failed = post_sdp(app, "userId=f", audio_only_offer());
    EXPECT_EQ(failed.status, 502) << failed.body;
    EXPECT_EQ(code_of(failed), "upstream_error");
    EXPECT_TRUE(failed.header("x-session-id").empty());
    ASSERT_EQ(http_request("127.0.0.1", port, "DELETE", "/_emulator/faults").status, 200);
    auto retried = post_sdp(app, "userId=f", audio_only_offer());
    EXPECT_EQ(retried.status, 201) << retried.body;
}

TEST(Relay, IdentityIsTheJwtSubjectWithAuthOn) {
    ExternalEmulator upstream;
    RunningApp app(test_config({{"OPENAI_API_KEY", upstream.key()},
                                {"OPENAI_BASE_URL", upstream.base_url()},
                                {"JWT_SECRET", kSecret}}));
    EXPECT_EQ(post_sdp(app, "", audio_only_offer()).status, 401);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto jwt = [&](const std::string& sub) {
        return sign_hs256({{"alg", "HS256"}, {"typ", "JWT"}},
                          {{"sub", sub}, {"exp", now + 600}, {"aud", "authenticated"}}, kSecret);
    };
    auto res = post_sdp(app, "userId=pretender", audio_only_offer(),
                        {{"Authorization", "Bearer " + jwt("owner-1")}});
    ASSERT_EQ(res.status, 201) << res.body;
    const auto session = res.header("x-session-id");
    // The owner is the subject, not the userId given: only the subject may end it.
    const std::string end = R"({"sessionId":")" + session + R"(","duration":1})";
    EXPECT_EQ(app.post("/api/realtime/end", end, {{"Authorization", "Bearer " + jwt("pretender")}})
                  .status,
              403);
    EXPECT_EQ(
        app.post("/api/realtime/end", end, {{"Authorization", "Bearer " + jwt("owner-1")}}).status,
        200);
}

TEST(Attach, OwnerChecksAndIdempotence) {
    RunningApp app(test_config({{"JWT_SECRET", kSecret}}));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto as = [&](const std::string& sub) -> Headers {
        return {
            {"Authorization", "Bearer " + sign_hs256({{"alg", "HS256"}, {"typ", "JWT"}},
                                                     {{"sub", sub}, {"exp", now + 600}}, kSecret)}};
    };
    auto token = app.post("/api/realtime/token", "{}", as("alice"));
    ASSERT_EQ(token.status, 200) << token.body;
    const std::string session(body_of(token).at("sessionId").as_string());
    const std::string body =
        R"({"sessionId":")" + session + R"(","callId":"rtc_u0_E4TeWIkEAnw5DOa1vyO18"})";

    EXPECT_EQ(app.post("/api/realtime/attach", body).status, 401);
    auto intruder = app.post("/api/realtime/attach", body, as("mallory"));
    EXPECT_EQ(intruder.status, 403) << intruder.body;
    EXPECT_EQ(code_of(intruder), "forbidden");

    auto ok = app.post("/api/realtime/attach", body, as("alice"));
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(json::parse(ok.body), json::parse(R"({"success":true,"sessionId":")" + session +
                                                R"(","supervised":true})"));
    EXPECT_EQ(ok.body.find("rtc_"), std::string::npos);
    auto again = app.post("/api/realtime/attach", body, as("alice"));
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, ok.body);
    // One supervision: the repeat attached nothing.
    EXPECT_NE(app.get("/metrics").body.find("voicegate_calls_total{how=\"attached\"} 1\n"),
              std::string::npos);

    auto other_call =
        app.post("/api/realtime/attach",
                 R"({"sessionId":")" + session + R"(","callId":"rtc_other"})", as("alice"));
    EXPECT_EQ(other_call.status, 409) << other_call.body;

    auto unknown =
        app.post("/api/realtime/attach",
                 R"({"sessionId":"sess_NoSuchSession000000000","callId":"rtc_x"})", as("alice"));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(code_of(unknown), "session_not_found");

    auto no_call =
        app.post("/api/realtime/attach", R"({"sessionId":")" + session + R"("})", as("alice"));
    EXPECT_EQ(no_call.status, 400);
    EXPECT_NE(no_call.body.find("callId"), std::string::npos) << no_call.body;
    auto bad_call =
        app.post("/api/realtime/attach",
                 R"({"sessionId":")" + session + R"(","callId":"rtc x;drop"})", as("alice"));
    EXPECT_EQ(bad_call.status, 400);
    EXPECT_NE(bad_call.body.find("callId"), std::string::npos);
    EXPECT_EQ(bad_call.body.find("drop"), std::string::npos) << "the bad value is not echoed";
    auto no_session = app.post("/api/realtime/attach", R"({"callId":"rtc_x"})", as("alice"));
    EXPECT_EQ(no_session.status, 400);
    EXPECT_NE(no_session.body.find("sessionId"), std::string::npos);
}

TEST(Attach, AuthOffNeedsNoOwnerAndRefusesAnEndedSession) {
    RunningApp app(test_config());
    auto token = app.post("/api/realtime/token", R"({"userId":"bob"})");
    ASSERT_EQ(token.status, 200);
    const std::string session(body_of(token).at("sessionId").as_string());
    const std::string body = R"({"sessionId":")" + session + R"(","callId":"rtc_1"})";
    EXPECT_EQ(app.post("/api/realtime/attach", body).status, 200);
    auto token2 = app.post("/api/realtime/token", R"({"userId":"bob"})");
    const std::string ended(body_of(token2).at("sessionId").as_string());
    ASSERT_EQ(
        app.post("/api/realtime/end", R"({"sessionId":")" + ended + R"(","duration":3})").status,
        200);
    auto late =
        app.post("/api/realtime/attach", R"({"sessionId":")" + ended + R"(","callId":"rtc_2"})");
    EXPECT_EQ(late.status, 409) << late.body;
}

}  // namespace
}  // namespace voicegate::test
