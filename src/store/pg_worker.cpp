#include "store/pg_worker.hpp"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "store/pg_statements.hpp"

namespace voicegate::store::detail {

PgWorker::PgWorker(PgWorkerOptions options, Connector connector, std::unique_ptr<PgConnection> conn)
    : options_(std::move(options)),
      connector_(std::move(connector)),
      conn_(std::move(conn)),
      connected_(conn_ != nullptr) {
    std::string name = "vg-pg-";
    for (const char c : options_.name) {  // "writer 1" -> vg-pg-writer1
        if (c != ' ') {
            name.push_back(c);
        }
    }
    queue_.start(std::move(name), [this] { run(); });
}

PgWorker::~PgWorker() {
    stop();
}

void PgWorker::stop() {
    queue_.stop();
    conn_.reset();
    connected_.store(false, std::memory_order_release);
}

void PgWorker::run() {
    // An idle connection is checked this often, so ready() notices a server that went away.
    constexpr std::chrono::milliseconds kIdleCheck{1000};
    PgBatch batch;
    batch.reserve(options_.batch_max);
    for (;;) {
        auto wait = kIdleCheck;
        if (!conn_) {
            wait = std::clamp(
                std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - Clock::now()),
                std::chrono::milliseconds(1), kIdleCheck);
        }
        if (queue_.take(batch, options_.batch_max, wait) == Take::done) {
            return;
        }
        if (!conn_) {
            // Shutting down without a connection: fail what is left rather than wait for one.
            if (!queue_.stopping()) {
                ensure_connection();
            }
        } else if (batch.empty() && !conn_->poll_idle()) {
            connection_lost(fail(Error::store_unavailable, {}, "postgres: connection closed"));
        }
        if (batch.empty()) {
            continue;
        }
        double write_seconds = -1;
        if (!conn_) {
            fail_all(batch, fail(Error::store_unavailable, {},
                                 "postgres: no connection to the database; reconnecting"));
        } else if (options_.transactional) {
            const auto started = Clock::now();
            run_write(batch);
            write_seconds = std::chrono::duration<double>(Clock::now() - started).count();
        } else if (options_.group_calls) {
            run_grouped(batch);
        } else {
            run_read(batch);
        }
        (void)queue_.count(batch, options_.metrics, options_.transactional, write_seconds);
        OpQueue<PgOpBase>::complete(batch);
    }
}

void PgWorker::ensure_connection() {
    if (Clock::now() < next_attempt_) {
        return;
    }
    auto conn = connector_();
    if (conn) {
        conn_ = std::move(*conn);
        connected_.store(true, std::memory_order_release);
        OpCounters::bump(queue_.counters().reconnects);
        backoff_ = std::chrono::milliseconds(0);
        spdlog::info("postgres {}: reconnected", options_.name);
        return;
    }
    backoff_ = std::clamp(backoff_ * 2, options_.reconnect_min, options_.reconnect_max);
    next_attempt_ = Clock::now() + backoff_;
    spdlog::debug("postgres {}: reconnect failed ({}); next try in {} ms", options_.name,
                  conn.error().details, backoff_.count());
}

void PgWorker::connection_lost(const Failure& why) {
    conn_.reset();
    connected_.store(false, std::memory_order_release);
    OpCounters::bump(queue_.counters().connection_losses);
    // The first reconnect is tried at once (a restarted server or a killed backend); the
    // backoff grows only while attempts fail.
    backoff_ = std::chrono::milliseconds(0);
    next_attempt_ = Clock::now();
    spdlog::warn(
        "postgres {}: connection lost ({}); operations fail with store_unavailable until it "
        "reconnects",
        options_.name, why.details);
}

void PgWorker::fail_all(PgBatch& batch, const Failure& failure) {
    for (auto& op : batch) {
        op->fail(failure);
    }
}

void PgWorker::run_write(PgBatch& batch) {
    constexpr int kConflictRetries = 3;
    OpCounters::bump(queue_.counters().batches);
    for (int attempt = 0;; ++attempt) {
        const Outcome out = write_pipelined(batch);
        if (out == Outcome::done || out == Outcome::lost) {
            return;
        }
        if (out == Outcome::conflict && attempt < kConflictRetries) {
            OpCounters::bump(queue_.counters().conflict_retries);
            continue;
        }
        break;
    }
    OpCounters::bump(queue_.counters().careful_batches);
    (void)write_careful(batch);
}

