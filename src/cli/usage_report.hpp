#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "store/session_store.hpp"

namespace voicegate::cli {

/// `voicegate usage` options, as typed.
struct UsageCliOptions {
    std::string since = "30d";  // Nd (the last N days, today included) or YYYY-MM-DD
    std::string until;          // YYYY-MM-DD; empty: today
    std::string user;
    std::string model;
    std::string group_by = "day";  // day | user | model
    std::string format = "table";  // table | json | csv
    std::size_t limit = 100;       // groupBy=user: most rows
};

/// Turns the options into a store query for `today` (days since the epoch, UTC): bad_request
/// naming the option on a malformed date, `since` after `until`, a range over 366 days, or an
/// unknown group/format. Pure.
[[nodiscard]] Result<store::UsageQuery> usage_query_from(const UsageCliOptions& options,
                                                         std::int64_t today);

/// Runs `query` on `store` and waits for the answer. Blocking: runs its own event loop.
[[nodiscard]] Result<store::UsageReport> run_usage_query(store::SessionStore& store,
                                                         const store::UsageQuery& query);

/// Renders a usage report as an aligned text table with a TOTAL row (cost labelled as an
/// estimate), as CSV (header row, one row per group, then TOTAL), or as the JSON body of
/// `GET /api/admin/usage`. Pure.
std::string render_usage(const store::UsageReport& report, const store::UsageQuery& query,
                         const std::string& format);

}  // namespace voicegate::cli
