#include "supervisor/protocol.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.hpp"
#include "upstream/realtime_session.hpp"

namespace voicegate::supervisor {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxNameBytes = 64;
// Larger counts are not a usage figure but garbage (and would overflow the sums).
constexpr std::int64_t kMaxCount = 1'000'000'000'000;

std::string bounded(std::string_view s) {
    return std::string(s.substr(0, kMaxNameBytes));
}


bool same_value(const json::value& locked, const json::value& actual) {
    const auto a = json_number(locked);
    const auto b = json_number(actual);
    if (a && b) {
        return *a == *b;
    }
    // A voice may come back as {"id": NAME} (custom voices share the field).
    if (locked.is_string() && actual.is_object()) {
        const auto* id = actual.get_object().if_contains("id");
        return id != nullptr && id->is_string() && id->get_string() == locked.get_string();
    }
    return locked == actual;
}

void compare_into(const json::value& locked, const json::value* actual, const std::string& path,
                  Violations& out) {
    if (actual == nullptr) {
        if (!locked.is_null()) {
            out.push_back(path);
        }
        return;
    }
    if (locked.is_object()) {
        if (!actual->is_object()) {
            out.push_back(path);
            return;
        }
        for (const auto& [k, v] : locked.get_object()) {
            compare_into(v, actual->get_object().if_contains(k),
                         path.empty() ? std::string(k) : path + "." + std::string(k), out);
        }
        return;
    }
    if (locked.is_array()) {
        if (!actual->is_array() || actual->get_array().size() != locked.get_array().size()) {
            out.push_back(path);
            return;
        }
        for (std::size_t i = 0; i < locked.get_array().size(); ++i) {
            compare_into(locked.get_array()[i], &actual->get_array()[i],
                         path + "[" + std::to_string(i) + "]", out);
        }
        return;
    }
    if (!same_value(locked, *actual)) {
        out.push_back(path);
    }
}

// Reads the non-negative integer `key` of `obj` into `out` (0 when absent or null); false
// (with `problem` naming the field) when it has another shape.
bool read_count(const json::object& obj, std::string_view key, std::string_view where,
                std::int64_t& out, std::string& problem) {
    out = 0;
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return true;
    }
    if (v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= kMaxCount) {
        out = v->get_int64();
        return true;
    }
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(kMaxCount)) {
        out = static_cast<std::int64_t>(v->get_uint64());
        return true;
    }
    problem = std::string(where) + "." + std::string(key) + " is not a token count";
    return false;
}

// An optional object member: nullptr when absent or null; false when it is something else.
bool read_object(const json::object& obj, std::string_view key, std::string_view where,
                 const json::object*& out, std::string& problem) {
    out = nullptr;
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return true;
    }
    if (!v->is_object()) {
        problem = std::string(where) + "." + std::string(key) + " is not an object";
        return false;
    }
    out = &v->get_object();
    return true;
}

SidebandEvent malformed(SidebandEvent e, std::string problem) {
    e.kind = SidebandEvent::Kind::malformed;
    e.problem = std::move(problem);
    return e;
}