namespace {

using Deadline = PgConnection::Deadline;

/// Queues the first round trip of a pipelined batch: BEGIN, the locks of `keys` (sessions) and
/// `users` when there are any, the `planned` statements, and a sync (a sync inside the open
/// transaction commits nothing).
Result<void> send_batch(PgConnection& c, const PgBatch& batch, const std::vector<Planned>& planned,
                        const std::vector<std::string>& keys,
                        const std::vector<std::string>& users) {
    Result<void> sent = c.send_query("BEGIN");
    if (sent && !keys.empty()) {
        sent = c.send_prepared(definition(PgStatement::lock).name, PgParams{pg_text_array(keys)});
    }
    if (sent && !users.empty()) {
        sent = c.send_prepared(definition(PgStatement::lock_users).name,
                               PgParams{pg_text_array(users)});
    }
    for (std::size_t i = 0; sent && i < planned.size(); ++i) {
        const Planned& p = planned[i];
        if (runs_batched(p)) {
            sent = c.send_prepared(many_definition(p.statement)->name, many_params(batch, p.ops));
        } else {
            sent = c.send_prepared(definition(p.statement).name, batch[p.ops.front()]->params());
        }
    }
    if (sent) {
        sent = c.sync();
    }
    return sent;
}

/// The answers of a pipelined batch, read one by one: each op's outcome decoded, what the ops
/// wrote summed in `rollups`, and the first failed statement remembered (the server skips the
/// rest of the pipeline: PGRES_PIPELINE_ABORTED).
struct Answers {
    PgConnection& c;
    const PgBatch& batch;
    const PriceTable& prices;
    Deadline deadline;
    std::optional<PgError> first;
    RollupBatch rollups;

    /// Reads one query's result (`p`: the planned statement it answers, or null); fails only
    /// when the connection broke.
    Result<void> take(std::string_view what, const Planned* p) {
        auto r = c.take(deadline);
        if (!r) {
            return r.error();
        }
        const pg_result* res = r->get();
        if (pg_tuples_or_command_ok(res)) {
            if (p != nullptr && !first) {
                decode_planned(batch, *p, res, prices, rollups);
            }
        } else if (!pg_pipeline_aborted(res) && !first) {
            first = pg_error(c.handle(), res, what);
        }
        return {};
    }
};

/// The second round trip of a batch whose statements all succeeded: the rollups their answers
/// add up to (on the writer's `shard`), and COMMIT. Fails only when the connection broke.
Result<void> commit_batch(Answers& a, std::int64_t shard) {
    Result<void> sent;
    if (!a.rollups.empty()) {
        sent = a.c.send_prepared(kFlushRollups, flush_rollups_params(a.rollups, shard));
    }
    if (sent) {
        sent = a.c.send_query("COMMIT");
    }
    if (sent) {
        sent = a.c.sync();
    }
    if (!sent) {
        return sent;
    }
    Result<void> got;
    if (!a.rollups.empty()) {
        got = a.take("rollups", nullptr);
    }
    if (got) {
        got = a.take("commit", nullptr);
    }
    if (got) {
        got = a.c.take_sync(a.deadline);
    }
    return got;
}

/// Ends a transaction that a failed statement aborted (or, if COMMIT failed, that is already
/// over). Fails only when the connection broke.
Result<void> roll_back(PgConnection& c, Deadline deadline) {
    Result<void> rolled = c.send_query("ROLLBACK");
    if (rolled) {
        rolled = c.sync();
    }
    if (rolled) {
        auto r = c.take(deadline);
        rolled = r ? Result<void>() : Result<void>(r.error());
    }
    if (rolled) {
        rolled = c.take_sync(deadline);
    }
    return rolled;
}

/// One statement of a careful round trip: a plain statement, an op's prepared statement, the
/// lock statement, the users' lock statement, or the rollup flush (the first field set).
struct CarefulSend {
    const char* sql = nullptr;
    const PgOpBase* op = nullptr;
    const PgParams* lock = nullptr;
    const PgParams* lock_users = nullptr;
    const PgParams* flush = nullptr;
};

/// One round trip: queues `sends`, a sync, then reads one result per send and the sync.
/// Returns the results; an error means the connection is gone.
Result<std::vector<PgResultPtr>> careful_round_trip(PgConnection& c, Deadline deadline,
                                                    std::initializer_list<CarefulSend> sends) {
    Result<void> sent;
    for (const auto& s : sends) {
        if (!sent) {
            break;
        }
        if (s.sql != nullptr) {
            sent = c.send_query(s.sql);
        } else if (s.op != nullptr) {
            sent = c.send_prepared(definition(s.op->statement()).name, s.op->params());
        } else if (s.lock != nullptr) {
            sent = c.send_prepared(definition(PgStatement::lock).name, *s.lock);
        } else if (s.flush != nullptr) {
            sent = c.send_prepared(kFlushRollups, *s.flush);
        } else {
            sent = c.send_prepared(definition(PgStatement::lock_users).name, *s.lock_users);
        }
    }
    if (sent) {
        sent = c.sync();
    }
    if (!sent) {
        return sent.error();
    }
    std::vector<PgResultPtr> out;
    for (std::size_t i = 0; i <= sends.size(); ++i) {
        auto r = c.take(deadline);
        if (!r) {
            return r.error();
        }
        out.push_back(std::move(*r));
    }
    if (!pg_pipeline_sync(out.back().get())) {
        return fail(Error::store_unavailable, {}, "postgres: pipeline out of step");
    }
    out.pop_back();
    return out;
}

}  // namespace

