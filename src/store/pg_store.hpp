#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/audit.hpp"
#include "store/migrations.hpp"
#include "store/op_queue.hpp"
#include "store/pg_db.hpp"
#include "store/session_store.hpp"
#include "store/store_options.hpp"
#include "store/usage_reads.hpp"

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
    std::size_t writers = 2;       // writer connections, each group-committing on its own
                                   // thread; sessions are spread over them by id (>= 1)
    int io_timeout_ms = 30'000;    // longest wait for the server within one batch
    int reconnect_min_ms = 100;    // first reconnect delay after a lost connection; doubles
    int reconnect_max_ms = 5'000;  // up to this
    StoreOptions common;           // batch_max, clock, metrics, prices, denial sampling
                                   // (synchronous and busy_timeout_ms are SQLite's)
};

namespace detail {
class PgWorker;
enum class PgStatement;
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

    // The CallSupervisionStore operations (store/supervision.hpp, written once in
    // store/call_ops.hpp; pg_calls.cpp): run on the store's "calls" connection, each batch of
    // them in one transaction (one SAVEPOINT per op), the rollups they add flushed before
    // COMMIT (PgWorkerOptions::group_calls). A claim locks the rows it selects
    // and skips the rows another instance's claim holds (FOR UPDATE SKIP LOCKED), so that two
    // instances never hold one call.

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

    /// True while open and every connection is up. Thread-safe.
    bool ready() const override;
    /// Commits everything queued, stops the threads and closes the connections; later ops fail
    /// with store_unavailable. Idempotent. Blocking: call from outside the event loops.
    void close() override;

    /// Counters, summed over the writers and the reader. Thread-safe.
    StoreStats stats() const;
    /// The options the store was opened with (clock resolved).
    const PgOptions& options() const { return options_; }

private:
    PgStore(PgOptions options, std::vector<std::unique_ptr<detail::PgWorker>> writers,
            std::unique_ptr<detail::PgWorker> reader, std::unique_ptr<detail::PgWorker> calls);

    /// Runs `op` (a `Result<T>(CallOpEnv&)`, store/call_ops.hpp) on the calls connection,
    /// within its group commit.
    template <class T, class Op>
    boost::asio::awaitable<Result<T>> call_op(Op op);

    /// Queues an op on `worker`; the awaitable resumes on the awaiting coroutine's executor
    /// (see store::submit).
    template <class T, class Decode>
    static boost::asio::awaitable<Result<T>> submit(detail::PgWorker& worker,
                                                    detail::PgStatement statement, PgParams params,
                                                    std::string session_key, Decode decode,
                                                    std::string user_key);

    detail::PgWorker& writer_for(const std::string& session_id);

    /// Writes the buffered denials first when there are any (usage, live, list_events).
    boost::asio::awaitable<void> flush_before_read();

    /// Runs `fn` (a `Result<T>(PgExec&)`) on the reader's thread and connection.
    template <class T, class Fn>
    boost::asio::awaitable<Result<T>> call(Fn fn);

    PgOptions options_;
    std::vector<std::unique_ptr<detail::PgWorker>> writers_;
    std::unique_ptr<detail::PgWorker> reader_;
    std::unique_ptr<detail::PgWorker> calls_;  // supervised calls (pg_calls.cpp)
    std::atomic<bool> open_{true};
    std::mutex close_mutex_;
    UserRankCache rank_cache_;  // usage(groupBy=user) between calls
    DenialLog denials_;         // refusals counted, not yet written
};

}  // namespace voicegate::store
