#include "emulator/validate.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "core/json_text.hpp"

namespace voicegate::emulator {
namespace {
namespace json = boost::json;

// A body whose realtime session holds `fields` (JSON members, without braces).
std::string realtime(const std::string& fields) {
    return R"({"session":{"type":"realtime")" + (fields.empty() ? "" : "," + fields) + "}}";
}

std::string transcription(const std::string& fields) {
    return R"({"session":{"type":"transcription")" + (fields.empty() ? "" : "," + fields) + "}}";
}

ClientSecretParams accept(const std::string& body) {
    auto r = parse_client_secret_body(body);
    EXPECT_TRUE(r) << body << "\n-> " << (r ? "" : r.error().message);
    return r ? *r : ClientSecretParams{};
}

ApiError reject(const std::string& body) {
    auto r = parse_client_secret_body(body);
    EXPECT_FALSE(r) << body;
    return r ? ApiError{} : r.error();
}

json::object effective(const std::string& body) {
    const auto p = accept(body);
    return effective_session(p.session, "sess_test");
}

// ---- accepted bodies and the effective session ----

constexpr const char* kReferenceRequest = R"({
  "expires_after": { "anchor": "created_at", "seconds": 120 },
  "session": {
    "type": "realtime",
    "model": "gpt-realtime-2.1",
    "instructions": "You are a concise support agent for ExampleApp.",
    "output_modalities": ["audio"],
    "max_output_tokens": 1024,
    "audio": {
      "input": {
        "noise_reduction": { "type": "near_field" },
        "transcription": { "model": "gpt-4o-mini-transcribe", "language": "en" },
        "turn_detection": { "type": "semantic_vad", "eagerness": "auto" }
      },
      "output": { "voice": "marin", "speed": 1.0 }
    },
    "tools": [{
      "type": "function", "name": "get_order_status",
      "description": "Look up an order by id.",
      "parameters": { "type": "object", "properties": { "order_id": { "type": "string" } },
                      "required": ["order_id"] }
    }],
    "tool_choice": "auto",
    "truncation": { "type": "retention_ratio", "retention_ratio": 0.8 }
  }
})";

TEST(EmulatorValidate, AcceptsTheReferenceExample) {
    const auto p = accept(kReferenceRequest);
    EXPECT_EQ(p.ttl_seconds, 120);
    EXPECT_EQ(p.type, SessionType::realtime);
}

TEST(EmulatorValidate, EffectiveSessionHasTheReferenceShape) {
    const auto s = effective(kReferenceRequest);
    std::vector<std::string> keys;
    for (const auto& kv : s) {
        keys.emplace_back(kv.key());
    }
    const std::vector<std::string> expected = {"type",
                                               "object",
                                               "id",
                                               "model",
                                               "output_modalities",
                                               "instructions",
                                               "tools",
                                               "tool_choice",
                                               "max_output_tokens",
                                               "tracing",
                                               "truncation",
                                               "prompt",
                                               "expires_at",
                                               "audio",
                                               "include",
                                               "reasoning"};
    EXPECT_EQ(keys, expected);
    EXPECT_EQ(s.at("object"), "realtime.session");
    EXPECT_EQ(s.at("id"), "sess_test");
    EXPECT_EQ(s.at("model"), "gpt-realtime-2.1");
    EXPECT_EQ(s.at("max_output_tokens"), 1024);
    EXPECT_EQ(s.at("expires_at"), 0);
    EXPECT_TRUE(s.at("tracing").is_null());
    EXPECT_TRUE(s.at("prompt").is_null());
    EXPECT_TRUE(s.at("include").is_null());
    EXPECT_EQ(s.at("tools").as_array().size(), 1U);
    EXPECT_EQ(s.at("reasoning").at("effort"), "low");  // gpt-realtime-2.1 is a reasoning model
    const auto& in = s.at("audio").at("input");
    EXPECT_EQ(in.at("format"), (json::object{{"type", "audio/pcm"}, {"rate", 24000}}));
    EXPECT_EQ(in.at("noise_reduction").at("type"), "near_field");
    EXPECT_EQ(in.at("transcription").at("model"), "gpt-4o-mini-transcribe");
    EXPECT_EQ(in.at("turn_detection"), (json::object{{"type", "semantic_vad"},
                                                     {"eagerness", "auto"},
                                                     {"create_response", true},
                                                     {"interrupt_response", true}}));
    const auto& out = s.at("audio").at("output");
    EXPECT_EQ(out.at("voice"), "marin");
    EXPECT_EQ(out.at("speed").as_double(), 1.0);
    EXPECT_EQ(s.at("truncation").at("retention_ratio").as_double(), 0.8);
}

