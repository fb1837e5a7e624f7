#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/audit.hpp"
#include "store/migrations.hpp"
#include "store/pg_db.hpp"
#include "store/rollup.hpp"
#include "store/session_store.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store {

/// How PgStore connects and batches.
///
/// `url` is a libpq URL, `postgres://USER:PASSWORD@HOST:PORT/DB?PARAMS` (or `postgresql://`),
/// handed to libpq as is, so libpq's parameters work (`sslmode`, `sslrootcert`,
/// `connect_timeout`, `application_name`, ...). voicegate adds one parameter of its own,
/// `schema=NAME`, removed before libpq sees the URL: the tables live in that schema (created
/// if missing; the connections' search_path), so a shared database such as Supabase's keeps
/// voicegate apart from its `public` schema. For Supabase use the direct connection or the
/// session-mode pooler (port 5432; prepared statements need a session) with
/// `sslmode=require`, or `sslmode=verify-full&sslrootcert=/path/to/supabase-ca.crt` to also
/// check the server's certificate.
struct PgOptions {
    std::string url;
    std::size_t batch_max = 1024;  // most ops per group commit (>= 1)
    std::size_t writers = 2;       // writer connections, each group-committing on its own
                                   // thread; sessions are spread over them by id (>= 1)
    int io_timeout_ms = 30'000;    // longest wait for the server within one batch
    int reconnect_min_ms = 100;    // first reconnect delay after a lost connection; doubles
    int reconnect_max_ms = 5'000;  // up to this
    const Clock* clock = nullptr;  // fills missing timestamps; nullptr -> system clock
    metrics::StoreMetrics* metrics = nullptr;  // write batches; borrowed, outlives the store
    PriceTable prices = default_prices();      // for sessions.estimated_cost_usd at end
    DenialSampling denial_sampling;            // which refusals become audit samples
};

/// SqlExec over a PgConnection, in pipeline mode (a store thread's) or not (`voicegate
/// migrate`). Not thread-safe.
class PgExec final : public SqlExec {
public:
    PgExec(PgConnection& conn, bool pipeline, std::chrono::milliseconds timeout)
        : conn_(conn), pipeline_(pipeline), timeout_(timeout) {}
    Dialect dialect() const override { return Dialect::postgres; }
    [[nodiscard]] Result<SqlTable> query(const SqlQuery& q) override;

private:
    PgConnection& conn_;
    bool pipeline_;
    std::chrono::milliseconds timeout_;
};

/// Counters for metrics and tests. Monotonic; summed over the store's connections.
struct PgStoreStats {
    std::uint64_t batches = 0;            // write transactions attempted (group commits)
    std::uint64_t ops = 0;                // operations completed (writes and reads)
    std::uint64_t failed_ops = 0;         // completed with store_unavailable or internal
    std::uint64_t careful_batches = 0;    // batches re-run op by op (a statement failed)
    std::uint64_t conflict_retries = 0;   // batches retried after a deadlock/serialization error
    std::uint64_t connection_losses = 0;  // connections found broken
    std::uint64_t reconnects = 0;         // connections re-established
};

namespace detail {

/// The statements PgStore prepares on each connection.
/// The first three also have a batched form (arrays of every parameter, one row per op) that a
/// writer uses for several ops of one kind at once.
/// create_quota is create_session with the quota check (run one op per statement, after
/// lock_users has taken the batch's users' advisory locks).
enum class PgStatement {
    create_session,
    end_session,
    append_event,
    get_session,
    events,
    lock,
    create_quota,
    lock_users,
    call  // not a statement: a function run on a reader's connection (PgCallOp)
};

/// A queued PgStore operation, type-erased: one prepared statement with its parameters, and
/// the decoding of its result. Built on the caller's thread, run on a store thread.
class PgOpBase {
public:
    /// Takes the statement, its parameters, the session the op touches (may be empty) and the
    /// user whose quota it decides (empty if none).
    PgOpBase(PgStatement statement, PgParams params, std::string session_key,
             std::string user_key = {})
        : statement_(statement),
          params_(std::move(params)),
          session_key_(std::move(session_key)),
          user_key_(std::move(user_key)) {}
    virtual ~PgOpBase() = default;
    PgOpBase(const PgOpBase&) = delete;
    PgOpBase& operator=(const PgOpBase&) = delete;

