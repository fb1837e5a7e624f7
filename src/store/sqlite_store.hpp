#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
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
#include "store/rollup.hpp"
#include "store/session_store.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store {

class SqliteConnection;

/// How SqliteStore opens its database.
struct SqliteOptions {
    std::string path = ":memory:";     // a file path, or ":memory:" (private to this store)
    std::string synchronous = "full";  // "full": every commit fsynced; "normal": WAL-synced at
                                       // checkpoints (survives kill -9, not power loss)
    std::size_t batch_max = 1024;      // most ops per group commit (>= 1)
    int busy_timeout_ms = 5000;        // wait for locks held by other processes
    const Clock* clock = nullptr;      // fills missing timestamps; nullptr -> system clock
    metrics::StoreMetrics* metrics = nullptr;  // write batches; borrowed, outlives the store
    PriceTable prices = default_prices();      // for sessions.estimated_cost_usd at end
    DenialSampling denial_sampling;            // which refusals become audit samples
};

/// Counters for metrics. Monotonic.
struct StoreStats {
    std::uint64_t batches = 0;     // group commits attempted (write transactions)
    std::uint64_t ops = 0;         // operations completed (writes and reads)
    std::uint64_t failed_ops = 0;  // completed with a storage failure (store_unavailable or
                                   // internal); not counting session_not_found / forbidden
};

namespace detail {

/// What an operation runs on: the connection of the thread that executes it.
struct OpContext {
    SqliteConnection& conn;
    const Clock& clock;
    const PriceTable* prices = nullptr;
    RollupBatch* rollups = nullptr;        // the running op's rollup deltas (writer only)
    RollupBatch* batch_rollups = nullptr;  // the batch's, not yet written (writer only)
};

/// A queued operation, type-erased. Executed and completed on a store thread.
class OpBase {
public:
    virtual ~OpBase() = default;
    /// Runs the operation; true when it succeeded (its writes are kept).
    virtual bool execute(OpContext& ctx) = 0;
    /// Replaces the outcome with `failure` (e.g. the batch's COMMIT failed).
    virtual void fail(Failure failure) = 0;
    /// True when the outcome is a storage failure (for StoreStats::failed_ops).
    virtual bool storage_failed() const = 0;
    /// Posts the outcome to the waiting coroutine's executor; call once, last.
    virtual void complete() = 0;
};

/// `sql` with PostgreSQL-style `$N` placeholders as SQLite's `?N`. Pure.
std::string sqlite_sql(std::string sql);

/// True for failures of the storage itself (counted in StoreStats::failed_ops). Pure.
bool is_storage_failure(const Failure& f);

/// An OpBase that runs `fn` (a `Result<T>(OpContext&)`) and completes `handler` with its
/// Result<T>. Holds a tracked-work executor of the handler, so the caller's event loop does not
/// run out of work while the op is queued. Built on the caller's thread, then owned by a Worker.
template <class T, class Fn, class Handler>
class Op final : public OpBase {
public:
    /// Takes the operation and the completion handler.
    Op(Fn fn, Handler handler)
        : fn_(std::move(fn)),
          handler_(std::move(handler)),
          work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_),
                                    boost::asio::execution::outstanding_work.tracked)) {}

    bool execute(OpContext& ctx) override {
        result_.emplace(fn_(ctx));
        return result_->has_value();
    }
    void fail(Failure failure) override {
        result_.emplace(boost::system::in_place_error, std::move(failure));
    }
    bool storage_failed() const override {
        return result_ && result_->has_error() && is_storage_failure(result_->error());
    }
    void complete() override {
        // Never resume the coroutine here (a store thread): post to its own executor. The
        // tracked executor kept the event loop alive while the op was queued.
        auto work = std::move(work_);
        boost::asio::post(work,
                          [handler = std::move(handler_), result = std::move(*result_)]() mutable {
                              std::move(handler)(std::move(result));
                          });
    }

private:
    using WorkExecutor = std::decay_t<decltype(boost::asio::prefer(
        std::declval<boost::asio::associated_executor_t<Handler>>(),
        boost::asio::execution::outstanding_work.tracked))>;

    Fn fn_;
    Handler handler_;
    WorkExecutor work_;
    std::optional<Result<T>> result_;
};

