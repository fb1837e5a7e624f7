#include "api/token_request.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "core/json_text.hpp"
#include "core/text.hpp"
#include "upstream/realtime_session.hpp"

namespace voicegate::api {
namespace json = boost::json;

namespace {

Failure bad(const std::string& field, const std::string& what) {
    return fail(Error::bad_request, field + ": " + what);
}


// A JSON integer (a double with an integral value counts); nullopt otherwise.
std::optional<std::int64_t> as_integer(const json::value& v) {
    if (v.is_int64()) {
        return v.get_int64();
    }
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v.get_uint64());
    }
    if (v.is_double() && std::isfinite(v.get_double()) &&
        std::floor(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 9e15) {
        return static_cast<std::int64_t>(v.get_double());
    }
    return std::nullopt;
}

bool printable_id(std::string_view s) {
    for (const unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += out.empty() ? s : ", " + s;
    }
    return out;
}

Result<void> parse_voice(const json::value& value, const config::TokenPolicy& policy,
                         TokenParams& p) {
    if (!value.is_string()) {
        return bad("sessionConfig.voice", "must be a string");
    }
    std::string voice(value.get_string());
    if (!policy.voice_allowed(voice)) {
        return bad("sessionConfig.voice",
                   "\"" + std::string(utf8_prefix(voice, 64)) +
                       "\" is not allowed; use one of: " + join(policy.voices));
    }
    p.voice = voice;
    return {};
}

Result<void> parse_instructions(const json::value& value, const config::TokenPolicy& policy,
                                TokenParams& p) {
    if (!value.is_string()) {
        return bad("sessionConfig.instructions", "must be a string");
    }
    if (value.get_string().size() > policy.max_instructions_bytes) {
        return bad("sessionConfig.instructions", "is " + std::to_string(value.get_string().size()) +
                                                     " bytes; the limit is " +
                                                     std::to_string(policy.max_instructions_bytes));
    }
    p.instructions = std::string(value.get_string());
    return {};
}

Result<void> parse_temperature(const json::value& value, TokenParams& p) {
    auto t = json_number(value);
    if (!t || !std::isfinite(*t)) {
        return bad("sessionConfig.temperature", "must be a number");
    }
    if (*t < 0.6 || *t > 1.2) {
        return bad("sessionConfig.temperature", "must be between 0.6 and 1.2");
    }
    p.warnings.emplace_back("temperature is not supported by the Realtime GA API and was ignored");
    return {};
}

Result<void> parse_max_output_tokens(const json::value& value, TokenParams& p) {
    if (value.is_string()) {
        if (value.get_string() != "inf") {
            return bad("sessionConfig.maxOutputTokens",
                       "must be an integer from 1 to 4096 or \"inf\"");
        }
        p.max_output_tokens = json::value("inf");
        return {};
    }
    auto n = as_integer(value);
    if (!n || *n < 1 || *n > 4096) {
        return bad("sessionConfig.maxOutputTokens", "must be an integer from 1 to 4096 or \"inf\"");
    }
    p.max_output_tokens = json::value(*n);
    return {};
}

Result<void> parse_session_config(const json::object& sc, const config::TokenPolicy& policy,
                                  TokenParams& p) {
    for (const auto& [key, value] : sc) {
        if (key == "model") {
            if (!value.is_string() || value.get_string().empty()) {
                return bad("sessionConfig.model", "must be a non-empty string");
            }
            p.requested_model = std::string(value.get_string());
        } else if (key == "voice") {
            if (auto r = parse_voice(value, policy, p); !r) {
                return r;
            }
        } else if (key == "instructions") {
            if (auto r = parse_instructions(value, policy, p); !r) {
                return r;
            }
        } else if (key == "temperature") {
            if (auto r = parse_temperature(value, p); !r) {
                return r;
            }
        } else if (key == "maxOutputTokens") {
            if (auto r = parse_max_output_tokens(value, p); !r) {
                return r;
            }
        } else if (key == "profile") {
            if (!value.is_string() || value.get_string().empty()) {
                return bad("sessionConfig.profile", "must be a profile name");
            }
            p.profile = std::string(value.get_string());
        } else {
            return bad("sessionConfig." + std::string(key),
                       "unknown field; allowed: model, voice, instructions, temperature, "
                       "maxOutputTokens, profile");
        }
    }
    return {};
}

// Applies the named profile (SPEC §2.1 profiles) to `p`: fills the fields it sets, refuses a
// field it locks, and carries its extra session fields.
Result<void> apply_profile(const config::TokenPolicy& policy, TokenParams& p) {
    const auto* profile = policy.find_profile(p.profile);
    if (profile == nullptr) {
        return bad("sessionConfig.profile",
                   "unknown profile \"" + std::string(utf8_prefix(p.profile, 64)) + "\"");
    }
    // The operator decides: a field the profile sets is locked unless it allows overrides.
    const std::pair<const char*, const char*> kFields[] = {
        {"model", "model"},
        {"voice", "voice"},
        {"instructions", "instructions"},
        {"maxOutputTokens", "max_output_tokens"}};
    const bool given[] = {!p.requested_model.empty(), p.voice.has_value(),
                          p.instructions.has_value(), p.max_output_tokens.has_value()};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto* fixed = profile->fields.if_contains(kFields[i].second);
        if (fixed == nullptr) {
            continue;
        }
        if (given[i] && !profile->allows(kFields[i].first)) {
            return bad(std::string("sessionConfig.") + kFields[i].first,
                       "is locked by profile \"" + p.profile + "\"");
        }
        if (!given[i]) {
            if (i == 0) {
                p.requested_model = std::string(fixed->get_string());
            } else if (i == 1) {
                p.voice = std::string(fixed->get_string());
            } else if (i == 2) {
                p.instructions = std::string(fixed->get_string());
            } else {
                p.max_output_tokens = *fixed;
            }
        }
    }
    for (const char* extra :
         {"turn_detection", "transcription", "noise_reduction", "tools", "tool_choice", "speed"}) {
        if (const auto* v = profile->fields.if_contains(extra)) {
            p.profile_extras[extra] = *v;
        }
    }
    return {};
}

}  // namespace

