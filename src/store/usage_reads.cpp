#include "store/usage_reads.hpp"

#include <algorithm>
#include <unordered_map>

#include "store/quota.hpp"
#include "store/rollup.hpp"
#include "store/session_row.hpp"

namespace voicegate::store {
namespace {

// Adds " AND <expr> $N" with the next parameter.
struct Where {
    std::string sql;
    std::vector<SqlValue> params;
    void add(const std::string& expr, SqlValue v) {
        params.push_back(std::move(v));
        sql += (sql.empty() ? " WHERE " : " AND ") + expr + " $" + std::to_string(params.size());
    }
    std::string next() const { return "$" + std::to_string(params.size() + 1); }
};

std::string sums() {
    std::string out;
    for (const auto c : usage_columns()) {
        out.append(out.empty() ? "SUM(" : ", SUM(").append(c).append(")");
    }
    return out;
}

// Reads the usage_columns() sums starting at column `c` of row `r`.
UsageTotals totals_of(const SqlTable& t, std::size_t r, std::size_t c) {
    UsageTotals u;
    u.sessions = t.i64(r, c + 0);
    u.ended_sessions = t.i64(r, c + 1);
    u.reported_ms = t.i64(r, c + 2);
    u.billable_ms = t.i64(r, c + 3);
    u.messages = t.i64(r, c + 4);
    u.tokens.input_text = t.i64(r, c + 5);
    u.tokens.input_audio = t.i64(r, c + 6);
    u.tokens.input_image = t.i64(r, c + 7);
    u.tokens.cached_text = t.i64(r, c + 8);
    u.tokens.cached_audio = t.i64(r, c + 9);
    u.tokens.cached_image = t.i64(r, c + 10);
    u.tokens.output_text = t.i64(r, c + 11);
    u.tokens.output_audio = t.i64(r, c + 12);
    u.cost_usd = t.f64(r, c + 13);
    u.ended_user = t.i64(r, c + 14);
    u.ended_timeout = t.i64(r, c + 15);
    u.ended_error = t.i64(r, c + 16);
    TokenUsage& tt = u.true_tokens;
    std::int64_t* const fields[] = {&tt.input_text,  &tt.input_audio,  &tt.input_image,
                                    &tt.cached_text, &tt.cached_audio, &tt.cached_image,
                                    &tt.output_text, &tt.output_audio};
    for (std::size_t i = 0; i < 8; ++i) {
        *fields[i] = t.i64(r, c + 17 + i);
    }
    u.true_cost_usd = t.f64(r, c + 25);
    return u;
}

// The session (0-14), its cost (15), its reservation (16), its call (17-34, kCallColumns).
const std::string kSessionColumns =
    "session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, client_ip, "
    "user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s, message_count, "
    "ended_by, estimated_cost_usd, quota_reserved_ms, " +
    std::string(kCallColumns);

// Row `r` of `t` as decode_session_row() reads it.
struct TableCells {
    const SqlTable& t;
    std::size_t r;
    std::string text(int c) const { return t.text(r, at(c)); }
    std::int64_t int64(int c) const { return t.i64(r, at(c)); }
    double float8(int c) const { return t.f64(r, at(c)); }
    bool is_null(int c) const { return t.is_null(r, at(c)); }
    static std::size_t at(int c) { return static_cast<std::size_t>(c); }
};

// A row of kSessionColumns.
SessionRow session_of(const SqlTable& t, std::size_t r) {
    SessionRow row = decode_session_row(TableCells{t, r}, 15);
    row.call = decode_call_info(TableCells{t, r}, 17);
    return row;
}

// Billable ms per user over [from_day, to_day] from the cache, reading again only the days
// whose totals changed since they were cached (see UserRankCache).
Result<std::vector<std::pair<std::string, std::int64_t>>> rank_from_cache(SqlExec& db,
                                                                          const UsageQuery& q,
                                                                          UserRankCache& cache) {
    auto days =
        db.query(SqlQuery{"SELECT day, SUM(sessions), SUM(ended), SUM(billable_ms)"
                          " FROM usage_daily_model WHERE day >= $1 AND day <= $2"
                          " GROUP BY day",
                          {q.from_day, q.to_day}});
    if (!days) {
        return days.error();
    }
    std::unordered_map<std::string, std::int64_t> sums;
    for (std::size_t r = 0; r < days->rows.size(); ++r) {
        const std::int64_t day = days->i64(r, 0);
        auto entry = cache.find(day);
        if (!entry || entry->sessions != days->i64(r, 1) || entry->ended != days->i64(r, 2) ||
            entry->billable_ms != days->i64(r, 3)) {
            // Read after the totals: the rows are at least as new as the totals kept with them,
            // so a change in between only makes the next call read the day again.
            auto rows = db.query(SqlQuery{
                "SELECT user_id, billable_ms FROM usage_daily_user WHERE day = $1", {day}});
            if (!rows) {
                return rows.error();
            }
            auto fresh = std::make_shared<UserRankCache::Day>();
            fresh->sessions = days->i64(r, 1);
            fresh->ended = days->i64(r, 2);
            fresh->billable_ms = days->i64(r, 3);
            fresh->users.reserve(rows->rows.size());
            for (std::size_t u = 0; u < rows->rows.size(); ++u) {
                fresh->users.emplace_back(rows->text(u, 0), rows->i64(u, 1));
            }
            cache.put(day, fresh);
            entry = std::move(fresh);
        }
        for (const auto& [user, billable] : entry->users) {
            sums[user] += billable;
        }
    }
    return std::vector<std::pair<std::string, std::int64_t>>(sums.begin(), sums.end());
}

}  // namespace

std::shared_ptr<const UserRankCache::Day> UserRankCache::find(std::int64_t day) const {
    std::lock_guard lock(mutex_);
    auto it = days_.find(day);
    return it == days_.end() ? nullptr : it->second;
}

void UserRankCache::put(std::int64_t day, std::shared_ptr<const Day> entry) {
    std::lock_guard lock(mutex_);
    days_[day] = std::move(entry);
    while (days_.size() > kMaxDays) {
        days_.erase(days_.begin());  // the oldest day
    }
}

Result<UsageReport> read_usage(SqlExec& db, const UsageQuery& q, UserRankCache* rank_cache) {
    // The per-day x model table is small (a few rows a day): it answers every view that is not
    // per user; the day x user x model table only when users matter.
    const bool per_user = !q.user_id.empty() || q.group_by == "user";
    const std::string table = per_user ? "usage_daily" : "usage_daily_model";
    Where w;
    w.add("day >=", q.from_day);
    w.add("day <=", q.to_day);
    if (!q.user_id.empty()) {
        w.add("user_id =", q.user_id);
    }
    Where denial_where = w;
    if (!q.model.empty()) {
        w.add("model =", q.model);
    }
    UsageReport out;
    // Totals: over the small table when no user filter applies.
    {
        const std::string totals_table = q.user_id.empty() ? "usage_daily_model" : "usage_daily";
        auto t = db.query(SqlQuery{"SELECT " + sums() + " FROM " + totals_table + w.sql, w.params});
        if (!t) {
            return t.error();
        }
        if (!t->rows.empty()) {
            out.totals = totals_of(*t, 0, 0);
        }
    }
    const std::string key =
        q.group_by == "user" ? "user_id" : (q.group_by == "model" ? "model" : "day");
    std::map<std::string, std::size_t> index;
    if (q.group_by == "user") {
        // Two steps: rank the users on billable ms alone (one sum per row keeps grouping the
        // range's rows cheap), then sum every counter of the top `limit` users only, through
        // the (user_id, day) index.
        // Without a model filter the narrow day x user table ranks them, each day's rows kept
        // in the store's UserRankCache until that day changes. Otherwise SQLite (which groups
        // by sorting) sums the rows in memory and PostgreSQL hash-aggregates.
        const std::string rank_table = q.model.empty() ? "usage_daily_user" : "usage_daily";
        std::vector<std::pair<std::string, std::int64_t>> ranked;
        const bool cached = rank_cache != nullptr && q.model.empty() && q.user_id.empty();
        if (cached || db.dialect() == Dialect::sqlite) {
            auto sums_by_user =
                cached ? rank_from_cache(db, q, *rank_cache)
                       : db.sum_by_key(SqlQuery{
                             "SELECT user_id, billable_ms FROM " + rank_table + w.sql, w.params});
            if (!sums_by_user) {
                return sums_by_user.error();
            }
            ranked = std::move(*sums_by_user);
            const auto first = [](const auto& a, const auto& b) {
                return a.second != b.second ? a.second > b.second : a.first < b.first;
            };
            const auto keep = std::min(ranked.size(), q.limit);
            std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                              ranked.end(), first);
            ranked.resize(keep);
        } else {
            auto params = w.params;
            params.emplace_back(static_cast<std::int64_t>(q.limit));
            auto t = db.query(SqlQuery{"SELECT user_id, SUM(billable_ms) AS b FROM " + rank_table +
                                           w.sql + " GROUP BY user_id ORDER BY b DESC, user_id" +
                                           " LIMIT " + w.next(),
                                       params});
            if (!t) {
                return t.error();
            }
            for (std::size_t r = 0; r < t->rows.size(); ++r) {
                ranked.emplace_back(t->text(r, 0), t->i64(r, 1));
            }
        }
        for (std::size_t r = 0; r < ranked.size(); ++r) {
            out.rows.push_back(UsageRow{ranked[r].first, {}});
            index[out.rows.back().key] = r;
        }
        constexpr std::size_t kChunk = 500;
        for (std::size_t start = 0; start < out.rows.size(); start += kChunk) {
            Where chunk = w;
            std::string in;
            for (std::size_t i = start; i < std::min(out.rows.size(), start + kChunk); ++i) {
                chunk.params.emplace_back(out.rows[i].key);
                in += (in.empty() ? "$" : ", $") + std::to_string(chunk.params.size());
            }
            auto sums_of =
                db.query(SqlQuery{"SELECT user_id, " + sums() + " FROM usage_daily" + chunk.sql +
                                      " AND user_id IN (" + in + ") GROUP BY user_id",
                                  chunk.params});
            if (!sums_of) {
                return sums_of.error();
            }
            for (std::size_t r = 0; r < sums_of->rows.size(); ++r) {
                if (auto it = index.find(sums_of->text(r, 0)); it != index.end()) {
                    out.rows[it->second].usage = totals_of(*sums_of, r, 1);
                }
            }
        }
    } else {
        auto rows = db.query(SqlQuery{
            "SELECT " + key + ", " + sums() + " FROM " + table + w.sql + " GROUP BY " + key,
            w.params});
        if (!rows) {
            return rows.error();
        }
        if (q.group_by == "day") {
            std::map<std::int64_t, UsageTotals> by_day;
            for (std::size_t r = 0; r < rows->rows.size(); ++r) {
                by_day[rows->i64(r, 0)] = totals_of(*rows, r, 1);
            }
            for (std::int64_t d = q.from_day; d <= q.to_day; ++d) {
                auto found = by_day.find(d);
                out.rows.push_back(
                    UsageRow{format_day(d), found != by_day.end() ? found->second : UsageTotals{}});
            }
        } else {
            for (std::size_t r = 0; r < rows->rows.size(); ++r) {
                out.rows.push_back(UsageRow{rows->text(r, 0), totals_of(*rows, r, 1)});
            }
            std::sort(out.rows.begin(), out.rows.end(), [](const auto& a, const auto& b) {
                return a.usage.sessions != b.usage.sessions ? a.usage.sessions > b.usage.sessions
                                                            : a.key < b.key;
            });
        }
    }
    for (std::size_t i = 0; i < out.rows.size(); ++i) {
        index[out.rows[i].key] = i;
    }
    // Denials have no model: they are counted by day, user and reason; with a model filter none
    // are shown (docs/admin-api.md).
    if (q.model.empty()) {
        const std::string dkey =
            q.group_by == "user" ? "user_id" : (q.group_by == "day" ? "day" : "''");
        auto d = db.query(SqlQuery{
            "SELECT " + dkey + ", reason, SUM(n) FROM denials_daily" + denial_where.sql +
                " GROUP BY " + (q.group_by == "model" ? std::string() : dkey + ", ") + "reason",
            denial_where.params});
        if (!d) {
            return d.error();
        }
        for (std::size_t r = 0; r < d->rows.size(); ++r) {
            const std::int64_t n = d->i64(r, 2);
            const std::string reason = d->text(r, 1);
            out.totals.denied[reason] += n;
            std::string k = q.group_by == "day" ? format_day(d->i64(r, 0)) : d->text(r, 0);
            if (auto it = index.find(k); q.group_by != "model" && it != index.end()) {
                out.rows[it->second].usage.denied[reason] += n;
            }
        }
    }
    return out;
}

