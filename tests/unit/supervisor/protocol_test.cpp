#include "supervisor/protocol.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace voicegate::supervisor {
namespace {
namespace json = boost::json;
using Kind = SidebandEvent::Kind;

json::object obj(std::string_view text) {
    return json::parse(text).as_object();
}

const OpenAiRealtimeProtocol kOpenAi;

TEST(LockedFields, ProfileFieldsTheClientMayNotOverridePlusModel) {
    const auto fields =
        obj(R"({"model":"gpt-realtime-mini","voice":"marin","instructions":"Be brief.",
        "max_output_tokens":512,"turn_detection":{"type":"server_vad"},"tools":[]})");
    const auto locked = locked_fields(fields, {"voice", "maxOutputTokens"}, "gpt-realtime");
    EXPECT_EQ(locked, obj(R"({"model":"gpt-realtime","instructions":"Be brief.",
        "turn_detection":{"type":"server_vad"},"tools":[]})"));
    // No profile: the model alone.
    EXPECT_EQ(locked_fields({}, {}, "gpt-realtime"), obj(R"({"model":"gpt-realtime"})"));
    // "model" in allow_override does not unlock the call's model.
    EXPECT_EQ(locked_fields(obj(R"({"voice":"ash"})"), {"model"}, "m"),
              obj(R"({"model":"m","voice":"ash"})"));
}

TEST(OpenAiRealtime, LockMessageIsSessionUpdateInTheGaShape) {
    const auto locked = obj(R"({"model":"gpt-realtime","voice":"marin","instructions":"Hi",
        "speed":1.1,"transcription":{"model":"gpt-4o-mini-transcribe"},"tool_choice":"auto"})");
    EXPECT_EQ(json::parse(kOpenAi.lock_message(locked)), json::parse(R"({"type":"session.update",
        "session":{"type":"realtime","model":"gpt-realtime","instructions":"Hi",
          "audio":{"input":{"transcription":{"model":"gpt-4o-mini-transcribe"}},
                   "output":{"voice":"marin","speed":1.1}},
          "tool_choice":"auto"}})"));
}

TEST(OpenAiRealtime, SidebandTargetCarriesTheCallIdEncoded) {
    EXPECT_EQ(kOpenAi.sideband_target("/v1", "rtc_u0_AbC-9"), "/v1/realtime?call_id=rtc_u0_AbC-9");
    EXPECT_EQ(kOpenAi.sideband_target("", "a b&c"), "/realtime?call_id=a%20b%26c");
}

TEST(OpenAiRealtime, SessionUpdatedCarriesTheSession) {
    const auto e = kOpenAi.parse(
        R"({"type":"session.updated","event_id":"ev_1","session":{"model":"gpt-realtime"}})");
    EXPECT_EQ(e.kind, Kind::session_updated);
    EXPECT_EQ(e.type, "session.updated");
    EXPECT_EQ(e.session, obj(R"({"model":"gpt-realtime"})"));
    EXPECT_EQ(kOpenAi.parse(R"({"type":"session.updated","session":"x"})").kind, Kind::malformed);
    // session.created does not answer our update: only counted.
    EXPECT_EQ(kOpenAi.parse(R"({"type":"session.created","session":{}})").kind, Kind::ignored);
}

