#include "emulator/validate.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>

#include <boost/json.hpp>

#include "core/text.hpp"
#include "http/media_type.hpp"

namespace voicegate::emulator {
namespace json = boost::json;

namespace {

// ---- model, voice and enum tables (reference §1.3, §1.4, §5) ----

constexpr std::string_view kCurrentModels[] = {
    "gpt-realtime",          "gpt-realtime-1.5",
    "gpt-realtime-2",        "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini", "gpt-realtime-2025-08-28",
    "gpt-realtime-mini",     "gpt-realtime-mini-2025-12-15",
};

// In the GA enum but shut down (§5). gpt-4o-mini-realtime-preview is only an alias of its
// shut-down 2024-12-17 snapshot, so it goes too.
constexpr std::string_view kRetiredModels[] = {
    "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01",
    "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03",
    "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
    "gpt-realtime-mini-2025-10-06",
};

constexpr std::string_view kReasoningModels[] = {"gpt-realtime-2", "gpt-realtime-2.1",
                                                 "gpt-realtime-2.1-mini"};

constexpr std::string_view kVoices[] = {"alloy", "ash",     "ballad", "coral", "echo",
                                        "sage",  "shimmer", "verse",  "marin", "cedar"};

constexpr std::string_view kTranscriptionModels[] = {
    "whisper-1",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe",
    "gpt-4o-transcribe-diarize",
    "gpt-realtime-whisper",
};

constexpr std::string_view kWhisperStreaming = "gpt-realtime-whisper";

using Names = std::initializer_list<std::string_view>;

template <class Range>
bool contains(const Range& range, std::string_view s) {
    for (const auto& x : range) {
        if (x == s) {
            return true;
        }
    }
    return false;
}

// ---- error builders, with OpenAI's message formats ----

using Check = std::optional<ApiError>;

std::string path(std::string_view prefix, std::string_view key) {
    if (prefix.empty()) {
        return std::string(key);
    }
    std::string p(prefix);
    p += '.';
    p += key;
    return p;
}

std::string path(std::string_view prefix, std::size_t index) {
    return std::string(prefix) + "[" + std::to_string(index) + "]";
}

ApiError make_error(std::string message, std::string param, std::string code) {
    ApiError e;
    e.status = 400;
    e.message = std::move(message);
    e.param = std::move(param);
    e.code = std::move(code);
    return e;
}

std::string_view type_phrase(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return "a boolean";
        case json::kind::int64:
        case json::kind::uint64:
            return "an integer";
        case json::kind::double_:
            return "a decimal";
        case json::kind::string:
            return "a string";
        case json::kind::array:
            return "an array";
        case json::kind::object:
            return "an object";
    }
    return "a value";
}

std::string number_text(double d) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, end);
}

std::string value_text(const json::value& v) {
    if (v.is_string()) {
        return std::string(v.get_string());
    }
    if (v.is_int64()) {
        return std::to_string(v.get_int64());
    }
    if (v.is_uint64()) {
        return std::to_string(v.get_uint64());
    }
    if (v.is_double()) {
        return number_text(v.get_double());
    }
    return json::serialize(v);
}

ApiError invalid_type(const std::string& param, std::string_view expected, const json::value& got) {
    return make_error("Invalid type for '" + param + "': expected " + std::string(expected) +
                          ", but got " + std::string(type_phrase(got)) + " instead.",
                      param, "invalid_type");
}

ApiError unknown_parameter(const std::string& param) {
    return make_error("Unknown parameter: '" + param + "'.", param, "unknown_parameter");
}

ApiError missing_parameter(const std::string& param) {
    return make_error("Missing required parameter: '" + param + "'.", param,
                      "missing_required_parameter");
}

ApiError unsupported_parameter(const std::string& param, std::string_view why) {
    return make_error("Unsupported parameter: '" + param + "' " + std::string(why), param,
                      "unsupported_parameter");
}

