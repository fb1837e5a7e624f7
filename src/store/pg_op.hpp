#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "store/op_queue.hpp"
#include "store/pg_db.hpp"

namespace voicegate::store::detail {

/// The statements PgStore prepares on each connection (store/sql/pg/*.sql).
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
/// Thread safety: as QueuedOp (one thread at a time).
class PgOpBase : public QueuedOp {
public:
    /// Takes the statement, its parameters, the session the op touches (may be empty) and the
    /// user whose quota it decides (empty if none).
    PgOpBase(PgStatement statement, PgParams params, std::string session_key,
             std::string user_key = {})
        : statement_(statement),
          params_(std::move(params)),
          session_key_(std::move(session_key)),
          user_key_(std::move(user_key)) {}
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
    /// For PgStatement::call: runs the function on `conn` (a reader's, in pipeline mode).
    virtual void call(PgConnection& conn, std::chrono::milliseconds timeout) {
        (void)conn;
        (void)timeout;
    }
    /// What call_grouped() did: succeeded (its writes are kept), failed, or met a deadlock or
    /// serialization failure (worth re-running once its writes are undone).
    enum class Grouped { done, failed, conflict };
    /// For the ops of a worker that groups calls (PgWorkerOptions::group_calls): runs the op
    /// on `db` inside the worker's transaction, its rollup deltas into `rollups`.
    virtual Grouped call_grouped(PgExec& db, RollupBatch& rollups) {
        (void)db;
        (void)rollups;
        return Grouped::failed;
    }

private:
    PgStatement statement_;
    PgParams params_;
    std::string session_key_;
    std::string user_key_;
};

/// A PgOpBase whose `decode` (a `Result<T>(const PgRows&)`) makes the outcome, completed on
/// `handler`'s executor.
/// Thread safety: as QueuedOp (one thread at a time).
template <class T, class Decode, class Handler>
class PgOp final : public CompletionOp<PgOpBase, T, Handler> {
public:
    /// Takes the completion handler, the statement and parameters, the keys and the decoder.
    PgOp(Handler handler, PgStatement statement, PgParams params, std::string session_key,
         std::string user_key, Decode decode)
        : CompletionOp<PgOpBase, T, Handler>(std::move(handler), statement, std::move(params),
                                             std::move(session_key), std::move(user_key)),
          decode_(std::move(decode)) {}

    void decode(const PgRows& rows) override { this->set_result(decode_(rows)); }

private:
    Decode decode_;
};

/// A PgStatement::call op: `fn` (a `Result<T>(PgExec&)`) runs on the reader's thread.
/// Thread safety: as QueuedOp (one thread at a time).
template <class T, class Fn, class Handler>
class PgCallOp final : public CompletionOp<PgOpBase, T, Handler> {
public:
    /// Takes the completion handler and the function.
    PgCallOp(Handler handler, Fn fn)
        : CompletionOp<PgOpBase, T, Handler>(std::move(handler), PgStatement::call, PgParams{},
                                             std::string()),
          fn_(std::move(fn)) {}

    void call(PgConnection& conn, std::chrono::milliseconds timeout) override {
        PgExec exec(conn, true, timeout);
        this->set_result(fn_(exec));
    }
    void decode(const PgRows&) override {}

private:
    Fn fn_;
};

/// A call op of a grouping worker: `fn` (a `Result<T>(PgExec&, RollupBatch&)`) runs inside the
/// worker's transaction, one SAVEPOINT per op.
/// Thread safety: as QueuedOp (one thread at a time).
template <class T, class Fn, class Handler>
class PgGroupedCallOp final : public CompletionOp<PgOpBase, T, Handler> {
public:
    /// Takes the completion handler and the function.
    PgGroupedCallOp(Handler handler, Fn fn)
        : CompletionOp<PgOpBase, T, Handler>(std::move(handler), PgStatement::call, PgParams{},
                                             std::string()),
          fn_(std::move(fn)) {}

    using Grouped = PgOpBase::Grouped;
    Grouped call_grouped(PgExec& db, RollupBatch& rollups) override {
        Result<T> r = fn_(db, rollups);
        const Grouped out =
            r ? Grouped::done : (pg_conflict(r.error()) ? Grouped::conflict : Grouped::failed);
        this->set_result(std::move(r));
        return out;
    }
    void decode(const PgRows&) override {}

private:
    Fn fn_;
};

/// submit()'s maker for PgOp: `submit<T, MakePgOp<T, Decode>>(worker, statement, params,
/// session_key, user_key, decode)`.
template <class T, class Decode>
struct MakePgOp {
    /// The op for `handler`.
    template <class Handler>
    static std::unique_ptr<PgOpBase> op(Handler handler, PgStatement statement, PgParams params,
                                        std::string session_key, std::string user_key,
                                        Decode decode) {
        return std::make_unique<PgOp<T, Decode, Handler>>(std::move(handler), statement,
                                                          std::move(params), std::move(session_key),
                                                          std::move(user_key), std::move(decode));
    }
};

/// submit()'s maker for PgCallOp: `submit<T, MakePgCallOp<T, Fn>>(reader, std::move(fn))`.
template <class T, class Fn>
struct MakePgCallOp {
    /// The op for `handler`.
    template <class Handler>
    static std::unique_ptr<PgOpBase> op(Handler handler, Fn fn) {
        return std::make_unique<PgCallOp<T, Fn, Handler>>(std::move(handler), std::move(fn));
    }
};

/// submit()'s maker for PgGroupedCallOp: `submit<T, MakePgGroupedCallOp<T, Fn>>(worker, fn)`.
template <class T, class Fn>
struct MakePgGroupedCallOp {
    /// The op for `handler`.
    template <class Handler>
    static std::unique_ptr<PgOpBase> op(Handler handler, Fn fn) {
        return std::make_unique<PgGroupedCallOp<T, Fn, Handler>>(std::move(handler), std::move(fn));
    }
};

}  // namespace voicegate::store::detail
