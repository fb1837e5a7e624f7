#include "api/admin_handlers.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/json_text.hpp"
#include "http/response.hpp"
#include "store/event_type.hpp"
#include "store/quota.hpp"
#include "store/rollup.hpp"

namespace voicegate::api {
namespace {
namespace json = boost::json;

Failure bad(const std::string& message) {
    return fail(Error::bad_request, message);
}

Result<std::size_t> parse_limit(const std::map<std::string, std::string>& p, std::size_t dflt,
                                std::size_t max) {
    auto it = p.find("limit");
    if (it == p.end()) {
        return dflt;
    }
    std::size_t n = 0;
    const auto& v = it->second;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || ptr != v.data() + v.size() || n < 1 || n > max) {
        return bad("limit: expected an integer from 1 to " + std::to_string(max));
    }
    return n;
}

std::string get(const std::map<std::string, std::string>& p, const char* key) {
    auto it = p.find(key);
    return it == p.end() ? std::string() : it->second;
}

Result<std::string> one_of(const std::map<std::string, std::string>& p, const char* key,
                           std::initializer_list<const char*> values) {
    const std::string v = get(p, key);
    if (v.empty()) {
        return v;
    }
    for (const char* ok : values) {
        if (v == ok) {
            return v;
        }
    }
    std::string list;
    for (const char* ok : values) {
        list.append(list.empty() ? "" : ", ").append(ok);
    }
    return bad(std::string(key) + ": expected one of " + list);
}

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

/// The first failure among `results`, if any.
template <class... R>
std::optional<Failure> first_failure(const R&... results) {
    std::optional<Failure> out;
    ((out || results ? void() : void(out = results.error())), ...);
    return out;
}

// GET /api/admin/sessions?format=csv: a header row of the JSON field names, then one row per
// session; a further page is announced in X-Next-Cursor.
http::Response sessions_csv(const std::vector<store::SessionRow>& sessions,
                            std::pair<std::int64_t, std::int64_t> days, const std::string& next) {
    http::Response res;
    res.content_type = "text/csv; charset=utf-8";
    res.set("Content-Disposition", "attachment; filename=\"voicegate-sessions-" +
                                       store::format_day(days.first) + "-" +
                                       store::format_day(days.second) + ".csv\"");
    if (!next.empty()) {
        res.set("X-Next-Cursor", next);
    }
    const auto header = session_fields(store::SessionRow{});
    for (std::size_t i = 0; i < header.size(); ++i) {
        res.body.append(i == 0 ? "" : ",").append(header[i].first);
    }
    res.body.append("\r\n");
    for (const auto& row : sessions) {
        const auto fields = session_fields(row);
        for (std::size_t i = 0; i < fields.size(); ++i) {
            res.body.append(i == 0 ? "" : ",").append(csv_value(fields[i].second));
        }
        res.body.append("\r\n");
    }
    return res;
}

// A 200 with an admin body. Its doubles (minutes, costs) are printed as people write them
// (431.5, not Boost's 4.315E2).
http::Response admin_json(const json::value& body) {
    http::Response r = http::json_response(200, json::object{});
    r.body = to_json_text(body);
    return r;
}

http::Response bad_response(const Failure& f, bool dev) {
    return http::error_response(f, dev);
}

}  // namespace

Result<std::map<std::string, std::string>> admin_params(
    const std::string& query, std::initializer_list<const char*> allowed) {
    std::map<std::string, std::string> out;
    if (query.empty()) {
        return out;
    }
    const std::string text = "?" + query;  // the view below points into it
    auto ref = boost::urls::parse_relative_ref(text);
    if (!ref) {
        return bad("query: malformed query string");
    }
    for (const auto& p : ref->params()) {
        if (std::find_if(allowed.begin(), allowed.end(),
                         [&](const char* a) { return p.key == a; }) == allowed.end()) {
            return bad(p.key + ": unknown parameter");
        }
        if (!out.emplace(p.key, p.value).second) {
            return bad(p.key + ": given more than once");
        }
    }
    return out;
}

Result<std::pair<std::int64_t, std::int64_t>> admin_day_range(
    const std::map<std::string, std::string>& params, std::int64_t now_ms) {
    const std::int64_t today = store::quota_day(now_ms);
    std::int64_t to = today;
    if (auto it = params.find("to"); it != params.end()) {
        auto d = store::parse_day(it->second);
        if (!d) {
            return bad("to: expected a date YYYY-MM-DD");
        }
        to = *d;
    }
    std::int64_t from = to - 29;
    if (auto it = params.find("from"); it != params.end()) {
        auto d = store::parse_day(it->second);
        if (!d) {
            return bad("from: expected a date YYYY-MM-DD");
        }
        from = *d;
    }
    if (to < from) {
        return bad("to: is before from");
    }
    if (to - from + 1 > 366) {
        return bad("from: the range is longer than 366 days");
    }
    return std::pair{from, to};
}

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