// "Invalid value: 'onyx'. Supported values are: 'alloy', 'ash', and 'cedar'."
template <class Range>
ApiError invalid_value(const std::string& param, const json::value& got, const Range& supported) {
    std::string list;
    std::size_t n = 0;
    const std::size_t total = std::size(supported);
    for (const auto& s : supported) {
        if (n > 0) {
            list += total == 2 ? " " : ", ";
        }
        if (n > 0 && n + 1 == total) {
            list += "and ";
        }
        // Appended piecewise: `"'" + std::string(...)` trips GCC 12's -Wstringop-overflow
        // false positive (PR 105651) at -O3.
        list += '\'';
        list += s;
        list += '\'';
        ++n;
    }
    std::string shown;
    if (got.is_string()) {
        shown += '\'';
        shown += value_text(got);
        shown += '\'';
    } else {
        shown = value_text(got);
    }
    return make_error("Invalid value: " + shown + ". Supported values are: " + list + ".", param,
                      "invalid_value");
}

ApiError invalid_value(const std::string& param, const json::value& got, Names supported) {
    return invalid_value<Names>(param, got, supported);
}

ApiError out_of_range(const std::string& param, bool integer, bool below, const std::string& bound,
                      const std::string& got) {
    const std::string kind = integer ? "integer" : "decimal";
    return make_error("Invalid '" + param + "': " + kind +
                          (below ? " below minimum" : " above maximum") +
                          " value. Expected a value " + (below ? ">= " : "<= ") + bound +
                          ", but got " + got + " instead.",
                      param, kind + (below ? "_below_min_value" : "_above_max_value"));
}

// ---- field checks ----

// An optional field: absent and explicit null both mean "not given".
const json::value* given(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
}

Check check_keys(const json::object& o, std::string_view prefix, Names allowed) {
    for (const auto& kv : o) {
        if (!contains(allowed, std::string_view(kv.key()))) {
            return unknown_parameter(path(prefix, kv.key()));
        }
    }
    return std::nullopt;
}

Check check_string(const json::value& v, const std::string& param) {
    if (!v.is_string()) {
        return invalid_type(param, "a string", v);
    }
    return std::nullopt;
}

Check check_bool(const json::value& v, const std::string& param) {
    if (!v.is_bool()) {
        return invalid_type(param, "a boolean", v);
    }
    return std::nullopt;
}

Check check_object(const json::value& v, const std::string& param) {
    if (!v.is_object()) {
        return invalid_type(param, "an object", v);
    }
    return std::nullopt;
}

Check check_integer(const json::value& v, const std::string& param, std::int64_t min,
                    std::int64_t max) {
    if (v.is_uint64()) {  // above INT64_MAX
        return out_of_range(param, true, false, std::to_string(max), value_text(v));
    }
    if (!v.is_int64()) {
        return invalid_type(param, "an integer", v);
    }
    const std::int64_t x = v.get_int64();
    if (x < min) {
        return out_of_range(param, true, true, std::to_string(min), std::to_string(x));
    }
    if (x > max) {
        return out_of_range(param, true, false, std::to_string(max), std::to_string(x));
    }
    return std::nullopt;
}

Check check_number(const json::value& v, const std::string& param, double min, double max) {
    if (!v.is_number()) {
        return invalid_type(param, "a number", v);
    }
    const double x = v.to_number<double>();
    if (x < min) {
        return out_of_range(param, false, true, number_text(min), value_text(v));
    }
    if (x > max) {
        return out_of_range(param, false, false, number_text(max), value_text(v));
    }
    return std::nullopt;
}

template <class Range>
Check check_enum(const json::value& v, const std::string& param, const Range& supported) {
    if (!v.is_string()) {
        return invalid_type(param, "a string", v);
    }
    if (!contains(supported, std::string_view(v.get_string()))) {
        return invalid_value(param, v, supported);
    }
    return std::nullopt;
}

Check check_enum(const json::value& v, const std::string& param, Names supported) {
    return check_enum<Names>(v, param, supported);
}

