#include "emulator/realtime_events.hpp"

#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "emulator/options.hpp"

namespace voicegate::emulator {
namespace {
namespace json = boost::json;

json::object obj(std::string_view text) {
    return json::parse(text).as_object();
}

TEST(RealtimeEvents, CallSessionIdSharesTheCallSuffix) {
    EXPECT_EQ(call_session_id("rtc_u0_E4TeWIkEAnw5DOa1vyO18"), "sess_u0_E4TeWIkEAnw5DOa1vyO18");
    EXPECT_EQ(call_session_id("other"), "sess_other");
}

TEST(SessionMerge, ChangesOnlyTheGivenFieldsAndMergesObjects) {
    const json::object current = obj(
        R"({"type":"realtime","model":"gpt-realtime","instructions":"be brief",
            "audio":{"output":{"voice":"marin","speed":1.1}}})");
    auto merged = merge_session_update(
        current, json::parse(R"({"type":"realtime","audio":{"output":{"speed":1.2}},
                                 "max_output_tokens":200})"));
    ASSERT_TRUE(merged) << merged.error().message;
    EXPECT_EQ(merged->at("instructions"), "be brief");
    EXPECT_EQ(merged->at("audio").at("output").at("voice"), "marin");
    EXPECT_EQ(merged->at("audio").at("output").at("speed").as_double(), 1.2);
    EXPECT_EQ(merged->at("max_output_tokens"), 200);
    EXPECT_EQ(merged->at("model"), "gpt-realtime");
}

TEST(SessionMerge, TypeMayBeLeftOutAndTheSameModelIsFine) {
    const json::object current = obj(R"({"type":"realtime","model":"gpt-realtime"})");
    auto merged = merge_session_update(
        current, json::parse(R"({"model":"gpt-realtime","instructions":"x"})"));
    ASSERT_TRUE(merged) << merged.error().message;
    EXPECT_EQ(merged->at("instructions"), "x");
    EXPECT_EQ(merged->at("type"), "realtime");
}

TEST(SessionMerge, AnObjectWhoseTypeChangesIsReplacedWhole) {
    const json::object current = obj(
        R"({"type":"realtime","audio":{"input":{"turn_detection":{"type":"server_vad",
            "threshold":0.7}}}})");
    auto merged = merge_session_update(
        current, json::parse(R"({"audio":{"input":{"turn_detection":{"type":"semantic_vad"}}}})"));
    ASSERT_TRUE(merged) << merged.error().message;
    const auto& td = merged->at("audio").at("input").at("turn_detection").as_object();
    EXPECT_EQ(td.at("type"), "semantic_vad");
    EXPECT_FALSE(td.contains("threshold"));
}

