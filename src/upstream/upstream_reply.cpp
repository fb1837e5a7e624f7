#include "upstream/upstream_reply.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

#include <boost/json.hpp>

#include "core/text.hpp"

namespace voicegate::upstream {
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

constexpr std::size_t kMaxDetailText = 300;
constexpr milliseconds kMaxRetryHint{86'400'000};  // one day

// A non-negative decimal number (digits, optionally one '.'), as a double.
std::optional<double> parse_number(std::string_view s) {
    s = trim_view(s);
    if (s.empty() || s.size() > 20) {
        return std::nullopt;
    }
    double value = 0;
    double scale = 0;  // 0 before the '.', then 0.1, 0.01, ...
    bool digits = false;
    for (const char c : s) {
        if (c == '.' && scale == 0) {
            scale = 0.1;
        } else if (c >= '0' && c <= '9') {
            digits = true;
            if (scale == 0) {
                value = value * 10 + (c - '0');
            } else {
                value += (c - '0') * scale;
                scale /= 10;
            }
        } else {
            return std::nullopt;
        }
    }
    return digits ? std::optional<double>(value) : std::nullopt;
}

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as unix seconds.
std::optional<std::int64_t> parse_http_date(std::string_view s) {
    const std::string text(trim_view(s));
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(timegm(&tm));
}

struct UpstreamError {
    std::string message;
    std::string type;
    std::string code;
    std::string param;
};

std::string json_string_or_empty(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The `{"error":{message,type,param,code}}` shape; all empty when the body is something else.
UpstreamError parse_error_body(std::string_view body) {
    UpstreamError out;
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) {
        return out;
    }
    const auto* err = v.get_object().if_contains("error");
    if (err == nullptr || !err->is_object()) {
        return out;
    }
    const auto& e = err->get_object();
    out.message = json_string_or_empty(e, "message");
    out.type = json_string_or_empty(e, "type");
    out.code = json_string_or_empty(e, "code");
    out.param = json_string_or_empty(e, "param");
    if (out.message.size() > kMaxDetailText) {
        out.message.resize(kMaxDetailText);
        out.message += "...";
    }
    return out;
}

std::string describe_http_error(const HttpResponse& r) {
    const auto e = parse_error_body(r.body);
    std::string d = "upstream HTTP " + std::to_string(r.status);
    if (!e.type.empty()) {
        d += " " + e.type;
    }
    if (!e.code.empty()) {
        d += " (" + e.code + ")";
    }
    if (!e.param.empty()) {
        d += " param " + e.param;
    }
    if (!e.message.empty()) {
        d += ": " + e.message;
    } else if (e.type.empty() && e.code.empty()) {
        d += " with a non-JSON error body";
    }
    return d;
}

}  // namespace

std::optional<milliseconds> retry_after_hint(const HttpResponse& response,
                                             std::int64_t now_unix_s) {
    // Computed in double and capped before the conversion: a hint of up to 20 digits would not
    // fit int64 milliseconds.
    const auto capped = [](double ms) {
        return milliseconds(static_cast<std::int64_t>(
            std::ceil(std::min(ms, static_cast<double>(kMaxRetryHint.count())))));
    };
    if (const auto ms = response.header("retry-after-ms")) {
        if (const auto v = parse_number(*ms)) {
            return capped(*v);
        }
    }
    if (const auto ra = response.header("retry-after")) {
        if (const auto v = parse_number(*ra)) {
            return capped(*v * 1000);
        }
        if (const auto date = parse_http_date(*ra)) {
            return capped(static_cast<double>(std::max<std::int64_t>(0, *date - now_unix_s)) *
                          1000);
        }
    }
    return std::nullopt;
}

bool is_insufficient_quota(const HttpResponse& response) {
    if (response.status != 429) {
        return false;
    }
    const auto e = parse_error_body(response.body);
    return e.code == "insufficient_quota" || e.type == "insufficient_quota";
}

bool should_retry_status(const HttpResponse& response) {
    if (is_insufficient_quota(response)) {
        return false;
    }
    if (const auto h = response.header("x-should-retry")) {
        if (iequals(trim_view(*h), "true")) {
            return true;
        }
        if (iequals(trim_view(*h), "false")) {
            return false;
        }
    }
    const int s = response.status;
    return s == 408 || s == 409 || s == 429 || s >= 500;
}