TEST(EmulatorValidate, EffectiveSessionFillsEveryDefault) {
    const auto s = effective(realtime(""));
    EXPECT_EQ(s.at("model"), "gpt-realtime");
    EXPECT_EQ(s.at("instructions"), json::string(kDefaultInstructions));
    EXPECT_EQ(s.at("output_modalities"), (json::array{"audio"}));
    EXPECT_EQ(s.at("tools"), json::array{});
    EXPECT_EQ(s.at("tool_choice"), "auto");
    EXPECT_EQ(s.at("max_output_tokens"), "inf");
    EXPECT_EQ(s.at("truncation"), "auto");
    EXPECT_FALSE(s.contains("reasoning"));
    const auto& in = s.at("audio").at("input");
    EXPECT_TRUE(in.at("transcription").is_null());
    EXPECT_TRUE(in.at("noise_reduction").is_null());
    EXPECT_EQ(in.at("turn_detection"), (json::object{{"type", "server_vad"},
                                                     {"threshold", 0.5},
                                                     {"prefix_padding_ms", 300},
                                                     {"silence_duration_ms", 500},
                                                     {"idle_timeout_ms", nullptr},
                                                     {"create_response", true},
                                                     {"interrupt_response", true}}));
    const auto& out = s.at("audio").at("output");
    EXPECT_EQ(out.at("format"), (json::object{{"type", "audio/pcm"}, {"rate", 24000}}));
    EXPECT_EQ(out.at("voice"), "alloy");
    // Printed as OpenAI does (1.0, 0.5), not Boost's 1E0.
    const std::string text = to_json_text(s);
    EXPECT_NE(text.find(R"("speed":1.0)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"("threshold":0.5)"), std::string::npos) << text;
}

TEST(EmulatorValidate, DefaultsWithoutSessionOrExpiry) {
    const auto p = accept("{}");
    EXPECT_EQ(p.ttl_seconds, 600);
    EXPECT_EQ(p.type, SessionType::realtime);
    const auto q = accept(R"({"expires_after":{"seconds":10}})");
    EXPECT_EQ(q.ttl_seconds, 10);
    EXPECT_EQ(accept(R"({"expires_after":{"anchor":"created_at","seconds":7200}})").ttl_seconds,
              7200);
}

TEST(EmulatorValidate, NullMeansNotGiven) {
    const auto s = effective(realtime(R"("instructions":null,"max_output_tokens":null)"));
    EXPECT_EQ(s.at("instructions"), json::string(kDefaultInstructions));
    EXPECT_EQ(s.at("max_output_tokens"), "inf");
}

TEST(EmulatorValidate, TurnDetectionNullDisablesVadAndServerVadIsFilled) {
    auto s = effective(realtime(R"("audio":{"input":{"turn_detection":null}})"));
    EXPECT_TRUE(s.at("audio").at("input").at("turn_detection").is_null());
    s = effective(
        realtime(R"("audio":{"input":{"turn_detection":{"type":"server_vad","threshold":1,)"
                 R"("idle_timeout_ms":6000}}})"));
    const auto& td = s.at("audio").at("input").at("turn_detection");
    EXPECT_EQ(td.at("threshold").as_double(), 1.0);
    EXPECT_EQ(td.at("idle_timeout_ms"), 6000);
    EXPECT_EQ(td.at("silence_duration_ms"), 500);
}

TEST(EmulatorValidate, AcceptsEveryCurrentModelAndBuiltinVoice) {
    for (const auto model : current_realtime_models()) {
        accept(realtime(R"("model":")" + std::string(model) + "\""));
    }
    for (const auto voice : builtin_voices()) {
        accept(realtime(R"("audio":{"output":{"voice":")" + std::string(voice) + "\"}}"));
    }
    accept(realtime(R"("audio":{"output":{"voice":{"id":"voice_1234"}}})"));
    EXPECT_EQ(builtin_voices().size(), 10U);
}