/// One thread that owns one connection and drains a queue of operations. Writers run each
/// batch in one transaction (group commit), one SAVEPOINT per op; readers run ops one by one.
class Worker {
public:
    /// Starts the thread. `transactional`: group-commit batches (the writer); otherwise each op
    /// runs on its own (the reader). `clock` must outlive the worker.
    /// `metrics` (may be null) is told of every write batch.
    Worker(std::unique_ptr<SqliteConnection> conn, const Clock& clock, std::size_t batch_max,
           bool transactional, metrics::StoreMetrics* metrics = nullptr, PriceTable prices = {});
    /// Calls stop().
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Queues `op`; false (op untouched) once stopping.
    bool enqueue(std::unique_ptr<OpBase>& op);
    /// Finishes everything queued, then joins the thread and closes the connection.
    void stop();
    /// Counters (thread-safe).
    StoreStats stats() const;
    /// Asks the thread, once its queue is empty, to free its connection's page cache and
    /// unmap the database file (SQLite maps it again on the next read). Thread-safe.
    void request_release();
    /// Writers: false after a batch failed on storage (the write lock held elsewhere past the
    /// busy timeout, an I/O error, a full disk), true again once a batch commits. Thread-safe.
    bool writes_ok() const { return writes_ok_.load(std::memory_order_acquire); }
    /// Queues an empty write transaction (BEGIN IMMEDIATE; COMMIT) unless one is queued
    /// already, so that writes_ok() can recover while no client writes. Thread-safe.
    void probe_writes();

private:
    void run();
    void release();
    void run_batch(std::vector<std::unique_ptr<OpBase>>& batch);
    void finish(std::vector<std::unique_ptr<OpBase>>& batch, double write_seconds);
    Result<void> write_rollups(const RollupBatch& rollups);

    std::unique_ptr<SqliteConnection> conn_;
    PriceTable prices_;
    const Clock& clock_;
    std::size_t batch_max_;
    bool transactional_;
    metrics::StoreMetrics* metrics_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<OpBase>> queue_;
    bool stopping_ = false;
    bool release_ = false;
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> ops_{0};
    std::atomic<std::uint64_t> failed_ops_{0};
    std::atomic<bool> writes_ok_{true};
    std::atomic<bool> probe_queued_{false};
    std::thread thread_;
};

}  // namespace detail

/// SqlExec over a SqliteConnection (`$N` placeholders run as `?N`). Not thread-safe.
class SqliteExec final : public SqlExec {
public:
    explicit SqliteExec(SqliteConnection& conn) : conn_(conn) {}
    Dialect dialect() const override { return Dialect::sqlite; }
    [[nodiscard]] Result<SqlTable> query(const SqlQuery& q) override;
    /// Hash aggregation straight off the statement (no row copies, no sorter).
    [[nodiscard]] Result<std::vector<std::pair<std::string, std::int64_t>>> sum_by_key(
        const SqlQuery& q) override;

private:
    SqliteConnection& conn_;
};

