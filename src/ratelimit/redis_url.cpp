#include "ratelimit/redis_url.hpp"

#include <charconv>

#include <boost/url/parse.hpp>

#include "core/text.hpp"

namespace voicegate::ratelimit {
namespace {

constexpr int kMaxDb = 1'000'000;

Failure bad_url(std::string_view text, std::string_view why) {
    return fail(Error::bad_request, "\"" + redact_url_text(text) + "\": " + std::string(why) +
                                        " (expected redis://[:password@]host:port[/db])");
}

}  // namespace

std::string redact_url_text(std::string_view text) {
    const std::string out = redact_url_userinfo(text);
    // Keep messages printable and short.
    std::string shown;
    for (char c : out.substr(0, 200)) {
        shown.push_back(c >= 0x20 && c < 0x7F ? c : '?');
    }
    return shown;
}

std::string RedisUrl::redacted() const {
    std::string out = "redis://";
    if (!username.empty() || !password.empty()) {
        out += username;
        if (!password.empty()) {
            out += ":***";
        }
        out += "@";
    }
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out += ":" + std::to_string(port) + "/" + std::to_string(db);
    return out;
}

Result<RedisUrl> parse_redis_url(std::string_view text) {
    if (text.rfind("rediss://", 0) == 0) {
        return bad_url(text,
                       "TLS (rediss://) is not supported; reach Redis over a private "
                       "network or a local TLS tunnel");
    }
    if (text.rfind("redis://", 0) != 0) {
        return bad_url(text, "must start with redis://");
    }
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) {
        return bad_url(text, "not a valid URL");
    }
    const auto& u = *parsed;
    if (u.has_query() || u.has_fragment()) {
        return bad_url(text, "query parameters and fragments are not supported");
    }
    RedisUrl out;
    out.host = u.host_address();
    if (out.host.empty()) {
        return bad_url(text, "missing host");
    }
    if (u.has_port()) {
        const auto port = u.port();
        int n = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
        if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 ||
            n > 65535) {
            return bad_url(text, "port must be 1..65535");
        }
        out.port = static_cast<std::uint16_t>(n);
    }
    if (u.has_userinfo()) {
        out.username = u.user();
        if (u.has_password()) {
            out.password = u.password();
        }
        if (out.password.empty() && !out.username.empty()) {
            return bad_url(text, "a user name needs a password (redis://user:password@host)");
        }
    }
    std::string_view path = u.encoded_path();
    if (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    if (!path.empty()) {
        int db = 0;
        const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
        if (ec != std::errc() || end != path.data() + path.size() || db < 0 || db > kMaxDb) {
            return bad_url(text, "the path must be a database number, e.g. /0");
        }
        out.db = db;
    }
    return out;
}

}  // namespace voicegate::ratelimit