PgWorker::Outcome PgWorker::lose(PgBatch& batch, const Failure& why) {
    connection_lost(why);
    fail_all(batch, why);
    return Outcome::lost;
}

PgWorker::Outcome PgWorker::write_pipelined(PgBatch& batch) {
    PgConnection& c = *conn_;
    const auto deadline = Clock::now() + options_.io_timeout;
    const auto planned = plan(batch);
    // The rows of every end are locked up front, in sorted order, by one statement: no
    // deadlock with another instance's batch, and the statements after it see those rows as
    // they are (nothing else can change them before COMMIT).
    const auto keys = lock_keys(batch);
    // Then the users whose quotas the batch decides, before any statement reads their counts.
    const auto users = user_lock_keys(batch);
    // Two round trips. The first sends BEGIN, the locks and the ops' statements in one
    // pipeline; the second the rollups that their answers add up to, and COMMIT.
    if (auto sent = send_batch(c, batch, planned, keys, users); !sent) {
        return lose(batch, sent.error());
    }
    Answers answers{c, batch, options_.prices, deadline, {}, {}};
    Result<void> got = answers.take("begin", nullptr);
    if (got && !keys.empty()) {
        got = answers.take("lock", nullptr);
    }
    if (got && !users.empty()) {
        got = answers.take("lock users", nullptr);
    }
    for (std::size_t i = 0; got && i < planned.size(); ++i) {
        got = answers.take("statement", &planned[i]);
    }
    if (got) {
        got = c.take_sync(deadline);
    }
    if (got && !answers.first) {
        got = commit_batch(answers, options_.shard);
    }
    if (!got) {
        return lose(batch, got.error());
    }
    if (!answers.first) {
        return Outcome::done;
    }
    if (answers.first->kind == PgFailureKind::connection) {
        return lose(batch, answers.first->failure);
    }
    if (auto rolled = roll_back(c, deadline); !rolled) {
        return lose(batch, rolled.error());
    }
    return answers.first->kind == PgFailureKind::conflict ? Outcome::conflict
                                                          : Outcome::statement_failed;
}

