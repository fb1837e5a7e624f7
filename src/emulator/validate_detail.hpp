#pragma once

// Internal to emulator/ validation: what the validate_*.cpp files, which implement
// emulator/validate.hpp, share (tables, OpenAI-shaped error builders, field checks, session
// parts). Nothing outside src/emulator/validate_*.cpp includes it.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "emulator/validate.hpp"

namespace voicegate::emulator::detail {
/// Boost.JSON, as the validation pieces spell it.
namespace json = boost::json;

// ---- model, voice and enum tables (reference §1.3, §1.4, §5) ----

/// The built-in Realtime voices; builtin_voices() exposes them.
inline constexpr std::string_view kVoices[] = {"alloy", "ash",     "ballad", "coral", "echo",
                                               "sage",  "shimmer", "verse",  "marin", "cedar"};

/// The models `audio.input.transcription.model` accepts.
inline constexpr std::string_view kTranscriptionModels[] = {
    "whisper-1",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe",
    "gpt-4o-transcribe-diarize",
    "gpt-realtime-whisper",
};

/// The streaming transcription model, with its own rules (`delay`, `turn_detection: null`).
inline constexpr std::string_view kWhisperStreaming = "gpt-realtime-whisper";

/// A braced list of allowed names, e.g. `{"audio", "text"}`.
using Names = std::initializer_list<std::string_view>;

/// True if `range` holds `s`.
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

/// The result of a check: an error, or nullopt if the value is fine.
using Check = std::optional<ApiError>;

/// The JSON path `prefix.key`, or `key` alone when `prefix` is empty.
std::string path(std::string_view prefix, std::string_view key);

/// The JSON path `prefix[index]`.
std::string path(std::string_view prefix, std::size_t index);

/// A 400 `invalid_request_error` with this message, param and code.
ApiError make_error(std::string message, std::string param, std::string code);

/// How OpenAI names the JSON type of `v` in messages ("a string", "an integer", "null", ...).
std::string_view type_phrase(const json::value& v);

/// `d` in its shortest round-trip form.
std::string number_text(double d);

/// `v` as OpenAI shows a value in messages: strings unquoted, numbers plain, others as JSON.
std::string value_text(const json::value& v);

/// "Invalid type for 'param': expected <expected>, but got <type> instead." (`invalid_type`).
ApiError invalid_type(const std::string& param, std::string_view expected, const json::value& got);

/// "Unknown parameter: 'param'." (`unknown_parameter`).
ApiError unknown_parameter(const std::string& param);

/// "Missing required parameter: 'param'." (`missing_required_parameter`).
ApiError missing_parameter(const std::string& param);

/// "Unsupported parameter: 'param' <why>" (`unsupported_parameter`).
ApiError unsupported_parameter(const std::string& param, std::string_view why);

/// "Invalid value: 'onyx'. Supported values are: 'alloy', 'ash', and 'cedar'." (`invalid_value`).
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

/// invalid_value for a braced list of supported values.
ApiError invalid_value(const std::string& param, const json::value& got, Names supported);

/// "Invalid 'param': integer below minimum value. ..." and its siblings
/// (`integer_below_min_value`, `decimal_above_max_value`, ...).
ApiError out_of_range(const std::string& param, bool integer, bool below, const std::string& bound,
                      const std::string& got);

// ---- field checks ----

/// An optional field: absent and explicit null both mean "not given" (nullptr).
const json::value* given(const json::object& o, std::string_view key);

/// Fails with unknown_parameter on the first key of `o` not in `allowed`.
Check check_keys(const json::object& o, std::string_view prefix, Names allowed);

/// Requires a string.
Check check_string(const json::value& v, const std::string& param);

/// Requires a boolean.
Check check_bool(const json::value& v, const std::string& param);

/// Requires an object.
Check check_object(const json::value& v, const std::string& param);

/// Requires an integer in [min, max].
Check check_integer(const json::value& v, const std::string& param, std::int64_t min,
                    std::int64_t max);

/// Requires a number (integer or decimal) in [min, max].
Check check_number(const json::value& v, const std::string& param, double min, double max);

/// Requires a string among `supported`.
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

/// check_enum for a braced list of supported values.
Check check_enum(const json::value& v, const std::string& param, Names supported);

/// Requires an array of strings.
Check check_string_array(const json::value& v, const std::string& param);

/// Runs `check(value, path)` on `o[key]` when it is given.
template <class F>
Check optional_field(const json::object& o, std::string_view prefix, std::string_view key,
                     F&& check) {
    if (const json::value* v = given(o, key)) {
        return check(*v, path(prefix, key));
    }
    return std::nullopt;
}

// ---- session parts ----

/// Checks `audio.input` (its nullable parts, shared by both session types).
Check check_audio_input(const json::value& v, const std::string& param);

/// Checks `audio.output` of a realtime session (format, voice, speed).
Check check_audio_output(const json::value& v, const std::string& param);

/// Checks `tools`: an array of function and MCP tools.
Check check_tools(const json::value& v, const std::string& param);

/// Checks `tool_choice`: "none", "auto", "required" or a function/MCP object.
Check check_tool_choice(const json::value& v, const std::string& param);

/// The audio.input.transcription.model of a session, or "" if none.
std::string_view transcription_model(const json::object& s);

}  // namespace voicegate::emulator::detail