Result<LiveReport> read_live(SqlExec& db, const LiveQuery& q) {
    LiveReport out;
    const std::string where =
        " FROM sessions WHERE issued_at_ms > $1 AND issued_at_ms <= $2 AND status = 'issued'";
    const std::vector<SqlValue> params{q.now_ms - q.max_age_ms, q.now_ms};
    auto count = db.query(SqlQuery{"SELECT COUNT(*)" + where, params});
    if (!count) {
        return count.error();
    }
    out.open_sessions = count->rows.empty() ? 0 : count->i64(0, 0);
    auto page_params = params;
    page_params.emplace_back(static_cast<std::int64_t>(q.limit));
    auto rows = db.query(SqlQuery{"SELECT " + kSessionColumns + where +
                                      " ORDER BY issued_at_ms DESC, session_id DESC LIMIT $3",
                                  page_params});
    if (!rows) {
        return rows.error();
    }
    for (std::size_t r = 0; r < rows->rows.size(); ++r) {
        LiveSession s{session_of(*rows, r), 0};
        const std::int64_t reserved = rows->is_null(r, 16) ? q.max_age_ms : rows->i64(r, 16);
        s.reservation_ends_at_ms = s.row.issued.issued_at_ms + reserved;
        out.sessions.push_back(std::move(s));
    }
    UsageQuery today;
    today.from_day = today.to_day = quota_day(q.now_ms);
    auto usage = read_usage(db, today);
    if (!usage) {
        return usage.error();
    }
    out.today = usage->totals;
    return out;
}

