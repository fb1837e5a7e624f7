#include "emulator/answers.hpp"

// GCC 12 at -O3 inlines the moves of the header literals into Response::set in rate_limited and
// reports a read past a 16-byte buffer that is not one (-Wstringop-overread, a known false
// positive; the same code in emulator.cpp did not trip it).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif

#include <boost/json.hpp>

#include "core/ids.hpp"
#include "core/json_text.hpp"

namespace voicegate::emulator::detail {
namespace json = boost::json;

namespace {

// "500ms", "1s", "1.5s": how OpenAI spells waits in messages and x-ratelimit-reset-*.
std::string duration_text(std::int64_t ms) {
    if (ms < 1000) {
        return std::to_string(ms) + "ms";
    }
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + "s";
    }
    std::string frac = std::to_string(ms % 1000);
    frac.insert(0, 3 - frac.size(), '0');
    while (frac.back() == '0') {
        frac.pop_back();
    }
    return std::to_string(ms / 1000) + "." + frac + "s";
}

}  // namespace

// ---- OpenAI-shaped answers ----

ApiError api_error(int status, std::string message, std::string type, std::string code,
                   std::string param) {
    ApiError e;
    e.status = status;
    e.message = std::move(message);
    e.type = std::move(type);
    e.code = std::move(code);
    e.param = std::move(param);
    return e;
}

http::Response json_answer(int status, const json::value& body) {
    http::Response r;
    r.status = status;
    r.body = to_json_text(body);
    return r;
}

http::Response error_answer(const ApiError& e) {
    http::Response r = json_answer(e.status, error_body(e));
    r.log_error = e.code.empty() ? e.type : e.code;
    return r;
}

ApiError missing_key() {
    return api_error(401,
                     "You didn't provide an API key. You need to provide your API key in an "
                     "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                     "YOUR_KEY), or as the password field (with blank username) if you're "
                     "accessing the API from your browser and are prompted for a username and "
                     "password. You can obtain an API key from "
                     "https://platform.openai.com/account/api-keys.",
                     "invalid_request_error", "");
}

ApiError incorrect_key(std::string_view key) {
    // Only the redacted form (sk-…abcd) ever leaves the emulator.
    return api_error(401,
                     "Incorrect API key provided: " + redact_secret(key) +
                         ". You can find your API key at "
                         "https://platform.openai.com/account/api-keys.",
                     "invalid_request_error", "invalid_api_key");
}

ApiError beta_disabled() {
    return api_error(400,
                     "The Realtime Beta API is no longer supported. Please use /v1/realtime for "
                     "the GA API.",
                     "invalid_request_error", "beta_api_shape_disabled");
}

ApiError invalid_url(const http::Request& req) {
    return api_error(404, "Invalid URL (" + req.method + " " + req.path + ")",
                     "invalid_request_error", "");
}

ApiError invalid_method(const http::Request& req) {
    return api_error(405, "Invalid method for URL (" + req.method + " " + req.path + ")",
                     "invalid_request_error", "");
}

http::Response rate_limited(std::int64_t retry_after_ms) {
    const std::string wait = duration_text(retry_after_ms);
    auto r = error_answer(api_error(
        429,
        "Rate limit reached for requests per min (RPM) in organization org-emulator: Limit 60, "
        "Used 60, Requested 1. Please try again in " +
            wait + ". Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests", "rate_limit_exceeded"));
    r.set("retry-after", std::to_string((retry_after_ms + 999) / 1000));
    r.set("retry-after-ms", std::to_string(retry_after_ms));
    r.set("x-ratelimit-limit-requests", "60");
    r.set("x-ratelimit-remaining-requests", "0");
    r.set("x-ratelimit-reset-requests", wait);
    return r;
}

http::Response quota_exceeded() {
    return error_answer(api_error(429,
                                  "You exceeded your current quota, please check your plan and "
                                  "billing details. For more information on this error, read the "
                                  "docs: https://platform.openai.com/docs/guides/error-codes/"
                                  "api-errors.",
                                  "insufficient_quota", "insufficient_quota"));
}

http::Response server_error() {
    return error_answer(
        api_error(500, "The server had an error while processing your request. Sorry about that!",
                  "server_error", "server_error"));
}

}  // namespace voicegate::emulator::detail