TEST(EmulatorValidate, AcceptsBoundaryValues) {
    accept(realtime(R"("audio":{"output":{"speed":0.25}})"));
    accept(realtime(R"("audio":{"output":{"speed":1.5}})"));
    accept(realtime(R"("max_output_tokens":1)"));
    accept(realtime(R"("max_output_tokens":4096)"));
    accept(realtime(R"("max_output_tokens":"inf")"));
    accept(realtime(R"("output_modalities":["text"])"));
    accept(realtime(R"("audio":{"input":{"format":{"type":"audio/pcmu"}},)"
                    R"("output":{"format":{"type":"audio/pcma"}}})"));
    accept(realtime(R"("audio":{"input":{"format":{"type":"audio/pcm","rate":24000}}})"));
    accept(realtime(R"("tool_choice":"required")"));
    accept(realtime(R"("tool_choice":{"type":"function","name":"f"})"));
    accept(realtime(R"("tracing":"auto")"));
    accept(realtime(R"("tracing":{"workflow_name":"w","group_id":"g","metadata":{}})"));
    accept(realtime(R"("truncation":"disabled")"));
    accept(realtime(R"("truncation":{"type":"retention_ratio","retention_ratio":0,)"
                    R"("token_limits":{"post_instructions":0}})"));
    accept(realtime(R"("prompt":{"id":"pmpt_1","version":"2","variables":{}})"));
    accept(realtime(R"("include":["item.input_audio_transcription.logprobs"])"));
    accept(realtime(
        R"("tools":[{"type":"mcp","server_label":"docs","server_url":"https://x.example/mcp",)"
        R"("require_approval":"never"}])"));
    accept(realtime(
        R"("model":"gpt-realtime-2","reasoning":{"effort":"high"},"parallel_tool_calls":false)"));
    accept(
        realtime(R"("audio":{"input":{"turn_detection":{"type":"semantic_vad","eagerness":"high",)"
                 R"("create_response":false}}})"));
    accept(realtime(
        R"("audio":{"input":{"transcription":{"model":"whisper-1","language":"de","prompt":"p"},)"
        R"("noise_reduction":{"type":"far_field"}}})"));
}

// ---- rejected bodies: code, param and (where OpenAI's text is known) message ----

struct RejectCase {
    const char* name;
    std::string body;
    const char* code;   // "" = null
    const char* param;  // "" = null
};

class EmulatorValidateRejects : public ::testing::TestWithParam<RejectCase> {};

TEST_P(EmulatorValidateRejects, WithOpenAiCodeAndParam) {
    const auto& c = GetParam();
    const ApiError e = reject(c.body);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.code, c.code) << e.message;
    EXPECT_EQ(e.param, c.param) << e.message;
    EXPECT_FALSE(e.message.empty());
}

