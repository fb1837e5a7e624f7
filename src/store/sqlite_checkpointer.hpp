#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "store/sqlite_db.hpp"

namespace voicegate::store::detail {

/// Runs SQLite's WAL checkpoints on a thread of its own, so that no group commit waits for one.
///
/// By default SQLite checkpoints inside the COMMIT that pushes the WAL past 1,000 pages: that
/// commit then copies the WAL into the database and fsyncs it, and every request waiting on its
/// batch waits too (a latency spike every few hundred commits). attach() replaces that with a
/// WAL hook on the writer connection that only wakes this thread; it checkpoints PASSIVE (never
/// blocking the writer) from its own connection; the writer starts the WAL from the beginning
/// again at its next commit after a checkpoint has caught up. Should a write burst outrun the
/// thread, the commit that finds the WAL at kBehindFactor times the threshold checkpoints
/// itself, as SQLite would have, so the WAL stays bounded.
/// Durability does not change: a commit is durable (or not) exactly as before; checkpoints only
/// move committed pages from the WAL into the database file.
class Checkpointer {
public:
    /// Opens a second connection to `path` and starts the thread.
    [[nodiscard]] static Result<std::unique_ptr<Checkpointer>> start(const std::string& path,
                                                                     int busy_timeout_ms,
                                                                     int threshold_pages = 1000);
    ~Checkpointer();
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    /// Installs the WAL hook on `writer` (call before the writer's thread starts). The hook runs
    /// on the writer's thread after each commit; it only sets a flag and wakes this thread.
    /// The checkpointer must outlive every commit on `writer`.
    void attach(SqliteConnection& writer);

    /// Stops the thread and closes the connection. Idempotent.
    void stop();

    /// Checkpoints run so far (for tests).
    std::uint64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }

private:
    Checkpointer(std::unique_ptr<SqliteConnection> conn, int threshold_pages);
    static constexpr int kBehindFactor = 8;
    static int on_commit(void* self, sqlite3* db, const char* schema, int wal_pages);
    void run();

    std::unique_ptr<SqliteConnection> conn_;
    const int threshold_pages_;
    std::atomic<bool> pending_{false};
    std::atomic<std::uint64_t> checkpoints_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool due_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace voicegate::store::detail
