#include "emulator/validate_detail.hpp"

#include <cstdint>
#include <limits>

namespace voicegate::emulator {

namespace detail {

// ---- session parts: the model, the rest of a realtime session, transcription sessions ----

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

}  // namespace detail

// ---- request bodies ----

namespace json = boost::json;
using detail::check_enum;
using detail::check_integer;
using detail::check_keys;
using detail::check_object;
using detail::check_realtime_session;
using detail::check_transcription_session;
using detail::given;
using detail::make_error;
using detail::missing_parameter;
using detail::path;
using detail::type_phrase;

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

}  // namespace voicegate::emulator
