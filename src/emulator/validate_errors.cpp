#include "emulator/validate_detail.hpp"

#include <charconv>
#include <stdexcept>

#include "core/text.hpp"
#include "http/media_type.hpp"

namespace voicegate::emulator {

namespace detail {

// ---- error builders, with OpenAI's message formats ----

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

}  // namespace detail

namespace json = boost::json;
using detail::make_error;

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

}  // namespace voicegate::emulator