const RejectCase kRejects[] = {
    {"NotJson", "{", "", ""},
    {"EmptyBody", "", "", ""},
    {"ArrayBody", "[]", "invalid_type", ""},
    {"UnknownTopLevel", R"({"foo":1})", "unknown_parameter", "foo"},
    {"ExpiresAfterNotObject", R"({"expires_after":600})", "invalid_type", "expires_after"},
    {"UnknownExpiresAfterKey", R"({"expires_after":{"ttl":5}})", "unknown_parameter",
     "expires_after.ttl"},
    {"BadAnchor", R"({"expires_after":{"anchor":"now"}})", "invalid_value", "expires_after.anchor"},
    {"SecondsTooLow", R"({"expires_after":{"seconds":9}})", "integer_below_min_value",
     "expires_after.seconds"},
    {"SecondsTooHigh", R"({"expires_after":{"seconds":7201}})", "integer_above_max_value",
     "expires_after.seconds"},
    {"SecondsHuge", R"({"expires_after":{"seconds":18446744073709551615}})",
     "integer_above_max_value", "expires_after.seconds"},
    {"SecondsString", R"({"expires_after":{"seconds":"600"}})", "invalid_type",
     "expires_after.seconds"},
    {"SecondsDecimal", R"({"expires_after":{"seconds":600.5}})", "invalid_type",
     "expires_after.seconds"},
    {"SessionNotObject", R"({"session":"realtime"})", "invalid_type", "session"},
    {"SessionTypeMissing", R"({"session":{"model":"gpt-realtime"}})", "missing_required_parameter",
     "session.type"},
    {"SessionTypeUnknown", R"({"session":{"type":"translation"}})", "invalid_value",
     "session.type"},
    {"ModelUnknown", realtime(R"("model":"gpt-5")"), "model_not_found", "session.model"},
    {"ModelNotString", realtime(R"("model":42)"), "invalid_type", "session.model"},
    {"ModelGpt4oPreview", realtime(R"("model":"gpt-4o-realtime-preview")"), "model_not_found",
     "session.model"},
    {"ModelGpt4oPreviewSnapshot", realtime(R"("model":"gpt-4o-realtime-preview-2024-12-17")"),
     "model_not_found", "session.model"},
    {"ModelGpt4oPreview0603", realtime(R"("model":"gpt-4o-realtime-preview-2025-06-03")"),
     "model_not_found", "session.model"},
    {"ModelMiniPreview", realtime(R"("model":"gpt-4o-mini-realtime-preview-2024-12-17")"),
     "model_not_found", "session.model"},
    {"ModelMini20251006", realtime(R"("model":"gpt-realtime-mini-2025-10-06")"), "model_not_found",
     "session.model"},
    {"ModelGptAudio", realtime(R"("model":"gpt-audio-mini")"), "model_not_found", "session.model"},
    {"ModelGptAudio15", realtime(R"("model":"gpt-audio-1.5")"), "model_not_found", "session.model"},
    {"InstructionsNotString", realtime(R"("instructions":5)"), "invalid_type",
     "session.instructions"},
    {"ModalitiesBoth", realtime(R"("output_modalities":["audio","text"])"),
     "array_above_max_length", "session.output_modalities"},
    {"ModalitiesEmpty", realtime(R"("output_modalities":[])"), "empty_array",
     "session.output_modalities"},
    {"ModalitiesBadValue", realtime(R"("output_modalities":["video"])"), "invalid_value",
     "session.output_modalities[0]"},
    {"ModalitiesString", realtime(R"("output_modalities":"audio")"), "invalid_type",
     "session.output_modalities"},
    {"FormatString", realtime(R"("audio":{"input":{"format":"pcm16"}})"), "invalid_type",
     "session.audio.input.format"},
    {"FormatNoType", realtime(R"("audio":{"input":{"format":{}}})"), "missing_required_parameter",
     "session.audio.input.format.type"},
    {"FormatBadType", realtime(R"("audio":{"output":{"format":{"type":"audio/mp3"}}})"),
     "invalid_value", "session.audio.output.format.type"},
    {"FormatBadRate", realtime(R"("audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}})"),
     "invalid_value", "session.audio.input.format.rate"},
    {"FormatRateOnPcmu",
     realtime(R"("audio":{"input":{"format":{"type":"audio/pcmu","rate":8000}}})"),
     "unknown_parameter", "session.audio.input.format.rate"},
    {"VoiceOnyx", realtime(R"("audio":{"output":{"voice":"onyx"}})"), "invalid_value",
     "session.audio.output.voice"},
    {"VoiceFable", realtime(R"("audio":{"output":{"voice":"fable"}})"), "invalid_value",
     "session.audio.output.voice"},
    {"VoiceNova", realtime(R"("audio":{"output":{"voice":"nova"}})"), "invalid_value",
     "session.audio.output.voice"},
    {"VoiceNumber", realtime(R"("audio":{"output":{"voice":3}})"), "invalid_type",
     "session.audio.output.voice"},
    {"VoiceObjectWithoutId", realtime(R"("audio":{"output":{"voice":{}}})"),
     "missing_required_parameter", "session.audio.output.voice.id"},
    {"SpeedTooLow", realtime(R"("audio":{"output":{"speed":0.2}})"), "decimal_below_min_value",
     "session.audio.output.speed"},
    {"SpeedTooHigh", realtime(R"("audio":{"output":{"speed":1.6}})"), "decimal_above_max_value",
     "session.audio.output.speed"},
    {"SpeedString", realtime(R"("audio":{"output":{"speed":"fast"}})"), "invalid_type",
     "session.audio.output.speed"},
    {"MaxTokensZero", realtime(R"("max_output_tokens":0)"), "integer_below_min_value",
     "session.max_output_tokens"},
    {"MaxTokensTooHigh", realtime(R"("max_output_tokens":4097)"), "integer_above_max_value",
     "session.max_output_tokens"},
    {"MaxTokensBadString", realtime(R"("max_output_tokens":"infinite")"), "invalid_value",
     "session.max_output_tokens"},
    {"MaxTokensDecimal", realtime(R"("max_output_tokens":1.5)"), "invalid_type",
     "session.max_output_tokens"},
    {"Temperature", realtime(R"("temperature":0.8)"), "unknown_parameter", "session.temperature"},
    {"BetaVoiceField", realtime(R"("voice":"alloy")"), "unknown_parameter", "session.voice"},
    {"BetaModalities", realtime(R"("modalities":["audio","text"])"), "unknown_parameter",
     "session.modalities"},
    {"UnknownSessionField", realtime(R"("foo":true)"), "unknown_parameter", "session.foo"},
    {"UnknownAudioField", realtime(R"("audio":{"outputs":{}})"), "unknown_parameter",
     "session.audio.outputs"},
    {"UnknownOutputField", realtime(R"("audio":{"output":{"volume":1}})"), "unknown_parameter",
     "session.audio.output.volume"},
    {"TurnDetectionNoType", realtime(R"("audio":{"input":{"turn_detection":{}}})"),
     "missing_required_parameter", "session.audio.input.turn_detection.type"},
    {"TurnDetectionBadType", realtime(R"("audio":{"input":{"turn_detection":{"type":"vad"}}})"),
     "invalid_value", "session.audio.input.turn_detection.type"},
    {"TurnDetectionString", realtime(R"("audio":{"input":{"turn_detection":"server_vad"}})"),
     "invalid_type", "session.audio.input.turn_detection"},
    {"ServerVadEagerness",
     realtime(R"("audio":{"input":{"turn_detection":{"type":"server_vad","eagerness":"low"}}})"),
     "unknown_parameter", "session.audio.input.turn_detection.eagerness"},
    {"ServerVadThreshold",
     realtime(R"("audio":{"input":{"turn_detection":{"type":"server_vad","threshold":1.5}}})"),
     "decimal_above_max_value", "session.audio.input.turn_detection.threshold"},
    {"ServerVadIdleTimeout",
     realtime(
         R"("audio":{"input":{"turn_detection":{"type":"server_vad","idle_timeout_ms":1000}}})"),
     "integer_below_min_value", "session.audio.input.turn_detection.idle_timeout_ms"},
    {"ServerVadPadding",
     realtime(
         R"("audio":{"input":{"turn_detection":{"type":"server_vad","prefix_padding_ms":-1}}})"),
     "integer_below_min_value", "session.audio.input.turn_detection.prefix_padding_ms"},
    {"SemanticVadEagerness",
     realtime(
         R"("audio":{"input":{"turn_detection":{"type":"semantic_vad","eagerness":"eager"}}})"),
     "invalid_value", "session.audio.input.turn_detection.eagerness"},
    {"SemanticVadThreshold",
     realtime(R"("audio":{"input":{"turn_detection":{"type":"semantic_vad","threshold":0.5}}})"),
     "unknown_parameter", "session.audio.input.turn_detection.threshold"},
    {"CreateResponseNotBool",
     realtime(
         R"("audio":{"input":{"turn_detection":{"type":"semantic_vad","create_response":1}}})"),
     "invalid_type", "session.audio.input.turn_detection.create_response"},
    {"NoiseReductionBad", realtime(R"("audio":{"input":{"noise_reduction":{"type":"loud"}}})"),
     "invalid_value", "session.audio.input.noise_reduction.type"},
    {"TranscriptionModelBad",
     realtime(R"("audio":{"input":{"transcription":{"model":"whisper-2"}}})"), "invalid_value",
     "session.audio.input.transcription.model"},
    {"ToolsNotArray", realtime(R"("tools":{})"), "invalid_type", "session.tools"},
    {"ToolNotObject", realtime(R"("tools":[1])"), "invalid_type", "session.tools[0]"},
    {"ToolNoType", realtime(R"("tools":[{"name":"f"}])"), "missing_required_parameter",
     "session.tools[0].type"},
    {"ToolBadType", realtime(R"("tools":[{"type":"code_interpreter"}])"), "invalid_value",
     "session.tools[0].type"},
    {"ToolNoName", realtime(R"("tools":[{"type":"function"}])"), "missing_required_parameter",
     "session.tools[0].name"},
    {"ToolBadName", realtime(R"("tools":[{"type":"function","name":"has space"}])"),
     "invalid_value", "session.tools[0].name"},
    {"ToolUnknownField",
     realtime(
         R"("tools":[{"type":"function","name":"a"},{"type":"function","name":"b","meta":{}}])"),
     "unknown_parameter", "session.tools[1].meta"},
    {"ToolParametersNotObject",
     realtime(R"("tools":[{"type":"function","name":"f","parameters":"x"}])"), "invalid_type",
     "session.tools[0].parameters"},
    {"McpToolNoServer", realtime(R"("tools":[{"type":"mcp","server_label":"x"}])"),
     "missing_required_parameter", "session.tools[0].server_url"},
    {"ToolChoiceBad", realtime(R"("tool_choice":"sometimes")"), "invalid_value",
     "session.tool_choice"},
    {"ToolChoiceFunctionNoName", realtime(R"("tool_choice":{"type":"function"})"),
     "missing_required_parameter", "session.tool_choice.name"},
    {"ReasoningOnNonReasoningModel", realtime(R"("reasoning":{"effort":"low"})"),
     "unsupported_parameter", "session.reasoning"},
    {"ParallelToolCallsOnNonReasoningModel", realtime(R"("parallel_tool_calls":true)"),
     "unsupported_parameter", "session.parallel_tool_calls"},
    {"ReasoningBadEffort", realtime(R"("model":"gpt-realtime-2","reasoning":{"effort":"max"})"),
     "invalid_value", "session.reasoning.effort"},
    {"TracingBad", realtime(R"("tracing":"manual")"), "invalid_value", "session.tracing"},
    {"TruncationBadRatio",
     realtime(R"("truncation":{"type":"retention_ratio","retention_ratio":1.2})"),
     "decimal_above_max_value", "session.truncation.retention_ratio"},
    {"TruncationNoRatio", realtime(R"("truncation":{"type":"retention_ratio"})"),
     "missing_required_parameter", "session.truncation.retention_ratio"},
    {"PromptNoId", realtime(R"("prompt":{"version":"1"})"), "missing_required_parameter",
     "session.prompt.id"},
    {"IncludeBad", realtime(R"("include":["everything"])"), "invalid_value", "session.include[0]"},
    // Transcription sessions take only their own fields.
    {"TranscriptionModel", transcription(R"("model":"gpt-realtime")"), "unknown_parameter",
     "session.model"},
    {"TranscriptionInstructions", transcription(R"("instructions":"x")"), "unknown_parameter",
     "session.instructions"},
    {"TranscriptionAudioOutput", transcription(R"("audio":{"output":{"voice":"alloy"}})"),
     "unknown_parameter", "session.audio.output"},
    {"TranscriptionBadModel",
     transcription(R"("audio":{"input":{"transcription":{"model":"gpt-realtime"}}})"),
     "invalid_value", "session.audio.input.transcription.model"},
    {"WhisperNeedsNoVad",
     transcription(R"("audio":{"input":{"transcription":{"model":"gpt-realtime-whisper"},)"
                   R"("turn_detection":{"type":"server_vad"}}})"),
     "invalid_value", "session.audio.input.turn_detection"},
    {"DelayOnlyWithWhisper",
     transcription(R"("audio":{"input":{"transcription":{"model":"whisper-1","delay":"low"}}})"),
     "unsupported_parameter", "session.audio.input.transcription.delay"},
};

