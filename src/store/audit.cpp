#include "store/audit.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "metrics/instruments.hpp"
#include "store/event_type.hpp"

namespace voicegate::store {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kMinutesPerDay = 1440;

// a / b rounded down (b > 0), so instants before the epoch fall in the right minute and day.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a >= 0 ? a / b : -((-a - 1) / b) - 1;
}

/// "INSERT INTO table (columns) VALUES ($1, ...), ... ON CONFLICT ...": `rows` rows of
/// `width` parameters each, numbered in order.
std::string insert_rows(std::string_view head, std::size_t width, std::size_t rows,
                        std::string_view tail,
                        const std::vector<std::string>& wrap = std::vector<std::string>()) {
    std::string sql(head);
    sql.append(" VALUES ");
    std::size_t n = 1;
    for (std::size_t r = 0; r < rows; ++r) {
        sql.append(r == 0 ? "(" : ", (");
        for (std::size_t c = 0; c < width; ++c, ++n) {
            const std::string p = "$" + std::to_string(n);
            sql.append(c == 0 ? "" : ", ");
            // A column's wrapper, e.g. "NULLIF(?, '')": `?` stands for the parameter.
            if (c < wrap.size() && !wrap[c].empty()) {
                std::string w = wrap[c];
                w.replace(w.find('?'), 1, p);
                sql.append(w);
            } else {
                sql.append(p);
            }
        }
        sql.append(")");
    }
    sql.append(tail);
    return sql;
}

/// Runs `rows` (each `width` values) as multi-row inserts of at most `chunk` rows; SQLite gets
/// one row per statement, which its statement cache reuses.
Result<void> insert_chunked(SqlExec& db, std::string_view head, std::size_t width,
                            const std::vector<SqlValue>& values, std::string_view tail,
                            const std::vector<std::string>& wrap = std::vector<std::string>()) {
    const std::size_t chunk = db.dialect() == Dialect::sqlite ? 1 : 200;
    const std::size_t rows = values.size() / width;
    for (std::size_t at = 0; at < rows; at += chunk) {
        const std::size_t n = std::min(chunk, rows - at);
        SqlQuery q{insert_rows(head, width, n, tail, wrap), {}};
        q.params.assign(values.begin() + static_cast<std::ptrdiff_t>(at * width),
                        values.begin() + static_cast<std::ptrdiff_t>((at + n) * width));
        if (auto r = db.query(q); !r) {
            return r.error();
        }
    }
    return {};
}

