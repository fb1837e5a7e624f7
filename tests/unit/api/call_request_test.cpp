// The pure side of the SDP relay and attach: offer checks, both request forms, attach bodies,
// the safety identifier.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/call_request.hpp"
#include "api/calls_handler.hpp"
#include "support/config_from_env.hpp"
#include "unit/api/relay_offers.hpp"

namespace voicegate::api {
namespace {
namespace json = boost::json;
using test::audio_only_offer;
using test::offer_with_data_channel;
using test::with_line;

std::string code_of(const Result<void>& r) {
    return r ? "ok" : std::string(error_info(r.error().code).code);
}

TEST(SdpOfferCheck, AcceptsOneActiveAudioLineWithOrWithoutADataChannel) {
    EXPECT_EQ(code_of(check_sdp_offer(audio_only_offer(), true)), "ok");
    EXPECT_EQ(code_of(check_sdp_offer(audio_only_offer(), false)), "ok");
    EXPECT_EQ(code_of(check_sdp_offer(offer_with_data_channel(), true)), "ok");
    // LF line ends are SDP too.
    std::string lf = audio_only_offer();
    std::erase(lf, '\r');
    EXPECT_EQ(code_of(check_sdp_offer(lf, false)), "ok");
}

TEST(SdpOfferCheck, RefusesWhatIsNotOneActiveAudioLine) {
    const std::string audio = audio_only_offer();
    const std::string no_audio = audio.substr(0, audio.find("m=audio"));
    const struct {
        const char* name;
        std::string sdp;
    } cases[] = {
        {"empty", ""},
        {"json", R"({"sdp":"v=0"})"},
        {"not v=0 first", "o=- 1 2 IN IP4 127.0.0.1\r\nv=0\r\n"},
        {"malformed line", "v=0\r\nthis is not sdp\r\n"},
        {"no media", no_audio},
        {"audio disabled",
         [&] {
             auto s = audio;
             s.replace(s.find("m=audio 9"), 9, "m=audio 0");
             return s;
         }()},
        {"two audio lines", with_line(audio, "m=audio 9 UDP/TLS/RTP/SAVPF 111")},
        {"short m= line", with_line(audio, "m=video 9")},
    };
    for (const auto& c : cases) {
        for (const bool allow : {true, false}) {
            auto r = check_sdp_offer(c.sdp, allow);
            ASSERT_FALSE(r) << c.name;
            EXPECT_EQ(code_of(r), "invalid_sdp") << c.name;
            EXPECT_EQ(r.error().status(), 400) << c.name;
            EXPECT_TRUE(r.error().public_message().starts_with("sdp: ")) << c.name;
        }
    }
}

TEST(SdpOfferCheck, DenyRefusesAnyOtherMediaLine) {
    for (const auto& sdp : {offer_with_data_channel(),
                            with_line(audio_only_offer(), "m=video 9 UDP/TLS/RTP/SAVPF 96"),
                            with_line(audio_only_offer(), "m=audio 0 UDP/TLS/RTP/SAVPF 111")}) {
        auto r = check_sdp_offer(sdp, false);
        ASSERT_FALSE(r);
        EXPECT_EQ(code_of(r), "sdp_policy");
        EXPECT_EQ(r.error().status(), 400);
        EXPECT_EQ(code_of(check_sdp_offer(sdp, true)), "ok");
    }
}

TEST(SdpOfferCheck, AnOfferOver64KiBIsTooLarge) {
    std::string big = audio_only_offer();
    while (big.size() <= kMaxOfferBytes) {
        big += "a=x-padding:" + std::string(200, 'p') + "\r\n";
    }
    auto r = check_sdp_offer(big, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status(), 413);
}

http::Request request(std::string content_type, std::string body, std::string query = {}) {
    http::Request r;
    r.method = "POST";
    r.path = "/api/realtime/calls";
    r.query = std::move(query);
    r.headers = {{"content-type", std::move(content_type)}};
    r.body = std::move(body);
    return r;
}

TEST(CallRequest, SdpFormTakesTheOfferAsIsAndTheConfigFromTheQuery) {
    const auto policy = test::config_from_env().tokens;
    const auto offer = audio_only_offer();
    auto p = parse_call_request(
        request("application/sdp", offer, "model=gpt-realtime&voice=marin&userId=u%2042"), policy);
    ASSERT_TRUE(p) << p.error().public_message();
    EXPECT_EQ(p->sdp, offer);
    EXPECT_FALSE(p->json_form);
    EXPECT_EQ(p->session.model, "gpt-realtime");
    EXPECT_EQ(p->session.voice, "marin");
    EXPECT_EQ(p->session.user_id, "u 42");

    auto plain = parse_call_request(request("application/sdp; charset=utf-8", offer), policy);
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->session.user_id, "anonymous");
    EXPECT_EQ(plain->session.model, policy.default_model);
}

TEST(CallRequest, SdpFormNamesTheBadQueryParameter) {
    const auto policy = test::config_from_env().tokens;
    const struct {
        const char* query;
        const char* named;
    } cases[] = {
        {"voice=nobody", "voice: "},          {"model=gpt-nope", "model: "},
        {"profile=missing", "profile: "},     {"instructions=hi", "instructions"},
        {"voice=alloy&voice=marin", "voice"},
    };
    for (const auto& c : cases) {
        auto p =
            parse_call_request(request("application/sdp", audio_only_offer(), c.query), policy);
        ASSERT_FALSE(p) << c.query;
        EXPECT_EQ(p.error().status(), 400) << c.query;
        EXPECT_NE(std::string(p.error().public_message()).find(c.named), std::string::npos)
            << c.query << ": " << p.error().public_message();
    }
}

TEST(CallRequest, JsonFormIsATokenBodyPlusTheOffer) {
    const auto policy = test::config_from_env().tokens;
    json::object body{{"userId", "user_12345"},
                      {"sessionConfig",
                       {{"model", "gpt-4o-realtime-preview-2024-12-17"},
                        {"voice", "alloy"},
                        {"temperature", 0.8}}},
                      {"sdp", audio_only_offer()}};
    auto p = parse_call_request(request("application/json", json::serialize(body)), policy);
    ASSERT_TRUE(p) << p.error().public_message();
    EXPECT_TRUE(p->json_form);
    EXPECT_EQ(p->sdp, audio_only_offer());
    EXPECT_EQ(p->session.user_id, "user_12345");
    EXPECT_EQ(p->session.model, "gpt-realtime");  // the alias, as /token maps it
    EXPECT_EQ(p->session.warnings.size(), 1U);    // temperature, as /token warns

    const struct {
        std::string body;
        const char* code;
        const char* named;
    } bad[] = {
        {R"({"userId":"u"})", "invalid_sdp", "sdp: is required"},
        {R"({"sdp":5})", "invalid_sdp", "sdp: must be a string"},
        {R"({"sdp":"v=0","extra":1})", "bad_request", "allowed: userId, sessionConfig, sdp"},
        {R"({"sdp":"v=0","sessionConfig":{"voice":"x"}})", "bad_request", "sessionConfig.voice"},
        {R"([1])", "invalid_json", ""},
    };
    for (const auto& c : bad) {
        auto r = parse_call_request(request("application/json", c.body), policy);
        ASSERT_FALSE(r) << c.body;
        EXPECT_EQ(error_info(r.error().code).code, c.code) << c.body;
        EXPECT_NE(std::string(r.error().public_message()).find(c.named), std::string::npos)
            << c.body << ": " << r.error().public_message();
    }
}

TEST(CallRequest, OtherContentTypesAre415) {
    const auto policy = test::config_from_env().tokens;
    for (const char* type : {"text/plain", "multipart/form-data; boundary=x", ""}) {
        auto r = parse_call_request(request(type, audio_only_offer()), policy);
        ASSERT_FALSE(r) << type;
        EXPECT_EQ(r.error().status(), 415) << type;
    }
}

TEST(CallRequest, ProfilesDecideMediaAndCap) {
    config::Sources s;
    s.toml_text = R"([profiles.locked]
instructions = "x"
data_channel = "deny"
max_minutes = 5
on_violation = "hangup"
[profiles.open]
voice = "marin"
[profiles.short]
max_minutes = 0.05
)";
    auto loaded = config::load_config(s);
    ASSERT_TRUE(loaded.config) << loaded.errors.at(0);
    const auto& policy = loaded.config->tokens;
    EXPECT_FALSE(allows_other_media(policy, "locked"));
    EXPECT_TRUE(allows_other_media(policy, "open"));
    EXPECT_TRUE(allows_other_media(policy, ""));
    EXPECT_EQ(call_cap_ms(policy, "locked", 1'800'000), 300'000);
    EXPECT_EQ(call_cap_ms(policy, "open", 1'800'000), 1'800'000);
    EXPECT_EQ(call_cap_ms(policy, "short", 1'800'000), 3'000);  // fractions of a minute
    EXPECT_EQ(policy.find_profile("locked")->on_violation, "hangup");
    EXPECT_EQ(policy.find_profile("open")->on_violation, "reapply");
    EXPECT_EQ(policy.find_profile("open")->data_channel, "allow");
}

TEST(CallRequest, ProfileCallSettingsAreValidated) {
    for (const char* bad : {R"(data_channel = "maybe")", R"(on_violation = "ignore")",
                            "max_minutes = -3", "max_minutes = 100000", "max_minutes = 0.001",
                            R"(max_minutes = "5")", "data_channel = 1"}) {
        config::Sources s;
        s.toml_text = std::string("[profiles.p]\n") + bad + "\n";
        auto loaded = config::load_config(s);
        EXPECT_FALSE(loaded.config) << bad;
        ASSERT_FALSE(loaded.errors.empty()) << bad;
        EXPECT_NE(loaded.errors[0].find("profiles.p."), std::string::npos) << loaded.errors[0];
    }
}

TEST(AttachRequest, NeedsBothIdsWellFormed) {
    auto ok = parse_attach_request(
        json::parse(R"({"sessionId":"sess_C9CiUVUzUzYIssh3ELY1d","callId":"rtc_u0_E4TeWIkEAnw5"})")
            .as_object());
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->session_id, "sess_C9CiUVUzUzYIssh3ELY1d");
    EXPECT_EQ(ok->call_id, "rtc_u0_E4TeWIkEAnw5");
    const struct {
        const char* body;
        const char* named;
    } bad[] = {
        {R"({"callId":"rtc_1"})", "sessionId: is required"},
        {R"({"sessionId":"sess_1"})", "callId: is required"},
        {R"({"sessionId":"sess_1","callId":"rtc_1/../x"})", "callId: must be"},
        {R"({"sessionId":"sess_1","callId":""})", "callId: must be"},
        {R"({"sessionId":"sess_1","callId":7})", "callId: must be"},
        {R"({"sessionId":"","callId":"rtc_1"})", "sessionId: must be"},
        {R"({"sessionId":"sess_1","callId":"rtc_1","x":1})", "x: unknown field"},
    };
    for (const auto& c : bad) {
        auto r = parse_attach_request(json::parse(c.body).as_object());
        ASSERT_FALSE(r) << c.body;
        EXPECT_EQ(r.error().status(), 400);
        EXPECT_NE(std::string(r.error().public_message()).find(c.named), std::string::npos)
            << c.body << ": " << r.error().public_message();
        EXPECT_EQ(std::string(r.error().public_message()).find("../x"), std::string::npos);
    }
}

TEST(SafetyIdentifier, KeyedStablePerUserAndNeverTheRawId) {
    const std::string key = "0123456789abcdef-key";
    const auto a = safety_identifier(key, "user_12345");
    EXPECT_EQ(a.size(), 64U);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(a, safety_identifier(key, "user_12345"));
    EXPECT_NE(a, safety_identifier(key, "user_12346"));
    EXPECT_NE(a, safety_identifier("another-key-0123456789", "user_12345"));
    EXPECT_EQ(a.find("user_12345"), std::string::npos);
    // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
    EXPECT_EQ(safety_identifier("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    config::UpstreamConfig up;
    up.api_key = "sk-one";
    const auto derived = safety_key_from(up);
    EXPECT_EQ(derived.find("sk-one"), std::string::npos);
    up.api_key = "sk-two";
    EXPECT_NE(safety_key_from(up), derived) << "rotating the key rotates the identifiers";
    up.safety_id_key = "explicit-key-0123456789";
    EXPECT_EQ(safety_key_from(up), "explicit-key-0123456789");
}

}  // namespace
}  // namespace voicegate::api