INSTANTIATE_TEST_SUITE_P(Cases, EmulatorValidateRejects, ::testing::ValuesIn(kRejects),
                         [](const auto& c) { return std::string(c.param.name); });

// ---- exact messages where OpenAI's wording is known ----

TEST(EmulatorValidate, MessagesUseOpenAiWording) {
    EXPECT_EQ(reject(R"({"foo":1})").message, "Unknown parameter: 'foo'.");
    EXPECT_EQ(reject(realtime(R"("temperature":0.8)")).message,
              "Unknown parameter: 'session.temperature'.");
    EXPECT_EQ(reject(R"({"session":{}})").message, "Missing required parameter: 'session.type'.");
    EXPECT_EQ(reject(R"({"expires_after":{"seconds":9}})").message,
              "Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= "
              "10, but got 9 instead.");
    EXPECT_EQ(reject(R"({"expires_after":{"seconds":7201}})").message,
              "Invalid 'expires_after.seconds': integer above maximum value. Expected a value <= "
              "7200, but got 7201 instead.");
    EXPECT_EQ(reject(realtime(R"("audio":{"input":{"format":"pcm16"}})")).message,
              "Invalid type for 'session.audio.input.format': expected an object, but got a "
              "string instead.");
    EXPECT_EQ(reject(realtime(R"("audio":{"output":{"voice":"onyx"}})")).message,
              "Invalid value: 'onyx'. Supported values are: 'alloy', 'ash', 'ballad', 'coral', "
              "'echo', 'sage', 'shimmer', 'verse', 'marin', and 'cedar'.");
    EXPECT_EQ(reject(R"({"expires_after":{"anchor":"now"}})").message,
              "Invalid value: 'now'. Supported values are: 'created_at'.");
    EXPECT_EQ(reject(realtime(R"("audio":{"output":{"speed":1.6}})")).message,
              "Invalid 'session.audio.output.speed': decimal above maximum value. Expected a "
              "value <= 1.5, but got 1.6 instead.");
    EXPECT_EQ(reject("{").message.rfind("We could not parse the JSON body of your request.", 0),
              0U);
    EXPECT_NE(reject(realtime(R"("model":"gpt-4o-realtime-preview-2024-12-17")"))
                  .message.find("has been deprecated"),
              std::string::npos);
}