Result<SessionPage> read_sessions(SqlExec& db, const SessionQuery& q) {
    Where w;
    if (!q.user_id.empty()) {
        w.add("user_id =", q.user_id);
    }
    if (!q.model.empty()) {
        w.add("model =", q.model);
    }
    if (!q.status.empty()) {
        w.add("status =", q.status);
    }
    if (!q.ended_by.empty()) {
        w.add("ended_by =", q.ended_by);
    }
    if (q.from_ms != 0) {
        w.add("issued_at_ms >=", q.from_ms);
    }
    if (q.to_ms != 0) {
        w.add("issued_at_ms <", q.to_ms);
    }
    if (q.after) {
        w.params.emplace_back(q.after->issued_at_ms);
        const std::string ms = "$" + std::to_string(w.params.size());
        w.params.emplace_back(q.after->session_id);
        const std::string id = "$" + std::to_string(w.params.size());
        w.sql += (w.sql.empty() ? " WHERE " : " AND ") +
                 ("(issued_at_ms < " + ms + " OR (issued_at_ms = " + ms + " AND session_id < " +
                  id + "))");
    }
    auto params = w.params;
    params.emplace_back(static_cast<std::int64_t>(q.limit + 1));
    auto rows = db.query(SqlQuery{"SELECT " + kSessionColumns + " FROM sessions" + w.sql +
                                      " ORDER BY issued_at_ms DESC, session_id DESC LIMIT $" +
                                      std::to_string(params.size()),
                                  params});
    if (!rows) {
        return rows.error();
    }
    SessionPage page;
    for (std::size_t r = 0; r < rows->rows.size() && r < q.limit; ++r) {
        page.sessions.push_back(session_of(*rows, r));
    }
    if (rows->rows.size() > q.limit && !page.sessions.empty()) {
        const auto& last = page.sessions.back().issued;
        page.next = SessionCursor{last.issued_at_ms, last.session_id};
    }
    return page;
}

