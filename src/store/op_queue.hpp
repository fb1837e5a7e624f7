#pragma once

// The operation and worker layer both store engines share: an operation queued by a coroutine,
// run on a store thread, and completed back on the coroutine's own executor. Modelled on Asio's
// src/examples/cpp20/operations/callback_wrapper.cpp: async_initiate, a tracked-work guard on
// the handler's executor while the op waits, and a dispatch back to it from the foreign thread.

#include <algorithm>
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
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/error.hpp"
#include "core/thread_name.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store {

/// Counters for metrics and tests, summed over a store's threads. Monotonic. The last four
/// stay 0 on SQLite (one local file: no careful re-runs, conflicts or connections to lose).
struct StoreStats {
    std::uint64_t batches = 0;            // write transactions attempted (group commits)
    std::uint64_t ops = 0;                // operations completed (writes and reads)
    std::uint64_t failed_ops = 0;         // completed with a storage failure (store_unavailable
                                          // or internal); not session_not_found / forbidden
    std::uint64_t careful_batches = 0;    // PostgreSQL: batches re-run op by op
    std::uint64_t conflict_retries = 0;   // PostgreSQL: retried after a deadlock/serialization
    std::uint64_t connection_losses = 0;  // PostgreSQL: connections found broken
    std::uint64_t reconnects = 0;         // PostgreSQL: connections re-established

    /// Adds `other`'s counters to these.
    StoreStats& operator+=(const StoreStats& other);
};

/// True for failures of the storage itself (counted in StoreStats::failed_ops). Pure.
bool is_storage_failure(const Failure& f);

namespace detail {

/// The completion side of a queued operation, type-erased; each engine's op interface derives
/// from it and adds how the op runs.
/// Thread safety: built on the caller's thread, then used by one store thread only.
class QueuedOp {
public:
    virtual ~QueuedOp() = default;
    /// Replaces the outcome with `failure` (e.g. the batch's COMMIT failed).
    virtual void fail(Failure failure) = 0;
    /// True when the outcome is a storage failure (for StoreStats::failed_ops).
    virtual bool storage_failed() const = 0;
    /// Posts the outcome to the waiting coroutine's executor; call once, last.
    virtual void complete() = 0;
};

/// A `Base` (a QueuedOp) holding the Result<T> of the op and its completion handler, with
/// tracked work on the handler's executor while queued (so the caller's event loop does not run
/// out of work), and posting the one to the other. Built on the caller's thread, then owned and
/// completed by a store thread.
/// Thread safety: as QueuedOp; complete() hands the result to the handler's executor.
template <class Base, class T, class Handler>
class CompletionOp : public Base {
public:
    /// Takes the handler; `base_args` construct the engine's part.
    template <class... BaseArgs>
    explicit CompletionOp(Handler handler, BaseArgs&&... base_args)
        : Base(std::forward<BaseArgs>(base_args)...),
          handler_(std::move(handler)),
          work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_),
                                    boost::asio::execution::outstanding_work.tracked)) {}

    void fail(Failure failure) final {
        result_.emplace(boost::system::in_place_error, std::move(failure));
    }
    bool storage_failed() const final {
        return result_ && result_->has_error() && is_storage_failure(result_->error());
    }
    void complete() final {
        if (!result_) {
            result_.emplace(boost::system::in_place_error,
                            voicegate::fail(Error::store_unavailable, {}, "store: op not run"));
        }
        // Never resume the coroutine here (a store thread): post to its own executor. The
        // tracked executor kept its event loop alive while the op was queued.
        auto work = std::move(work_);
        boost::asio::post(work,
                          [handler = std::move(handler_), result = std::move(*result_)]() mutable {
                              std::move(handler)(std::move(result));
                          });
    }

protected:
    /// Sets the outcome (the engine's part calls it once the op ran).
    void set_result(Result<T> result) { result_.emplace(std::move(result)); }
    /// True once an outcome is set and is a success.
    bool succeeded() const { return result_ && result_->has_value(); }

private:
    using WorkExecutor = std::decay_t<decltype(boost::asio::prefer(
        std::declval<boost::asio::associated_executor_t<Handler>>(),
        boost::asio::execution::outstanding_work.tracked))>;

    Handler handler_;
    WorkExecutor work_;
    std::optional<Result<T>> result_;
};

/// The atomic counters behind StoreStats, bumped by one store thread and read by any.
struct OpCounters {
    std::atomic<std::uint64_t> batches{0};
    std::atomic<std::uint64_t> ops{0};
    std::atomic<std::uint64_t> failed_ops{0};
    std::atomic<std::uint64_t> careful_batches{0};
    std::atomic<std::uint64_t> conflict_retries{0};
    std::atomic<std::uint64_t> connection_losses{0};
    std::atomic<std::uint64_t> reconnects{0};

    /// Adds 1 to `counter` (relaxed: counters order nothing).
    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
        counter.fetch_add(n, std::memory_order_relaxed);
    }
    /// A snapshot. Thread-safe.
    StoreStats snapshot() const;
};