Result<void> write_rows(SqlExec& db, const DenialBatch& batch) {
    std::vector<SqlValue> minutes;
    std::map<std::tuple<std::int64_t, std::string, std::string>, std::int64_t> days;
    for (const auto& c : batch.counts) {
        minutes.insert(minutes.end(), {c.minute, c.user_id, c.client_ip, c.reason, c.n});
        days[{floor_div(c.minute, kMinutesPerDay), c.user_id, c.reason}] += c.n;
    }
    if (auto r = insert_chunked(
            db, "INSERT INTO denials_by_minute (minute, user_id, client_ip, reason, n)", 5, minutes,
            " ON CONFLICT (minute, user_id, client_ip, reason) DO UPDATE SET n = "
            "denials_by_minute.n + excluded.n");
        !r) {
        return r;
    }
    std::vector<SqlValue> daily;
    for (const auto& [key, n] : days) {
        daily.insert(daily.end(), {std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
    }
    if (auto r = insert_chunked(
            db, "INSERT INTO denials_daily (day, user_id, reason, n)", 4, daily,
            " ON CONFLICT (day, user_id, reason) DO UPDATE SET n = denials_daily.n + excluded.n");
        !r) {
        return r;
    }
    std::vector<SqlValue> events;
    for (const auto& e : batch.samples) {
        events.insert(events.end(), {e.at_ms, e.type, e.user_id, e.client_ip, e.reason});
    }
    return insert_chunked(db, "INSERT INTO events (at_ms, type, user_id, client_ip, reason)", 5,
                          events, "", {"", "", "NULLIF(?, '')", "NULLIF(?, '')", "NULLIF(?, '')"});
}

}  // namespace

std::int64_t DenialBatch::denials() const {
    std::int64_t n = 0;
    for (const auto& c : counts) {
        n += c.n;
    }
    return n;
}

DenialLog::DenialLog(DenialSampling sampling, metrics::StoreMetrics* metrics)
    : sampling_(sampling), metrics_(metrics) {}

bool DenialLog::record(const Denial& d) {
    bool sampled = false;
    {
        std::lock_guard lock(mutex_);
        const std::int64_t minute = floor_div(d.at_ms, kMinuteMs);
        if (minute > minute_) {
            // A new minute: its bounds start afresh. (A denial a moment late, from another
            // event loop, is judged by the current minute's bounds and counted in its own.)
            minute_ = minute;
            keys_.clear();
            users_of_address_.clear();
            user_samples_.clear();
            address_samples_.clear();
        }
        std::string user = d.user_id;
        std::string ip = d.client_ip;
        admit_locked(user, ip);
        count_locked(CountKey{minute, std::move(user), std::move(ip), d.reason}, 1);
        sampled = sample_locked(d);
    }
    if (metrics_ != nullptr) {
        metrics_->denial(sampled);
    }
    return sampled;
}

void DenialLog::admit_locked(std::string& user, std::string& ip) {
    if (keys_.contains({user, ip})) {
        return;
    }
    const auto users = users_of_address_.find(ip);
    if (keys_.size() < sampling_.keys_per_minute &&
        (users == users_of_address_.end() || users->second < sampling_.users_per_address)) {
        keys_.emplace(user, ip);
        ++users_of_address_[ip];
        return;
    }
    user.clear();  // the address's other users
    if (keys_.contains({user, ip})) {
        return;
    }
    if (keys_.size() < sampling_.keys_per_minute) {
        keys_.emplace(user, ip);
        return;
    }
    ip.clear();  // everyone else this minute
}

void DenialLog::count_locked(CountKey key, std::int64_t n) {
    if (pending_.size() >= sampling_.max_pending_keys && !pending_.contains(key)) {
        // The buffer is full (the store has been failing for long): keep the total exact.
        std::get<1>(key).clear();
        std::get<2>(key).clear();
    }
    pending_[std::move(key)] += n;
}

bool DenialLog::sample_locked(const Denial& d) {
    const int per_minute = sampling_.per_minute;
    if (per_minute <= 0 || sampling_.per_second <= 0 ||
        samples_.size() >= sampling_.max_pending_samples) {
        if (per_minute > 0 && sampling_.per_second > 0) {
            ++dropped_;
        }
        return false;
    }
    const std::int64_t second = floor_div(d.at_ms, 1000);
    if (second > second_) {
        second_ = second;
        second_samples_ = 0;
    }
    if (second_samples_ >= sampling_.per_second) {
        return false;
    }
    const std::pair<std::string, std::string> by_user{d.user_id, d.reason};
    const std::pair<std::string, std::string> by_address{d.client_ip, d.reason};
    const auto u = user_samples_.find(by_user);
    const auto a = address_samples_.find(by_address);
    if ((u != user_samples_.end() && u->second >= per_minute) ||
        (a != address_samples_.end() && a->second >= per_minute)) {
        return false;
    }
    ++user_samples_[by_user];
    ++address_samples_[by_address];
    ++second_samples_;
    Event e;
    e.at_ms = d.at_ms;
    e.type = event_type_name(EventType::token_denied);
    e.user_id = d.user_id;
    e.client_ip = d.client_ip;
    e.reason = d.reason;
    samples_.push_back(std::move(e));
    return true;
}

DenialBatch DenialLog::take() {
    DenialBatch batch;
    std::lock_guard lock(mutex_);
    batch.counts.reserve(pending_.size());
    for (auto& [key, n] : pending_) {
        batch.counts.push_back(
            DenialCount{std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key), n});
    }
    pending_.clear();
    batch.samples = std::move(samples_);
    samples_.clear();
    if (!batch.empty()) {
        ++in_flight_;
    }
    return batch;
}

