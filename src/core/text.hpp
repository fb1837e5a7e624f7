#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace voicegate {

/// ASCII lowercase copy of `s` (header names, schemes, hosts). Pure.
inline std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

/// `s` without the leading and trailing characters of `chars` (by default spaces and tabs, the
/// whitespace of HTTP headers and lists; configuration values also drop CR and LF). Pure.
inline std::string_view trim_view(std::string_view s, std::string_view chars = " \t") {
    const auto b = s.find_first_not_of(chars);
    if (b == std::string_view::npos) {
        return {};
    }
    return s.substr(b, s.find_last_not_of(chars) - b + 1);
}

/// ASCII case-insensitive equality. Pure.
inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lx = (x >= 'A' && x <= 'Z') ? static_cast<char>(x - 'A' + 'a') : x;
               const auto ly = (y >= 'A' && y <= 'Z') ? static_cast<char>(y - 'A' + 'a') : y;
               return lx == ly;
           });
}

}  // namespace voicegate

namespace voicegate {

/// The longest prefix of `s` of at most `max_bytes` bytes that does not end inside a UTF-8
/// character: truncating valid UTF-8 with it gives valid UTF-8. Use it wherever user text is
/// shortened for a response, a log line or a stored column. Pure.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes);

/// `s` escaped for the inside of a JSON string, always valid UTF-8: quotes, backslashes and
/// control characters are escaped, and each byte that is not part of a well-formed UTF-8
/// character (a stray continuation byte, an overlong form, a surrogate, a cut sequence) becomes
/// U+FFFD (`\ufffd`). The one escaper of every JSON-lines writer (access log, JSON application
/// log). Pure.
std::string json_escape(std::string_view s);

/// `text` (a URL, or any message that may quote one, such as a libpq error) with the password
/// of every `scheme://user:password@host` replaced by `***`, and every `password=` value
/// (a query parameter or a libpq keyword) too; the user name is kept. Over-redacts rather
/// than leaks when a URL is malformed (e.g. a password containing '/'). Use it wherever a
/// configured URL or an error about one is logged, thrown or printed. Pure.
std::string redact_url_userinfo(std::string_view text);

}  // namespace voicegate
