#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "store/session_store.hpp"

namespace voicegate::api {

// The views of the admin API (docs/admin-api.md) and of `voicegate usage`: store answers in,
// JSON objects and CSV text out. Every function here is pure.

/// An ISO-8601 UTC time with milliseconds ("2026-11-27T12:31:05.120Z"). Pure.
std::string iso_time(std::int64_t unix_ms);

/// One CSV cell (RFC 4180 quoting; a cell starting with = + - @ is prefixed with '). Pure.
std::string csv_cell(const std::string& text);

/// The body of GET /api/admin/usage for `report` (docs/admin-api.md); also `voicegate usage
/// --format json`. Pure.
boost::json::object usage_json(const store::UsageReport& report, const store::UsageQuery& query);

/// The body of GET /api/admin/live for `report`, read at `now_ms`. Pure.
boost::json::object live_json(const store::LiveReport& report, std::int64_t now_ms);

/// The body of GET /api/admin/sessions for one page; `next` is the encoded cursor of the next
/// page, empty on the last. Pure.
boost::json::object sessions_json(const std::vector<store::SessionRow>& sessions,
                                  const std::string& next);

/// GET /api/admin/sessions?format=csv: a header row of the JSON field names, then one CRLF-ended
/// row per session. Pure.
std::string sessions_csv(const std::vector<store::SessionRow>& sessions);

/// The download name of a sessions CSV over the UTC days `days` (both inclusive). Pure.
std::string sessions_csv_filename(std::pair<std::int64_t, std::int64_t> days);

/// The body of GET /api/admin/events for one page; `next` is the encoded cursor of the next
/// page, empty on the last. Pure.
boost::json::object events_json(const store::EventPage& page, const std::string& next);

}  // namespace voicegate::api