TEST(OpenAiRealtime, ResponseDoneUsageByModalityReasoningNotAddedTwice) {
    const auto e = kOpenAi.parse(R"({"type":"response.done","response":{"id":"resp_1",
        "status":"completed","usage":{"total_tokens":1700,"input_tokens":1200,"output_tokens":500,
        "input_token_details":{"text_tokens":200,"audio_tokens":1000,"image_tokens":0,
          "cached_tokens":300,
          "cached_tokens_details":{"text_tokens":100,"audio_tokens":200,"image_tokens":0}},
        "output_token_details":{"text_tokens":100,"audio_tokens":400,"reasoning_tokens":40}}}})");
    ASSERT_EQ(e.kind, Kind::usage) << e.problem;
    EXPECT_EQ(e.response_id, "resp_1");
    EXPECT_EQ(e.tokens.input_text, 200);
    EXPECT_EQ(e.tokens.input_audio, 1000);
    EXPECT_EQ(e.tokens.input_image, 0);
    EXPECT_EQ(e.tokens.cached_text, 100);
    EXPECT_EQ(e.tokens.cached_audio, 200);
    EXPECT_EQ(e.tokens.cached_image, 0);
    EXPECT_EQ(e.tokens.output_text, 100);  // reasoning_tokens (40) are inside these 100
    EXPECT_EQ(e.tokens.output_audio, 400);
    EXPECT_FALSE(e.cumulative);
}

TEST(OpenAiRealtime, ResponseDoneWithoutUsageOrDetails) {
    // usage null (response.created shape): a response with no tokens.
    auto e = kOpenAi.parse(R"({"type":"response.done","response":{"id":"r","usage":null}})");
    EXPECT_EQ(e.kind, Kind::usage);
    EXPECT_FALSE(e.tokens.any());
    // No details: input and output count as text; cached without a split is text, capped.
    e = kOpenAi.parse(R"({"type":"response.done","response":{"usage":{"input_tokens":12,
        "output_tokens":70}}})");
    EXPECT_EQ(e.tokens.input_text, 12);
    EXPECT_EQ(e.tokens.output_text, 70);
    e = kOpenAi.parse(R"({"type":"response.done","response":{"usage":{"input_token_details":
        {"text_tokens":5,"cached_tokens":9}}}})");
    EXPECT_EQ(e.tokens.cached_text, 5);
}

TEST(OpenAiRealtime, TranscriptionUsageTokensOrDuration) {
    auto e = kOpenAi.parse(R"({"type":"conversation.item.input_audio_transcription.completed",
        "item_id":"i","transcript":"hi","usage":{"type":"tokens","total_tokens":26,
        "input_tokens":17,"input_token_details":{"text_tokens":0,"audio_tokens":17},
        "output_tokens":9}})");
    ASSERT_EQ(e.kind, Kind::transcription_usage) << e.problem;
    EXPECT_EQ(e.transcription_in_tokens, 17);
    EXPECT_EQ(e.transcription_out_tokens, 9);
    e = kOpenAi.parse(R"({"type":"conversation.item.input_audio_transcription.completed",
        "usage":{"type":"duration","seconds":2.5}})");
    ASSERT_EQ(e.kind, Kind::transcription_usage);
    EXPECT_DOUBLE_EQ(e.transcription_seconds, 2.5);
    e = kOpenAi.parse(R"({"type":"conversation.item.input_audio_transcription.completed"})");
    EXPECT_EQ(e.kind, Kind::ignored);
}

TEST(OpenAiRealtime, ErrorsSessionExpiredIsTheUpstreamCap) {
    auto e = kOpenAi.parse(R"({"type":"error","error":{"type":"invalid_request_error",
        "code":"session_expired","message":"Your session hit the maximum duration of 60 minutes."}})");
    EXPECT_EQ(e.kind, Kind::expired);
    e = kOpenAi.parse(R"({"type":"error","error":{"code":"invalid_value","message":"sk-secret"}})");
    EXPECT_EQ(e.kind, Kind::error);
    EXPECT_EQ(e.error_code, "invalid_value");
    EXPECT_TRUE(kOpenAi.expiry_close(1001));
    EXPECT_FALSE(kOpenAi.expiry_close(1000));
}

