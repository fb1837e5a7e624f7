#include "store/pg_store.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <random>

#include "store/denial_flush.hpp"
#include "store/migrations.hpp"
#include "store/pg_statements.hpp"
#include "store/pg_worker.hpp"
#include "store/quota.hpp"
#include "store/session_row.hpp"

namespace voicegate::store {
namespace {

using detail::PgStatement;

std::string num(std::int64_t v) {
    return std::to_string(v);
}

std::string num(double v) {
    // Shortest text that reads back as the same double; non-finite values are stored as 0
    // (the JSON detail of the event must stay valid JSON).
    if (!std::isfinite(v)) {
        v = 0;
    }
    std::array<char, 64> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return {buf.data(), res.ptr};
}

// Row `r` of `rows` as decode_session_row() reads it.
struct PgCells {
    const PgRows& rows;
    int r;
    std::string_view text(int c) const { return rows.text(r, c); }
    std::int64_t int64(int c) const { return rows.int64(r, c); }
    double float8(int c) const { return rows.float8(r, c); }
    bool is_null(int c) const { return rows.is_null(r, c); }
};

SessionRow read_session(const PgRows& rows, int r) {
    return decode_session_row(PgCells{rows, r});
}

Result<MigrationReport> run_migrations(const PgTarget& target, const Clock& clock) {
    auto conn = PgConnection::connect(target);
    if (!conn) {
        return conn.error();
    }
    PgConnection& c = **conn;
    // One migrator per schema at a time, across every instance starting now; the lock also
    // covers creating the schema (concurrent CREATE SCHEMA IF NOT EXISTS can collide).
    constexpr std::string_view kLockKey =
        "hashtext(COALESCE(NULLIF($1, ''), current_schema(), ''))";
    const std::string lock_sql =
        "SELECT pg_advisory_lock(1986489703, " + std::string(kLockKey) + ")";
    const std::string unlock_sql =
        "SELECT pg_advisory_unlock(1986489703, " + std::string(kLockKey) + ")";
    if (auto r = c.exec_params(lock_sql, {target.schema}); !r) {
        return r.error();
    }
    Result<MigrationReport> report = fail(Error::store_unavailable);
    if (auto used = c.use_schema(target.schema, true); !used) {
        report = used.error();
    } else {
        report = migrate(c, clock);
    }
    if (!report && c.ok()) {
        // Migrations leave no transaction open on failure, but be sure before unlocking.
        (void)c.exec_script("ROLLBACK");
    }
    (void)c.exec_params(unlock_sql, {target.schema});
    return report;
}

/// Makes fresh, ready connections to `target` for the workers: the schema, the temp price
/// table, the prepared statements, pipeline mode.
detail::PgWorker::Connector connector_for(const PgTarget& target, const PriceTable& prices) {
    return [t = target,
            temp = detail::temp_tables_sql(prices)]() -> Result<std::unique_ptr<PgConnection>> {
        auto conn = PgConnection::connect(t);
        if (!conn) {
            return conn.error();
        }
        if (auto r = (*conn)->use_schema(t.schema, false); !r) {
            return r.error();
        }
        if (auto r = (*conn)->exec_script(temp); !r) {
            return r.error();
        }
        if (auto r = detail::prepare_all(**conn); !r) {
            return r.error();
        }
        if (auto r = (*conn)->enter_pipeline(); !r) {
            return r.error();
        }
        return conn;
    };
}

}  // namespace

Result<MigrationReport> PgStore::migrate(const std::string& url, const Clock& clock) {
    auto target = parse_pg_url(url);
    if (!target) {
        return target.error();
    }
    return run_migrations(*target, clock);
}

Result<std::unique_ptr<PgStore>> PgStore::open(PgOptions options) {
    StoreOptions& common = options.common;
    if (common.batch_max == 0) {
        return fail(Error::bad_request, "store batch_max must be at least 1");
    }
    if (options.writers == 0 || options.writers > 64) {
        return fail(Error::bad_request, "PostgreSQL writers must be between 1 and 64");
    }
    if (options.io_timeout_ms <= 0 || options.reconnect_min_ms <= 0 ||
        options.reconnect_max_ms < options.reconnect_min_ms) {
        return fail(Error::bad_request, "PostgreSQL timeouts must be positive");
    }
    auto target = parse_pg_url(options.url);
    if (!target) {
        return target.error();
    }
    if (common.clock == nullptr) {
        common.clock = &system_clock();
    }
    if (auto m = run_migrations(*target, *common.clock); !m) {
        return m.error();
    }
    detail::PgWorker::Connector connector = connector_for(*target, common.prices);
    const auto make = [&](std::string name, bool transactional, std::int64_t shard,
                          bool group_calls = false) -> Result<std::unique_ptr<detail::PgWorker>> {
        auto conn = connector();
        if (!conn) {
            return conn.error();
        }
        detail::PgWorkerOptions wo;
        wo.name = std::move(name);
        wo.transactional = transactional;
        wo.batch_max = common.batch_max;
        wo.io_timeout = std::chrono::milliseconds(options.io_timeout_ms);
        wo.reconnect_min = std::chrono::milliseconds(options.reconnect_min_ms);
        wo.reconnect_max = std::chrono::milliseconds(options.reconnect_max_ms);
        wo.metrics = transactional ? common.metrics : nullptr;
        wo.shard = shard;
        wo.prices = common.prices;
        wo.group_calls = group_calls;
        return std::make_unique<detail::PgWorker>(std::move(wo), connector, std::move(*conn));
    };
    // Each writer upserts its own row of a day x model (usage_daily_model.shard), so writers,
    // of this instance and (most likely) of others, never queue on one hot row; the rows are
    // summed when read.
    const auto instance_shard = static_cast<std::int64_t>(std::random_device{}() % 16);
    std::vector<std::unique_ptr<detail::PgWorker>> writers;
    for (std::size_t i = 0; i < options.writers; ++i) {
        auto w = make("writer " + std::to_string(i + 1), true,
                      instance_shard * static_cast<std::int64_t>(options.writers) +
                          static_cast<std::int64_t>(i));
        if (!w) {
            return w.error();
        }
        writers.push_back(std::move(*w));
    }
    auto reader = make("reader", false, 0);
    if (!reader) {
        return reader.error();
    }
    // Supervised calls (pg_calls.cpp) on a connection of their own, off the admin reads; its
    // shard is past every writer's.
    const std::int64_t calls_shard =
        16 * static_cast<std::int64_t>(options.writers) + instance_shard;
    auto calls = make("calls", false, calls_shard, true);
    if (!calls) {
        return calls.error();
    }
    return std::unique_ptr<PgStore>(
        new PgStore(std::move(options), std::move(writers), std::move(*reader), std::move(*calls)));
}

PgStore::PgStore(PgOptions options, std::vector<std::unique_ptr<detail::PgWorker>> writers,
                 std::unique_ptr<detail::PgWorker> reader, std::unique_ptr<detail::PgWorker> calls)
    : options_(std::move(options)),
      writers_(std::move(writers)),
      reader_(std::move(reader)),
      calls_(std::move(calls)),
      denials_(options_.common.denial_sampling, options_.common.metrics) {}

PgStore::~PgStore() {
    close();
}

detail::PgWorker& PgStore::writer_for(const std::string& session_id) {
    if (writers_.size() == 1 || session_id.empty()) {
        return *writers_.front();
    }
    return *writers_[std::hash<std::string>{}(session_id) % writers_.size()];
}

template <class T, class Decode>
boost::asio::awaitable<Result<T>> PgStore::submit(detail::PgWorker& worker,
                                                  detail::PgStatement statement, PgParams params,
                                                  std::string session_key, Decode decode,
                                                  std::string user_key) {
    return store::submit<T, detail::MakePgOp<T, Decode>>(worker, statement, std::move(params),
                                                         std::move(session_key),
                                                         std::move(user_key), std::move(decode));
}

template <class T, class Fn>
boost::asio::awaitable<Result<T>> PgStore::call(Fn fn) {
    return store::submit<T, detail::MakePgCallOp<T, Fn>>(*reader_, std::move(fn));
}

// Each submit() argument is a named local moved in: see the GCC 12 note at store::submit.

boost::asio::awaitable<Result<void>> PgStore::create_session(SessionRecord record) {
    if (record.session_id.empty() || record.user_id.empty()) {
        co_return fail(Error::bad_request, "A session needs an id and a user.");
    }
    if (record.issued_at_ms == 0) {
        record.issued_at_ms = options_.common.clock->now_ms();
    }
    detail::PgWorker& worker = writer_for(record.session_id);
    PgParams params{record.session_id,
                    record.user_id,
                    record.model,
                    record.voice,
                    record.profile,
                    num(record.issued_at_ms),
                    num(record.token_expires_at),
                    record.client_ip,
                    record.user_agent};
    std::string key = record.session_id;
    if (record.quota.enabled()) {
        const QuotaLimits limits = record.quota;
        const std::int64_t now = record.issued_at_ms;
        params.push_back(num(std::max<std::int64_t>(0, limits.reserve_ms)));
        params.push_back(num(quota_day(now)));
        params.push_back(num(limits.concurrent));
        params.push_back(num(limits.sessions_per_day));
        params.push_back(num(limits.minutes_per_day * 60'000));
        std::string user = record.user_id;
        auto decode_quota = [limits, now](const PgRows& rows) -> Result<void> {
            if (rows.size() != 1) {
                return fail(Error::internal, {}, "postgres: quota check answered no row");
            }
            if (rows.int64(0, 0) == 1) {
                return {};
            }
            QuotaUsage usage;
            usage.open = rows.int64(0, 1);
            usage.first_expiry_ms = rows.int64(0, 2);
            usage.sessions_today = rows.int64(0, 3);
            usage.charged_ms_today = rows.int64(0, 4);
            if (auto denied = quota_decision(limits, usage, now)) {
                return *denied;
            }
            return fail(Error::internal, {}, "duplicate session id");
        };
        co_return co_await submit<void>(worker, PgStatement::create_quota, std::move(params),
                                        std::move(key), std::move(decode_quota), std::move(user));
    }
    std::string no_user;
    auto decode = [](const PgRows& rows) -> Result<void> {
        if (rows.size() == 1) {
            return {};
        }
        return fail(Error::internal, {}, "duplicate session id");
    };
    co_return co_await submit<void>(worker, PgStatement::create_session, std::move(params),
                                    std::move(key), std::move(decode), std::move(no_user));
}

boost::asio::awaitable<Result<EndOutcome>> PgStore::end_session(EndRequest request) {
    if (request.session_id.empty()) {
        co_return fail(Error::session_not_found);
    }
    const std::int64_t ended_at =
        request.ended_at_ms != 0 ? request.ended_at_ms : options_.common.clock->now_ms();
    const double reported =
        std::isfinite(request.reported_duration_s) ? request.reported_duration_s : 0.0;
    detail::PgWorker& worker = writer_for(request.session_id);
    PgParams params{request.session_id,         num(ended_at),    num(reported),
                    num(request.message_count), request.ended_by, request.check_owner ? "t" : "f",
                    request.caller_user_id,     request.client_ip};
    std::string key = request.session_id;
    auto decode = [ended_at, reported, messages = request.message_count,
                   ended_by = request.ended_by, check_owner = request.check_owner,
                   caller = request.caller_user_id](const PgRows& rows) -> Result<EndOutcome> {
        if (rows.size() == 0) {
            return fail(Error::session_not_found);
        }
        EndOutcome out{read_session(rows, 0), false};
        if (rows.boolean(0, detail::kEndEnding)) {
            out.row.status = "ended";
            out.row.ended_at_ms = ended_at;
            out.row.reported_duration_s = reported;
            out.row.observed_duration_s = rows.float8(0, detail::kEndObserved);
            out.row.message_count = messages;
            out.row.ended_by = ended_by;
            return out;
        }
        if (check_owner && out.row.issued.user_id != caller) {
            return fail(Error::forbidden, "This session belongs to another user.");
        }
        if (rows.boolean(0, detail::kEndLate)) {
            // The client's first /end after the server recorded the call's end (end_call).
            out.row.reported_duration_s = reported;
            out.row.message_count = messages;
            return out;
        }
        if (out.row.status == "ended") {
            out.already_ended = true;
            return out;
        }
        return fail(Error::internal, {}, "postgres: end_session changed no row");
    };
    // With auth on, the caller is the session's owner (or gets a 403): the end then takes the
    // same per-user lock as the user's quota-checked creates, in the same sorted order, so two
    // instances' batches settling the same users' quota rows cannot deadlock. Without auth the
    // owner is unknown until the row is read; a rare deadlock there is detected by PostgreSQL
    // and the batch retried (StoreStats::conflict_retries).
    std::string user = request.check_owner ? request.caller_user_id : std::string();
    co_return co_await submit<EndOutcome>(worker, PgStatement::end_session, std::move(params),
                                          std::move(key), std::move(decode), std::move(user));
}

boost::asio::awaitable<Result<void>> PgStore::append_event(Event event) {
    if (event.type.empty()) {
        co_return fail(Error::bad_request, "An event needs a type.");
    }
    detail::PgWorker& worker = writer_for(event.session_id);
    PgParams params{num(event.at_ms != 0 ? event.at_ms : options_.common.clock->now_ms()),
                    event.type,
                    event.session_id,
                    event.user_id,
                    event.client_ip,
                    event.reason,
                    event.detail};
    std::string key = event.session_id;
    auto decode = [](const PgRows&) -> Result<void> { return {}; };
    std::string no_user;
    co_return co_await submit<void>(worker, PgStatement::append_event, std::move(params),
                                    std::move(key), std::move(decode), std::move(no_user));
}

void PgStore::record_denial(const Denial& denial) {
    record_denial_at(denials_, denial, *options_.common.clock);
}

boost::asio::awaitable<Result<void>> PgStore::flush_denials() {
    // On the reader's connection, in a transaction of its own, off the writers' group commits.
    auto run = [this](auto write) { return call<void>(std::move(write)); };
    co_return co_await flush_denial_log(denials_, true, std::move(run));
}

boost::asio::awaitable<Result<PruneReport>> PgStore::prune(PruneRequest request) {
    // On the reader's connection: each DELETE is a short transaction of its own.
    auto fn = [r = request](PgExec& db) { return prune_step(db, r); };
    co_return co_await call<PruneReport>(std::move(fn));
}

boost::asio::awaitable<void> PgStore::flush_before_read() {
    (void)co_await flush_denials();  // on failure the read goes on; the counts stay buffered
}

boost::asio::awaitable<Result<std::optional<SessionRow>>> PgStore::get_session(
    std::string session_id) {
    PgParams params{std::move(session_id)};
    std::string no_key;
    auto decode = [](const PgRows& rows) -> Result<std::optional<SessionRow>> {
        if (rows.size() == 0) {
            return std::optional<SessionRow>();
        }
        // get_session.sql: the session, its cost (15), its call (16-33).
        SessionRow row = decode_session_row(PgCells{rows, 0}, 15);
        row.call = decode_call_info(PgCells{rows, 0}, 16);
        return std::optional<SessionRow>(std::move(row));
    };
    std::string no_user;
    co_return co_await submit<std::optional<SessionRow>>(*reader_, PgStatement::get_session,
                                                         std::move(params), std::move(no_key),
                                                         std::move(decode), std::move(no_user));
}

boost::asio::awaitable<Result<std::vector<Event>>> PgStore::session_events(std::string session_id) {
    PgParams params{std::move(session_id)};
    std::string no_key;
    auto decode = [](const PgRows& rows) -> Result<std::vector<Event>> {
        std::vector<Event> out;
        out.reserve(static_cast<std::size_t>(rows.size()));
        for (int r = 0; r < rows.size(); ++r) {
            Event e;
            e.at_ms = rows.int64(r, 0);
            e.type = rows.text(r, 1);
            e.session_id = rows.text(r, 2);
            e.user_id = rows.text(r, 3);
            e.client_ip = rows.text(r, 4);
            e.reason = rows.text(r, 5);
            e.detail = rows.text(r, 6);
            out.push_back(std::move(e));
        }
        return out;
    };
    std::string no_user;
    co_return co_await submit<std::vector<Event>>(*reader_, PgStatement::events, std::move(params),
                                                  std::move(no_key), std::move(decode),
                                                  std::move(no_user));
}

boost::asio::awaitable<Result<UsageReport>> PgStore::usage(UsageQuery query) {
    co_await flush_before_read();
    auto fn = [q = std::move(query), cache = &rank_cache_](PgExec& db) {
        return read_usage(db, q, cache);
    };
    co_return co_await call<UsageReport>(std::move(fn));
}

boost::asio::awaitable<Result<LiveReport>> PgStore::live(LiveQuery query) {
    co_await flush_before_read();
    auto fn = [q = query](PgExec& db) { return read_live(db, q); };
    co_return co_await call<LiveReport>(std::move(fn));
}

boost::asio::awaitable<Result<SessionPage>> PgStore::list_sessions(SessionQuery query) {
    auto fn = [q = std::move(query)](PgExec& db) { return read_sessions(db, q); };
    co_return co_await call<SessionPage>(std::move(fn));
}

boost::asio::awaitable<Result<EventPage>> PgStore::list_events(EventQuery query) {
    co_await flush_before_read();
    auto fn = [q = std::move(query)](PgExec& db) { return read_events(db, q); };
    co_return co_await call<EventPage>(std::move(fn));
}

boost::asio::awaitable<Result<RebuildReport>> PgStore::rebuild_rollups() {
    auto fn = [](PgExec& db) { return store::rebuild_rollups(db, true); };
    co_return co_await call<RebuildReport>(std::move(fn));
}

bool PgStore::ready() const {
    if (!open_.load(std::memory_order_acquire) || !reader_->connected() || !calls_->connected()) {
        return false;
    }
    return std::all_of(writers_.begin(), writers_.end(),
                       [](const auto& w) { return w->connected(); });
}

void PgStore::close() {
    std::lock_guard lock(close_mutex_);
    if (!open_.exchange(false, std::memory_order_acq_rel)) {
        return;
    }
    flush_denials_blocking(*this);
    for (auto& w : writers_) {
        w->stop();
    }
    calls_->stop();
    reader_->stop();
}

StoreStats PgStore::stats() const {
    StoreStats s = reader_->stats();
    s += calls_->stats();
    for (const auto& w : writers_) {
        s += w->stats();
    }
    return s;
}

}  // namespace voicegate::store