    /// The statement to run.
    PgStatement statement() const { return statement_; }
    /// Its text parameters.
    const PgParams& params() const { return params_; }
    /// The session the op touches, or empty: ops on one session run in queue order, and the
    /// rows of a batch's end_session ops are locked up front in sorted order.
    const std::string& session_key() const { return session_key_; }
    /// The user whose quota the op decides, or empty: the batch's transaction takes an
    /// advisory lock per such user, in sorted order, before any op reads the user's counts.
    const std::string& user_key() const { return user_key_; }

    /// Decodes the statement's successful result into the outcome.
    virtual void decode(const PgRows& rows) = 0;
    /// Replaces the outcome with `failure`.
    virtual void fail(Failure failure) = 0;
    /// True when the outcome is a storage failure (for PgStoreStats::failed_ops).
    virtual bool storage_failed() const = 0;
    /// Posts the outcome to the waiting coroutine's executor; call once, last.
    virtual void complete() = 0;
    /// For PgStatement::call: runs the function on `conn` (a reader's, in pipeline mode).
    virtual void call(PgConnection& conn, std::chrono::milliseconds timeout) {
        (void)conn;
        (void)timeout;
    }

private:
    PgStatement statement_;
    PgParams params_;
    std::string session_key_;
    std::string user_key_;
};

/// The outcome half of an op: holds the Result<T> and the completion handler (with tracked work
/// on its executor while queued) and posts the one to the other.
template <class T, class Handler>
class PgOpOutcome : public PgOpBase {
public:
    PgOpOutcome(PgStatement statement, PgParams params, std::string session_key,
                std::string user_key, Handler handler)
        : PgOpBase(statement, std::move(params), std::move(session_key), std::move(user_key)),
          handler_(std::move(handler)),
          work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_),
                                    boost::asio::execution::outstanding_work.tracked)) {}

    void fail(Failure failure) override {
        result_.emplace(boost::system::in_place_error, std::move(failure));
    }
    bool storage_failed() const override {
        return result_ && result_->has_error() &&
               (result_->error().code == Error::store_unavailable ||
                result_->error().code == Error::internal);
    }
    void complete() override {
        if (!result_) {
            result_.emplace(boost::system::in_place_error,
                            voicegate::fail(Error::store_unavailable, {}, "postgres: not run"));
        }
        // Never resume the coroutine on a store thread: post to its own executor.
        auto work = std::move(work_);
        boost::asio::post(work,
                          [handler = std::move(handler_), result = std::move(*result_)]() mutable {
                              std::move(handler)(std::move(result));
                          });
    }

protected:
    std::optional<Result<T>> result_;

private:
    using WorkExecutor = std::decay_t<decltype(boost::asio::prefer(
        std::declval<boost::asio::associated_executor_t<Handler>>(),
        boost::asio::execution::outstanding_work.tracked))>;

    Handler handler_;
    WorkExecutor work_;
};

/// A PgOpBase whose `decode` (a `Result<T>(const PgRows&)`) makes the outcome, completed on
/// `handler`'s executor. Holds tracked work on that executor while queued.
template <class T, class Decode, class Handler>
class PgOp final : public PgOpOutcome<T, Handler> {
public:
    /// Takes the statement and parameters, the decoder and the completion handler.
    PgOp(PgStatement statement, PgParams params, std::string session_key, std::string user_key,
         Decode decode, Handler handler)
        : PgOpOutcome<T, Handler>(statement, std::move(params), std::move(session_key),
                                  std::move(user_key), std::move(handler)),
          decode_(std::move(decode)) {}