std::string encode_session_cursor(const store::SessionCursor& c) {
    static const char* kHex = "0123456789abcdef";
    const std::string plain = std::to_string(c.issued_at_ms) + "." + c.session_id;
    std::string out = "c1";
    for (const unsigned char ch : plain) {
        out.push_back(kHex[ch >> 4]);
        out.push_back(kHex[ch & 15]);
    }
    return out;
}

std::optional<store::SessionCursor> decode_session_cursor(const std::string& text) {
    if (text.size() < 4 || text.rfind("c1", 0) != 0 || text.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string plain;
    for (std::size_t i = 2; i < text.size(); i += 2) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(text.data() + i, text.data() + i + 2, v, 16);
        if (ec != std::errc() || p != text.data() + i + 2) {
            return std::nullopt;
        }
        plain.push_back(static_cast<char>(v));
    }
    const auto dot = plain.find('.');
    store::SessionCursor c;
    if (dot == std::string::npos || dot == 0 || dot + 1 == plain.size()) {
        return std::nullopt;
    }
    auto [p, ec] = std::from_chars(plain.data(), plain.data() + dot, c.issued_at_ms);
    if (ec != std::errc() || p != plain.data() + dot) {
        return std::nullopt;
    }
    c.session_id = plain.substr(dot + 1);
    return c;
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

AdminHandler::AdminHandler(const config::Config& config, const Gate& gate,
                           store::SessionStore& sessions, const Clock& clock)
    : config_(config), gate_(gate), sessions_(sessions), clock_(clock) {}

boost::asio::awaitable<std::optional<http::Response>> AdminHandler::refuse(
    const http::Request& req) const {
    if (config_.auth.admin_token.empty() && !gate_.auth_enabled()) {
        co_return http::error_response(fail(Error::not_found), config_.server.dev);
    }
    const auto admin = co_await gate_.is_admin(req);
    if (!admin) {
        co_return http::error_response(admin.error(), config_.server.dev);  // 429
    }
    if (!*admin) {
        co_return http::error_response(fail(Error::unauthorized), config_.server.dev);
    }
    co_return std::nullopt;
}

boost::asio::awaitable<http::Response> AdminHandler::usage(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    const bool dev = config_.server.dev;
    auto p = admin_params(req.query, {"from", "to", "groupBy", "userId", "model", "limit"});
    if (!p) {
        co_return bad_response(p.error(), dev);
    }
    auto range = admin_day_range(*p, clock_.now_ms());
    auto group = one_of(*p, "groupBy", {"day", "user", "model"});
    auto limit = parse_limit(*p, 100, 10'000);
    if (auto f = first_failure(range, group, limit)) {
        co_return bad_response(*f, dev);
    }
    store::UsageQuery q;
    q.from_day = range->first;
    q.to_day = range->second;
    q.group_by = group->empty() ? "day" : *group;
    q.user_id = get(*p, "userId");
    q.model = get(*p, "model");
    q.limit = *limit;
    auto report = co_await sessions_.usage(q);
    if (!report) {
        co_return http::error_response(report.error(), dev);
    }
    co_return admin_json(usage_json(*report, q));
}

boost::asio::awaitable<http::Response> AdminHandler::live(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    const bool dev = config_.server.dev;
    auto p = admin_params(req.query, {});
    if (!p) {
        co_return bad_response(p.error(), dev);
    }
    store::LiveQuery q;
    q.now_ms = clock_.now_ms();
    q.max_age_ms = static_cast<std::int64_t>(config_.quota.session_max_minutes) * 60'000;
    auto report = co_await sessions_.live(q);
    if (!report) {
        co_return http::error_response(report.error(), dev);
    }
    json::array list;
    for (const auto& s : report->sessions) {
        list.push_back(json::object{{"sessionId", s.row.issued.session_id},
                                    {"userId", s.row.issued.user_id},
                                    {"model", s.row.issued.model},
                                    {"issuedAt", iso_time(s.row.issued.issued_at_ms)},
                                    {"expiresAt", iso_time(s.row.issued.token_expires_at * 1000)},
                                    {"reservationEndsAt", iso_time(s.reservation_ends_at_ms)}});
    }
    const auto& t = report->today;
    co_return admin_json(json::object{{"success", true},
                                      {"now", iso_time(q.now_ms)},
                                      {"openSessions", report->open_sessions},
                                      {"sessions", std::move(list)},
                                      {"today",
                                       {{"sessions", t.sessions},
                                        {"minutes", minutes(t.reported_ms)},
                                        {"billableMinutes", minutes(t.billable_ms)},
                                        {"estimatedCostUsd", t.cost_usd},
                                        {"denied", denied_json(t.denied)}}},
                                      {"costIsEstimate", true},
                                      {"costBasis", cost_basis()}});
}

boost::asio::awaitable<http::Response> AdminHandler::sessions(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    const bool dev = config_.server.dev;
    auto p = admin_params(req.query, {"userId", "model", "status", "endedBy", "from", "to",
                                      "cursor", "limit", "format"});
    if (!p) {
        co_return bad_response(p.error(), dev);
    }
    auto format = one_of(*p, "format", {"json", "csv"});
    const bool csv = format && *format == "csv";
    auto range = admin_day_range(*p, clock_.now_ms());
    auto status = one_of(*p, "status", {"issued", "ended"});
    auto ended_by = one_of(*p, "endedBy", {"user", "timeout", "error"});
    auto limit = csv ? parse_limit(*p, 100'000, 100'000) : parse_limit(*p, 50, 1'000);
    if (auto f = first_failure(format, range, status, ended_by, limit)) {
        co_return bad_response(*f, dev);
    }
    store::SessionQuery q;
    q.user_id = get(*p, "userId");
    q.model = get(*p, "model");
    q.status = *status;
    q.ended_by = *ended_by;
    q.from_ms = range->first * store::kMsPerDay;
    q.to_ms = (range->second + 1) * store::kMsPerDay;
    q.limit = *limit;
    if (auto c = p->find("cursor"); c != p->end()) {
        q.after = decode_session_cursor(c->second);
        if (!q.after) {
            co_return bad_response(bad("cursor: malformed (use nextCursor of the previous page)"),
                                   dev);
        }
    }
    auto page = co_await sessions_.list_sessions(q);
    if (!page) {
        co_return http::error_response(page.error(), dev);
    }
    const std::string next = page->next ? encode_session_cursor(*page->next) : std::string();
    if (csv) {
        co_return sessions_csv(page->sessions, *range, next);
    }
    json::array list;
    for (const auto& row : page->sessions) {
        json::object o;
        for (auto& [k, v] : session_fields(row)) {
            o.emplace(k, std::move(v));
        }
        list.push_back(std::move(o));
    }
    co_return admin_json(
        json::object{{"success", true},
                     {"costIsEstimate", true},
                     {"costBasis", cost_basis()},
                     {"sessions", std::move(list)},
                     {"nextCursor", next.empty() ? json::value(nullptr) : json::value(next)}});
}

boost::asio::awaitable<http::Response> AdminHandler::events(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    const bool dev = config_.server.dev;
    auto p =
        admin_params(req.query, {"type", "userId", "sessionId", "from", "to", "cursor", "limit"});
    if (!p) {
        co_return bad_response(p.error(), dev);
    }
    using store::event_type_name;
    using store::EventType;
    auto type = one_of(*p, "type",
                       {event_type_name(EventType::token_issued),
                        event_type_name(EventType::token_denied),
                        event_type_name(EventType::session_ended),
                        event_type_name(EventType::call_hung_up),
                        event_type_name(EventType::admin_action), event_type_name(EventType::alert)});
    auto range = admin_day_range(*p, clock_.now_ms());
    auto limit = parse_limit(*p, 100, 1'000);
    if (auto f = first_failure(type, range, limit)) {
        co_return bad_response(*f, dev);
    }
    store::EventQuery q;
    q.type = *type;
    q.user_id = get(*p, "userId");
    q.session_id = get(*p, "sessionId");
    q.from_ms = range->first * store::kMsPerDay;
    q.to_ms = (range->second + 1) * store::kMsPerDay;
    q.limit = *limit;
    if (auto c = p->find("cursor"); c != p->end()) {
        std::int64_t id = 0;
        const auto& v = c->second;
        const char* end = v.data() + v.size();
        auto [ptr, ec] = std::from_chars(v.data() + (v.empty() ? 0 : 1), end, id);
        if (v.size() < 2 || v[0] != 'e' || ec != std::errc() || ptr != end || id <= 0) {
            co_return bad_response(bad("cursor: malformed (use nextCursor of the previous page)"),
                                   dev);
        }
        q.before_id = id;
    }
    auto page = co_await sessions_.list_events(q);
    if (!page) {
        co_return http::error_response(page.error(), dev);
    }
    json::array list;
    for (const auto& e : page->events) {
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
        list.push_back(json::object{{"id", e.id},
                                    {"at", iso_time(e.at_ms)},
                                    {"type", e.type},
                                    {"sessionId", opt(e.session_id)},
                                    {"userId", opt(e.user_id)},
                                    {"clientIp", opt(e.client_ip)},
                                    {"reason", opt(e.reason)},
                                    {"detail", std::move(detail)}});
    }
    co_return admin_json(
        json::object{{"success", true},
                     {"events", std::move(list)},
                     {"nextCursor", page->next ? json::value("e" + std::to_string(*page->next))
                                               : json::value(nullptr)}});
}

}  // namespace voicegate::api
