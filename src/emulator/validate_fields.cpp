#include "emulator/validate_detail.hpp"

namespace voicegate::emulator::detail {

// ---- field checks ----

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

}  // namespace voicegate::emulator::detail
