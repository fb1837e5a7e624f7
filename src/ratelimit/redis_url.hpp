#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace voicegate::ratelimit {

/// Where a Redis server is and how to log in: the parts of a `REDIS_URL`.
/// Plain value; `password` is a secret (never log it, use `redacted()`).
struct RedisUrl {
    std::string host;           // name or address (IPv6 without brackets)
    std::uint16_t port = 6379;  // default Redis port
    std::string username;       // Redis 6 ACL user; empty: the default user
    std::string password;       // secret; empty: no AUTH
    int db = 0;                 // SELECTed database

    /// The URL with the password replaced by `***`, e.g. `redis://:***@10.0.0.5:6379/0`;
    /// safe to log. Pure.
    std::string redacted() const;

    bool operator==(const RedisUrl&) const = default;
};

/// Parses `redis://[[user]:password@]host[:port][/db]` (percent-encoded user and password;
/// IPv6 hosts in brackets; db 0..1000000). `rediss://` (TLS), unix sockets, query parameters
/// and fragments are refused. A Failure is `bad_request` whose message explains the expected
/// form and never contains the password. Pure; thread-safe.
[[nodiscard]] Result<RedisUrl> parse_redis_url(std::string_view text);

/// `text` with any password removed (`redis://user:***@host...`), for messages about a URL
/// that did not parse. Pure.
std::string redact_url_text(std::string_view text);

}  // namespace voicegate::ratelimit