TEST(EmulatorValidate, ErrorBodyHasAllFourKeysWithNulls) {
    ApiError e;
    e.message = "m";
    const auto body = error_body(e);
    const auto& inner = body.at("error").as_object();
    EXPECT_EQ(inner.size(), 4U);
    EXPECT_EQ(inner.at("message"), "m");
    EXPECT_EQ(inner.at("type"), "invalid_request_error");
    EXPECT_TRUE(inner.at("param").is_null());
    EXPECT_TRUE(inner.at("code").is_null());
}

TEST(EmulatorValidate, TranscriptionSessions) {
    const auto p =
        accept(transcription(R"("audio":{"input":{"format":{"type":"audio/pcm","rate":24000},)"
                             R"("transcription":{"model":"gpt-4o-transcribe","language":"en"},)"
                             R"("noise_reduction":{"type":"near_field"}}},)"
                             R"("include":["item.input_audio_transcription.logprobs"])"));
    EXPECT_EQ(p.type, SessionType::transcription);
    const auto s = effective_session(p.session, "sess_t");
    EXPECT_EQ(s.at("object"), "realtime.transcription_session");
    EXPECT_EQ(s.at("type"), "transcription");
    EXPECT_EQ(s.at("id"), "sess_t");
    EXPECT_FALSE(s.contains("model"));
    EXPECT_FALSE(s.at("audio").as_object().contains("output"));
    EXPECT_EQ(s.at("audio").at("input").at("turn_detection").at("type"), "server_vad");

    // gpt-realtime-whisper: turn detection is off by default and may be given as null.
    const auto w = accept(transcription(
        R"("audio":{"input":{"transcription":{"model":"gpt-realtime-whisper","delay":"minimal"},)"
        R"("turn_detection":null}})"));
    EXPECT_TRUE(
        effective_session(w.session, "s").at("audio").at("input").at("turn_detection").is_null());
    const auto w2 = accept(
        transcription(R"("audio":{"input":{"transcription":{"model":"gpt-realtime-whisper"}}})"));
    EXPECT_TRUE(
        effective_session(w2.session, "s").at("audio").at("input").at("turn_detection").is_null());
}