PgWorker::Outcome PgWorker::write_careful(PgBatch& batch) {
    PgConnection& c = *conn_;
    const auto round_trip = [&](std::initializer_list<CarefulSend> sends) {
        return careful_round_trip(c, Clock::now() + options_.io_timeout, sends);
    };
    const auto lost = [&](const Failure& f) { return lose(batch, f); };
    // Ends the transaction after a failure that is not the op's own: every op fails.
    const auto abandon = [&](const PgError& e) {
        if (e.kind == PgFailureKind::connection) {
            return lost(e.failure);
        }
        fail_all(batch, fail(Error::store_unavailable, {}, e.failure.details));
        auto r = round_trip({{"ROLLBACK"}});
        if (!r) {
            return lost(r.error());
        }
        return Outcome::statement_failed;
    };

    RollupBatch rollups;  // what the ops that succeeded wrote
    const auto keys = lock_keys(batch);
    const PgParams lock_params{pg_text_array(keys)};
    auto begun = keys.empty() ? round_trip({{"BEGIN"}})
                              : round_trip({{"BEGIN"}, {nullptr, nullptr, &lock_params}});
    if (!begun) {
        return lost(begun.error());
    }
    for (const auto& r : *begun) {
        if (!pg_tuples_or_command_ok(r.get())) {
            return abandon(pg_error(c.handle(), r.get(), "begin"));
        }
    }
    if (const auto users = user_lock_keys(batch); !users.empty()) {
        const PgParams user_params{pg_text_array(users)};
        auto locked = round_trip({{nullptr, nullptr, nullptr, &user_params}});
        if (!locked) {
            return lost(locked.error());
        }
        if (!pg_tuples_or_command_ok(locked->front().get())) {
            return abandon(pg_error(c.handle(), locked->front().get(), "lock users"));
        }
    }
    for (auto& op : batch) {
        auto r = round_trip({{"SAVEPOINT vg_op"}, {nullptr, op.get()}, {"RELEASE vg_op"}});
        if (!r) {
            return lost(r.error());
        }
        const auto& results = *r;
        if (!pg_tuples_or_command_ok(results[0].get())) {
            return abandon(pg_error(c.handle(), results[0].get(), "savepoint"));
        }
        if (pg_tuples_or_command_ok(results[1].get())) {
            op->decode(PgRows(results[1].get()));
            collect_rollup(*op, PgRows(results[1].get()), options_.prices, rollups);
            continue;
        }
        PgError e = pg_error(c.handle(), results[1].get(), "statement");
        if (e.kind == PgFailureKind::connection) {
            return lost(e.failure);
        }
        // Undo this op alone; the transaction goes on with the others.
        auto undo = round_trip({{"ROLLBACK TO SAVEPOINT vg_op"}, {"RELEASE vg_op"}});
        if (!undo) {
            return lost(undo.error());
        }
        for (const auto& u : *undo) {
            if (!pg_tuples_or_command_ok(u.get())) {
                return abandon(pg_error(c.handle(), u.get(), "rollback to savepoint"));
            }
        }
        op->fail(std::move(e.failure));
    }
    if (!rollups.empty()) {
        const PgParams flush_params = flush_rollups_params(rollups, options_.shard);
        auto flushed = round_trip({{nullptr, nullptr, nullptr, nullptr, &flush_params}});
        if (!flushed) {
            return lost(flushed.error());
        }
        if (!pg_tuples_or_command_ok(flushed->front().get())) {
            return abandon(pg_error(c.handle(), flushed->front().get(), "rollups"));
        }
    }
    auto committed = round_trip({{"COMMIT"}});
    if (!committed) {
        return lost(committed.error());
    }
    if (!pg_tuples_or_command_ok(committed->front().get())) {
        return abandon(pg_error(c.handle(), committed->front().get(), "commit"));
    }
    return Outcome::done;
}

