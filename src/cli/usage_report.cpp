#include "cli/usage_report.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "api/admin_handlers.hpp"
#include "cli/run_blocking.hpp"
#include "core/json_text.hpp"
#include "core/prices.hpp"
#include "store/rollup.hpp"

namespace voicegate::cli {
namespace {

constexpr std::int64_t kMaxRangeDays = 366;

std::string money(double usd) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", usd);
    return buf;
}

std::string minutes(std::int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ms) / 60'000.0);
    return buf;
}

std::int64_t denied_total(const store::UsageTotals& t) {
    std::int64_t n = 0;
    for (const auto& [reason, count] : t.denied) {
        n += count;
    }
    return n;
}

// The columns of the table and the CSV, in order.
std::vector<std::string> cells(const std::string& key, const store::UsageTotals& t) {
    return {key,
            std::to_string(t.sessions),
            std::to_string(t.ended_sessions),
            minutes(t.reported_ms),
            minutes(t.billable_ms),
            std::to_string(t.messages),
            money(t.cost_usd),
            std::to_string(t.ended_user),
            std::to_string(t.ended_timeout),
            std::to_string(t.ended_error),
            std::to_string(denied_total(t))};
}

const std::vector<std::string>& headers() {
    static const std::vector<std::string> kHeaders{
        "key",      "sessions",     "ended",      "minutes",       "billable_minutes",
        "messages", "est_cost_usd", "ended_user", "ended_timeout", "ended_error",
        "denied"};
    return kHeaders;
}

std::string denied_line(const store::UsageTotals& t) {
    std::string out;
    for (const auto& [reason, count] : t.denied) {
        out += (out.empty() ? "" : ", ") + reason + " " + std::to_string(count);
    }
    return out.empty() ? "none" : out;
}

}  // namespace

Result<store::UsageQuery> usage_query_from(const UsageCliOptions& o, std::int64_t today) {
    store::UsageQuery q;
    q.to_day = today;
    if (!o.until.empty()) {
        auto d = store::parse_day(o.until);
        if (!d) {
            return fail(Error::bad_request,
                        "--until: expected a date YYYY-MM-DD, got \"" + o.until + "\"");
        }
        q.to_day = *d;
    }
    if (!o.since.empty() && (o.since.back() == 'd' || o.since.back() == 'w')) {
        std::int64_t n = 0;
        const char* first = o.since.data();
        const char* last = first + o.since.size() - 1;
        const auto [ptr, ec] = std::from_chars(first, last, n);
        if (ec != std::errc{} || ptr != last || n < 1) {
            return fail(Error::bad_request,
                        "--since: expected Nd, Nw or a date YYYY-MM-DD, got \"" + o.since + "\"");
        }
        n *= o.since.back() == 'w' ? 7 : 1;
        q.from_day = q.to_day - n + 1;
    } else {
        auto d = store::parse_day(o.since);
        if (!d) {
            return fail(Error::bad_request,
                        "--since: expected Nd, Nw or a date YYYY-MM-DD, got \"" + o.since + "\"");
        }
        q.from_day = *d;
    }
    if (q.from_day > q.to_day) {
        return fail(Error::bad_request, "--since: must not be after --until");
    }
    if (q.to_day - q.from_day + 1 > kMaxRangeDays) {
        return fail(Error::bad_request, "--since: the range is longer than 366 days");
    }
    if (o.group_by != "day" && o.group_by != "user" && o.group_by != "model") {
        return fail(Error::bad_request, "--group-by: must be day, user or model");
    }
    if (o.format != "table" && o.format != "json" && o.format != "csv") {
        return fail(Error::bad_request, "--format: must be table, json or csv");
    }
    if (o.limit < 1 || o.limit > 10'000) {
        return fail(Error::bad_request, "--limit: must be 1..10000");
    }
    q.group_by = o.group_by;
    q.user_id = o.user;
    q.model = o.model;
    q.limit = o.limit;
    return q;
}

Result<store::UsageReport> run_usage_query(store::SessionStore& store,
                                           const store::UsageQuery& query) {
    return run_blocking<store::UsageReport>([&] { return store.usage(query); });
}

std::string render_usage(const store::UsageReport& report, const store::UsageQuery& query,
                         const std::string& format) {
    if (format == "json") {
        return to_json_text(api::usage_json(report, query)) + "\n";
    }
    std::vector<std::vector<std::string>> rows;
    rows.push_back(headers());
    for (const auto& r : report.rows) {
        rows.push_back(cells(r.key, r.usage));
    }
    rows.push_back(cells("TOTAL", report.totals));
    std::string out;
    if (format == "csv") {
        for (const auto& row : rows) {
            for (std::size_t i = 0; i < row.size(); ++i) {
                out += (i ? "," : "") + api::csv_cell(row[i]);
            }
            out += "\r\n";
        }
        return out;
    }
    std::vector<std::size_t> width(headers().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            width[i] = std::max(width[i], row[i].size());
        }
    }
    out = "usage " + store::format_day(query.from_day) + " .. " + store::format_day(query.to_day) +
          " (UTC), by " + query.group_by +
          (query.user_id.empty() ? "" : ", user " + query.user_id) +
          (query.model.empty() ? "" : ", model " + query.model) + "\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
        if (r + 1 == rows.size()) {
            std::size_t total = 0;
            for (auto w : width) {
                total += w + 2;
            }
            out += std::string(total - 2, '-') + "\n";
        }
        for (std::size_t i = 0; i < rows[r].size(); ++i) {
            const auto& c = rows[r][i];
            const auto padding = std::string(width[i] - c.size(), ' ');
            out += (i ? "  " : "") + (i == 0 ? c + padding : padding + c);
        }
        out += "\n";
    }
    out += "denied by reason: " + denied_line(report.totals) + "\n";
    out += "est_cost_usd: " + std::string(cost_basis()) + "\n";
    return out;
}

}  // namespace voicegate::cli