    void decode(const PgRows& rows) override { this->result_.emplace(decode_(rows)); }

private:
    Decode decode_;
};

/// A PgStatement::call op: `fn` (a `Result<T>(PgExec&)`) runs on the reader's thread.
template <class T, class Fn, class Handler>
class PgCallOp final : public PgOpOutcome<T, Handler> {
public:
    PgCallOp(Fn fn, Handler handler)
        : PgOpOutcome<T, Handler>(PgStatement::call, {}, {}, {}, std::move(handler)),
          fn_(std::move(fn)) {}
    void call(PgConnection& conn, std::chrono::milliseconds timeout) override {
        PgExec exec(conn, true, timeout);
        this->result_.emplace(fn_(exec));
    }
    void decode(const PgRows&) override {}

private:
    Fn fn_;
};

/// How a PgWorker (re)connects and how long it waits.
struct PgWorkerOptions {
    std::string name;  // for logs: "writer 1", "reader"
    bool transactional = true;
    std::size_t batch_max = 1024;
    std::chrono::milliseconds io_timeout{30'000};
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5'000};
    metrics::StoreMetrics* metrics = nullptr;  // write batches (writers only); may be null
    std::int64_t shard = 0;  // the writer's row of usage_daily_model (no hot row between writers)
    PriceTable prices;       // for the cost in the rollups of a first end (as the statement's)
};

/// One thread owning one PostgreSQL connection in pipeline mode, draining a queue of ops.
/// A writer runs each drained batch as one transaction in two round trips: BEGIN, a lock of
/// the batch's end_session rows in sorted order (no deadlock between instances) and the ops in
/// one pipeline; then the daily rollups that the ops' answers add up to (summed by key in a
/// RollupBatch, one upsert statement over arrays, keys in order) and COMMIT. The ops are cut
/// into waves in which no session repeats; in a
/// wave each kind of op (create, event, end) is one statement over arrays, so a batch of a
/// thousand ends costs a few statements, not a thousand. If a statement fails the batch is rolled
/// back and re-run op by op, each in a SAVEPOINT, so only the failing op fails; a deadlock or
/// serialization failure retries the batch. A reader pipelines its ops with a sync after each (no
/// transaction). On a lost connection every op in flight fails with store_unavailable and the
/// worker reconnects with exponential backoff, failing new ops at once meanwhile.
class PgWorker {
public:
    /// Makes a fresh, ready (prepared, pipelined) connection.
    using Connector = std::function<Result<std::unique_ptr<PgConnection>>()>;

    /// Starts the thread with an already made connection.
    PgWorker(PgWorkerOptions options, Connector connector, std::unique_ptr<PgConnection> conn);
    /// Calls stop().
    ~PgWorker();
    PgWorker(const PgWorker&) = delete;
    PgWorker& operator=(const PgWorker&) = delete;

    /// Queues `op`; false (op untouched) once stopping. Thread-safe.
    bool enqueue(std::unique_ptr<PgOpBase>& op);
    /// Finishes everything queued, then joins the thread and closes the connection.
    void stop();
    /// True while the worker has a working connection. Thread-safe.
    bool connected() const { return connected_.load(std::memory_order_acquire); }
    /// Counters. Thread-safe.
    PgStoreStats stats() const;

private:
    using Batch = std::vector<std::unique_ptr<PgOpBase>>;
    using Clock = std::chrono::steady_clock;
    enum class Outcome { done, statement_failed, conflict, lost };

    void run();
    void ensure_connection();
    void connection_lost(const Failure& why);
    void run_write(Batch& batch);
    Outcome write_pipelined(Batch& batch);
    Outcome write_careful(Batch& batch);
    void run_read(Batch& batch);
    void fail_all(Batch& batch, const Failure& failure);
    void finish(Batch& batch, double write_seconds);

