#include "emulator/validate_detail.hpp"

namespace voicegate::emulator::detail {

// ---- session parts: tools and tool_choice ----

namespace {

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

}  // namespace

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

}  // namespace voicegate::emulator::detail