Result<TokenParams> parse_token_request(const json::object& body,
                                        const config::TokenPolicy& policy) {
    TokenParams p;
    p.user_id = "anonymous";
    for (const auto& [key, value] : body) {
        if (key == "userId") {
            if (value.is_null()) {
                continue;
            }
            if (!value.is_string() || value.get_string().empty() ||
                value.get_string().size() > 256 || !printable_id(value.get_string())) {
                return bad("userId", "must be a non-empty printable string of at most 256 bytes");
            }
            p.user_id = std::string(value.get_string());
        } else if (key == "sessionConfig") {
            if (value.is_null()) {
                continue;
            }
            if (!value.is_object()) {
                return bad("sessionConfig", "must be an object");
            }
            auto r = parse_session_config(value.get_object(), policy, p);
            if (!r) {
                return r.error();
            }
        } else {
            return bad(std::string(key), "unknown field; allowed: userId, sessionConfig");
        }
    }
    if (!p.profile.empty()) {
        if (auto applied = apply_profile(policy, p); !applied) {
            return applied.error();
        }
    }
    if (p.requested_model.empty()) {
        p.requested_model = policy.default_model;
    }
    auto model = policy.resolve_model(p.requested_model);
    if (!model) {
        return bad("sessionConfig.model",
                   "\"" + std::string(utf8_prefix(p.requested_model, 64)) +
                       "\" is not allowed; use one of: " + join(policy.models));
    }
    p.model = *model;
    return p;
}

json::object build_upstream_session(const TokenParams& p) {
    json::object fields;
    fields["model"] = p.model;
    if (p.instructions) {
        fields["instructions"] = *p.instructions;
    }
    if (p.voice) {
        fields["voice"] = *p.voice;
    }
    if (p.max_output_tokens) {
        fields["max_output_tokens"] = *p.max_output_tokens;
    }
    for (const auto& [k, v] : p.profile_extras) {
        fields[k] = v;
    }
    return upstream::realtime_session_from_fields(fields);
}

json::object token_response_body(const upstream::ClientSecret& secret,
                                 const std::vector<std::string>& warnings) {
    json::object body;
    body["success"] = true;
    body["token"] = secret.value;
    body["sessionId"] = secret.session_id;
    body["expiresAt"] = secret.expires_at;
    json::object cfg;
    cfg["model"] = secret.model;
    cfg["voice"] = secret.voice;
    body["config"] = std::move(cfg);
    if (!warnings.empty()) {
        json::array w;
        for (const auto& s : warnings) {
            w.emplace_back(s);
        }
        body["warnings"] = std::move(w);
    }
    return body;
}

Result<EndParams> parse_end_request(const json::object& body) {
    EndParams p;
    bool have_session = false;
    bool have_duration = false;
    for (const auto& [key, value] : body) {
        if (key == "sessionId") {
            if (!value.is_string() || value.get_string().empty() ||
                value.get_string().size() > 128 || !printable_id(value.get_string())) {
                return bad("sessionId", "must be a session id string like \"sess_...\"");
            }
            p.session_id = std::string(value.get_string());
            have_session = true;
        } else if (key == "duration") {
            auto d = json_number(value);
            if (!d || !std::isfinite(*d) || *d < 0 || *d > 7 * 24 * 3600.0) {
                return bad("duration", "must be a number of seconds >= 0");
            }
            p.duration_s = *d;
            have_duration = true;
        } else if (key == "messageCount") {
            auto n = as_integer(value);
            if (!n || *n < 0 || *n > 100'000'000) {
                return bad("messageCount", "must be an integer >= 0");
            }
            p.message_count = *n;
        } else if (key == "endedBy") {
            if (!value.is_string() ||
                (value.get_string() != "user" && value.get_string() != "timeout" &&
                 value.get_string() != "error")) {
                return bad("endedBy", "must be one of user, timeout, error");
            }
            p.ended_by = std::string(value.get_string());
        } else {
            return bad(std::string(key),
                       "unknown field; allowed: sessionId, duration, messageCount, endedBy");
        }
    }
    if (!have_session) {
        return bad("sessionId", "is required");
    }
    if (!have_duration) {
        return bad("duration", "is required (seconds since the session started)");
    }
    return p;
}

json::value duration_json(double seconds) {
    if (std::floor(seconds) == seconds && seconds < 9e15) {
        return json::value(static_cast<std::int64_t>(seconds));
    }
    return json::value(seconds);
}

}  // namespace voicegate::api