void DenialLog::done(DenialBatch batch, bool written) {
    if (batch.empty()) {
        return;
    }
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (written) {
        return;
    }
    for (auto& c : batch.counts) {
        count_locked(
            CountKey{c.minute, std::move(c.user_id), std::move(c.client_ip), std::move(c.reason)},
            c.n);
    }
    for (auto& e : batch.samples) {
        if (samples_.size() >= sampling_.max_pending_samples) {
            ++dropped_;
            continue;
        }
        samples_.push_back(std::move(e));
    }
}

bool DenialLog::dirty() const {
    std::lock_guard lock(mutex_);
    return in_flight_ > 0 || !pending_.empty() || !samples_.empty();
}

std::uint64_t DenialLog::dropped_samples() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

Result<void> write_denials(SqlExec& db, const DenialBatch& batch, bool own_transaction) {
    if (batch.empty()) {
        return {};
    }
    if (own_transaction) {
        if (auto r = db.query(SqlQuery{"BEGIN", {}}); !r) {
            return r.error();
        }
    }
    auto written = write_rows(db, batch);
    if (own_transaction) {
        if (written) {
            if (auto r = db.query(SqlQuery{"COMMIT", {}}); !r) {
                written = r.error();
            }
        }
        if (!written) {
            (void)db.query(SqlQuery{"ROLLBACK", {}});
        }
    }
    return written;
}

Result<PruneReport> prune_step(SqlExec& db, const PruneRequest& request) {
    PruneReport report;
    const std::int64_t limit = std::max<std::int64_t>(1, request.limit);
    if (request.events_before_ms > 0) {
        auto r = db.query(SqlQuery{
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ms < $1 LIMIT $2) "
            "RETURNING id",
            {request.events_before_ms, limit}});
        if (!r) {
            return r.error();
        }
        report.events = static_cast<std::int64_t>(r->rows.size());
    }
    if (request.denials_before_minute > 0) {
        auto r = db.query(SqlQuery{
            "DELETE FROM denials_by_minute WHERE (minute, user_id, client_ip, reason) IN "
            "(SELECT minute, user_id, client_ip, reason FROM denials_by_minute WHERE minute < $1 "
            "LIMIT $2) RETURNING minute",
            {request.denials_before_minute, limit}});
        if (!r) {
            return r.error();
        }
        report.denial_rows = static_cast<std::int64_t>(r->rows.size());
    }
    return report;
}

PruneRequest retention_request(std::int64_t now_ms, int events_days, int denial_counts_days,
                               std::int64_t limit) {
    PruneRequest r;
    r.limit = limit;
    if (events_days > 0) {
        r.events_before_ms = std::max<std::int64_t>(1, now_ms - events_days * kDayMs);
    }
    if (denial_counts_days > 0) {
        r.denials_before_minute =
            std::max<std::int64_t>(1, (now_ms - denial_counts_days * kDayMs) / kMinuteMs);
    }
    return r;
}

namespace {

boost::asio::awaitable<void> flush_into(SessionStore& store, Result<void>* out) {
    *out = co_await store.flush_denials();
}

}  // namespace

void flush_denials_blocking(SessionStore& store) {
    boost::asio::io_context io(1);
    Result<void> result;
    boost::asio::co_spawn(io, flush_into(store, &result), boost::asio::detached);
    io.run();
    if (!result) {
        spdlog::warn("store: denial counts not written at close: {}", result.error().details);
    }
}

void record_denial_at(DenialLog& log, const Denial& denial, const Clock& clock) {
    Denial d = denial;
    if (d.at_ms == 0) {
        d.at_ms = clock.now_ms();
    }
    (void)log.record(d);
}

}  // namespace voicegate::store
