#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/prices.hpp"
#include "store/op_queue.hpp"
#include "store/rollup.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store {

class SqliteConnection;

namespace detail {

/// What a SQLite operation runs on: the connection of the thread that executes it.
struct OpContext {
    SqliteConnection& conn;
    const Clock& clock;
    const PriceTable* prices = nullptr;
    RollupBatch* rollups = nullptr;        // the running op's rollup deltas (writer only)
    RollupBatch* batch_rollups = nullptr;  // the batch's, not yet written (writer only)
};

/// A queued SQLite operation, type-erased. Executed and completed on a store thread.
/// Thread safety: as QueuedOp (one thread at a time).
class OpBase : public QueuedOp {
public:
    /// Runs the operation; true when it succeeded (its writes are kept).
    virtual bool execute(OpContext& ctx) = 0;
};

/// An OpBase that runs `fn` (a `Result<T>(OpContext&)`) and completes `handler` with its
/// Result<T>.
/// Thread safety: as QueuedOp (one thread at a time).
template <class T, class Fn, class Handler>
class SqliteOp final : public CompletionOp<OpBase, T, Handler> {
public:
    /// Takes the operation and the completion handler.
    SqliteOp(Fn fn, Handler handler)
        : CompletionOp<OpBase, T, Handler>(std::move(handler)), fn_(std::move(fn)) {}

    bool execute(OpContext& ctx) override {
        this->set_result(fn_(ctx));
        return this->succeeded();
    }

private:
    Fn fn_;
};

/// submit()'s maker for SqliteOp: `submit<T, MakeSqliteOp<T, Fn>>(worker, std::move(fn))`.
template <class T, class Fn>
struct MakeSqliteOp {
    /// The op running `fn` for `handler`.
    template <class Handler>
    static std::unique_ptr<OpBase> op(Handler handler, Fn fn) {
        return std::make_unique<SqliteOp<T, Fn, Handler>>(std::move(fn), std::move(handler));
    }
};

/// How a SQLite Worker runs its ops.
struct SqliteWorkerOptions {
    std::size_t batch_max = 1024;              // most ops per batch (>= 1)
    bool transactional = true;                 // group-commit batches (the writer), or run
                                               // each op on its own (the reader)
    metrics::StoreMetrics* metrics = nullptr;  // told of every write batch; may be null
    PriceTable prices;                         // for the cost of a first end
};

/// One thread that owns one SQLite connection and drains a queue of operations. Writers run
/// each batch in one transaction (group commit), one SAVEPOINT per op; readers run ops one by
/// one.
/// Thread safety: enqueue(), stats(), request_release(), writes_ok() and probe_writes() may be
/// called from any thread; stop() from one thread, outside the event loops (it blocks).
class Worker {
public:
    /// Starts the thread. `clock` must outlive the worker.
    Worker(std::unique_ptr<SqliteConnection> conn, const Clock& clock,
           SqliteWorkerOptions options);
    /// Calls stop().
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Queues `op`; false (op untouched) once stopping.
    bool enqueue(std::unique_ptr<OpBase>& op) { return queue_.enqueue(op); }
    /// Finishes everything queued, then joins the thread and closes the connection.
    void stop();
    /// Counters (thread-safe).
    StoreStats stats() const { return queue_.stats(); }
    /// Asks the thread, once its queue is empty, to free its connection's page cache and
    /// unmap the database file (SQLite maps it again on the next read). Thread-safe.
    void request_release() { queue_.signal(); }
    /// Writers: false after a batch failed on storage (the write lock held elsewhere past the
    /// busy timeout, an I/O error, a full disk), true again once a batch commits. Thread-safe.
    bool writes_ok() const { return writes_ok_.load(std::memory_order_acquire); }
    /// Queues an empty write transaction (BEGIN IMMEDIATE; COMMIT) unless one is queued
    /// already, so that writes_ok() can recover while no client writes. Thread-safe.
    void probe_writes();

private:
    using Batch = OpQueue<OpBase>::Batch;

    void run();
    void release();
    void run_batch(Batch& batch);
    void finish(Batch& batch, double write_seconds);
    Result<void> write_rollups(const RollupBatch& rollups);

    std::unique_ptr<SqliteConnection> conn_;
    const Clock& clock_;
    SqliteWorkerOptions options_;
    std::atomic<bool> writes_ok_{true};
    std::atomic<bool> probe_queued_{false};
    OpQueue<OpBase> queue_;  // last: its thread uses the members above
};

}  // namespace detail
}  // namespace voicegate::store
