// PgStore's CallSupervisionStore operations: the shared ones of store/call_ops.hpp, each run on
// the store's calls connection, a batch of them in one transaction (group commit).
#include "store/call_ops.hpp"
#include "store/pg_op.hpp"
#include "store/pg_store.hpp"
#include "store/pg_worker.hpp"

namespace voicegate::store {

template <class T, class Op>
boost::asio::awaitable<Result<T>> PgStore::call_op(Op op) {
    auto fn = [op = std::move(op), clock = options_.common.clock,
               prices = &options_.common.prices](PgExec& db, RollupBatch& rollups) -> Result<T> {
        CallOpEnv env{db, clock->now_ms(), prices, &rollups};
        return op(env);
    };
    return store::submit<T, detail::MakePgGroupedCallOp<T, decltype(fn)>>(*calls_, std::move(fn));
}

// Each op is built as a named local and moved in: see the GCC 12 note on store::submit.

boost::asio::awaitable<Result<AttachOutcome>> PgStore::attach_call(AttachRequest request) {
    auto op = [r = std::move(request)](CallOpEnv& env) { return attach_call_in(env, r); };
    co_return co_await call_op<AttachOutcome>(std::move(op));
}

boost::asio::awaitable<Result<std::vector<SupervisedCall>>> PgStore::claim_calls(LeaseClaim claim) {
    auto op = [c = std::move(claim)](CallOpEnv& env) { return claim_calls_in(env, c); };
    co_return co_await call_op<std::vector<SupervisedCall>>(std::move(op));
}

boost::asio::awaitable<Result<std::vector<std::string>>> PgStore::renew_leases(
    LeaseClaim claim, std::vector<std::string> session_ids) {
    auto op = [c = std::move(claim), ids = std::move(session_ids)](CallOpEnv& env) {
        return renew_leases_in(env, c, ids);
    };
    co_return co_await call_op<std::vector<std::string>>(std::move(op));
}

boost::asio::awaitable<Result<void>> PgStore::release_lease(std::string session_id,
                                                            std::string instance_id) {
    auto op = [id = std::move(session_id), inst = std::move(instance_id)](CallOpEnv& env) {
        return release_lease_in(env, id, inst);
    };
    co_return co_await call_op<void>(std::move(op));
}

boost::asio::awaitable<Result<void>> PgStore::checkpoint_usage(UsageCheckpoint checkpoint) {
    auto op = [c = std::move(checkpoint)](CallOpEnv& env) { return checkpoint_usage_in(env, c); };
    co_return co_await call_op<void>(std::move(op));
}

boost::asio::awaitable<Result<void>> PgStore::end_call(CallEnded ended) {
    auto op = [e = std::move(ended)](CallOpEnv& env) { return end_call_in(env, e); };
    co_return co_await call_op<void>(std::move(op));
}

boost::asio::awaitable<Result<UserMinutes>> PgStore::user_minutes(std::string user_id,
                                                                  std::int64_t now_ms) {
    auto op = [u = std::move(user_id), now_ms](CallOpEnv& env) {
        return user_minutes_in(env, u, now_ms);
    };
    co_return co_await call_op<UserMinutes>(std::move(op));
}

}  // namespace voicegate::store