Check check_string_array(const json::value& v, const std::string& param) {
    if (!v.is_array()) {
        return invalid_type(param, "an array", v);
    }
    std::size_t i = 0;
    for (const auto& e : v.get_array()) {
        if (auto err = check_string(e, path(param, i))) {
            return err;
        }
        ++i;
    }
    return std::nullopt;
}

// Runs `check(value, path)` on `o[key]` when it is given.
template <class F>
Check optional_field(const json::object& o, std::string_view prefix, std::string_view key,
                     F&& check) {
    if (const json::value* v = given(o, key)) {
        return check(*v, path(prefix, key));
    }
    return std::nullopt;
}

// ---- session parts ----

Check check_model(const json::value& v, const std::string& param) {
    if (auto err = check_string(v, param)) {
        return err;
    }
    const std::string model(v.get_string());
    // The exact upstream code for a bad, retired or non-Realtime model is UNCONFIRMED
    // (reference §4, §9 item 3); `model_not_found` with OpenAI's usual messages is the best guess.
    switch (realtime_model_status(model)) {
        case ModelStatus::current:
            return std::nullopt;
        case ModelStatus::retired:
            return make_error("The model `" + model +
                                  "` has been deprecated, learn more here: "
                                  "https://platform.openai.com/docs/deprecations",
                              param, "model_not_found");
        case ModelStatus::not_realtime:
            return make_error("The model `" + model + "` is not supported for Realtime sessions.",
                              param, "model_not_found");
        case ModelStatus::unknown:
            break;
    }
    return make_error("The model `" + model + "` does not exist or you do not have access to it.",
                      param, "model_not_found");
}

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

Check check_output_modalities(const json::value& v, const std::string& param) {
    if (!v.is_array()) {
        return invalid_type(param, "an array", v);
    }
    const auto& a = v.get_array();
    if (a.empty()) {
        return make_error("Invalid '" + param +
                              "': empty array. Expected an array with minimum length 1, but got "
                              "an empty array instead.",
                          param, "empty_array");
    }
    if (a.size() > 1) {  // audio always comes with its transcript; both cannot be asked for
        return make_error("Invalid '" + param +
                              "': array too long. Expected an array with maximum length 1, but "
                              "got an array with length " +
                              std::to_string(a.size()) + " instead.",
                          param, "array_above_max_length");
    }
    return check_enum(a[0], path(param, std::size_t{0}), {"audio", "text"});
}

Check check_max_output_tokens(const json::value& v, const std::string& param) {
    if (v.is_string()) {
        if (v.get_string() != "inf") {
            return invalid_value(param, v, {"inf"});
        }
        return std::nullopt;
    }
    if (!v.is_int64() && !v.is_uint64()) {
        return invalid_type(param, "one of an integer or 'inf'", v);
    }
    return check_integer(v, param, 1, 4096);
}

Check check_function_tool(const json::object& o, const std::string& param) {
    if (auto err = check_keys(o, param, {"type", "name", "description", "parameters"})) {
        return err;
    }
    const json::value* name = given(o, "name");
    if (name == nullptr) {
        return missing_parameter(path(param, "name"));
    }
    if (auto err = check_string(*name, path(param, "name"))) {
        return err;
    }
    const auto& s = name->get_string();
    bool ok = !s.empty() && s.size() <= 64;
    for (const char c : s) {
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-');
    }
    if (!ok) {
        const std::string p = path(param, "name");
        return make_error("Invalid '" + p +
                              "': string does not match pattern. Expected a string that matches "
                              "the pattern '^[a-zA-Z0-9_-]{1,64}$'.",
                          p, "invalid_value");
    }
    if (auto err = optional_field(o, param, "description", check_string)) {
        return err;
    }
    return optional_field(o, param, "parameters", check_object);
}

