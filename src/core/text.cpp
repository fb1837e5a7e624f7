#include "core/text.hpp"

#include <cstdio>

namespace voicegate {
namespace {

// Length of the well-formed UTF-8 character at the start of `s` (RFC 3629 table 3: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t utf8_char_length(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return i < s.size() && byte(i) >= lo && byte(i) <= hi;
    };
    const unsigned b0 = byte(0);
    if (b0 < 0x80) {
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        return cont(1) ? 2 : 0;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
        const unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
        return cont(1, lo, hi) && cont(2) ? 3 : 0;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
        const unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
        return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

bool url_token_end(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '<' ||
           c == '>' || c == '`';
}

}  // namespace

std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) {
        return s;
    }
    std::size_t n = max_bytes;
    // Back off over continuation bytes to the start of the character that straddles the cut.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) {
        --n;
    }
    return s.substr(0, n);
}

std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else if (static_cast<unsigned char>(c) < 0x80) {
                    out += c;
                } else if (const auto n = utf8_char_length(s.substr(i)); n > 0) {
                    out.append(s.substr(i, n));
                    i += n;
                    continue;
                } else {
                    out += "\\ufffd";
                }
        }
        ++i;
    }
    return out;
}

std::string redact_url_userinfo(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    for (auto sep = text.find("://"); sep != std::string_view::npos; sep = text.find("://", i)) {
        const std::size_t start = sep + 3;
        std::size_t token_end = start;
        while (token_end < text.size() && !url_token_end(text[token_end])) {
            ++token_end;
        }
        const auto token = text.substr(start, token_end - start);
        const auto authority = token.substr(0, token.find_first_of("/?#"));
        auto at = authority.rfind('@');
        if (at == std::string_view::npos) {
            // Malformed: a password holding '/', '?' or '#'. Credentials if a ':' precedes it.
            const auto last = token.rfind('@');
            if (last != std::string_view::npos &&
                token.substr(0, last).find(':') != std::string_view::npos) {
                at = last;
            }
        }
        if (at == std::string_view::npos) {
            out.append(text.substr(i, start - i));
            i = start;
            continue;
        }
        const auto colon = token.substr(0, at).find(':');
        if (colon == std::string_view::npos) {
            out.append(text.substr(i, start + at - i));  // a user name alone
        } else {
            out.append(text.substr(i, start + colon + 1 - i));
            out += "***";
        }
        i = start + at;
    }
    out.append(text.substr(i));
    // password=VALUE: a URL query parameter (libpq accepts it) or a libpq keyword.
    constexpr std::string_view kKey = "password=";
    for (auto pos = out.find(kKey); pos != std::string::npos; pos = out.find(kKey, pos + 1)) {
        const char before = pos == 0 ? ' ' : out[pos - 1];
        if (before != '?' && before != '&' && before != ' ' && before != '\t' && before != ';') {
            continue;
        }
        const auto value = pos + kKey.size();
        auto end = value;
        while (end < out.size() && out[end] != '&' && out[end] != '#' && out[end] != ';' &&
               !url_token_end(out[end])) {
            ++end;
        }
        out.replace(value, end - value, "***");
    }
    return out;
}

}  // namespace voicegate