Result<ClientSecret> parse_client_secret(std::string_view body, std::string_view requested_model) {
    const auto bad = [](const std::string& what) {
        return fail(Error::upstream_bad_response, {}, "upstream client secret answer: " + what);
    };
    boost::system::error_code ec;
    auto parsed = json::parse(body, ec);
    if (ec) {
        return bad("not valid JSON (" + ec.message() + ")");
    }
    if (!parsed.is_object()) {
        return bad("not a JSON object");
    }
    const auto& root = parsed.get_object();
    ClientSecret out;

    const auto* value = root.if_contains("value");
    if (value == nullptr || !value->is_string() || !value->get_string().starts_with("ek_") ||
        value->get_string().size() <= 3) {
        return bad("missing or invalid `value` (expected a string starting with ek_)");
    }
    out.value = std::string(value->get_string());

    const auto* expires = root.if_contains("expires_at");
    if (expires != nullptr && expires->is_int64() && expires->get_int64() > 0) {
        out.expires_at = expires->get_int64();
    } else if (expires != nullptr && expires->is_uint64() &&
               expires->get_uint64() <=
                   static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out.expires_at = static_cast<std::int64_t>(expires->get_uint64());
    } else {
        return bad("missing or invalid `expires_at` (expected a positive integer)");
    }

    const auto* session = root.if_contains("session");
    if (session == nullptr || !session->is_object()) {
        return bad("missing `session` object");
    }
    const auto& s = session->get_object();
    out.session_id = json_string_or_empty(s, "id");
    if (out.session_id.empty()) {
        return bad("missing `session.id`");
    }
    out.model = json_string_or_empty(s, "model");
    if (out.model.empty()) {
        out.model = std::string(requested_model);
    }
    if (out.model.empty()) {
        return bad("missing `session.model`");
    }
    if (const auto* audio = s.if_contains("audio"); audio != nullptr && audio->is_object()) {
        if (const auto* output = audio->get_object().if_contains("output");
            output != nullptr && output->is_object()) {
            if (const auto* voice = output->get_object().if_contains("voice")) {
                if (voice->is_string()) {
                    out.voice = std::string(voice->get_string());
                } else if (voice->is_object()) {
                    out.voice = json_string_or_empty(voice->get_object(), "id");
                }
            }
        }
    }
    return out;
}

bool valid_call_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

Result<CallAnswer> parse_call_answer(const HttpResponse& r) {
    const auto bad = [](const std::string& what) {
        return fail(Error::upstream_bad_response, {}, "upstream call answer: " + what);
    };
    if (r.status != 201) {
        return bad("HTTP " + std::to_string(r.status) + " instead of 201 Created");
    }
    if (const auto type = r.header("content-type")) {
        const auto t = to_lower(trim_view(type->substr(0, type->find(';'))));
        if (!t.starts_with("text/") && t != "application/sdp") {
            return bad("Content-Type " + std::string(utf8_prefix(t, 64)) + " is not text");
        }
    }
    if (!r.body.starts_with("v=0")) {
        return bad("the body is not an SDP answer");
    }
    const auto location = r.header("location");
    if (!location) {
        return bad("no Location header");
    }
    auto id = call_id_from_location(*location);
    if (!id) {
        return bad("Location does not end in a valid call id");
    }
    return CallAnswer{r.body, std::move(*id)};
}

std::optional<std::string> call_id_from_location(std::string_view location) {
    // The last path segment of a relative or absolute URL, without query or fragment.
    std::string_view path = location.substr(0, location.find_first_of("?#"));
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos || !valid_call_id(path.substr(slash + 1))) {
        return std::nullopt;
    }
    return std::string(path.substr(slash + 1));
}

std::string call_form_body(std::string_view boundary, std::string_view sdp,
                           std::string_view session_json) {
    std::string body;
    body.reserve(sdp.size() + session_json.size() + 4 * boundary.size() + 256);
    const auto part = [&](std::string_view name, std::string_view type, std::string_view content) {
        body.append("--").append(boundary).append("\r\n");
        body.append("Content-Disposition: form-data; name=\"").append(name).append("\"\r\n");
        body.append("Content-Type: ").append(type).append("\r\n\r\n");
        body.append(content).append("\r\n");
    };
    part("sdp", "application/sdp", sdp);
    part("session", "application/json", session_json);
    body.append("--").append(boundary).append("--\r\n");
    return body;
}

Failure upstream_http_failure(const HttpResponse& r, std::int64_t now_unix_s) {
    auto details = describe_http_error(r);
    if (is_insufficient_quota(r)) {
        return fail(Error::upstream_rejected, {},
                    "upstream account quota exhausted (insufficient_quota); " + details);
    }
    if (r.status == 429) {
        auto f = fail(Error::upstream_unavailable, {}, "upstream rate limit; " + details);
        if (const auto hint = retry_after_hint(r, now_unix_s)) {
            const auto s = (hint->count() + 999) / 1000;
            f.retry_after_s = static_cast<int>(std::clamp<std::int64_t>(s, 1, 86'400));
        }
        return f;
    }
    if (r.status >= 400) {
        return fail(Error::upstream_rejected, {}, details);
    }
    return fail(Error::upstream_bad_response, {},
                "unexpected upstream HTTP status " + std::to_string(r.status));
}

}  // namespace voicegate::upstream