Check check_mcp_tool(const json::object& o, const std::string& param) {
    if (auto err = check_keys(o, param,
                              {"type", "server_label", "server_url", "connector_id", "tunnel_id",
                               "authorization", "headers", "allowed_tools", "require_approval",
                               "server_description", "defer_loading", "allowed_callers"})) {
        return err;
    }
    const json::value* label = given(o, "server_label");
    if (label == nullptr) {
        return missing_parameter(path(param, "server_label"));
    }
    if (auto err = check_string(*label, path(param, "server_label"))) {
        return err;
    }
    if (given(o, "server_url") == nullptr && given(o, "connector_id") == nullptr &&
        given(o, "tunnel_id") == nullptr) {
        return missing_parameter(path(param, "server_url"));
    }
    for (std::string_view key :
         {"server_url", "connector_id", "tunnel_id", "authorization", "server_description"}) {
        if (auto err = optional_field(o, param, key, check_string)) {
            return err;
        }
    }
    if (auto err = optional_field(o, param, "headers", check_object)) {
        return err;
    }
    if (auto err = optional_field(o, param, "defer_loading", check_bool)) {
        return err;
    }
    if (auto err = optional_field(o, param, "allowed_callers", check_string_array)) {
        return err;
    }
    if (const json::value* tools = given(o, "allowed_tools")) {
        if (!tools->is_array() && !tools->is_object()) {
            return invalid_type(path(param, "allowed_tools"), "one of an array or an object",
                                *tools);
        }
    }
    if (const json::value* approval = given(o, "require_approval")) {
        if (approval->is_string()) {
            return check_enum(*approval, path(param, "require_approval"), {"always", "never"});
        }
        if (!approval->is_object()) {
            return invalid_type(path(param, "require_approval"), "one of a string or an object",
                                *approval);
        }
    }
    return std::nullopt;
}

Check check_tools(const json::value& v, const std::string& param) {
    if (!v.is_array()) {
        return invalid_type(param, "an array", v);
    }
    std::size_t i = 0;
    for (const auto& tool : v.get_array()) {
        const std::string p = path(param, i++);
        if (auto err = check_object(tool, p)) {
            return err;
        }
        const auto& o = tool.get_object();
        const json::value* type = given(o, "type");
        if (type == nullptr) {
            return missing_parameter(path(p, "type"));
        }
        if (auto err = check_enum(*type, path(p, "type"), {"function", "mcp"})) {
            return err;
        }
        auto err =
            type->get_string() == "function" ? check_function_tool(o, p) : check_mcp_tool(o, p);
        if (err) {
            return err;
        }
    }
    return std::nullopt;
}

Check check_tool_choice(const json::value& v, const std::string& param) {
    if (v.is_string()) {
        return check_enum(v, param, {"none", "auto", "required"});
    }
    if (!v.is_object()) {
        return invalid_type(param, "one of a string or an object", v);
    }
    const auto& o = v.get_object();
    const json::value* type = given(o, "type");
    if (type == nullptr) {
        return missing_parameter(path(param, "type"));
    }
    if (auto err = check_enum(*type, path(param, "type"), {"function", "mcp"})) {
        return err;
    }
    if (type->get_string() == "function") {
        if (auto err = check_keys(o, param, {"type", "name"})) {
            return err;
        }
        const json::value* name = given(o, "name");
        if (name == nullptr) {
            return missing_parameter(path(param, "name"));
        }
        return check_string(*name, path(param, "name"));
    }
    if (auto err = check_keys(o, param, {"type", "server_label", "name"})) {
        return err;
    }
    const json::value* label = given(o, "server_label");
    if (label == nullptr) {
        return missing_parameter(path(param, "server_label"));
    }
    if (auto err = check_string(*label, path(param, "server_label"))) {
        return err;
    }
    return optional_field(o, param, "name", check_string);
}

Check check_tracing(const json::value& v, const std::string& param) {
    if (v.is_string()) {
        return check_enum(v, param, {"auto"});
    }
    if (!v.is_object()) {
        return invalid_type(param, "one of a string or an object", v);
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"workflow_name", "group_id", "metadata"})) {
        return err;
    }
    if (auto err = optional_field(o, param, "workflow_name", check_string)) {
        return err;
    }
    if (auto err = optional_field(o, param, "group_id", check_string)) {
        return err;
    }
    return optional_field(o, param, "metadata", check_object);
}