/// Counts a finished batch of `ops` ops, `failed` of them storage failures, in `counters`, and
/// tells `metrics` (may be null) of a write batch (`transactional`) that took `write_seconds`
/// (negative: it never reached the database) and of its failures. Thread-safe.
void count_batch(OpCounters& counters, metrics::StoreMetrics* metrics, bool transactional,
                 std::size_t ops, std::uint64_t failed, double write_seconds);

/// What OpQueue::take() found.
enum class Take {
    ops,     // one or more ops were moved into the batch
    signal,  // nothing queued, but signal() was called
    idle,    // nothing queued within the timeout
    done,    // stopping and nothing left: the thread should return
};

/// One store thread and the queue of ops it drains (mutex, condition variable, deque, stopping
/// flag). `Op` derives from QueuedOp.
/// Thread safety: enqueue(), signal(), stop(), stopping() and stats() may be called from any
/// thread; take() and finish() only from the queue's own thread.
template <class Op>
class OpQueue {
public:
    /// The ops a thread takes at once.
    using Batch = std::vector<std::unique_ptr<Op>>;

    OpQueue() = default;
    /// Calls stop().
    ~OpQueue() { stop(); }
    OpQueue(const OpQueue&) = delete;
    OpQueue& operator=(const OpQueue&) = delete;

    /// Starts the thread, named `name`, running `body` (which loops on take() until Take::done).
    void start(std::string name, std::function<void()> body);

    /// Queues `op`; false (op untouched) once stopping. Thread-safe.
    bool enqueue(std::unique_ptr<Op>& op) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                return false;
            }
            queue_.push_back(std::move(op));
        }
        wake_.notify_one();
        return true;
    }

    /// Wakes the thread with Take::signal once the queue is empty. Thread-safe.
    void signal() {
        {
            std::lock_guard lock(mutex_);
            signal_ = true;
        }
        wake_.notify_one();
    }

    /// Refuses new ops, lets the thread finish everything queued, and joins it. Idempotent.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    /// True once stop() was called. Thread-safe.
    bool stopping() const {
        std::lock_guard lock(mutex_);
        return stopping_;
    }

    /// Waits for ops (or stop(), signal(), or `timeout` when positive; zero: no timeout) and
    /// moves up to `max` of them into `batch`.
    Take take(Batch& batch, std::size_t max, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        const auto ready = [this] { return stopping_ || signal_ || !queue_.empty(); };
        if (timeout.count() > 0) {
            wake_.wait_for(lock, timeout, ready);
        } else {
            wake_.wait(lock, ready);
        }
        if (queue_.empty()) {
            if (stopping_) {
                return Take::done;  // stopping, and everything queued has been finished
            }
            if (signal_) {
                signal_ = false;
                return Take::signal;
            }
            return Take::idle;
        }
        const auto n = std::min(max, queue_.size());
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        return Take::ops;
    }

    /// Counts `batch` (see count_batch) and returns how many of its ops failed on storage;
    /// call complete() after. Counting comes first, so a caller that sees its result also sees
    /// it counted.
    std::uint64_t count(const Batch& batch, metrics::StoreMetrics* metrics, bool transactional,
                        double write_seconds) {
        std::uint64_t failed = 0;
        for (const auto& op : batch) {
            failed += op->storage_failed() ? 1 : 0;
        }
        count_batch(counters_, metrics, transactional, batch.size(), failed, write_seconds);
        return failed;
    }

    /// Completes every op of `batch` (each posts to its coroutine's executor) and empties it.
    static void complete(Batch& batch) {
        for (auto& op : batch) {
            op->complete();
        }
        batch.clear();
    }

    /// The thread's counters.
    OpCounters& counters() { return counters_; }
    /// Their snapshot. Thread-safe.
    StoreStats stats() const { return counters_.snapshot(); }

private:
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<Op>> queue_;
    bool stopping_ = false;
    bool signal_ = false;
    OpCounters counters_;
    std::thread thread_;
};

template <class Op>
void OpQueue<Op>::start(std::string name, std::function<void()> body) {
    thread_ = std::thread([name = std::move(name), body = std::move(body)] {
        set_thread_name(name);
        body();
    });
}

}  // namespace detail

/// Queues on `queue` (anything with `bool enqueue(std::unique_ptr<Op>&)`) the op that
/// `Make::op(handler, args...)` builds, and returns an awaitable that suspends until the op is
/// done and resumes on the awaiting coroutine's executor; a closed queue completes it at once
/// with store_unavailable. Not a coroutine itself, and callers pass `args` as named objects
/// moved in: GCC 12 miscompiles aggregate and lambda prvalues passed by value inside a
/// co_await expression (it moves from the wrong address and destroys twice).
template <class T, class Make, class Queue, class... Args>
boost::asio::awaitable<Result<T>> submit(Queue& queue, Args... args) {
    auto initiation = [&queue](auto handler, Args... a) {
        auto op = Make::op(std::move(handler), std::move(a)...);
        if (!queue.enqueue(op)) {
            op->fail(voicegate::fail(Error::store_unavailable, {}, "store is closed"));
            op->complete();
        }
    };
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result<T>)>(
        std::move(initiation), boost::asio::use_awaitable, std::move(args)...);
}

}  // namespace voicegate::store
