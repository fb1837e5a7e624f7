#include "store/sqlite_worker.hpp"

#include <algorithm>
#include <chrono>

#include <malloc.h>

#include <sqlite3.h>

#include "store/sqlite_db.hpp"

namespace voicegate::store::detail {

Worker::Worker(std::unique_ptr<SqliteConnection> conn, const Clock& clock,
               SqliteWorkerOptions options)
    : conn_(std::move(conn)), clock_(clock), options_(std::move(options)) {
    options_.batch_max = std::max<std::size_t>(1, options_.batch_max);
    queue_.start(options_.transactional ? "vg-sqlite-write" : "vg-sqlite-read", [this] { run(); });
}

Worker::~Worker() {
    stop();
}

void Worker::stop() {
    queue_.stop();
    conn_.reset();
}

void Worker::run() {
    Batch batch;
    batch.reserve(options_.batch_max);
    for (;;) {
        const Take took = queue_.take(batch, options_.batch_max, std::chrono::milliseconds(0));
        if (took == Take::done) {
            return;
        }
        if (took == Take::signal) {
            release();
            continue;
        }
        double write_seconds = -1;
        if (options_.transactional) {
            const auto started = std::chrono::steady_clock::now();
            run_batch(batch);
            write_seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        } else {
            OpContext ctx{*conn_, clock_, &options_.prices};
            for (auto& op : batch) {
                (void)op->execute(ctx);
            }
        }
        finish(batch, write_seconds);
    }
}

namespace {

// An empty op: run in a write batch it costs BEGIN IMMEDIATE and COMMIT, i.e. it checks that
// the write lock can be taken and a commit made. No one waits for it.
class ProbeOp final : public OpBase {
public:
    explicit ProbeOp(std::atomic<bool>& queued) : queued_(queued) {}
    bool execute(OpContext& /*ctx*/) override { return !failed_; }
    void fail(Failure failure) override { failed_ = is_storage_failure(failure); }
    bool storage_failed() const override { return failed_; }
    void complete() override { queued_.store(false, std::memory_order_release); }

private:
    std::atomic<bool>& queued_;
    bool failed_ = false;
};

}  // namespace

void Worker::probe_writes() {
    if (probe_queued_.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    std::unique_ptr<OpBase> op = std::make_unique<ProbeOp>(probe_queued_);
    if (!enqueue(op)) {
        probe_queued_.store(false, std::memory_order_release);
    }
}

void Worker::release() {
    // Outside any transaction (between batches). Setting the map size to 0 unmaps the file;
    // restoring it lets SQLite map it again, page by page, as reads need it.
    // A connection opened without a map (the reader) stays without one.
    (void)sqlite3_db_release_memory(conn_->handle());
    const auto size = conn_->query_ints("PRAGMA mmap_size");
    if (size && !size->empty() && size->front() > 0) {
        (void)conn_->exec_script("PRAGMA mmap_size=0");
        (void)conn_->exec_script("PRAGMA mmap_size=" + std::to_string(size->front()));
    }
    malloc_trim(0);  // what the cache held, back to the system
}

namespace {

Result<void> run_cached(SqliteConnection& conn, const std::string& sql) {
    auto use = conn.use(sql);
    if (!use) {
        return use.error();
    }
    auto done = use->step();
    if (!done) {
        return done.error();
    }
    return {};
}

}  // namespace

namespace {

Failure batch_failure(std::string_view what, const Failure& cause) {
    return fail(Error::store_unavailable, {}, std::string(what) + ": " + cause.details);
}

}  // namespace

void Worker::run_batch(Batch& batch) {
    static const std::string kBegin = "BEGIN IMMEDIATE";
    static const std::string kCommit = "COMMIT";
    static const std::string kSavepoint = "SAVEPOINT op";
    static const std::string kRelease = "RELEASE op";
    static const std::string kRollbackTo = "ROLLBACK TO op";
    OpCounters::bump(queue_.counters().batches);
    sqlite3* db = conn_->handle();
    if (auto r = run_cached(*conn_, kBegin); !r) {
        for (auto& op : batch) {
            op->fail(batch_failure("begin", r.error()));
        }
        return;
    }
    // Each op's rollup deltas are kept only if the op succeeded; the batch's are summed by key
    // and written once per key just before COMMIT.
    RollupBatch op_rollups;
    RollupBatch rollups;
    OpContext ctx{*conn_, clock_, &options_.prices, &op_rollups, &rollups};
    for (auto& op : batch) {
        if (auto r = run_cached(*conn_, kSavepoint); !r) {
            op->fail(batch_failure("savepoint", r.error()));
        } else {
            op_rollups.clear();
            const bool ok = op->execute(ctx);
            if (ok) {
                rollups.merge(op_rollups);
            }
            Result<void> undo;
            if (!ok) {
                undo = run_cached(*conn_, kRollbackTo);
            }
            auto release = undo ? run_cached(*conn_, kRelease) : undo;
            if (!release) {
                op->fail(batch_failure("release", release.error()));
            }
        }
        // Some errors (I/O, disk full) make SQLite roll the whole transaction back on its own:
        // then nothing of this batch is stored, and no op may report success.
        if (sqlite3_get_autocommit(db) != 0) {
            for (auto& each : batch) {
                each->fail(fail(Error::store_unavailable, {},
                                "sqlite: transaction rolled back during the batch"));
            }
            return;
        }
    }
    if (auto r = write_rollups(rollups); !r) {
        (void)run_cached(*conn_, "ROLLBACK");
        for (auto& op : batch) {
            op->fail(batch_failure("rollups", r.error()));
        }
        return;
    }
    if (auto r = run_cached(*conn_, kCommit); !r) {
        (void)conn_->exec_script("ROLLBACK");
        for (auto& op : batch) {
            op->fail(batch_failure("commit", r.error()));
        }
    }
}

Result<void> Worker::write_rollups(const RollupBatch& rollups) {
    static const std::string kUsage = sqlite_sql(usage_upsert_sql());
    static const std::string kUsageModel = sqlite_sql(usage_model_upsert_sql());
    const auto bind_counters = [](StatementUse& s, const UsageCounters& c) {
        for (std::size_t i = 0, n = 0; i < usage_columns().size(); ++i) {
            if (is_money_column(usage_columns()[i])) {
                s.bind(static_cast<int>(4 + i), c.money(usage_columns()[i]));
            } else {
                s.bind(static_cast<int>(4 + i), c.n[n++]);
            }
        }
    };
    // Runs one cached upsert with `bind` filling its parameters.
    const auto upsert = [this](const std::string& sql, const auto& bind) -> Result<void> {
        auto s = conn_->use(sql);
        if (!s) {
            return s.error();
        }
        bind(*s);
        if (auto r = s->step(); !r) {
            return r.error();
        }
        return {};
    };
    for (const auto& [key, c] : rollups.usage()) {
        if (auto r = upsert(
                kUsage,
                [&, &key = key, &c = c](StatementUse& s) {
                    s.bind(1, std::get<0>(key)).bind(2, std::get<1>(key)).bind(3, std::get<2>(key));
                    bind_counters(s, c);
                });
            !r) {
            return r;
        }
    }
    for (const auto& [key, c] : rollups.by_day_model()) {
        if (auto r = upsert(kUsageModel,
                            [&, &key = key, &c = c](StatementUse& s) {
                                s.bind(1, key.first).bind(2, key.second).bind(3, std::int64_t{0});
                                bind_counters(s, c);
                            });
            !r) {
            return r;
        }
    }
    static const std::string kUsageUser = sqlite_sql(usage_user_upsert_sql());
    for (const auto& [key, billable] : rollups.billable_by_day_user()) {
        if (auto r = upsert(kUsageUser,
                            [&, &key = key, &billable = billable](StatementUse& s) {
                                s.bind(1, key.first).bind(2, key.second).bind(3, billable);
                            });
            !r) {
            return r;
        }
    }
    return {};
}

void Worker::finish(Batch& batch, double write_seconds) {
    const std::uint64_t failed =
        queue_.count(batch, options_.metrics, options_.transactional, write_seconds);
    if (options_.transactional) {
        writes_ok_.store(failed == 0, std::memory_order_release);
    }
    OpQueue<OpBase>::complete(batch);
}

}  // namespace voicegate::store::detail