Check check_truncation(const json::value& v, const std::string& param) {
    if (v.is_string()) {
        return check_enum(v, param, {"auto", "disabled"});
    }
    if (!v.is_object()) {
        return invalid_type(param, "one of a string or an object", v);
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"type", "retention_ratio", "token_limits"})) {
        return err;
    }
    const json::value* type = given(o, "type");
    if (type == nullptr) {
        return missing_parameter(path(param, "type"));
    }
    if (auto err = check_enum(*type, path(param, "type"), {"retention_ratio"})) {
        return err;
    }
    const json::value* ratio = given(o, "retention_ratio");
    if (ratio == nullptr) {
        return missing_parameter(path(param, "retention_ratio"));
    }
    if (auto err = check_number(*ratio, path(param, "retention_ratio"), 0.0, 1.0)) {
        return err;
    }
    if (const json::value* limits = given(o, "token_limits")) {
        const std::string p = path(param, "token_limits");
        if (auto err = check_object(*limits, p)) {
            return err;
        }
        if (auto err = check_keys(limits->get_object(), p, {"post_instructions"})) {
            return err;
        }
        return optional_field(limits->get_object(), p, "post_instructions",
                              [](const json::value& x, const std::string& q) {
                                  return check_integer(x, q, 0,
                                                       std::numeric_limits<std::int64_t>::max());
                              });
    }
    return std::nullopt;
}

Check check_prompt(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"id", "version", "variables"})) {
        return err;
    }
    const json::value* id = given(o, "id");
    if (id == nullptr) {
        return missing_parameter(path(param, "id"));
    }
    if (auto err = check_string(*id, path(param, "id"))) {
        return err;
    }
    if (auto err = optional_field(o, param, "version", check_string)) {
        return err;
    }
    return optional_field(o, param, "variables", check_object);
}

Check check_include(const json::value& v, const std::string& param) {
    if (!v.is_array()) {
        return invalid_type(param, "an array", v);
    }
    std::size_t i = 0;
    for (const auto& e : v.get_array()) {
        if (auto err =
                check_enum(e, path(param, i++), {"item.input_audio_transcription.logprobs"})) {
            return err;
        }
    }
    return std::nullopt;
}

Check check_reasoning(const json::value& v, const std::string& param) {
    if (auto err = check_object(v, param)) {
        return err;
    }
    const auto& o = v.get_object();
    if (auto err = check_keys(o, param, {"effort"})) {
        return err;
    }
    return optional_field(o, param, "effort", [](const json::value& x, const std::string& p) {
        return check_enum(x, p, {"minimal", "low", "medium", "high", "xhigh"});
    });
}

