#include "store/sqlite_checkpointer.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

namespace voicegate::store::detail {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path,
                                                          int busy_timeout_ms,
                                                          int threshold_pages) {
    SqliteConnectionOptions o;
    o.path = path;
    o.wal = false;  // the writer has already switched the file to WAL
    o.busy_timeout_ms = busy_timeout_ms;
    auto conn = SqliteConnection::open(o);
    if (!conn) {
        return conn.error();
    }
    return std::unique_ptr<Checkpointer>(
        new Checkpointer(std::move(*conn), std::max(1, threshold_pages)));
}

Checkpointer::Checkpointer(std::unique_ptr<SqliteConnection> conn, int threshold_pages)
    : conn_(std::move(conn)), threshold_pages_(threshold_pages), thread_([this] { run(); }) {}

Checkpointer::~Checkpointer() {
    stop();
}

void Checkpointer::attach(SqliteConnection& writer) {
    // Replaces SQLite's own auto-checkpoint hook (sqlite3_wal_autocheckpoint installs one too).
    sqlite3_wal_hook(writer.handle(), &Checkpointer::on_commit, this);
}

int Checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int wal_pages) {
    auto* c = static_cast<Checkpointer*>(self);
    if (wal_pages >= c->threshold_pages_ * kBehindFactor) {
        // The thread is not keeping up (a write burst): checkpoint here, in the commit, as
        // SQLite itself would have done at 1,000 pages, so that the WAL stays bounded.
        (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        return SQLITE_OK;
    }
    if (wal_pages >= c->threshold_pages_ && !c->pending_.exchange(true)) {
        {
            std::lock_guard lock(c->mutex_);
            c->due_ = true;
        }
        c->wake_.notify_one();
    }
    return SQLITE_OK;
}

void Checkpointer::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
    conn_.reset();
}

void Checkpointer::run() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return due_ || stopping_; });
            if (stopping_) {
                return;
            }
            due_ = false;
        }
        sqlite3* db = conn_->handle();
        int log_pages = 0;
        int done_pages = 0;
        const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                                 &log_pages, &done_pages);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            spdlog::warn("sqlite: WAL checkpoint failed: {} (the writer keeps committing; the "
                         "next checkpoint retries)",
                         sqlite3_errmsg(db));
        }
        checkpoints_.fetch_add(1, std::memory_order_relaxed);
        pending_.store(false, std::memory_order_release);
    }
}

}  // namespace voicegate::store::detail