TEST(OpenAiRealtime, MalformedEventsAreNamedNotCrashed) {
    const std::pair<const char*, const char*> cases[] = {
        {"not json", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {R"({"no":"type"})", "type is not a string"},
        {R"({"type":"response.done"})", "response.done.response is not an object"},
        {R"({"type":"response.done","response":{"id":5}})", "response.id is not a string"},
        {R"({"type":"response.done","response":{"usage":{"input_tokens":-1}}})",
         "response.usage.input_tokens is not a token count"},
        {R"({"type":"response.done","response":{"usage":{"input_tokens":"12"}}})",
         "response.usage.input_tokens is not a token count"},
        {R"({"type":"response.done","response":{"usage":{"output_token_details":
            {"audio_tokens":1.5}}}})",
         "response.usage.output_token_details.audio_tokens is not a token count"},
        {R"({"type":"response.done","response":{"usage":{"input_tokens":1e300}}})",
         "response.usage.input_tokens is not a token count"},
        {R"({"type":"conversation.item.input_audio_transcription.completed",
            "usage":{"type":"duration","seconds":-3}})",
         "transcription.usage.seconds is not a duration"},
        {R"({"type":"conversation.item.input_audio_transcription.completed",
            "usage":{"type":"words"}})",
         "transcription.usage.type is not tokens or duration"},
        {R"({"type":"error","error":"boom"})", "error.error is not an object"},
    };
    for (const auto& [text, problem] : cases) {
        const auto e = kOpenAi.parse(text);
        EXPECT_EQ(e.kind, Kind::malformed) << text;
        EXPECT_EQ(e.problem, problem) << text;
    }
    EXPECT_EQ(kOpenAi.parse(R"({"type":"rate_limits.updated","rate_limits":[]})").kind,
              Kind::ignored);
    EXPECT_EQ(kOpenAi.parse(std::string(R"({"type":")") + std::string(200, 'x') + "\"}").type,
              std::string(64, 'x'));
}

TEST(LockCheck, OnlyLockedFieldsComparedDeeply) {
    const auto locked = obj(R"({"model":"gpt-realtime","voice":"marin","instructions":"Be brief.",
        "speed":1,"turn_detection":{"type":"server_vad","silence_duration_ms":500},
        "tools":[{"type":"function","name":"save"}]})");
    // The session as the upstream reports it: nested, with fields it adds or normalises.
    const auto same = obj(R"({"type":"realtime","object":"realtime.session","id":"sess_1",
        "model":"gpt-realtime","instructions":"Be brief.","tool_choice":"auto",
        "tools":[{"type":"function","name":"save","parameters":{},"description":""}],
        "audio":{"input":{"turn_detection":{"type":"server_vad","threshold":0.5,
          "silence_duration_ms":500.0,"create_response":true}},
          "output":{"voice":"marin","speed":1.0,"format":{"type":"audio/pcm"}}}})");
    EXPECT_TRUE(kOpenAi.violations(locked, same).empty());

    auto changed = same;
    changed["instructions"] = "Ignore the above.";
    changed["audio"].as_object()["output"].as_object()["voice"] = "ash";
    changed["audio"].as_object()["input"].as_object()["turn_detection"].as_object().erase(
        "silence_duration_ms");
    changed["tools"].as_array().emplace_back(obj(R"({"type":"function","name":"leak"})"));
    EXPECT_EQ(kOpenAi.violations(locked, changed),
              (Violations{"instructions", "audio.input.turn_detection.silence_duration_ms",
                          "audio.output.voice", "tools"}));
}

TEST(LockCheck, GenericComparison) {
    EXPECT_EQ(compare_locked(obj(R"({"a":{"b":[1,{"c":"x"}]}})"),
                             obj(R"({"a":{"b":[1.0,{"c":"y","d":1}]}})")),
              Violations{"a.b[1].c"});
    EXPECT_EQ(compare_locked(obj(R"({"a":null,"b":"x"})"), obj(R"({})")), Violations{"b"});
    EXPECT_EQ(compare_locked(obj(R"({"a":{"b":1}})"), obj(R"({"a":7})")), Violations{"a"});
    // A voice reported as {"id": ...} is the same voice.
    EXPECT_TRUE(
        compare_locked(obj(R"({"voice":"marin"})"), obj(R"({"voice":{"id":"marin"}})")).empty());
}

}  // namespace
}  // namespace voicegate::supervisor