Check check_realtime_session(const json::object& s, std::string_view prefix) {
    if (auto err = check_keys(s, prefix,
                              {"type", "model", "instructions", "output_modalities", "audio",
                               "max_output_tokens", "tools", "tool_choice", "parallel_tool_calls",
                               "reasoning", "tracing", "truncation", "prompt", "include"})) {
        return err;  // `temperature` (beta only, not in GA) ends here as unknown_parameter
    }
    if (auto err = optional_field(s, prefix, "model", check_model)) {
        return err;
    }
    if (auto err = optional_field(s, prefix, "instructions", check_string)) {
        return err;
    }
    if (auto err = optional_field(s, prefix, "output_modalities", check_output_modalities)) {
        return err;
    }
    if (const json::value* audio = given(s, "audio")) {
        const std::string p = path(prefix, "audio");
        if (auto err = check_object(*audio, p)) {
            return err;
        }
        const auto& a = audio->get_object();
        if (auto err = check_keys(a, p, {"input", "output"})) {
            return err;
        }
        if (auto err = optional_field(a, p, "input", check_audio_input)) {
            return err;
        }
        if (auto err = optional_field(a, p, "output", check_audio_output)) {
            return err;
        }
    }
    if (auto err = optional_field(s, prefix, "max_output_tokens", check_max_output_tokens)) {
        return err;
    }
    if (auto err = optional_field(s, prefix, "tools", check_tools)) {
        return err;
    }
    if (auto err = optional_field(s, prefix, "tool_choice", check_tool_choice)) {
        return err;
    }
    const json::value* model = given(s, "model");
    const bool reasoning = is_reasoning_model(
        model != nullptr ? std::string_view(model->get_string()) : kDefaultModel);
    // Upstream's exact answer for these on a non-reasoning model is UNCONFIRMED; OpenAI's
    // usual `unsupported_parameter` is the best guess.
    if (const json::value* p = given(s, "parallel_tool_calls")) {
        if (auto err = check_bool(*p, path(prefix, "parallel_tool_calls"))) {
            return err;
        }
        if (!reasoning) {
            return unsupported_parameter(path(prefix, "parallel_tool_calls"),
                                         "is not supported with this model.");
        }
    }
    if (const json::value* r = given(s, "reasoning")) {
        if (auto err = check_reasoning(*r, path(prefix, "reasoning"))) {
            return err;
        }
        if (!reasoning) {
            return unsupported_parameter(path(prefix, "reasoning"),
                                         "is not supported with this model.");
        }
    }
    if (auto err = optional_field(s, prefix, "tracing", check_tracing)) {
        return err;
    }
    if (auto err = optional_field(s, prefix, "truncation", check_truncation)) {
        return err;
    }
    if (auto err = optional_field(s, prefix, "prompt", check_prompt)) {
        return err;
    }
    return optional_field(s, prefix, "include", check_include);
}

// The audio.input.transcription.model of a session, or "" if none.
std::string_view transcription_model(const json::object& s) {
    const auto* audio = s.if_contains("audio");
    if (audio == nullptr || !audio->is_object()) {
        return {};
    }
    const auto* input = audio->get_object().if_contains("input");
    if (input == nullptr || !input->is_object()) {
        return {};
    }
    const auto* tr = input->get_object().if_contains("transcription");
    if (tr == nullptr || !tr->is_object()) {
        return {};
    }
    const auto* model = tr->get_object().if_contains("model");
    return model != nullptr && model->is_string() ? std::string_view(model->get_string())
                                                  : std::string_view{};
}

Check check_transcription_session(const json::object& s, std::string_view prefix) {
    if (auto err = check_keys(s, prefix, {"type", "audio", "include"})) {
        return err;  // model, voice, instructions, tools... are realtime-only
    }
    if (const json::value* audio = given(s, "audio")) {
        const std::string p = path(prefix, "audio");
        if (auto err = check_object(*audio, p)) {
            return err;
        }
        const auto& a = audio->get_object();
        if (auto err = check_keys(a, p, {"input"})) {
            return err;
        }
        if (auto err = optional_field(a, p, "input", check_audio_input)) {
            return err;
        }
        // gpt-realtime-whisper transcription sessions require turn_detection: null (§1.4).
        if (transcription_model(s) == kWhisperStreaming) {
            const auto* input = a.if_contains("input");
            const auto* td = input != nullptr && input->is_object()
                                 ? input->get_object().if_contains("turn_detection")
                                 : nullptr;
            if (td != nullptr && !td->is_null()) {
                const std::string tp = path(p, "input.turn_detection");
                return make_error("Invalid '" + tp +
                                      "': gpt-realtime-whisper transcription sessions require "
                                      "turn_detection to be null.",
                                  tp, "invalid_value");
            }
        }
    }
    return optional_field(s, prefix, "include", check_include);
}

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

void throw_exception_from_error(const ApiError& e, const boost::source_location& /*loc*/) {
    throw std::logic_error("value() called on a failed ApiResult: " + e.code);
}

boost::json::object error_body(const ApiError& e) {
    json::object inner;
    inner["message"] = e.message;
    inner["type"] = e.type;
    inner["param"] = e.param.empty() ? json::value(nullptr) : json::value(e.param);
    inner["code"] = e.code.empty() ? json::value(nullptr) : json::value(e.code);
    return json::object{{"error", std::move(inner)}};
}