// response.done usage (reference §4.1). Without token details, input and output count as
// text (the cheapest rate: an estimate never above the truth for the text-priced share).
bool read_response_usage(const json::object& usage, TokenUsage& t, std::string& problem) {
    std::int64_t input = 0;
    std::int64_t output = 0;
    std::int64_t cached = 0;
    const json::object* in = nullptr;
    const json::object* out = nullptr;
    if (!read_count(usage, "input_tokens", "usage", input, problem) ||
        !read_count(usage, "output_tokens", "usage", output, problem) ||
        !read_object(usage, "input_token_details", "usage", in, problem) ||
        !read_object(usage, "output_token_details", "usage", out, problem)) {
        return false;
    }
    if (in == nullptr) {
        t.input_text = input;
    } else {
        const json::object* cd = nullptr;
        constexpr std::string_view kIn = "usage.input_token_details";
        if (!read_count(*in, "text_tokens", kIn, t.input_text, problem) ||
            !read_count(*in, "audio_tokens", kIn, t.input_audio, problem) ||
            !read_count(*in, "image_tokens", kIn, t.input_image, problem) ||
            !read_count(*in, "cached_tokens", kIn, cached, problem) ||
            !read_object(*in, "cached_tokens_details", kIn, cd, problem)) {
            return false;
        }
        if (cd != nullptr) {
            constexpr std::string_view kCd = "usage.input_token_details.cached_tokens_details";
            if (!read_count(*cd, "text_tokens", kCd, t.cached_text, problem) ||
                !read_count(*cd, "audio_tokens", kCd, t.cached_audio, problem) ||
                !read_count(*cd, "image_tokens", kCd, t.cached_image, problem)) {
                return false;
            }
        } else {
            t.cached_text = cached;  // no split given: the text share
        }
        // Cached is a subset of input (reference §4.1); never price more cached than input.
        t.cached_text = std::min(t.cached_text, t.input_text);
        t.cached_audio = std::min(t.cached_audio, t.input_audio);
        t.cached_image = std::min(t.cached_image, t.input_image);
    }
    if (out == nullptr) {
        t.output_text = output;
    } else {
        // reasoning_tokens, when present, are already inside text_tokens: not added again.
        constexpr std::string_view kOut = "usage.output_token_details";
        if (!read_count(*out, "text_tokens", kOut, t.output_text, problem) ||
            !read_count(*out, "audio_tokens", kOut, t.output_audio, problem)) {
            return false;
        }
    }
    return true;
}

SidebandEvent parse_response_done(const json::object& ev, SidebandEvent e) {
    const json::object* response = nullptr;
    std::string problem;
    if (!read_object(ev, "response", "response.done", response, problem) || response == nullptr) {
        return malformed(std::move(e), "response.done.response is not an object");
    }
    if (const auto* id = response->if_contains("id"); id != nullptr && !id->is_null()) {
        if (!id->is_string()) {
            return malformed(std::move(e), "response.id is not a string");
        }
        e.response_id = bounded(id->get_string());
    }
    const json::object* usage = nullptr;
    if (!read_object(*response, "usage", "response", usage, problem)) {
        return malformed(std::move(e), problem);
    }
    if (usage != nullptr && !read_response_usage(*usage, e.tokens, problem)) {
        return malformed(std::move(e), "response." + problem);
    }
    e.kind = SidebandEvent::Kind::usage;
    return e;
}

SidebandEvent parse_transcription(const json::object& ev, SidebandEvent e) {
    const json::object* usage = nullptr;
    std::string problem;
    if (!read_object(ev, "usage", "transcription", usage, problem)) {
        return malformed(std::move(e), problem);
    }
    if (usage == nullptr) {
        return e;  // an older event without usage: nothing to bill
    }
    const auto* type = usage->if_contains("type");
    if (type != nullptr && type->is_string() && type->get_string() == "tokens") {
        if (!read_count(*usage, "input_tokens", "transcription.usage", e.transcription_in_tokens,
                        problem) ||
            !read_count(*usage, "output_tokens", "transcription.usage", e.transcription_out_tokens,
                        problem)) {
            return malformed(std::move(e), problem);
        }
    } else if (type != nullptr && type->is_string() && type->get_string() == "duration") {
        const auto* s = usage->if_contains("seconds");
        const auto secs = s != nullptr ? json_number(*s) : std::nullopt;
        if (!secs || !std::isfinite(*secs) || *secs < 0 || *secs > 1e7) {
            return malformed(std::move(e), "transcription.usage.seconds is not a duration");
        }
        e.transcription_seconds = *secs;
    } else {
        return malformed(std::move(e), "transcription.usage.type is not tokens or duration");
    }
    e.kind = SidebandEvent::Kind::transcription_usage;
    return e;
}

