#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "store/audit.hpp"
#include "store/op_queue.hpp"
#include "store/session_store.hpp"
#include "store/store_options.hpp"
#include "store/usage_reads.hpp"

namespace voicegate::store {

/// How SqliteStore opens its database: the file, and the engine-independent settings
/// (`common.synchronous`: "full", every commit fsynced, or "normal", WAL-synced at checkpoints,
/// which survives kill -9 but not power loss; `common.busy_timeout_ms`: the wait for locks
/// held by other processes).
struct SqliteOptions {
    std::string path = ":memory:";  // a file path, or ":memory:" (private to this store)
    StoreOptions common;
};

namespace detail {
class Worker;
struct OpContext;
}  // namespace detail

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

    // The CallSupervisionStore operations (store/supervision.hpp, written once in
    // store/call_ops.hpp; sqlite_calls.cpp): each write is one op of a group commit on the
    // writer, whose transaction holds the file's write lock, so that two processes on one file
    // never claim the same call; user_minutes reads through the reader connection.

    /// See CallSupervisionStore::attach_call.
    boost::asio::awaitable<Result<AttachOutcome>> attach_call(AttachRequest request) override;
    /// See CallSupervisionStore::claim_calls.
    boost::asio::awaitable<Result<std::vector<SupervisedCall>>> claim_calls(
        LeaseClaim claim) override;
    /// See CallSupervisionStore::renew_leases.
    boost::asio::awaitable<Result<std::vector<std::string>>> renew_leases(
        LeaseClaim claim, std::vector<std::string> session_ids) override;
    /// See CallSupervisionStore::release_lease.
    boost::asio::awaitable<Result<void>> release_lease(std::string session_id,
                                                       std::string instance_id) override;
    /// See CallSupervisionStore::checkpoint_usage.
    boost::asio::awaitable<Result<void>> checkpoint_usage(UsageCheckpoint checkpoint) override;
    /// See CallSupervisionStore::end_call.
    boost::asio::awaitable<Result<void>> end_call(CallEnded ended) override;
    /// See CallSupervisionStore::user_minutes.
    boost::asio::awaitable<Result<UserMinutes>> user_minutes(std::string user_id,
                                                             std::int64_t now_ms) override;

    /// False after close(), and while writes fail (see the writer's writes_ok()); each call
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

    /// Queues `fn` (a `Result<T>(detail::OpContext&)`) on `worker` (see store::submit).
    template <class T, class Fn>
    static boost::asio::awaitable<Result<T>> submit(detail::Worker& worker, Fn fn);

    detail::Worker& reads() { return reader_ ? *reader_ : *writer_; }

    /// Writes the buffered denials first when there are any (usage, live, list_events).
    boost::asio::awaitable<void> flush_before_read();

    /// Queues `op` (a `Result<T>(CallOpEnv&)`, store/call_ops.hpp) on `worker`.
    template <class T, class Op>
    static boost::asio::awaitable<Result<T>> call_op(detail::Worker& worker, Op op);

    /// Queues `read` (one of store/usage_reads.hpp's shared reads) with `query` on the reader.
    template <class T, class Query>
    boost::asio::awaitable<Result<T>> shared_read(Result<T> (*read)(SqlExec&, const Query&),
                                                  Query query);

    SqliteOptions options_;
    std::unique_ptr<detail::Worker> writer_;
    std::unique_ptr<detail::Worker> reader_;  // null for ":memory:"
    std::atomic<bool> open_{true};
    std::mutex close_mutex_;
    UserRankCache rank_cache_;  // usage(groupBy=user) between calls
    DenialLog denials_;         // refusals counted, not yet written
};

}  // namespace voicegate::store