ModelStatus realtime_model_status(std::string_view model) {
    if (contains(kCurrentModels, model)) {
        return ModelStatus::current;
    }
    if (contains(kRetiredModels, model)) {
        return ModelStatus::retired;
    }
    if (model.rfind("gpt-audio", 0) == 0) {
        return ModelStatus::not_realtime;  // Chat Completions audio models (§5)
    }
    return ModelStatus::unknown;
}

std::span<const std::string_view> current_realtime_models() {
    return kCurrentModels;
}

bool is_reasoning_model(std::string_view model) {
    return contains(kReasoningModels, model);
}

std::span<const std::string_view> builtin_voices() {
    return kVoices;
}

std::optional<ApiError> check_json_content_type(std::optional<std::string_view> content_type) {
    if (!content_type) {
        return std::nullopt;
    }
    // OpenAI takes application/json only (no +json types), parameters ignored.
    if (http::media_type(*content_type) == "application/json") {
        return std::nullopt;
    }
    const auto ct = trim_view(content_type->substr(0, content_type->find(';')));
    return make_error("Unsupported content type: '" + std::string(ct) +
                          "'. This API method only accepts 'application/json' requests, but you "
                          "specified the header 'Content-Type: " +
                          std::string(*content_type) +
                          "'. Please try again with a supported content type.",
                      "", "unsupported_content_type");
}

ApiResult<ClientSecretParams> parse_client_secret_body(std::string_view body) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 64;
    json::value root = json::parse(body, ec, {}, opts);
    if (ec) {
        return make_error(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
            "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
            "please contact us through our help center at help.openai.com.)",
            "", "");
    }
    if (!root.is_object()) {
        return make_error("Invalid type for request body: expected an object, but got " +
                              std::string(type_phrase(root)) + " instead.",
                          "", "invalid_type");
    }
    const auto& o = root.get_object();
    if (auto err = check_keys(o, "", {"expires_after", "session"})) {
        return *err;
    }
    ClientSecretParams out;
    if (const json::value* ea = given(o, "expires_after")) {
        if (auto err = check_object(*ea, "expires_after")) {
            return *err;
        }
        const auto& e = ea->get_object();
        if (auto err = check_keys(e, "expires_after", {"anchor", "seconds"})) {
            return *err;
        }
        if (const json::value* anchor = given(e, "anchor")) {
            if (auto err = check_enum(*anchor, "expires_after.anchor", {"created_at"})) {
                return *err;
            }
        }
        if (const json::value* secs = given(e, "seconds")) {
            if (auto err = check_integer(*secs, "expires_after.seconds", 10, 7200)) {
                return *err;
            }
            out.ttl_seconds = secs->get_int64();
        }
    }
    // `session` is optional in the schema; without one the API creates a default realtime
    // session (the emulator's reading of the schema: UNCONFIRMED upstream).
    if (const json::value* s = given(o, "session")) {
        auto type = validate_session(*s, "session");
        if (!type) {
            return type.error();
        }
        out.type = *type;
        out.session = s->get_object();
    } else {
        out.session = json::object{{"type", "realtime"}};
    }
    return out;
}

ApiResult<SessionType> validate_session(const boost::json::value& session, std::string_view param) {
    const std::string prefix(param);
    if (auto err = check_object(session, prefix)) {
        return *err;
    }
    const auto& s = session.get_object();
    const json::value* type = given(s, "type");
    if (type == nullptr) {
        return missing_parameter(path(prefix, "type"));
    }
    if (auto err = check_enum(*type, path(prefix, "type"), {"realtime", "transcription"})) {
        return *err;
    }
    if (type->get_string() == "realtime") {
        if (auto err = check_realtime_session(s, prefix)) {
            return *err;
        }
        return SessionType::realtime;
    }
    if (auto err = check_transcription_session(s, prefix)) {
        return *err;
    }
    return SessionType::transcription;
}

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