TEST(SessionMerge, RefusesAModelChangeATypeChangeAndInvalidFields) {
    const json::object current = obj(R"({"type":"realtime","model":"gpt-realtime"})");
    auto r = merge_session_update(current, json::parse(R"({"model":"gpt-realtime-mini"})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "cannot_update_model");
    EXPECT_EQ(r.error().param, "session.model");
    // A session created without a model is on the default one.
    r = merge_session_update(obj(R"({"type":"realtime"})"),
                             json::parse(R"({"model":"gpt-realtime-mini"})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "cannot_update_model");
    r = merge_session_update(current, json::parse(R"({"type":"transcription"})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "cannot_update_type");
    r = merge_session_update(current, json::parse(R"({"audio":{"output":{"voice":7}}})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().param, "session.audio.output.voice");
    r = merge_session_update(current, json::parse(R"({"nonsense":true})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "unknown_parameter");
    r = merge_session_update(current, json::parse("[]"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "invalid_type");
}

TEST(RealtimeEvents, ErrorEventCarriesTheClientEventId) {
    ApiError e;
    e.message = "Cannot update a session's model.";
    e.code = "cannot_update_model";
    e.param = "session.model";
    const auto ev = error_event(e, "evt_client_1");
    EXPECT_EQ(ev.at("type"), "error");
    EXPECT_TRUE(ev.at("event_id").as_string().starts_with("event_"));
    const auto& err = ev.at("error").as_object();
    EXPECT_EQ(err.at("type"), "invalid_request_error");
    EXPECT_EQ(err.at("code"), "cannot_update_model");
    EXPECT_EQ(err.at("param"), "session.model");
    EXPECT_EQ(err.at("event_id"), "evt_client_1");
    EXPECT_TRUE(error_event(e).at("error").at("event_id").is_null());
}

TEST(RealtimeEvents, SessionExpiredHasOpenAisWording) {
    const auto ev = error_event(session_expired_error());
    EXPECT_EQ(ev.at("error").at("type"), "invalid_request_error");
    EXPECT_EQ(ev.at("error").at("code"), "session_expired");
    EXPECT_EQ(ev.at("error").at("message"), "Your session hit the maximum duration of 60 minutes.");
}

TEST(UsageBuilders, ResponseUsageHasEveryFieldAndTotals) {
    ResponseUsage u;
    u.input_text = 10;
    u.input_audio = 20;
    u.input_image = 3;
    u.cached_text = 4;
    u.cached_audio = 5;
    u.cached_image = 1;
    u.output_text = 7;
    u.output_audio = 30;
    EXPECT_EQ(response_usage_json(u), json::parse(R"({
        "total_tokens":70,"input_tokens":33,"output_tokens":37,
        "input_token_details":{"text_tokens":10,"audio_tokens":20,"image_tokens":3,
          "cached_tokens":10,
          "cached_tokens_details":{"text_tokens":4,"audio_tokens":5,"image_tokens":1}},
        "output_token_details":{"text_tokens":7,"audio_tokens":30}})"));
}

TEST(UsageBuilders, TranscriptionUsageTokensOrDuration) {
    TranscriptionUsage t;
    t.input_text = 2;
    t.input_audio = 17;
    t.output = 9;
    EXPECT_EQ(transcription_usage_json(t), json::parse(R"({"type":"tokens","total_tokens":28,
        "input_tokens":19,"input_token_details":{"text_tokens":2,"audio_tokens":17},
        "output_tokens":9})"));
    t.duration = true;
    t.seconds = 2.5;
    EXPECT_EQ(transcription_usage_json(t), json::parse(R"({"type":"duration","seconds":2.5})"));
}

TEST(ScriptedTurn, SendsTheSidebandEventsInOrderWithUsage) {
    SidebandSettings s;
    s.response_usage.output_audio = 99;
    const auto events = scripted_turn(s, 3);
    std::vector<std::string> types;
    for (const auto& e : events) {
        types.emplace_back(e.at("type").as_string());
        EXPECT_TRUE(e.at("event_id").as_string().starts_with("event_"));
    }
    const std::vector<std::string> expected = {
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "conversation.item.added",
        "output_audio_buffer.started",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
        "output_audio_buffer.stopped",
    };
    EXPECT_EQ(types, expected);
    for (const auto& t : types) {
        EXPECT_EQ(t.find("output_audio.delta"), std::string::npos);  // never audio bytes
    }
    EXPECT_TRUE(events[3].at("response").at("usage").is_null());
    const auto& done = events[11].at("response").as_object();
    EXPECT_EQ(done.at("status"), "completed");
    EXPECT_EQ(done.at("usage"), response_usage_json(s.response_usage));
    EXPECT_EQ(done.at("id"), events[3].at("response").at("id"));
    EXPECT_EQ(events[2].at("usage"), transcription_usage_json(s.transcription_usage));
    EXPECT_EQ(events[9].at("transcript"), "This is scripted answer number 3.");
    std::string joined;
    for (int i = 6; i <= 8; ++i) {
        joined += std::string(events[static_cast<std::size_t>(i)].at("delta").as_string());
    }
    EXPECT_EQ(joined, "This is scripted answer number 3.");
}

TEST(SidebandOptions, ParseAsFlagsWithDefaults) {
    EmulatorOptions o;
    EXPECT_EQ(o.sideband.call_cap_seconds, 3600);
    EXPECT_EQ(o.sideband.turn_interval_ms, 0);
    EXPECT_TRUE(o.sideband.refuse_ephemeral);
    EXPECT_FALSE(o.sideband.emit_session_created);
    const auto errors = parse_emulator_args({"--turn-interval-ms",
                                             "250",
                                             "--response-input-text-tokens=11",
                                             "--response-input-audio-tokens",
                                             "22",
                                             "--response-input-image-tokens",
                                             "1",
                                             "--response-cached-text-tokens",
                                             "3",
                                             "--response-cached-audio-tokens",
                                             "4",
                                             "--response-cached-image-tokens",
                                             "0",
                                             "--response-output-text-tokens",
                                             "5",
                                             "--response-output-audio-tokens",
                                             "66",
                                             "--transcription-usage",
                                             "duration",
                                             "--transcription-seconds",
                                             "1.5",
                                             "--transcription-input-text-tokens",
                                             "2",
                                             "--transcription-input-audio-tokens",
                                             "30",
                                             "--transcription-output-tokens",
                                             "8",
                                             "--call-cap-seconds",
                                             "3",
                                             "--session-created",
                                             "--sideband-refuse-ek",
                                             "false",
                                             "--sideband-refuse-rate",
                                             "0.5",
                                             "--sideband-drop-after-ms",
                                             "1500",
                                             "--sideband-delay-ms",
                                             "20"},
                                            o);
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(o.sideband.turn_interval_ms, 250);
    const ResponseUsage r{11, 22, 1, 3, 4, 0, 5, 66};
    EXPECT_EQ(o.sideband.response_usage, r);
    EXPECT_TRUE(o.sideband.transcription_usage.duration);
    EXPECT_EQ(o.sideband.transcription_usage.seconds, 1.5);
    EXPECT_EQ(o.sideband.transcription_usage.input_text, 2);
    EXPECT_EQ(o.sideband.transcription_usage.input_audio, 30);
    EXPECT_EQ(o.sideband.transcription_usage.output, 8);
    EXPECT_EQ(o.sideband.call_cap_seconds, 3);
    EXPECT_TRUE(o.sideband.emit_session_created);
    EXPECT_FALSE(o.sideband.refuse_ephemeral);
    EXPECT_EQ(o.faults.sideband_refuse_rate, 0.5);
    EXPECT_EQ(o.faults.sideband_drop_after_ms, 1500);
    EXPECT_EQ(o.faults.sideband_delay_ms, 20);
    EXPECT_FALSE(o.faults.none());
}

TEST(SidebandOptions, RejectsBadValues) {
    EmulatorOptions o;
    const auto errors = parse_emulator_args(
        {"--call-cap-seconds", "0", "--transcription-usage", "minutes", "--turn-interval-ms", "-1",
         "--response-output-audio-tokens", "many", "--sideband-refuse-rate", "2"},
        o);
    EXPECT_EQ(errors.size(), 5U);
    EXPECT_EQ(o, EmulatorOptions{});
}

TEST(SidebandOptions, SidebandFaultsAreChangeableAtRunTime) {
    auto f = apply_faults_json(FaultSettings{},
                               R"({"sideband_drop_after_ms":800,"sideband_refuse_rate":1,
                                   "sideband_delay_ms":50})");
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(f->sideband_drop_after_ms, 800);
    EXPECT_EQ(f->sideband_refuse_rate, 1.0);
    EXPECT_EQ(f->sideband_delay_ms, 50);
    const auto j = faults_to_json(*f);
    EXPECT_EQ(j.at("sideband_drop_after_ms"), 800);
    // Not a fault: only at start-up.
    EXPECT_FALSE(apply_faults_json(FaultSettings{}, R"({"turn_interval_ms":5})"));
}

}  // namespace
}  // namespace voicegate::emulator
