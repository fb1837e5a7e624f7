#include "api/admin_render.hpp"

#include <cstdio>

#include <boost/json.hpp>

#include "core/prices.hpp"
#include "store/quota.hpp"
#include "store/rollup.hpp"

namespace voicegate::api {
namespace {
namespace json = boost::json;

json::object tokens_json(const TokenUsage& t) {
    return {{"inputText", t.input_text},     {"inputAudio", t.input_audio},
            {"inputImage", t.input_image},   {"cachedText", t.cached_text},
            {"cachedAudio", t.cached_audio}, {"cachedImage", t.cached_image},
            {"outputText", t.output_text},   {"outputAudio", t.output_audio}};
}

json::object denied_json(const std::map<std::string, std::int64_t>& d) {
    json::object o;
    for (const auto& [reason, n] : d) {
        o[reason.empty() ? "unknown" : reason] = n;
    }
    return o;
}

double minutes(std::int64_t ms) {
    return static_cast<double>(ms) / 60'000.0;
}

json::object totals_json(const store::UsageTotals& u) {
    return {{"sessions", u.sessions},
            {"endedSessions", u.ended_sessions},
            {"minutes", minutes(u.reported_ms)},
            {"billableMinutes", minutes(u.billable_ms)},
            {"messages", u.messages},
            {"estimatedCostUsd", u.cost_usd},
            {"tokens", tokens_json(u.tokens)},
            {"endedBy",
             {{"user", u.ended_user}, {"timeout", u.ended_timeout}, {"error", u.ended_error}}},
            {"denied", denied_json(u.denied)}};
}

json::value opt_time(const std::optional<std::int64_t>& ms) {
    return ms ? json::value(iso_time(*ms)) : json::value(nullptr);
}

// The fields of one session, in the documented order (also the CSV columns).
std::vector<std::pair<std::string, json::value>> session_fields(const store::SessionRow& r) {
    const bool ended = r.status == "ended";
    json::value billable = nullptr;
    if (ended) {
        billable = minutes(store::billable_ms(r.reported_duration_s.value_or(0),
                                              r.observed_duration_s.value_or(0)));
    }
    const auto opt_num = [](const auto& v) { return v ? json::value(*v) : json::value(nullptr); };
    return {{"sessionId", json::value(r.issued.session_id)},
            {"userId", json::value(r.issued.user_id)},
            {"model", json::value(r.issued.model)},
            {"voice", json::value(r.issued.voice)},
            {"profile", json::value(r.issued.profile)},
            {"status", json::value(r.status)},
            {"issuedAt", json::value(iso_time(r.issued.issued_at_ms))},
            {"tokenExpiresAt", json::value(iso_time(r.issued.token_expires_at * 1000))},
            {"clientIp", json::value(r.issued.client_ip)},
            {"userAgent", json::value(r.issued.user_agent)},
            {"endedAt", opt_time(r.ended_at_ms)},
            {"endedBy", r.ended_by ? json::value(*r.ended_by) : json::value(nullptr)},
            {"reportedDurationS", opt_num(r.reported_duration_s)},
            {"observedDurationS", opt_num(r.observed_duration_s)},
            {"billableMinutes", billable},
            {"messageCount", opt_num(r.message_count)},
            {"estimatedCostUsd", ended ? opt_num(r.estimated_cost_usd) : json::value(nullptr)}};
}

std::string csv_value(const json::value& v) {
    if (v.is_null()) {
        return {};
    }
    if (v.is_string()) {
        return csv_cell(std::string(v.get_string()));
    }
    if (v.is_double()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.10g", v.get_double());
        return buf;
    }
    return json::serialize(v);
}

json::value next_cursor(const std::string& next) {
    return next.empty() ? json::value(nullptr) : json::value(next);
}

json::object event_json(const store::Event& e) {
    json::value detail = json::object{};
    if (!e.detail.empty()) {
        boost::system::error_code ec;
        detail = json::parse(e.detail, ec);
        if (ec) {
            detail = json::value(e.detail);
        }
    }
    const auto opt = [](const std::string& s) {
        return s.empty() ? json::value(nullptr) : json::value(s);
    };
    return json::object{{"id", e.id},
                        {"at", iso_time(e.at_ms)},
                        {"type", e.type},
                        {"sessionId", opt(e.session_id)},
                        {"userId", opt(e.user_id)},
                        {"clientIp", opt(e.client_ip)},
                        {"reason", opt(e.reason)},
                        {"detail", std::move(detail)}};
}

}  // namespace

std::string iso_time(std::int64_t unix_ms) {
    const std::int64_t day = store::quota_day(unix_ms);
    const std::int64_t in_day = unix_ms - day * store::kMsPerDay;
    char buf[48];
    std::snprintf(
        buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%03lldZ", store::format_day(day).c_str(),
        static_cast<long long>(in_day / 3'600'000), static_cast<long long>(in_day / 60'000 % 60),
        static_cast<long long>(in_day / 1000 % 60), static_cast<long long>(in_day % 1000));
    return buf;
}

std::string csv_cell(const std::string& text) {
    std::string v = text;
    // OWASP's list: a cell starting with any of these may be read as a formula by a
    // spreadsheet (a leading tab or CR is skipped by some, exposing what follows).
    if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' ||
                       v[0] == '\r')) {
        v.insert(v.begin(), '\'');
    }
    if (v.find_first_of(",\"\r\n") == std::string::npos) {
        return v;
    }
    std::string out = "\"";
    for (const char c : v) {
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return out + "\"";
}

json::object usage_json(const store::UsageReport& report, const store::UsageQuery& q) {
    json::array rows;
    for (const auto& r : report.rows) {
        json::object o{{"key", r.key}};  // first, as in the documented rows
        for (auto& field : totals_json(r.usage)) {
            o.emplace(field.key(), std::move(field.value()));
        }
        rows.push_back(std::move(o));
    }
    return json::object{{"success", true},
                        {"from", store::format_day(q.from_day)},
                        {"to", store::format_day(q.to_day)},
                        {"groupBy", q.group_by},
                        {"costIsEstimate", true},
                        {"costBasis", cost_basis()},
                        {"totals", totals_json(report.totals)},
                        {"rows", std::move(rows)}};
}

json::object live_json(const store::LiveReport& report, std::int64_t now_ms) {
    json::array list;
    for (const auto& s : report.sessions) {
        list.push_back(json::object{{"sessionId", s.row.issued.session_id},
                                    {"userId", s.row.issued.user_id},
                                    {"model", s.row.issued.model},
                                    {"issuedAt", iso_time(s.row.issued.issued_at_ms)},
                                    {"expiresAt", iso_time(s.row.issued.token_expires_at * 1000)},
                                    {"reservationEndsAt", iso_time(s.reservation_ends_at_ms)}});
    }
    const auto& t = report.today;
    return json::object{{"success", true},
                        {"now", iso_time(now_ms)},
                        {"openSessions", report.open_sessions},
                        {"sessions", std::move(list)},
                        {"today",
                         {{"sessions", t.sessions},
                          {"minutes", minutes(t.reported_ms)},
                          {"billableMinutes", minutes(t.billable_ms)},
                          {"estimatedCostUsd", t.cost_usd},
                          {"denied", denied_json(t.denied)}}},
                        {"costIsEstimate", true},
                        {"costBasis", cost_basis()}};
}

json::object sessions_json(const std::vector<store::SessionRow>& sessions,
                           const std::string& next) {
    json::array list;
    for (const auto& row : sessions) {
        json::object o;
        for (auto& [k, v] : session_fields(row)) {
            o.emplace(k, std::move(v));
        }
        list.push_back(std::move(o));
    }
    return json::object{{"success", true},
                        {"costIsEstimate", true},
                        {"costBasis", cost_basis()},
                        {"sessions", std::move(list)},
                        {"nextCursor", next_cursor(next)}};
}

std::string sessions_csv(const std::vector<store::SessionRow>& sessions) {
    std::string body;
    const auto header = session_fields(store::SessionRow{});
    for (std::size_t i = 0; i < header.size(); ++i) {
        body.append(i == 0 ? "" : ",").append(header[i].first);
    }
    body.append("\r\n");
    for (const auto& row : sessions) {
        const auto fields = session_fields(row);
        for (std::size_t i = 0; i < fields.size(); ++i) {
            body.append(i == 0 ? "" : ",").append(csv_value(fields[i].second));
        }
        body.append("\r\n");
    }
    return body;
}

std::string sessions_csv_filename(std::pair<std::int64_t, std::int64_t> days) {
    return "voicegate-sessions-" + store::format_day(days.first) + "-" +
           store::format_day(days.second) + ".csv";
}

json::object events_json(const store::EventPage& page, const std::string& next) {
    json::array list;
    for (const auto& e : page.events) {
        list.push_back(event_json(e));
    }
    return json::object{
        {"success", true}, {"events", std::move(list)}, {"nextCursor", next_cursor(next)}};
}

}  // namespace voicegate::api
