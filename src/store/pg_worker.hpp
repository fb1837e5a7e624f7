#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "core/prices.hpp"
#include "store/op_queue.hpp"
#include "store/pg_batch_plan.hpp"
#include "store/pg_db.hpp"
#include "store/pg_op.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store::detail {

/// How a PgWorker (re)connects and how long it waits.
struct PgWorkerOptions {
    std::string name;  // for logs: "writer 1", "reader"
    bool transactional = true;
    std::size_t batch_max = 1024;
    std::chrono::milliseconds io_timeout{30'000};
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5'000};
    metrics::StoreMetrics* metrics = nullptr;  // write batches (writers only); may be null
    std::int64_t shard = 0;    // the writer's row of usage_daily_model (no hot row between writers)
    PriceTable prices;         // for the cost in the rollups of a first end (as the statement's)
    bool group_calls = false;  // run each batch of (grouped) call ops in one transaction
};

/// One thread owning one PostgreSQL connection in pipeline mode, draining a queue of ops.
/// A writer runs each drained batch as one transaction in two round trips: BEGIN, a lock of
/// the batch's end_session rows in sorted order (no deadlock between instances) and the ops in
/// one pipeline; then the daily rollups that the ops' answers add up to (summed by key in a
/// RollupBatch, one upsert statement over arrays, keys in order) and COMMIT. The ops are cut
/// into waves in which no session repeats (pg_batch_plan.hpp); in a wave each kind of op
/// (create, event, end) is one statement over arrays, so a batch of a thousand ends costs a few
/// statements, not a thousand. If a statement fails the batch is rolled back and re-run op by
/// op, each in a SAVEPOINT, so only the failing op fails; a deadlock or serialization failure
/// retries the batch. A reader pipelines its ops with a sync after each (no transaction); a
/// worker that groups calls (the supervised calls' connection) runs each batch of call ops in
/// one transaction, one SAVEPOINT per op (a failing op is undone alone, and one that met a
/// deadlock is re-run), then the rollups the ops added, then COMMIT: a group commit. On a
/// lost connection every op in flight fails with store_unavailable and the worker reconnects
/// with exponential backoff, failing new ops at once meanwhile.
/// Thread safety: enqueue(), connected() and stats() may be called from any thread; stop() from
/// one thread, outside the event loops (it blocks).
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
    bool enqueue(std::unique_ptr<PgOpBase>& op) { return queue_.enqueue(op); }
    /// Finishes everything queued, then joins the thread and closes the connection.
    void stop();
    /// True while the worker has a working connection. Thread-safe.
    bool connected() const { return connected_.load(std::memory_order_acquire); }
    /// Counters. Thread-safe.
    StoreStats stats() const { return queue_.stats(); }

private:
    using Clock = std::chrono::steady_clock;
    enum class Outcome { done, statement_failed, conflict, lost };

    void run();
    void ensure_connection();
    void connection_lost(const Failure& why);
    void run_write(PgBatch& batch);
    Outcome write_pipelined(PgBatch& batch);
    Outcome write_careful(PgBatch& batch);
    void run_read(PgBatch& batch);
    void run_grouped(PgBatch& batch);
    void fail_all(PgBatch& batch, const Failure& failure);
    /// The connection is gone: every op of `batch` fails with `why`; Outcome::lost.
    Outcome lose(PgBatch& batch, const Failure& why);

    PgWorkerOptions options_;
    Connector connector_;
    std::unique_ptr<PgConnection> conn_;
    std::atomic<bool> connected_{false};
    Clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_{0};
    OpQueue<PgOpBase> queue_;  // last: its thread uses the members above
};

}  // namespace voicegate::store::detail
