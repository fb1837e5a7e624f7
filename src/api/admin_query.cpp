#include "api/admin_query.hpp"

#include <algorithm>
#include <charconv>

#include <boost/url/parse.hpp>

#include "store/event_type.hpp"
#include "store/quota.hpp"
#include "store/rollup.hpp"

namespace voicegate::api {
namespace {

Failure bad(const std::string& message) {
    return fail(Error::bad_request, message);
}

Failure malformed_cursor() {
    return bad("cursor: malformed (use nextCursor of the previous page)");
}

Result<std::size_t> parse_limit(const QueryParams& p, std::size_t dflt, std::size_t max) {
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

std::string get(const QueryParams& p, const char* key) {
    auto it = p.find(key);
    return it == p.end() ? std::string() : it->second;
}

Result<std::string> one_of(const QueryParams& p, const char* key,
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

/// [from_ms, to_ms) of a query: the UTC days `days`, both inclusive.
template <class Query>
void set_days(Query& q, std::pair<std::int64_t, std::int64_t> days) {
    q.from_ms = days.first * store::kMsPerDay;
    q.to_ms = (days.second + 1) * store::kMsPerDay;
}

/// The `cursor` parameter decoded by `decode` into `into` (untouched when absent); false if
/// it is malformed.
template <class Decode, class Into>
bool read_cursor(const QueryParams& p, Decode decode, Into& into) {
    const auto c = p.find("cursor");
    if (c == p.end()) {
        return true;
    }
    into = decode(c->second);
    return into.has_value();
}

/// The first failure among `results`, if any.
template <class... R>
std::optional<Failure> first_failure(const R&... results) {
    std::optional<Failure> out;
    ((out || results ? void() : void(out = results.error())), ...);
    return out;
}

}  // namespace

Result<QueryParams> admin_params(const std::string& query,
                                 std::initializer_list<const char*> allowed) {
    QueryParams out;
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

Result<std::pair<std::int64_t, std::int64_t>> admin_day_range(const QueryParams& params,
                                                              std::int64_t now_ms) {
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

std::string encode_event_cursor(std::int64_t before_id) {
    return "e" + std::to_string(before_id);
}

std::optional<std::int64_t> decode_event_cursor(const std::string& v) {
    std::int64_t id = 0;
    const char* end = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(v.data() + (v.empty() ? 0 : 1), end, id);
    if (v.size() < 2 || v[0] != 'e' || ec != std::errc() || ptr != end || id <= 0) {
        return std::nullopt;
    }
    return id;
}

Result<store::UsageQuery> usage_query(const std::string& query, std::int64_t now_ms) {
    auto p = admin_params(query, {"from", "to", "groupBy", "userId", "model", "limit"});
    if (!p) {
        return p.error();
    }
    auto range = admin_day_range(*p, now_ms);
    auto group = one_of(*p, "groupBy", {"day", "user", "model"});
    auto limit = parse_limit(*p, 100, 10'000);
    if (auto f = first_failure(range, group, limit)) {
        return *f;
    }
    store::UsageQuery q;
    q.from_day = range->first;
    q.to_day = range->second;
    q.group_by = group->empty() ? "day" : *group;
    q.user_id = get(*p, "userId");
    q.model = get(*p, "model");
    q.limit = *limit;
    return q;
}

Result<SessionsRequest> sessions_query(const std::string& query, std::int64_t now_ms) {
    auto p = admin_params(
        query, {"userId", "model", "status", "endedBy", "from", "to", "cursor", "limit", "format"});
    if (!p) {
        return p.error();
    }
    auto format = one_of(*p, "format", {"json", "csv"});
    const bool csv = format && *format == "csv";
    auto range = admin_day_range(*p, now_ms);
    auto status = one_of(*p, "status", {"issued", "ended"});
    auto ended_by = one_of(*p, "endedBy", {"user", "timeout", "error"});
    auto limit = csv ? parse_limit(*p, 100'000, 100'000) : parse_limit(*p, 50, 1'000);
    if (auto f = first_failure(format, range, status, ended_by, limit)) {
        return *f;
    }
    SessionsRequest out;
    out.csv = csv;
    out.days = *range;
    auto& q = out.query;
    q.user_id = get(*p, "userId");
    q.model = get(*p, "model");
    q.status = *status;
    q.ended_by = *ended_by;
    set_days(q, *range);
    q.limit = *limit;
    if (!read_cursor(*p, decode_session_cursor, q.after)) {
        return malformed_cursor();
    }
    return out;
}

Result<store::EventQuery> events_query(const std::string& query, std::int64_t now_ms) {
    auto p = admin_params(query, {"type", "userId", "sessionId", "from", "to", "cursor", "limit"});
    if (!p) {
        return p.error();
    }
    using store::EventType;
    using store::event_type_name;
    auto type = one_of(
        *p, "type",
        {event_type_name(EventType::token_issued), event_type_name(EventType::token_denied),
         event_type_name(EventType::session_ended), event_type_name(EventType::call_hung_up),
         event_type_name(EventType::admin_action), event_type_name(EventType::alert),
         event_type_name(EventType::call_relayed), event_type_name(EventType::call_attached)});
    auto range = admin_day_range(*p, now_ms);
    auto limit = parse_limit(*p, 100, 1'000);
    if (auto f = first_failure(type, range, limit)) {
        return *f;
    }
    store::EventQuery q;
    q.type = *type;
    q.user_id = get(*p, "userId");
    q.session_id = get(*p, "sessionId");
    set_days(q, *range);
    q.limit = *limit;
    if (!read_cursor(*p, decode_event_cursor, q.before_id)) {
        return malformed_cursor();
    }
    return q;
}

}  // namespace voicegate::api
