#include "auth/jwt.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace voicegate::auth {
namespace {

constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) {
        v = kInvalid;
    }
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
    }
    return t;
}

constexpr auto kDecode = make_decode_table();
constexpr std::string_view kEncode =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

JwtError malformed(std::string detail) {
    return JwtError{JwtReason::malformed, std::move(detail)};
}

// Parses one decoded JSON segment that must be an object.
JwtResult<boost::json::object> parse_object(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    if (ec) {
        return malformed(std::string(what) + " is not valid JSON");
    }
    if (!v.is_object()) {
        return malformed(std::string(what) + " is not a JSON object");
    }
    return std::move(v.get_object());
}

bool is_token68_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

std::string_view to_string(JwtReason reason) {
    switch (reason) {
        case JwtReason::ok:
            return "ok";
        case JwtReason::missing:
            return "missing";
        case JwtReason::oversized:
            return "oversized";
        case JwtReason::malformed:
            return "malformed";
        case JwtReason::unsupported_alg:
            return "unsupported_alg";
        case JwtReason::alg_not_allowed:
            return "alg_not_allowed";
        case JwtReason::unknown_kid:
            return "unknown_kid";
        case JwtReason::key_mismatch:
            return "key_mismatch";
        case JwtReason::bad_signature:
            return "bad_signature";
        case JwtReason::expired:
            return "expired";
        case JwtReason::not_yet_valid:
            return "not_yet_valid";
        case JwtReason::issued_in_future:
            return "issued_in_future";
        case JwtReason::wrong_issuer:
            return "wrong_issuer";
        case JwtReason::wrong_audience:
            return "wrong_audience";
        case JwtReason::missing_subject:
            return "missing_subject";
    }
    return "unknown";
}

void throw_exception_from_error(const JwtError& e, const boost::source_location& /*loc*/) {
    throw std::logic_error("value() called on a failed JwtResult: " +
                           std::string(to_string(e.reason)));
}

std::optional<std::string> base64url_decode(std::string_view in) {
    // A length of 1 mod 4 cannot come from any byte string.
    if (in.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(in.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const std::uint8_t v = kDecode[static_cast<unsigned char>(c)];
        if (v == kInvalid) {
            return std::nullopt;
        }
        acc = ((acc << 6U) | v) & 0xFFFFU;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU));
        }
    }
    // Leftover bits must be zero, so every byte string has exactly one encoding.
    if ((acc & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) {
        return std::nullopt;
    }
    return out;
}

std::string base64url_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        acc = ((acc << 8U) | static_cast<unsigned char>(c)) & 0xFFFFU;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kEncode[(acc >> static_cast<unsigned>(bits)) & 0x3FU]);
        }
    }
    if (bits > 0) {
        out.push_back(kEncode[(acc << static_cast<unsigned>(6 - bits)) & 0x3FU]);
    }
    return out;
}

JwtResult<ParsedJwt> parse_jwt(std::string_view token, std::size_t max_bytes) {
    if (token.empty()) {
        return JwtError{JwtReason::missing, "empty token"};
    }
    if (token.size() > max_bytes) {
        return JwtError{JwtReason::oversized, "token is " + std::to_string(token.size()) +
                                                  " bytes, limit " + std::to_string(max_bytes)};
    }
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return malformed("a JWS in compact form has exactly three segments");
    }
    const auto h64 = token.substr(0, dot1);
    const auto p64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const auto s64 = token.substr(dot2 + 1);
    if (h64.empty() || p64.empty()) {
        return malformed("empty header or payload segment");
    }

    auto header_text = base64url_decode(h64);
    if (!header_text) {
        return malformed("header segment is not base64url");
    }
    auto header = parse_object(*header_text, "header");
    if (!header) {
        return header.error();
    }

    ParsedJwt out;
    const auto* alg = header->if_contains("alg");
    if (alg == nullptr || !alg->is_string() || alg->get_string().empty()) {
        return malformed("header has no string alg");
    }
    out.header.alg = std::string(alg->get_string());
    if (const auto* kid = header->if_contains("kid"); kid != nullptr) {
        if (!kid->is_string()) {
            return malformed("header kid is not a string");
        }
        out.header.kid = std::string(kid->get_string());
    }
    if (const auto* typ = header->if_contains("typ"); typ != nullptr) {
        if (!typ->is_string()) {
            return malformed("header typ is not a string");
        }
        out.header.typ = std::string(typ->get_string());
    }
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we implement none.
    if (header->contains("crit")) {
        return malformed("header crit extensions are not supported");
    }

    auto payload_text = base64url_decode(p64);
    if (!payload_text) {
        return malformed("payload segment is not base64url");
    }
    auto claims = parse_object(*payload_text, "claims");
    if (!claims) {
        return claims.error();
    }
    out.claims = std::move(*claims);

    auto signature = base64url_decode(s64);
    if (!signature) {
        return malformed("signature segment is not base64url");
    }
    out.signature = std::move(*signature);
    out.signing_input = std::string(token.substr(0, dot2));
    return out;
}

std::optional<std::string_view> extract_bearer(std::string_view authorization_header) {
    auto v = authorization_header;
    while (!v.empty() && is_ows(v.front())) {
        v.remove_prefix(1);
    }
    while (!v.empty() && is_ows(v.back())) {
        v.remove_suffix(1);
    }
    constexpr std::string_view kScheme = "bearer";
    if (v.size() <= kScheme.size()) {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        const char c = v[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != kScheme[i]) {
            return std::nullopt;
        }
    }
    v.remove_prefix(kScheme.size());
    if (!is_ows(v.front())) {
        return std::nullopt;  // "Bearerxyz" is another scheme
    }
    while (!v.empty() && is_ows(v.front())) {
        v.remove_prefix(1);
    }
    // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    std::size_t i = 0;
    while (i < v.size() && is_token68_char(v[i])) {
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    while (i < v.size() && v[i] == '=') {
        ++i;
    }
    if (i != v.size()) {
        return std::nullopt;
    }
    return v;
}

std::string sanitize_for_details(std::string_view s, std::size_t max_len) {
    std::string out;
    const bool truncated = s.size() > max_len;
    const auto n = truncated ? max_len : s.size();
    out.reserve(n + 3);
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[i];
        out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
    }
    if (truncated) {
        out += "...";
    }
    return out;
}

}  // namespace voicegate::auth
