#include "core/json_text.hpp"

#include <charconv>
#include <cmath>

#include <boost/json.hpp>

namespace voicegate {
namespace {

void append_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN or infinity
        return;
    }
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view text(buf, static_cast<std::size_t>(end - buf));
    out += text;
    if (text.find_first_of(".e") == std::string_view::npos) {
        out += ".0";
    }
}

void append(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null:
            out += "null";
            break;
        case boost::json::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            break;
        case boost::json::kind::int64:
            out += std::to_string(v.get_int64());
            break;
        case boost::json::kind::uint64:
            out += std::to_string(v.get_uint64());
            break;
        case boost::json::kind::double_:
            append_double(out, v.get_double());
            break;
        case boost::json::kind::string:
            out += boost::json::serialize(v.get_string());
            break;
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) {
                    out += ',';
                }
                first = false;
                append(out, e);
            }
            out += ']';
            break;
        }
        case boost::json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) {
                    out += ',';
                }
                first = false;
                out += boost::json::serialize(boost::json::string_view(kv.key()));
                out += ':';
                append(out, kv.value());
            }
            out += '}';
            break;
        }
    }
}

}  // namespace

std::string to_json_text(const boost::json::value& v) {
    std::string out;
    out.reserve(256);
    append(out, v);
    return out;
}

std::optional<double> json_number(const boost::json::value& v) {
    if (v.is_int64()) {
        return static_cast<double>(v.get_int64());
    }
    if (v.is_uint64()) {
        return static_cast<double>(v.get_uint64());
    }
    if (v.is_double()) {
        return v.get_double();
    }
    return std::nullopt;
}

}  // namespace voicegate