    PgWorkerOptions options_;
    Connector connector_;
    std::unique_ptr<PgConnection> conn_;
    std::atomic<bool> connected_{false};
    Clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_{0};
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<PgOpBase>> queue_;
    bool stopping_ = false;
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> ops_{0};
    std::atomic<std::uint64_t> failed_ops_{0};
    std::atomic<std::uint64_t> careful_{0};
    std::atomic<std::uint64_t> conflicts_{0};
    std::atomic<std::uint64_t> losses_{0};
    std::atomic<std::uint64_t> reconnects_{0};
    std::thread thread_;
};

}  // namespace detail

/// SessionStore on PostgreSQL (libpq) with group commit; usable by any number of voicegate
/// instances on one database at once.
///
/// Writes go to `writers` writer threads (a session's ops always to the same one, chosen by
/// its id), each owning one connection in pipeline mode: it drains up to batch_max queued ops
/// and sends BEGIN and the ops in one round trip, the batch's rollups and COMMIT in a second;
/// each op is one prepared statement
/// that also writes its audit event, and reports outcomes such as "already ended" as data, so
/// a batch normally cannot fail part-way. Only after COMMIT is each result posted to the
/// awaiting coroutine's executor. A create with quotas first takes a transaction-scoped
/// advisory lock on its user (every user of the batch, in sorted order, in a statement of its
/// own so that READ COMMITTED reads the counts after the lock is held), which makes the quota
/// decision exact across writers and instances. end_session locks the row
/// (`SELECT ... FOR UPDATE`) and updates it only while it is `issued`, so concurrent ends, even
/// from two instances, end a session exactly once, and its first end settles the quota in the
/// same statement. Reads use their own connection and thread. A lost connection makes ops fail
/// with store_unavailable and ready() false until the worker reconnects (backoff); each change
/// of state is logged once.
/// Thread safety: every method may be called concurrently from any thread or event loop; no
/// method blocks an event loop except close(). Lifetime: as SqliteStore (close() before the
/// io_contexts that await it are destroyed; outlive every awaiting coroutine).
class PgStore final : public SessionStore {
public:
    /// Connects, creates the schema if `schema=` names a missing one, runs migrations (under a
    /// PostgreSQL advisory lock, so instances starting together do not race), prepares the
    /// statements and starts the threads. Fails with store_unavailable (libpq text only in
    /// details) or bad_request for invalid options.
    [[nodiscard]] static Result<std::unique_ptr<PgStore>> open(PgOptions options);

    /// Runs the migrations on the database `url` names (schema= honoured) under the advisory
    /// lock; for `voicegate migrate`. Blocking.
    [[nodiscard]] static Result<MigrationReport> migrate(const std::string& url,
                                                         const Clock& clock);

    /// Calls close().
    ~PgStore() override;
    PgStore(const PgStore&) = delete;
    PgStore& operator=(const PgStore&) = delete;

    // The SessionStore operations, as documented there and with SqliteStore's conventions: a
    // duplicate session id fails with Error::internal (details name it); an empty id or user,
    // or an event without a type, with bad_request; zero timestamps come from the clock.

    /// See SessionStore::create_session.
    boost::asio::awaitable<Result<void>> create_session(SessionRecord record) override;
    /// See SessionStore::end_session.
    boost::asio::awaitable<Result<EndOutcome>> end_session(EndRequest request) override;
    /// See SessionStore::append_event.
    boost::asio::awaitable<Result<void>> append_event(Event event) override;
    /// See SessionStore::record_denial.
    void record_denial(const Denial& denial) override;
    /// See SessionStore::flush_denials: one transaction on the reader connection.
    boost::asio::awaitable<Result<void>> flush_denials() override;
    /// See SessionStore::prune: on the reader connection, each DELETE committing on its own.
    boost::asio::awaitable<Result<PruneReport>> prune(PruneRequest request) override;
    /// See SessionStore::get_session; reads through the reader connection.
    boost::asio::awaitable<Result<std::optional<SessionRow>>> get_session(
        std::string session_id) override;
    /// The events of one session, oldest first (tests and diagnostics). Thread-safe.
    boost::asio::awaitable<Result<std::vector<Event>>> session_events(std::string session_id);
    /// See SessionStore::usage; on the reader connection.
    boost::asio::awaitable<Result<UsageReport>> usage(UsageQuery query) override;
    /// See SessionStore::live.
    boost::asio::awaitable<Result<LiveReport>> live(LiveQuery query) override;
    /// See SessionStore::list_sessions.
    boost::asio::awaitable<Result<SessionPage>> list_sessions(SessionQuery query) override;
    /// See SessionStore::list_events.
    boost::asio::awaitable<Result<EventPage>> list_events(EventQuery query) override;
    /// See SessionStore::rebuild_rollups: one transaction on the reader connection that locks
    /// the rollup tables first (writers' upserts wait, then add on top).
    boost::asio::awaitable<Result<RebuildReport>> rebuild_rollups() override;

