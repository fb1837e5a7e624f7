#include "store/sqlite_store.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "store/denial_flush.hpp"
#include "store/event_type.hpp"
#include "store/migrations.hpp"
#include "store/quota.hpp"
#include "store/session_row.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_worker.hpp"

namespace voicegate::store {

namespace {

using detail::OpContext;

const std::string kSelectSession =
    "SELECT session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, "
    "client_ip, user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s, "
    "message_count, ended_by, quota_reserved_ms, input_text_tokens, input_audio_tokens, "
    "input_image_tokens, cached_text_tokens, cached_audio_tokens, cached_image_tokens, "
    "output_text_tokens, output_audio_tokens, estimated_cost_usd, " +
    std::string(kCallColumns) + " FROM sessions WHERE session_id = ?1";

// A client's report on a session whose end the server recorded first (end_call).
const std::string kLateReport =
    "UPDATE sessions SET reported_duration_s = ?2, message_count = ?3 "
    "WHERE session_id = ?1 AND status = 'ended' AND reported_duration_s IS NULL";

const std::string kInsertSession =
    "INSERT INTO sessions (session_id, user_id, model, voice, profile, issued_at_ms, "
    "token_expires_at, client_ip, user_agent, status, quota_reserved_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'issued', ?10)";

// Quota bookkeeping (migration 2). The user's expired reservations are dropped as the user
// comes back (each row once), and the open count is a counter, so a decision costs O(1)
// amortized however many sessions the user has open or had before.
const std::string kDropExpired =
    "DELETE FROM quota_slots WHERE user_id = ?1 AND release_at_ms <= ?2";
const std::string kReadSlots =
    "SELECT COALESCE(SUM(n), 0), COALESCE(MIN(release_at_ms), 0) FROM quota_slots "
    "WHERE user_id = ?1 AND n > 0";
const std::string kReadUsage =
    "SELECT sessions, charged_ms FROM quota_usage WHERE user_id = ?1 AND day = ?2";
const std::string kTakeSlot =
    "INSERT INTO quota_slots (user_id, release_at_ms, n) VALUES (?1, ?2, 1) "
    "ON CONFLICT (user_id, release_at_ms) DO UPDATE SET n = n + 1";
const std::string kChargeIssue =
    "INSERT INTO quota_usage (user_id, day, sessions, charged_ms) VALUES (?1, ?2, 1, ?3) "
    "ON CONFLICT (user_id, day) DO UPDATE SET sessions = sessions + 1, "
    "charged_ms = charged_ms + excluded.charged_ms";
// A slot already released (its minute passed) is no longer counted: decrementing it is moot.
const std::string kFreeSlot =
    "UPDATE quota_slots SET n = n - 1 WHERE user_id = ?1 AND release_at_ms = ?2 AND n > 0";
const std::string kSettle =
    "UPDATE quota_usage SET charged_ms = charged_ms + ?3 WHERE user_id = ?1 AND day = ?2";

const std::string kEndSession =
    "UPDATE sessions SET status = 'ended', ended_at_ms = ?2, reported_duration_s = ?3, "
    "observed_duration_s = ?4, message_count = ?5, ended_by = ?6, estimated_cost_usd = ?7 "
    "WHERE session_id = ?1 AND status = 'issued'";

const std::string kInsertEvent =
    "INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const std::string kSelectEvents =
    "SELECT at_ms, type, session_id, user_id, client_ip, reason, detail FROM events "
    "WHERE session_id = ?1 ORDER BY id";

// The current row of `s` as decode_session_row() reads it.
struct StatementCells {
    const StatementUse& s;
    std::string text(int c) const { return s.column_text(c); }
    std::int64_t int64(int c) const { return s.column_int(c); }
    double float8(int c) const { return s.column_double(c); }
    bool is_null(int c) const { return s.column_is_null(c); }
};

// A row of kSelectSession: the session, its quota reservation (15), tokens (16-23), cost (24),
// call (25-42).
SessionRow read_row(const StatementUse& s) {
    SessionRow row = decode_session_row(StatementCells{s}, 24);
    row.call = decode_call_info(StatementCells{s}, 25);
    return row;
}

/// Reads one session; `reserved_ms`, when given, receives what it reserved against the quotas
/// (nullopt: issued without quotas), read in the same lookup.
Result<std::optional<SessionRow>> find_session(OpContext& ctx, const std::string& session_id,
                                               std::optional<std::int64_t>* reserved_ms = nullptr,
                                               TokenUsage* tokens = nullptr) {
    auto s = ctx.conn.use(kSelectSession);
    if (!s) {
        return s.error();
    }
    s->bind(1, session_id);
    auto row = s->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<SessionRow>();
    }
    if (reserved_ms != nullptr && !s->column_is_null(15)) {
        *reserved_ms = s->column_int(15);
    }
    if (tokens != nullptr) {
        *tokens =
            TokenUsage{s->column_int(16), s->column_int(17), s->column_int(18), s->column_int(19),
                       s->column_int(20), s->column_int(21), s->column_int(22), s->column_int(23)};
    }
    return std::optional<SessionRow>(read_row(*s));
}

Result<void> insert_event(OpContext& ctx, const Event& e) {
    auto s = ctx.conn.use(kInsertEvent);
    if (!s) {
        return s.error();
    }
    const std::int64_t at = e.at_ms != 0 ? e.at_ms : ctx.clock.now_ms();
    s->bind(1, at)
        .bind(2, e.type)
        .bind_or_null(3, e.session_id)
        .bind_or_null(4, e.user_id)
        .bind_or_null(5, e.client_ip)
        .bind_or_null(6, e.reason)
        .bind_or_null(7, e.detail);
    auto done = s->step();
    if (!done) {
        return done.error();
    }
    return {};
}

/// Runs a statement that returns no rows, with `bind` filling its parameters.
template <class Bind>
Result<void> run(OpContext& ctx, const std::string& sql, Bind bind) {
    auto s = ctx.conn.use(sql);
    if (!s) {
        return s.error();
    }
    bind(*s);
    auto done = s->step();
    if (!done) {
        return done.error();
    }
    return {};
}

/// Reads the user's quota state as of rec.issued_at_ms and decides. Exact: the single writer
/// runs it inside the batch's BEGIN IMMEDIATE transaction, so no other writer, in this process
/// or another on the same file, can change the user's rows between the reads and the insert.
Result<void> check_quota(OpContext& ctx, const SessionRecord& rec) {
    const auto& user = rec.user_id;
    const std::int64_t now = rec.issued_at_ms;
    const auto user_now = [&](StatementUse& s) { s.bind(1, user).bind(2, now); };
    // Released slots go first (each row once), then the rest is what the user holds.
    if (auto r = run(ctx, kDropExpired, user_now); !r) {
        return r.error();
    }
    QuotaUsage usage;
    {
        auto s = ctx.conn.use(kReadSlots);
        if (!s) {
            return s.error();
        }
        s->bind(1, user);
        auto row = s->step();
        if (!row) {
            return row.error();
        }
        if (*row) {
            usage.open = s->column_int(0);
            usage.first_expiry_ms = s->column_int(1);
        }
    }
    {
        auto s = ctx.conn.use(kReadUsage);
        if (!s) {
            return s.error();
        }
        s->bind(1, user).bind(2, quota_day(now));
        auto row = s->step();
        if (!row) {
            return row.error();
        }
        if (*row) {
            usage.sessions_today = s->column_int(0);
            usage.charged_ms_today = s->column_int(1);
        }
    }
    if (auto denied = quota_decision(rec.quota, usage, now)) {
        return *denied;
    }
    return {};
}

/// Takes the session's slot and charges its reservation to the day of issue.
Result<void> reserve_quota(OpContext& ctx, const SessionRecord& rec) {
    const std::int64_t reserve = std::max<std::int64_t>(0, rec.quota.reserve_ms);
    if (auto r =
            run(ctx, kTakeSlot,
                [&](StatementUse& s) {
                    s.bind(1, rec.user_id).bind(2, slot_release_ms(rec.issued_at_ms + reserve));
                });
        !r) {
        return r.error();
    }
    return run(ctx, kChargeIssue, [&](StatementUse& s) {
        s.bind(1, rec.user_id).bind(2, quota_day(rec.issued_at_ms)).bind(3, reserve);
    });
}

/// At a session's first end: frees its slot and replaces its reservation (`reserved`, as read
/// with the row) by what it used.
Result<void> settle_quota(OpContext& ctx, const SessionRow& row,
                          const std::optional<std::int64_t>& reserved, double reported_s,
                          double observed_s) {
    if (!reserved) {
        return {};  // issued without quotas: nothing was booked
    }
    if (auto r = run(ctx, kFreeSlot,
                     [&](StatementUse& s) {
                         s.bind(1, row.issued.user_id)
                             .bind(2, slot_release_ms(row.issued.issued_at_ms + *reserved));
                     });
        !r) {
        return r.error();
    }
    const std::int64_t delta = billable_ms(reported_s, observed_s) - *reserved;
    return run(ctx, kSettle, [&](StatementUse& s) {
        s.bind(1, row.issued.user_id).bind(2, quota_day(row.issued.issued_at_ms)).bind(3, delta);
    });
}

Result<void> do_create(OpContext& ctx, SessionRecord& rec) {
    if (rec.session_id.empty() || rec.user_id.empty()) {
        return fail(Error::bad_request, "A session needs an id and a user.");
    }
    if (rec.issued_at_ms == 0) {
        rec.issued_at_ms = ctx.clock.now_ms();
    }
    const bool quota = rec.quota.enabled();
    if (quota) {
        if (auto r = check_quota(ctx, rec); !r) {
            return r.error();  // the op's savepoint is rolled back: nothing is written
        }
    }
    {
        auto s = ctx.conn.use(kInsertSession);
        if (!s) {
            return s.error();
        }
        s->bind(1, rec.session_id)
            .bind(2, rec.user_id)
            .bind(3, rec.model)
            .bind(4, rec.voice)
            .bind(5, rec.profile)
            .bind(6, rec.issued_at_ms)
            .bind(7, rec.token_expires_at)
            .bind(8, rec.client_ip)
            .bind(9, rec.user_agent);
        if (quota) {
            s->bind(10, std::max<std::int64_t>(0, rec.quota.reserve_ms));
        } else {
            s->bind_null(10);
        }
        auto done = s->step();
        if (!done) {
            Failure f = done.error();
            if (f.code == Error::internal) {
                f.details = "duplicate session id; " + f.details;
            }
            return f;
        }
    }
    if (quota) {
        if (auto r = reserve_quota(ctx, rec); !r) {
            return r.error();
        }
    }
    if (ctx.rollups != nullptr) {
        ctx.rollups->add_usage(quota_day(rec.issued_at_ms), rec.user_id, rec.model, issue_delta());
    }
    boost::json::object detail{{"model", rec.model}, {"voice", rec.voice}};
    if (!rec.profile.empty()) {
        detail["profile"] = rec.profile;
    }
    Event e;
    e.at_ms = rec.issued_at_ms;
    e.type = event_type_name(EventType::token_issued);
    e.session_id = rec.session_id;
    e.user_id = rec.user_id;
    e.client_ip = rec.client_ip;
    e.detail = boost::json::serialize(detail);
    return insert_event(ctx, e);
}

/// The audit event of `req`'s first end of `row` (already updated). Pure.
Event ended_event(const EndRequest& req, const SessionRow& row) {
    Event e;
    e.at_ms = *row.ended_at_ms;
    e.type = event_type_name(EventType::session_ended);
    e.session_id = req.session_id;
    e.user_id = row.issued.user_id;
    e.client_ip = req.client_ip;
    e.reason = req.ended_by;
    e.detail = boost::json::serialize(boost::json::object{
        {"reported_duration_s", req.reported_duration_s},
        {"observed_duration_s", *row.observed_duration_s},
        {"message_count", req.message_count},
    });
    return e;
}

/// The client's first /end of a session whose end the server recorded first (end_call): it
/// adds the reported duration and messages (and their rollups), nothing else.
Result<EndOutcome> late_report(OpContext& ctx, const EndRequest& req, EndOutcome out) {
    SessionRow& row = out.row;
    if (auto r = run(ctx, kLateReport,
                     [&](StatementUse& s) {
                         s.bind(1, req.session_id)
                             .bind(2, req.reported_duration_s)
                             .bind(3, req.message_count);
                     });
        !r) {
        return r.error();
    }
    row.reported_duration_s = req.reported_duration_s;
    row.message_count = req.message_count;
    if (ctx.rollups != nullptr) {
        ctx.rollups->add_usage(quota_day(row.issued.issued_at_ms), row.issued.user_id,
                               row.issued.model,
                               late_report_delta(req.reported_duration_s, req.message_count));
    }
    Event e = ended_event(req, row);
    e.at_ms = req.ended_at_ms != 0 ? req.ended_at_ms : ctx.clock.now_ms();
    if (auto r = insert_event(ctx, e); !r) {
        return r.error();
    }
    return out;
}

Result<EndOutcome> do_end(OpContext& ctx, const EndRequest& req) {
    std::optional<std::int64_t> reserved;
    TokenUsage tokens;
    auto found = find_session(ctx, req.session_id, &reserved, &tokens);
    if (!found) {
        return found.error();
    }
    if (!*found) {
        return fail(Error::session_not_found);
    }
    EndOutcome out{std::move(**found), false};
    SessionRow& row = out.row;
    if (req.check_owner && row.issued.user_id != req.caller_user_id) {
        return fail(Error::forbidden, "This session belongs to another user.");
    }
    if (row.status == "ended") {
        if (!row.reported_duration_s && row.ended_by && parse_call_end(*row.ended_by)) {
            return late_report(ctx, req, std::move(out));
        }
        out.already_ended = true;
        return out;
    }
    const std::int64_t ended_at = req.ended_at_ms != 0 ? req.ended_at_ms : ctx.clock.now_ms();
    const double observed =
        static_cast<double>(std::max<std::int64_t>(0, ended_at - row.issued.issued_at_ms)) / 1000.0;
    const std::int64_t billable = billable_ms(req.reported_duration_s, observed);
    const ModelPrice* price = nullptr;
    if (ctx.prices != nullptr) {
        if (auto p = ctx.prices->find(row.issued.model); p != ctx.prices->end()) {
            price = &p->second;
        }
    }
    const double cost = estimate_cost_usd(price, tokens, billable);
    if (auto r = run(ctx, kEndSession,
                     [&](StatementUse& s) {
                         s.bind(1, req.session_id)
                             .bind(2, ended_at)
                             .bind(3, req.reported_duration_s)
                             .bind(4, observed)
                             .bind(5, req.message_count)
                             .bind(6, req.ended_by)
                             .bind(7, cost);
                     });
        !r) {
        return r.error();
    }
    if (auto r = settle_quota(ctx, row, reserved, req.reported_duration_s, observed); !r) {
        return r.error();
    }
    row.status = "ended";
    row.ended_at_ms = ended_at;
    row.reported_duration_s = req.reported_duration_s;
    row.observed_duration_s = observed;
    row.message_count = req.message_count;
    row.ended_by = req.ended_by;
    row.estimated_cost_usd = cost;
    if (ctx.rollups != nullptr) {
        ctx.rollups->add_usage(quota_day(row.issued.issued_at_ms), row.issued.user_id,
                               row.issued.model,
                               end_delta(req.reported_duration_s, billable, req.message_count,
                                         req.ended_by, tokens, cost));
    }
    if (auto r = insert_event(ctx, ended_event(req, row)); !r) {
        return r.error();
    }
    return out;
}

Result<std::vector<Event>> do_events(OpContext& ctx, const std::string& session_id) {
    auto s = ctx.conn.use(kSelectEvents);
    if (!s) {
        return s.error();
    }
    s->bind(1, session_id);
    std::vector<Event> out;
    auto done = s->each_row([&] {
        Event e;
        e.at_ms = s->column_int(0);
        e.type = s->column_text(1);
        e.session_id = s->column_text(2);
        e.user_id = s->column_text(3);
        e.client_ip = s->column_text(4);
        e.reason = s->column_text(5);
        e.detail = s->column_text(6);
        out.push_back(std::move(e));
    });
    if (!done) {
        return done.error();
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(SqliteOptions options) {
    StoreOptions& common = options.common;
    std::string sync = common.synchronous;
    std::transform(sync.begin(), sync.end(), sync.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (sync != "FULL" && sync != "NORMAL") {
        return fail(Error::bad_request, "store synchronous must be \"full\" or \"normal\"");
    }
    if (options.path.empty()) {
        return fail(Error::bad_request, "store path is empty (use \":memory:\" or a file path)");
    }
    if (common.batch_max == 0) {
        return fail(Error::bad_request, "store batch_max must be at least 1");
    }
    if (common.clock == nullptr) {
        common.clock = &system_clock();
    }
    const bool memory = options.path == ":memory:";

    SqliteConnectionOptions wopts;
    wopts.path = options.path;
    wopts.synchronous = sync;
    wopts.wal = true;
    wopts.busy_timeout_ms = common.busy_timeout_ms;
    auto writer = SqliteConnection::open(wopts);
    if (!writer) {
        return writer.error();
    }
    if (auto m = migrate(**writer, *common.clock); !m) {
        return m.error();
    }
    std::unique_ptr<SqliteConnection> reader_conn;
    if (!memory) {
        SqliteConnectionOptions ropts;
        ropts.path = options.path;
        ropts.read_only = true;
        ropts.wal = false;  // the writer already switched the file to WAL
        ropts.busy_timeout_ms = common.busy_timeout_ms;
        // No memory map for the reader: it serves the admin API and the periodic usage and
        // alert reads, which would otherwise map the file again after release_memory() and
        // keep an idle server at its peak RSS; its page cache (2 MiB) bounds it instead.
        ropts.mmap = false;
        auto reader = SqliteConnection::open(ropts);
        if (!reader) {
            return reader.error();
        }
        reader_conn = std::move(*reader);
    }
    const Clock& clock = *common.clock;
    auto writer_worker = std::make_unique<detail::Worker>(
        std::move(*writer), clock,
        detail::SqliteWorkerOptions{common.batch_max, true, common.metrics, common.prices});
    std::unique_ptr<detail::Worker> reader_worker;
    if (reader_conn) {
        reader_worker = std::make_unique<detail::Worker>(
            std::move(reader_conn), clock,
            detail::SqliteWorkerOptions{common.batch_max, false, nullptr, {}});
    }
    return std::unique_ptr<SqliteStore>(
        new SqliteStore(std::move(options), std::move(writer_worker), std::move(reader_worker)));
}

SqliteStore::SqliteStore(SqliteOptions options, std::unique_ptr<detail::Worker> writer,
                         std::unique_ptr<detail::Worker> reader)
    : options_(std::move(options)),
      writer_(std::move(writer)),
      reader_(std::move(reader)),
      denials_(options_.common.denial_sampling, options_.common.metrics) {}

SqliteStore::~SqliteStore() {
    close();
}

template <class T, class Fn>
boost::asio::awaitable<Result<T>> SqliteStore::submit(detail::Worker& worker, Fn fn) {
    return store::submit<T, detail::MakeSqliteOp<T, Fn>>(worker, std::move(fn));
}

template <class T, class Query>
boost::asio::awaitable<Result<T>> SqliteStore::shared_read(Result<T> (*read)(SqlExec&,
                                                                             const Query&),
                                                           Query query) {
    auto op = [read, q = std::move(query)](OpContext& ctx) {
        SqliteExec db(ctx.conn);
        return read(db, q);
    };
    return submit<T>(reads(), std::move(op));
}

// Each op is built as a named local and moved into submit(): see the GCC 12 note on
// store::submit.

boost::asio::awaitable<Result<void>> SqliteStore::create_session(SessionRecord record) {
    auto op = [rec = std::move(record)](OpContext& ctx) mutable { return do_create(ctx, rec); };
    co_return co_await submit<void>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<EndOutcome>> SqliteStore::end_session(EndRequest request) {
    auto op = [req = std::move(request)](OpContext& ctx) { return do_end(ctx, req); };
    co_return co_await submit<EndOutcome>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<void>> SqliteStore::append_event(Event event) {
    auto op = [e = std::move(event)](OpContext& ctx) {
        if (e.type.empty()) {
            return Result<void>(fail(Error::bad_request, "An event needs a type."));
        }
        return insert_event(ctx, e);
    };
    co_return co_await submit<void>(*writer_, std::move(op));
}

void SqliteStore::record_denial(const Denial& denial) {
    record_denial_at(denials_, denial, *options_.common.clock);
}

boost::asio::awaitable<Result<void>> SqliteStore::flush_denials() {
    // On the writer, as one op of a group commit.
    auto run = [this](auto write) {
        auto op = [write = std::move(write)](OpContext& ctx) {
            SqliteExec db(ctx.conn);
            return write(db);
        };
        return submit<void>(*writer_, std::move(op));
    };
    co_return co_await flush_denial_log(denials_, false, std::move(run));
}

boost::asio::awaitable<Result<PruneReport>> SqliteStore::prune(PruneRequest request) {
    auto op = [r = request](OpContext& ctx) {
        SqliteExec db(ctx.conn);
        return prune_step(db, r);
    };
    co_return co_await submit<PruneReport>(*writer_, std::move(op));
}

boost::asio::awaitable<void> SqliteStore::flush_before_read() {
    (void)co_await flush_denials();  // on failure the read goes on; the counts stay buffered
}

boost::asio::awaitable<Result<std::optional<SessionRow>>> SqliteStore::get_session(
    std::string session_id) {
    auto op = [id = std::move(session_id)](OpContext& ctx) { return find_session(ctx, id); };
    co_return co_await submit<std::optional<SessionRow>>(reads(), std::move(op));
}

boost::asio::awaitable<Result<std::vector<Event>>> SqliteStore::session_events(
    std::string session_id) {
    auto op = [id = std::move(session_id)](OpContext& ctx) { return do_events(ctx, id); };
    co_return co_await submit<std::vector<Event>>(reads(), std::move(op));
}

boost::asio::awaitable<Result<UsageReport>> SqliteStore::usage(UsageQuery query) {
    co_await flush_before_read();
    auto op = [q = std::move(query), cache = &rank_cache_](OpContext& ctx) {
        SqliteExec db(ctx.conn);
        return read_usage(db, q, cache);
    };
    co_return co_await submit<UsageReport>(reads(), std::move(op));
}

boost::asio::awaitable<Result<LiveReport>> SqliteStore::live(LiveQuery query) {
    co_await flush_before_read();
    co_return co_await shared_read(&read_live, query);
}

boost::asio::awaitable<Result<SessionPage>> SqliteStore::list_sessions(SessionQuery query) {
    co_return co_await shared_read(&read_sessions, std::move(query));
}

boost::asio::awaitable<Result<EventPage>> SqliteStore::list_events(EventQuery query) {
    co_await flush_before_read();
    co_return co_await shared_read(&read_events, std::move(query));
}

boost::asio::awaitable<Result<RebuildReport>> SqliteStore::rebuild_rollups() {
    auto op = [](OpContext& ctx) {
        // The batch's earlier ops are in `sessions` already: their pending deltas would count
        // twice.
        if (ctx.batch_rollups != nullptr) {
            ctx.batch_rollups->clear();
        }
        SqliteExec db(ctx.conn);
        return store::rebuild_rollups(db, false);
    };
    co_return co_await submit<RebuildReport>(*writer_, std::move(op));
}

bool SqliteStore::ready() const {
    if (!open_.load(std::memory_order_acquire)) {
        return false;
    }
    if (writer_->writes_ok()) {
        return true;
    }
    writer_->probe_writes();
    return false;
}

void SqliteStore::release_memory() {
    writer_->request_release();
    if (reader_) {
        reader_->request_release();
    }
}

void SqliteStore::close() {
    std::lock_guard lock(close_mutex_);
    if (!open_.exchange(false, std::memory_order_acq_rel)) {
        return;
    }
    flush_denials_blocking(*this);
    writer_->stop();
    if (reader_) {
        reader_->stop();
    }
}

StoreStats SqliteStore::stats() const {
    StoreStats s = writer_->stats();
    if (reader_) {
        s += reader_->stats();  // the reader runs no batches: it adds ops only
    }
    return s;
}

}  // namespace voicegate::store
