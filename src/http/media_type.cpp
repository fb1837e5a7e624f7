#include "http/media_type.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace voicegate::http {
namespace {

// RFC 9110 §5.6.2 tchar.
bool is_token(std::string_view s) {
    constexpr std::string_view kSpecial = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               kSpecial.find(c) != std::string_view::npos;
    });
}

}  // namespace

std::string media_type(std::string_view content_type) {
    const auto type = trim_view(content_type.substr(0, content_type.find(';')));
    const auto slash = type.find('/');
    if (slash == std::string_view::npos || !is_token(type.substr(0, slash)) ||
        !is_token(type.substr(slash + 1))) {
        return {};
    }
    return to_lower(type);
}

bool is_json_media_type(std::string_view content_type) {
    const auto type = media_type(content_type);
    constexpr std::string_view kApp = "application/";
    constexpr std::string_view kSuffix = "+json";
    if (type == "application/json") {
        return true;
    }
    return type.starts_with(kApp) && type.size() > kApp.size() + kSuffix.size() &&
           type.ends_with(kSuffix);
}

}  // namespace voicegate::http
