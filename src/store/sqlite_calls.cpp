// SqliteStore's CallSupervisionStore operations: the shared ones of store/call_ops.hpp, each
// run as one op of the writer's group commit (or on the reader).
#include "store/call_ops.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"
#include "store/sqlite_worker.hpp"

namespace voicegate::store {

template <class T, class Op>
boost::asio::awaitable<Result<T>> SqliteStore::call_op(detail::Worker& worker, Op op) {
    auto fn = [op = std::move(op)](detail::OpContext& ctx) -> Result<T> {
        SqliteExec db(ctx.conn);
        CallOpEnv env{db, ctx.clock.now_ms(), ctx.prices, ctx.rollups};
        return op(env);
    };
    return store::submit<T, detail::MakeSqliteOp<T, decltype(fn)>>(worker, std::move(fn));
}

// Each op is built as a named local and moved in: see the GCC 12 note on store::submit.

boost::asio::awaitable<Result<AttachOutcome>> SqliteStore::attach_call(AttachRequest request) {
    auto op = [r = std::move(request)](CallOpEnv& env) { return attach_call_in(env, r); };
    co_return co_await call_op<AttachOutcome>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<std::vector<SupervisedCall>>> SqliteStore::claim_calls(
    LeaseClaim claim) {
    // A read first: an instance with nothing to claim (most of the time, for most instances)
    // never queues behind, or holds, the single writer. A failed read falls through.
    auto check = [c = claim](CallOpEnv& env) { return claimable_in(env, c); };
    if (auto any = co_await call_op<bool>(reads(), std::move(check)); any && !*any) {
        co_return std::vector<SupervisedCall>{};
    }
    auto op = [c = std::move(claim)](CallOpEnv& env) { return claim_calls_in(env, c); };
    co_return co_await call_op<std::vector<SupervisedCall>>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<std::vector<std::string>>> SqliteStore::renew_leases(
    LeaseClaim claim, std::vector<std::string> session_ids) {
    auto op = [c = std::move(claim), ids = std::move(session_ids)](CallOpEnv& env) {
        return renew_leases_in(env, c, ids);
    };
    co_return co_await call_op<std::vector<std::string>>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<void>> SqliteStore::release_lease(std::string session_id,
                                                                std::string instance_id) {
    auto op = [id = std::move(session_id), inst = std::move(instance_id)](CallOpEnv& env) {
        return release_lease_in(env, id, inst);
    };
    co_return co_await call_op<void>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<void>> SqliteStore::checkpoint_usage(UsageCheckpoint checkpoint) {
    auto op = [c = std::move(checkpoint)](CallOpEnv& env) { return checkpoint_usage_in(env, c); };
    co_return co_await call_op<void>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<void>> SqliteStore::end_call(CallEnded ended) {
    auto op = [e = std::move(ended)](CallOpEnv& env) { return end_call_in(env, e); };
    co_return co_await call_op<void>(*writer_, std::move(op));
}

boost::asio::awaitable<Result<UserMinutes>> SqliteStore::user_minutes(std::string user_id,
                                                                      std::int64_t now_ms) {
    auto op = [u = std::move(user_id), now_ms](CallOpEnv& env) {
        return user_minutes_in(env, u, now_ms);
    };
    co_return co_await call_op<UserMinutes>(reads(), std::move(op));
}

}  // namespace voicegate::store