void PgWorker::run_read(PgBatch& batch) {
    PgConnection& c = *conn_;
    // Calls first, one by one (each runs its own statements, each with a sync).
    for (auto& op : batch) {
        if (op->statement() == PgStatement::call) {
            op->call(c, options_.io_timeout);
        }
    }
    if (!c.ok()) {
        const Failure f = fail(Error::store_unavailable, {}, "postgres: connection lost");
        connection_lost(f);
        for (auto& op : batch) {
            if (op->statement() != PgStatement::call) {
                op->fail(f);
            }
        }
        return;
    }
    const auto deadline = Clock::now() + options_.io_timeout;
    // Pipelined with a sync after each read: a failing read does not abort the others.
    Result<void> sent;
    for (std::size_t i = 0; sent && i < batch.size(); ++i) {
        if (batch[i]->statement() == PgStatement::call) {
            continue;
        }
        sent = c.send_prepared(definition(batch[i]->statement()).name, batch[i]->params());
        if (sent) {
            sent = c.sync();
        }
    }
    if (!sent) {
        connection_lost(sent.error());
        for (auto& op : batch) {
            if (op->statement() != PgStatement::call) {
                op->fail(sent.error());
            }
        }
        return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (batch[i]->statement() == PgStatement::call) {
            continue;
        }
        auto r = c.take(deadline);
        Failure lost_because;
        if (r) {
            if (pg_tuples_or_command_ok(r->get())) {
                batch[i]->decode(PgRows(r->get()));
            } else {
                PgError e = pg_error(c.handle(), r->get(), "read");
                if (e.kind == PgFailureKind::connection) {
                    lost_because = e.failure;
                } else {
                    batch[i]->fail(std::move(e.failure));
                }
            }
            if (lost_because.details.empty()) {
                auto s = c.take(deadline);
                if (!s || !pg_pipeline_sync(s->get())) {
                    lost_because =
                        s ? fail(Error::store_unavailable, {}, "postgres: pipeline out of step")
                          : s.error();
                }
            }
        } else {
            lost_because = r.error();
        }
        if (!lost_because.details.empty()) {
            connection_lost(lost_because);
            for (std::size_t j = i; j < batch.size(); ++j) {
                if (batch[j]->statement() != PgStatement::call) {
                    batch[j]->fail(lost_because);
                }
            }
            return;
        }
    }
}

void PgWorker::run_grouped(PgBatch& batch) {
    constexpr int kConflictRetries = 3;
    OpCounters::bump(queue_.counters().batches);
    PgExec db(*conn_, true, options_.io_timeout);
    const auto exec = [&](const char* sql) { return db.query(SqlQuery{sql, {}}); };
    std::size_t first = 0;  // the open transaction's first op (those before it are committed)
    RollupBatch rollups;    // what the open transaction's ops added
    // A failure that is not one op's own: the open transaction is abandoned; its ops and those
    // not run yet fail.
    const auto abandon = [&](const Failure& why) {
        if (!conn_->ok()) {
            connection_lost(why);
        } else {
            (void)exec("ROLLBACK");
        }
        for (std::size_t i = first; i < batch.size(); ++i) {
            batch[i]->fail(fail(Error::store_unavailable, {}, why.details));
        }
    };
    const auto commit = [&]() -> Result<void> {
        if (!rollups.empty()) {
            auto r = db.prepared(kFlushRollups, flush_rollups_params(rollups, options_.shard));
            if (!r) {
                return r.error();
            }
        }
        auto r = exec("COMMIT");
        if (!r) {
            return r.error();
        }
        rollups.clear();
        return {};
    };
    if (auto r = exec("BEGIN"); !r) {
        return abandon(r.error());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        for (int attempt = 0;; ++attempt) {
            if (auto r = exec("SAVEPOINT vg_call"); !r) {
                return abandon(r.error());
            }
            RollupBatch mine;
            const auto outcome = batch[i]->call_grouped(db, mine);
            if (outcome == PgOpBase::Grouped::done) {
                rollups.merge(mine);
                break;
            }
            if (!conn_->ok()) {
                return abandon(fail(Error::store_unavailable, {}, "postgres: connection lost"));
            }
            if (auto r = exec("ROLLBACK TO SAVEPOINT vg_call"); !r) {
                return abandon(r.error());
            }
            if (outcome != PgOpBase::Grouped::conflict || attempt >= kConflictRetries) {
                break;
            }
            // A deadlock: what the batch did so far is committed, so its locks go and the
            // other transaction can finish; the op is re-run in a fresh transaction.
            OpCounters::bump(queue_.counters().conflict_retries);
            if (auto r = exec("RELEASE SAVEPOINT vg_call"); !r) {
                return abandon(r.error());
            }
            if (auto r = commit(); !r) {
                return abandon(r.error());
            }
            first = i;
            if (auto r = exec("BEGIN"); !r) {
                return abandon(r.error());
            }
        }
        if (auto r = exec("RELEASE SAVEPOINT vg_call"); !r) {
            return abandon(r.error());
        }
    }
    if (auto r = commit(); !r) {
        return abandon(r.error());
    }
}

}  // namespace voicegate::store::detail