SidebandEvent parse_error(const json::object& ev, SidebandEvent e) {
    const json::object* error = nullptr;
    std::string problem;
    if (!read_object(ev, "error", "error", error, problem) || error == nullptr) {
        return malformed(std::move(e), "error.error is not an object");
    }
    if (const auto* code = error->if_contains("code"); code != nullptr && code->is_string()) {
        e.error_code = bounded(code->get_string());
    }
    e.kind = e.error_code == "session_expired" ? SidebandEvent::Kind::expired
                                               : SidebandEvent::Kind::error;
    return e;
}

}  // namespace

json::object locked_fields(const json::object& profile_fields,
                           const std::vector<std::string>& allow_override, std::string_view model) {
    // Profile field -> the client field that may override it (the rest have none).
    const auto client_name = [](std::string_view field) -> std::string_view {
        if (field == "voice" || field == "instructions") {
            return field;
        }
        return field == "max_output_tokens" ? "maxOutputTokens" : "";
    };
    json::object out;
    out["model"] = model;
    for (const auto& [key, value] : profile_fields) {
        if (key == "model") {
            continue;
        }
        const auto client = client_name(key);
        const bool overridable =
            !client.empty() &&
            std::find(allow_override.begin(), allow_override.end(), client) != allow_override.end();
        if (!overridable) {
            out[key] = value;
        }
    }
    return out;
}

Violations compare_locked(const json::object& locked, const json::object& actual) {
    Violations out;
    for (const auto& [k, v] : locked) {
        compare_into(v, actual.if_contains(k), std::string(k), out);
    }
    return out;
}

std::string OpenAiRealtimeProtocol::sideband_target(std::string_view base_path,
                                                    std::string_view call_id) const {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string target(base_path);
    target += "/realtime?call_id=";
    for (const unsigned char c : call_id) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            target += static_cast<char>(c);
        } else {
            target += '%';
            target += kHex[c >> 4];
            target += kHex[c & 0xF];
        }
    }
    return target;
}

std::string OpenAiRealtimeProtocol::lock_message(const json::object& locked) const {
    json::object msg;
    msg["type"] = "session.update";
    msg["session"] = upstream::realtime_session_from_fields(locked);
    return json::serialize(msg);
}

SidebandEvent OpenAiRealtimeProtocol::parse(std::string_view text) const {
    SidebandEvent e;
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    if (ec || !doc.is_object()) {
        return malformed(std::move(e), "not a JSON object");
    }
    const auto& ev = doc.get_object();
    const auto* type = ev.if_contains("type");
    if (type == nullptr || !type->is_string()) {
        return malformed(std::move(e), "type is not a string");
    }
    e.type = bounded(type->get_string());
    const std::string_view t = type->get_string();
    if (t == "session.updated" || t == "session.created") {
        const auto* session = ev.if_contains("session");
        if (session == nullptr || !session->is_object()) {
            return malformed(std::move(e), "session is not an object");
        }
        // session.created does not come on a sideband (reference §2.2); if one does, it says
        // nothing about our update, so it is only counted.
        if (t == "session.created") {
            return e;
        }
        e.kind = SidebandEvent::Kind::session_updated;
        e.session = session->get_object();
        return e;
    }
    if (t == "response.done") {
        return parse_response_done(ev, std::move(e));
    }
    if (t == "conversation.item.input_audio_transcription.completed") {
        return parse_transcription(ev, std::move(e));
    }
    if (t == "error") {
        return parse_error(ev, std::move(e));
    }
    return e;
}

Violations OpenAiRealtimeProtocol::violations(const json::object& locked,
                                              const json::object& session) const {
    json::object expected;
    for (auto& [k, v] : upstream::realtime_session_from_fields(locked)) {
        // `type` is not a field a client can change; some answers leave it out.
        if (k != "type") {
            expected.emplace(k, std::move(v));
        }
    }
    return compare_locked(expected, session);
}

}  // namespace voicegate::supervisor