/// SessionStore on SQLite with group commit.
/// One writer thread owns the write connection: callers' ops are queued, the writer drains up
/// to batch_max of them into one `BEGIN IMMEDIATE` ... `COMMIT` (each op in its own SAVEPOINT,
/// so a failing op does not sink the others), and only after COMMIT posts each result to the
/// awaiting coroutine's executor. If COMMIT fails, every op of the batch fails with
/// store_unavailable. For a file, reads use a second connection on their own thread (WAL lets
/// them run beside the writer); for ":memory:" they go through the writer.
/// Thread safety: every method may be called concurrently from any thread or event loop; no
/// method blocks an event loop except close(), which is meant for shutdown.
/// Lifetime: a queued op keeps its event loop's io_context busy (tracked work) until it
/// completes, so close() the store before destroying the io_contexts that await it; the store
/// itself must outlive every coroutine awaiting it.
class SqliteStore final : public SessionStore {
public:
    /// Opens (creating) the database, applies WAL and pragmas, runs migrations and starts the
    /// threads. Fails with store_unavailable (sqlite text only in details) or bad_request for
    /// invalid options.
    [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(SqliteOptions options);

    /// Calls close().
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    // The SessionStore operations, as documented there. A duplicate session id fails with
    // Error::internal (details name it); an empty id or user, or an event without a type, with
    // bad_request. Zero timestamps (issued_at_ms, ended_at_ms, at_ms) are taken from the clock.

    /// See SessionStore::create_session.
    boost::asio::awaitable<Result<void>> create_session(SessionRecord record) override;
    /// See SessionStore::end_session.
    boost::asio::awaitable<Result<EndOutcome>> end_session(EndRequest request) override;
    /// See SessionStore::append_event.
    boost::asio::awaitable<Result<void>> append_event(Event event) override;
    /// See SessionStore::record_denial.
    void record_denial(const Denial& denial) override;
    /// See SessionStore::flush_denials; one op of a group commit on the writer.
    boost::asio::awaitable<Result<void>> flush_denials() override;
    /// See SessionStore::prune; one op of a group commit on the writer.
    boost::asio::awaitable<Result<PruneReport>> prune(PruneRequest request) override;
    /// See SessionStore::get_session; on a file it reads through the reader connection.
    boost::asio::awaitable<Result<std::optional<SessionRow>>> get_session(
        std::string session_id) override;

    /// The events of one session, oldest first (for tests and diagnostics: it scans `events`,
    /// which has no session_id index). Thread-safe.
    boost::asio::awaitable<Result<std::vector<Event>>> session_events(std::string session_id);

    /// See SessionStore::usage; on a file it reads through the reader connection.
    boost::asio::awaitable<Result<UsageReport>> usage(UsageQuery query) override;
    /// See SessionStore::live.
    boost::asio::awaitable<Result<LiveReport>> live(LiveQuery query) override;
    /// See SessionStore::list_sessions.
    boost::asio::awaitable<Result<SessionPage>> list_sessions(SessionQuery query) override;
    /// See SessionStore::list_events.
    boost::asio::awaitable<Result<EventPage>> list_events(EventQuery query) override;
    /// See SessionStore::rebuild_rollups; runs on the writer, within one group commit.
    boost::asio::awaitable<Result<RebuildReport>> rebuild_rollups() override;

    /// False after close(), and while writes fail (see detail::Worker::writes_ok); each call
    /// in that state queues one probe write, so readiness comes back once the lock is free or
    /// the disk has room again. Thread-safe.
    bool ready() const override;
    void release_memory() override;
    /// Commits everything queued, stops the threads and closes the connections; later ops fail
    /// with store_unavailable. Idempotent. Blocking: call from outside the event loops.
    void close() override;

    /// Group-commit counters, summed over the writer and the reader. Thread-safe.
    StoreStats stats() const;

    /// The options the store was opened with (clock resolved).
    const SqliteOptions& options() const { return options_; }

private:
    SqliteStore(SqliteOptions options, std::unique_ptr<detail::Worker> writer,
                std::unique_ptr<detail::Worker> reader);

    /// Queues `fn` (a `Result<T>(detail::OpContext&)`) on `worker`; the returned awaitable
    /// suspends until the op is done and resumes on the awaiting coroutine's executor.
    /// Not a coroutine itself, and callers pass `fn` as a named object: GCC 12 miscompiles
    /// aggregate and lambda prvalues passed by value inside a co_await expression (it moves
    /// from the wrong address and destroys twice).
    template <class T, class Fn>
    static boost::asio::awaitable<Result<T>> submit(detail::Worker& worker, Fn fn) {
        auto initiation = [&worker](auto handler, Fn f) {
            using Handler = decltype(handler);
            std::unique_ptr<detail::OpBase> op =
                std::make_unique<detail::Op<T, Fn, Handler>>(std::move(f), std::move(handler));
            if (!worker.enqueue(op)) {
                op->fail(fail(Error::store_unavailable, {}, "store is closed"));
                op->complete();
            }
        };
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result<T>)>(
            std::move(initiation), boost::asio::use_awaitable, std::move(fn));
    }

    detail::Worker& reads() { return reader_ ? *reader_ : *writer_; }

    /// Writes the buffered denials first when there are any (usage, live, list_events).
    boost::asio::awaitable<void> flush_before_read();

    /// Queues `read` (one of store/rollup.hpp's shared reads) with `query` on the reader.
    template <class T, class Query>
    boost::asio::awaitable<Result<T>> shared_read(Result<T> (*read)(SqlExec&, const Query&),
                                                  Query query) {
        auto op = [read, q = std::move(query)](detail::OpContext& ctx) {
            SqliteExec db(ctx.conn);
            return read(db, q);
        };
        return submit<T>(reads(), std::move(op));
    }

    SqliteOptions options_;
    std::unique_ptr<detail::Worker> writer_;
    std::unique_ptr<detail::Worker> reader_;  // null for ":memory:"
    std::atomic<bool> open_{true};
    std::mutex close_mutex_;
    UserRankCache rank_cache_;  // usage(groupBy=user) between calls
    DenialLog denials_;         // refusals counted, not yet written
};

}  // namespace voicegate::store
