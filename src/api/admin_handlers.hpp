#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/gate.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

/// The query parameters of a request, percent-decoded; a 400 naming the problem for a
/// malformed query, a repeated parameter or one not in `allowed`. Pure.
Result<std::map<std::string, std::string>> admin_params(const std::string& query,
                                                        std::initializer_list<const char*> allowed);

/// `from` / `to` (UTC days, inclusive; default the 30 days up to today) as day numbers; a 400
/// naming the parameter when malformed, reversed or longer than 366 days. Pure.
Result<std::pair<std::int64_t, std::int64_t>> admin_day_range(
    const std::map<std::string, std::string>& params, std::int64_t now_ms);

/// An ISO-8601 UTC time with milliseconds ("2026-11-27T12:31:05.120Z"). Pure.
std::string iso_time(std::int64_t unix_ms);

/// The opaque cursor of a sessions page, and back (nullopt if malformed). Pure.
std::string encode_session_cursor(const store::SessionCursor& c);
std::optional<store::SessionCursor> decode_session_cursor(const std::string& text);

/// One CSV cell (RFC 4180 quoting; a cell starting with = + - @ is prefixed with '). Pure.
std::string csv_cell(const std::string& text);

/// The body of GET /api/admin/usage for `report` (docs/admin-api.md); also `voicegate usage
/// --format json`. Pure.
boost::json::object usage_json(const store::UsageReport& report, const store::UsageQuery& query);

/// GET /api/admin/{usage,live,sessions,events} (docs/admin-api.md). Every route needs the admin
/// identity (401 with WWW-Authenticate: Bearer; 404 when admin is off).
/// Thread safety: immutable after construction; safe to call from every event loop.
class AdminHandler {
public:
    AdminHandler(const config::Config& config, const Gate& gate, store::SessionStore& sessions,
                 const Clock& clock);
    boost::asio::awaitable<http::Response> usage(http::Request& req) const;
    boost::asio::awaitable<http::Response> live(http::Request& req) const;
    boost::asio::awaitable<http::Response> sessions(http::Request& req) const;
    boost::asio::awaitable<http::Response> events(http::Request& req) const;

private:
    /// The refusal for a request without the admin identity, or nullopt.
    boost::asio::awaitable<std::optional<http::Response>> refuse(const http::Request& req) const;

    const config::Config& config_;
    const Gate& gate_;
    store::SessionStore& sessions_;
    const Clock& clock_;
};

}  // namespace voicegate::api
