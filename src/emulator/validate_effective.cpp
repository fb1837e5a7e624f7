#include "emulator/validate.hpp"

#include <string>

#include "emulator/validate_detail.hpp"

namespace voicegate::emulator {
namespace json = boost::json;

using detail::given;
using detail::kWhisperStreaming;
using detail::transcription_model;

namespace {

// ---- effective session ----

json::value default_format() {
    return json::object{{"type", "audio/pcm"}, {"rate", 24000}};
}

json::value effective_format(const json::object* parent) {
    const json::value* f = parent != nullptr ? given(*parent, "format") : nullptr;
    if (f == nullptr) {
        return default_format();
    }
    json::object out = f->get_object();
    if (out.at("type").get_string() == "audio/pcm" && !out.contains("rate")) {
        out["rate"] = 24000;
    }
    return out;
}

json::value server_vad_defaults() {
    return json::object{{"type", "server_vad"},       {"threshold", 0.5},
                        {"prefix_padding_ms", 300},   {"silence_duration_ms", 500},
                        {"idle_timeout_ms", nullptr}, {"create_response", true},
                        {"interrupt_response", true}};
}

json::value effective_turn_detection(const json::object* input, bool default_none) {
    const json::value* td = input != nullptr ? input->if_contains("turn_detection") : nullptr;
    if (td == nullptr) {
        return default_none ? json::value(nullptr) : server_vad_defaults();
    }
    if (td->is_null()) {
        return nullptr;
    }
    const auto& given_td = td->get_object();
    json::object out;
    if (given_td.at("type").get_string() == "server_vad") {
        out = server_vad_defaults().get_object();
    } else {
        out = json::object{{"type", "semantic_vad"},
                           {"eagerness", "auto"},
                           {"create_response", true},
                           {"interrupt_response", true}};
    }
    for (const auto& kv : given_td) {
        if (kv.value().is_null() && kv.key() != "idle_timeout_ms") {
            continue;
        }
        out[kv.key()] =
            kv.key() == "threshold" ? json::value(kv.value().to_number<double>()) : kv.value();
    }
    return out;
}

json::value nullable_or_null(const json::object* o, std::string_view key) {
    const json::value* v = o != nullptr ? o->if_contains(key) : nullptr;
    return v != nullptr ? *v : json::value(nullptr);
}

const json::object* sub_object(const json::object* o, std::string_view key) {
    if (o == nullptr) {
        return nullptr;
    }
    const json::value* v = given(*o, key);
    return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

json::value effective_input(const json::object* input, bool transcription_session,
                            std::string_view stt_model) {
    json::object in;
    in["format"] = effective_format(input);
    in["transcription"] = nullable_or_null(input, "transcription");
    in["noise_reduction"] = nullable_or_null(input, "noise_reduction");
    in["turn_detection"] =
        effective_turn_detection(input, transcription_session && stt_model == kWhisperStreaming);
    return in;
}

json::value or_default(const json::object& s, std::string_view key, const json::value& fallback) {
    const json::value* v = given(s, key);
    return v != nullptr ? *v : fallback;
}

}  // namespace

boost::json::object effective_session(const boost::json::object& s, std::string_view session_id) {
    const json::object* audio = sub_object(&s, "audio");
    const json::object* input = sub_object(audio, "input");
    json::object out;
    const bool transcription = s.at("type").get_string() == "transcription";
    if (transcription) {
        out["type"] = "transcription";
        out["object"] = "realtime.transcription_session";
        out["id"] = session_id;
        out["expires_at"] = 0;
        out["audio"] =
            json::object{{"input", effective_input(input, true, transcription_model(s))}};
        out["include"] = nullable_or_null(&s, "include");
        return out;
    }
    const json::object* output = sub_object(audio, "output");
    const std::string model(or_default(s, "model", json::string(kDefaultModel)).get_string());
    out["type"] = "realtime";
    out["object"] = "realtime.session";
    out["id"] = session_id;
    out["model"] = model;
    out["output_modalities"] = or_default(s, "output_modalities", json::array{"audio"});
    out["instructions"] = or_default(s, "instructions", json::string(kDefaultInstructions));
    out["tools"] = or_default(s, "tools", json::array{});
    out["tool_choice"] = or_default(s, "tool_choice", "auto");
    out["max_output_tokens"] = or_default(s, "max_output_tokens", "inf");
    out["tracing"] = nullable_or_null(&s, "tracing");
    out["truncation"] = or_default(s, "truncation", "auto");
    if (out["truncation"].is_object()) {
        auto& t = out["truncation"].get_object();
        t["retention_ratio"] = t.at("retention_ratio").to_number<double>();
    }
    out["prompt"] = nullable_or_null(&s, "prompt");
    out["expires_at"] = 0;
    json::object out_audio;
    out_audio["input"] = effective_input(input, false, {});
    json::object o;
    o["format"] = effective_format(output);
    o["voice"] = output != nullptr ? or_default(*output, "voice", "alloy") : json::value("alloy");
    const json::value* speed = output != nullptr ? given(*output, "speed") : nullptr;
    o["speed"] = speed != nullptr ? speed->to_number<double>() : 1.0;
    out_audio["output"] = std::move(o);
    out["audio"] = std::move(out_audio);
    out["include"] = nullable_or_null(&s, "include");
    if (is_reasoning_model(model)) {
        out["reasoning"] = or_default(s, "reasoning", json::object{{"effort", "low"}});
        if (const json::value* p = given(s, "parallel_tool_calls")) {
            out["parallel_tool_calls"] = *p;
        }
    }
    return out;
}

}  // namespace voicegate::emulator