Result<EventPage> read_events(SqlExec& db, const EventQuery& q) {
    Where w;
    if (!q.type.empty()) {
        w.add("type =", q.type);
    }
    if (!q.user_id.empty()) {
        w.add("user_id =", q.user_id);
    }
    if (!q.session_id.empty()) {
        w.add("session_id =", q.session_id);
    }
    if (q.from_ms != 0) {
        w.add("at_ms >=", q.from_ms);
    }
    if (q.to_ms != 0) {
        w.add("at_ms <", q.to_ms);
    }
    if (q.before_id) {
        w.add("id <", *q.before_id);
    }
    auto params = w.params;
    params.emplace_back(static_cast<std::int64_t>(q.limit + 1));
    auto rows = db.query(SqlQuery{
        "SELECT id, at_ms, type, session_id, user_id, client_ip, reason, detail FROM events" +
            w.sql + " ORDER BY id DESC LIMIT $" + std::to_string(params.size()),
        params});
    if (!rows) {
        return rows.error();
    }
    EventPage page;
    for (std::size_t r = 0; r < rows->rows.size() && r < q.limit; ++r) {
        Event e;
        e.id = rows->i64(r, 0);
        e.at_ms = rows->i64(r, 1);
        e.type = rows->text(r, 2);
        e.session_id = rows->text(r, 3);
        e.user_id = rows->text(r, 4);
        e.client_ip = rows->text(r, 5);
        e.reason = rows->text(r, 6);
        e.detail = rows->text(r, 7);
        page.events.push_back(std::move(e));
    }
    if (rows->rows.size() > q.limit && !page.events.empty()) {
        page.next = page.events.back().id;
    }
    return page;
}

}  // namespace voicegate::store
