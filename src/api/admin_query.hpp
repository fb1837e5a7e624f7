#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

// The query side of the admin API (docs/admin-api.md): query strings in, store queries out.
// Every function here is pure; a malformed input is a 400 `bad_request` naming the parameter.

/// Percent-decoded query parameters by name.
using QueryParams = std::map<std::string, std::string>;

/// The query parameters of a request; a 400 naming the problem for a malformed query, a
/// repeated parameter or one not in `allowed`. Pure.
Result<QueryParams> admin_params(const std::string& query,
                                 std::initializer_list<const char*> allowed);

/// `from` / `to` (UTC days, inclusive; default the 30 days up to today) as day numbers; a 400
/// naming the parameter when malformed, reversed or longer than 366 days. Pure.
Result<std::pair<std::int64_t, std::int64_t>> admin_day_range(const QueryParams& params,
                                                              std::int64_t now_ms);

/// The opaque cursor of a sessions page, and back (nullopt if malformed). Pure.
std::string encode_session_cursor(const store::SessionCursor& c);
/// See encode_session_cursor. Pure.
std::optional<store::SessionCursor> decode_session_cursor(const std::string& text);

/// The cursor of an events page ("e<id>"), and back (nullopt if malformed). Pure.
std::string encode_event_cursor(std::int64_t before_id);
/// See encode_event_cursor. Pure.
std::optional<std::int64_t> decode_event_cursor(const std::string& v);

/// GET /api/admin/usage's query. Pure.
Result<store::UsageQuery> usage_query(const std::string& query, std::int64_t now_ms);

/// GET /api/admin/sessions's query: the store query, the UTC days it spans and the format.
struct SessionsRequest {
    store::SessionQuery query;
    std::pair<std::int64_t, std::int64_t> days;
    bool csv = false;
};
/// GET /api/admin/sessions's query (a CSV export may ask for up to 100,000 rows). Pure.
Result<SessionsRequest> sessions_query(const std::string& query, std::int64_t now_ms);

/// GET /api/admin/events's query. Pure.
Result<store::EventQuery> events_query(const std::string& query, std::int64_t now_ms);

}  // namespace voicegate::api
