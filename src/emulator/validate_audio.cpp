#include "emulator/validate_detail.hpp"

#include <cstdint>
#include <limits>

namespace voicegate::emulator::detail {

// ---- session parts: audio (format, transcription, noise reduction, turn detection, voice) ----

namespace {

Check check_audio_format(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;  // e.g. the beta string "pcm16" (openai/openai-go#502)
    }
    const auto& o = v.get_object();
    const json::value* type = given(o, "type");
    if (type == nullptr) {
        return missing_parameter(path(param, "type"));
    }
    if (auto err =
            check_enum(*type, path(param, "type"), {"audio/pcm", "audio/pcmu", "audio/pcma"})) {
        return err;
    }
    if (type->get_string() == "audio/pcm") {
        if (auto err = check_keys(o, param, {"type", "rate"})) {
            return err;
        }
        if (const json::value* rate = given(o, "rate")) {
            if (!rate->is_int64()) {
                return invalid_type(path(param, "rate"), "an integer", *rate);
            }
            if (rate->get_int64() != 24000) {
                return invalid_value(path(param, "rate"), *rate, {"24000"});
            }
        }
        return std::nullopt;
    }
    return check_keys(o, param, {"type"});
}

Check check_transcription(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param,
                              {"model", "language", "languages", "prompt", "keywords", "delay"})) {
        return err;
    }
    if (auto err =
            optional_field(o, param, "model", [](const json::value& x, const std::string& p) {
                return check_enum(x, p, kTranscriptionModels);
            })) {
        return err;
    }
    if (auto err = optional_field(o, param, "language", check_string)) {
        return err;
    }
    if (auto err = optional_field(o, param, "languages", check_string_array)) {
        return err;
    }
    if (auto err = optional_field(o, param, "prompt", check_string)) {
        return err;
    }
    if (auto err = optional_field(o, param, "keywords", check_string_array)) {
        return err;
    }
    if (const json::value* delay = given(o, "delay")) {
        if (auto err = check_enum(*delay, path(param, "delay"),
                                  {"minimal", "low", "medium", "high", "xhigh"})) {
            return err;
        }
        const json::value* model = given(o, "model");
        if (model == nullptr || model->get_string() != kWhisperStreaming) {
            return unsupported_parameter(path(param, "delay"),
                                         "is only supported with gpt-realtime-whisper.");
        }
    }
    return std::nullopt;
}

Check check_noise_reduction(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"type"})) {
        return err;
    }
    const json::value* type = given(o, "type");
    if (type == nullptr) {
        return missing_parameter(path(param, "type"));
    }
    return check_enum(*type, path(param, "type"), {"near_field", "far_field"});
}

Check check_turn_detection(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    const json::value* type = given(o, "type");
    if (type == nullptr) {
        return missing_parameter(path(param, "type"));
    }
    if (auto err = check_enum(*type, path(param, "type"), {"server_vad", "semantic_vad"})) {
        return err;
    }
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    if (type->get_string() == "server_vad") {
        if (auto err = check_keys(o, param,
                                  {"type", "threshold", "prefix_padding_ms", "silence_duration_ms",
                                   "create_response", "interrupt_response", "idle_timeout_ms"})) {
            return err;
        }
        if (auto err = optional_field(o, param, "threshold",
                                      [](const json::value& x, const std::string& p) {
                                          return check_number(x, p, 0.0, 1.0);
                                      })) {
            return err;
        }
        for (std::string_view key : {"prefix_padding_ms", "silence_duration_ms"}) {
            if (auto err =
                    optional_field(o, param, key, [](const json::value& x, const std::string& p) {
                        return check_integer(x, p, 0, kMax);
                    })) {
                return err;
            }
        }
        if (auto err = optional_field(o, param, "idle_timeout_ms",
                                      [](const json::value& x, const std::string& p) {
                                          return check_integer(x, p, 5000, 30000);
                                      })) {
            return err;
        }
    } else {
        if (auto err = check_keys(o, param,
                                  {"type", "eagerness", "create_response", "interrupt_response"})) {
            return err;
        }
        if (auto err = optional_field(
                o, param, "eagerness", [](const json::value& x, const std::string& p) {
                    return check_enum(x, p, {"low", "medium", "high", "auto"});
                })) {
            return err;
        }
    }
    for (std::string_view key : {"create_response", "interrupt_response"}) {
        if (auto err = optional_field(o, param, key, check_bool)) {
            return err;
        }
    }
    return std::nullopt;
}

}  // namespace

// The nullable parts of `audio.input`, shared by both session types.
Check check_audio_input(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param,
                              {"format", "transcription", "noise_reduction", "turn_detection"})) {
        return err;
    }
    if (auto err = optional_field(o, param, "format", check_audio_format)) {
        return err;
    }
    if (auto err = optional_field(o, param, "transcription", check_transcription)) {
        return err;
    }
    if (auto err = optional_field(o, param, "noise_reduction", check_noise_reduction)) {
        return err;
    }
    return optional_field(o, param, "turn_detection", check_turn_detection);
}

namespace {

Check check_voice(const json::value& v, const std::string& param) {
    if (v.is_string()) {
        // TTS-only voices (fable, onyx, nova) are invalid for Realtime (reference §5).
        if (!contains(kVoices, std::string_view(v.get_string()))) {
            return invalid_value(param, v, kVoices);
        }
        return std::nullopt;
    }
    if (!v.is_object()) {
        return invalid_type(param, "one of a string or an object", v);
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"id"})) {
        return err;
    }
    const json::value* id = given(o, "id");
    if (id == nullptr) {
        return missing_parameter(path(param, "id"));
    }
    if (auto err = check_string(*id, path(param, "id"))) {
        return err;
    }
    if (id->get_string().empty()) {
        return invalid_value(path(param, "id"), *id, {"voice_..."});
    }
    return std::nullopt;
}

}  // namespace

Check check_audio_output(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"format", "voice", "speed"})) {
        return err;
    }
    if (auto err = optional_field(o, param, "format", check_audio_format)) {
        return err;
    }
    if (auto err = optional_field(o, param, "voice", check_voice)) {
        return err;
    }
    return optional_field(o, param, "speed", [](const json::value& x, const std::string& p) {
        return check_number(x, p, 0.25, 1.5);
    });
}

}  // namespace voicegate::emulator::detail