    /// True while open and every connection is up. Thread-safe.
    bool ready() const override;
    /// Commits everything queued, stops the threads and closes the connections; later ops fail
    /// with store_unavailable. Idempotent. Blocking: call from outside the event loops.
    void close() override;

    /// Counters, summed over the writers and the reader. Thread-safe.
    PgStoreStats stats() const;
    /// The options the store was opened with (clock resolved).
    const PgOptions& options() const { return options_; }

private:
    PgStore(PgOptions options, std::vector<std::unique_ptr<detail::PgWorker>> writers,
            std::unique_ptr<detail::PgWorker> reader);

    /// Queues an op on `worker`; the awaitable resumes on the awaiting coroutine's executor.
    /// Not a coroutine, and callers pass named objects: see the GCC 12 note at
    /// SqliteStore::submit.
    template <class T, class Decode>
    static boost::asio::awaitable<Result<T>> submit(detail::PgWorker& worker,
                                                    detail::PgStatement statement, PgParams params,
                                                    std::string session_key, Decode decode,
                                                    std::string user_key) {
        auto initiation = [&worker, statement](auto handler, PgParams p, std::string key, Decode d,
                                               std::string user) {
            using Handler = decltype(handler);
            std::unique_ptr<detail::PgOpBase> op =
                std::make_unique<detail::PgOp<T, Decode, Handler>>(
                    statement, std::move(p), std::move(key), std::move(user), std::move(d),
                    std::move(handler));
            if (!worker.enqueue(op)) {
                op->fail(voicegate::fail(Error::store_unavailable, {}, "store is closed"));
                op->complete();
            }
        };
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result<T>)>(
            std::move(initiation), boost::asio::use_awaitable, std::move(params),
            std::move(session_key), std::move(decode), std::move(user_key));
    }

    detail::PgWorker& writer_for(const std::string& session_id);

    /// Writes the buffered denials first when there are any (usage, live, list_events).
    boost::asio::awaitable<void> flush_before_read();

    /// Runs `fn` (a `Result<T>(PgExec&)`) on the reader's thread and connection.
    template <class T, class Fn>
    boost::asio::awaitable<Result<T>> call(Fn fn) {
        auto initiation = [this](auto handler, Fn f) {
            using Handler = decltype(handler);
            std::unique_ptr<detail::PgOpBase> op =
                std::make_unique<detail::PgCallOp<T, Fn, Handler>>(std::move(f),
                                                                   std::move(handler));
            if (!reader_->enqueue(op)) {
                op->fail(voicegate::fail(Error::store_unavailable, {}, "store is closed"));
                op->complete();
            }
        };
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result<T>)>(
            std::move(initiation), boost::asio::use_awaitable, std::move(fn));
    }

    PgOptions options_;
    std::vector<std::unique_ptr<detail::PgWorker>> writers_;
    std::unique_ptr<detail::PgWorker> reader_;
    std::atomic<bool> open_{true};
    std::mutex close_mutex_;
    UserRankCache rank_cache_;  // usage(groupBy=user) between calls
    DenialLog denials_;         // refusals counted, not yet written
};

}  // namespace voicegate::store