TEST(EmulatorValidate, ValidateSessionStandsAlone) {
    // As used for the multipart `session` part of /v1/realtime/calls.
    EXPECT_TRUE(validate_session(json::parse(R"({"type":"realtime","model":"gpt-realtime"})")));
    const auto r = validate_session(json::parse(R"({"type":"realtime","voice":"x"})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().param, "session.voice");
    EXPECT_EQ(validate_session(json::parse("[]")).error().code, "invalid_type");
}

TEST(EmulatorValidate, ModelStatus) {
    EXPECT_EQ(realtime_model_status("gpt-realtime"), ModelStatus::current);
    EXPECT_EQ(realtime_model_status("gpt-realtime-2.1-mini"), ModelStatus::current);
    EXPECT_EQ(realtime_model_status("gpt-4o-realtime-preview-2024-10-01"), ModelStatus::retired);
    EXPECT_EQ(realtime_model_status("gpt-4o-mini-realtime-preview"), ModelStatus::retired);
    EXPECT_EQ(realtime_model_status("gpt-audio-mini-2025-12-15"), ModelStatus::not_realtime);
    EXPECT_EQ(realtime_model_status("gpt-4o"), ModelStatus::unknown);
    EXPECT_TRUE(is_reasoning_model("gpt-realtime-2"));
    EXPECT_FALSE(is_reasoning_model("gpt-realtime-1.5"));
}

TEST(EmulatorValidate, JsonContentType) {
    EXPECT_FALSE(check_json_content_type(std::nullopt));
    EXPECT_FALSE(check_json_content_type("application/json"));
    EXPECT_FALSE(check_json_content_type("Application/JSON; charset=utf-8"));
    const auto e = check_json_content_type("text/plain");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, "unsupported_content_type");
    EXPECT_EQ(e->status, 400);
}

TEST(EmulatorJsonText, MatchesBoostExceptForDoubles) {
    const auto v = json::parse(R"({"a":[1,-2,"x\"y",true,null],"b":{"c":18446744073709551615}})");
    EXPECT_EQ(to_json_text(v), json::serialize(v));
    EXPECT_EQ(to_json_text(json::value(1.0)), "1.0");
    EXPECT_EQ(to_json_text(json::value(0.25)), "0.25");
    EXPECT_EQ(to_json_text(json::value(1e-7)), "1e-07");
    EXPECT_EQ(json::parse(to_json_text(json::value(123456.789))).as_double(), 123456.789);
}

}  // namespace
}  // namespace voicegate::emulator
