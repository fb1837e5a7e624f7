// SQLite-specific behaviour of SqliteStore: group commit, durability seen from outside the
// process, WAL, lock failures, options and reopening.
#include "store/sqlite_store.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "store/migrations.hpp"
#include "support/mapped_rss.hpp"
#include "support/run_coro.hpp"
#include "support/temp_dir.hpp"

#include <sys/wait.h>
#include <unistd.h>

namespace voicegate::store {
namespace {
namespace asio = boost::asio;
using test::mapped_rss_kb;
using test::run_coro;

SessionRecord record(const std::string& id, const std::string& user = "user_1") {
    SessionRecord r;
    r.session_id = id;
    r.user_id = user;
    r.model = "gpt-realtime";
    r.voice = "alloy";
    r.issued_at_ms = 1'700'000'000'000;
    r.token_expires_at = 1'700'001'800;
    return r;
}

EndRequest end_request(const std::string& id, const std::string& user = "user_1") {
    EndRequest e;
    e.session_id = id;
    e.caller_user_id = user;
    e.check_owner = true;
    e.reported_duration_s = 12.5;
    e.message_count = 3;
    e.ended_by = "user";
    e.ended_at_ms = 1'700'000'012'000;
    return e;
}

/// An independent connection to the same file, as another process would open it.
class Outside {
public:
    explicit Outside(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << "cannot open " << path;
        }
        sqlite3_busy_timeout(db_, 5000);
    }
    ~Outside() { sqlite3_close_v2(db_); }
    Outside(const Outside&) = delete;
    Outside& operator=(const Outside&) = delete;

    /// The first column of the first row as integer, or -1 on error / no row.
    std::int64_t integer(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
            return -1;
        }
        std::int64_t v = -1;
        if (sqlite3_step(st) == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        return v;
    }
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
            return {};
        }
        std::string v;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
            v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        return v;
    }
    int exec(const std::string& sql) {
        return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    }

private:
    sqlite3* db_ = nullptr;
};

std::unique_ptr<SqliteStore> open_file(const std::string& path, std::string sync = "full",
                                       int busy_timeout_ms = 5000) {
    SqliteOptions o;
    o.path = path;
    o.common.synchronous = std::move(sync);
    o.common.busy_timeout_ms = busy_timeout_ms;
    auto s = SqliteStore::open(std::move(o));
    EXPECT_TRUE(s) << (s ? "" : s.error().details);
    return s ? std::move(*s) : nullptr;
}

TEST(SqliteStore, ConcurrentLoopsAreGroupCommittedAndCountExactly) {
    test::TempDir dir;
    const auto path = dir.file("gc.db");
    auto store = open_file(path);
    ASSERT_TRUE(store);
    constexpr int kThreads = 4;
    constexpr int kPerThread = 1000;
    std::atomic<int> errors{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t) {
        pool.emplace_back([t, &store, &errors] {
            asio::io_context io;
            for (int i = 0; i < kPerThread; ++i) {
                asio::co_spawn(
                    io,
                    [](SqliteStore& s, std::string id,
                       std::atomic<int>& errs) -> asio::awaitable<void> {
                        if (!co_await s.create_session(record(id))) {
                            ++errs;
                            co_return;
                        }
                        if (!co_await s.end_session(end_request(id))) {
                            ++errs;
                        }
                    }(*store, "sess_" + std::to_string(t * kPerThread + i), errors),
                    asio::detached);
            }
            io.run();
        });
    }
    for (auto& th : pool) {
        th.join();
    }
    EXPECT_EQ(errors.load(), 0);
    const auto stats = store->stats();
    EXPECT_EQ(stats.ops, 2U * kThreads * kPerThread);
    EXPECT_EQ(stats.failed_ops, 0U);
    EXPECT_GT(stats.batches, 0U);
    EXPECT_LT(stats.batches, stats.ops / 2) << "group commit should batch ops per commit";

    // Seen from another connection while the store is still open: everything is committed.
    Outside out(path);
    EXPECT_EQ(out.integer("SELECT COUNT(*) FROM sessions"), kThreads * kPerThread);
    EXPECT_EQ(out.integer("SELECT COUNT(*) FROM sessions WHERE status = 'ended'"),
              kThreads * kPerThread);
    EXPECT_EQ(out.integer("SELECT COUNT(*) FROM events WHERE type = 'token_issued'"),
              kThreads * kPerThread);
    EXPECT_EQ(out.integer("SELECT COUNT(*) FROM events WHERE type = 'session_ended'"),
              kThreads * kPerThread);
}

TEST(SqliteStore, FailingOpDoesNotSinkItsBatch) {
    auto opened = SqliteStore::open({});
    ASSERT_TRUE(opened);
    auto& store = **opened;
    asio::io_context io;
    ASSERT_TRUE(run_coro(io, store.create_session(record("sess_taken"))));
    constexpr int kOps = 400;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    for (int i = 0; i < kOps; ++i) {
        // Every other create reuses an existing id and must fail alone.
        const std::string id = i % 2 == 0 ? "sess_taken" : "sess_" + std::to_string(i);
        asio::co_spawn(
            io,
            [](SqliteStore& s, std::string sid, std::atomic<int>& good,
               std::atomic<int>& bad) -> asio::awaitable<void> {
                auto r = co_await s.create_session(record(sid));
                ++(r ? good : bad);
            }(store, id, ok, failed),
            asio::detached);
    }
    const auto before = store.stats();
    io.restart();
    io.run();
    const auto after = store.stats();
    EXPECT_EQ(ok.load(), kOps / 2);
    EXPECT_EQ(failed.load(), kOps / 2);
    // Ops shared batches (how many share one depends on how the writer thread is scheduled, so
    // only "fewer commits than ops" is asserted; the failing half did not sink the others).
    EXPECT_LT(after.batches - before.batches, static_cast<std::uint64_t>(kOps));
    EXPECT_EQ(after.failed_ops - before.failed_ops, static_cast<std::uint64_t>(kOps) / 2);
    for (int i = 1; i < kOps; i += 2) {
        auto row = run_coro(io, store.get_session("sess_" + std::to_string(i)));
        ASSERT_TRUE(row);
        ASSERT_TRUE(*row) << "sess_" << i << " was lost with its batch";
    }
}

TEST(SqliteStore, FailureDetailsStayOutOfThePublicMessage) {
    auto opened = SqliteStore::open({});
    ASSERT_TRUE(opened);
    asio::io_context io;
    ASSERT_TRUE(run_coro(io, (*opened)->create_session(record("sess_a"))));
    auto dup = run_coro(io, (*opened)->create_session(record("sess_a")));
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, Error::internal);
    EXPECT_EQ(dup.error().public_message().find("UNIQUE"), std::string_view::npos);
    EXPECT_EQ(dup.error().public_message().find("sqlite"), std::string_view::npos);
    EXPECT_NE(dup.error().details.find("duplicate session id"), std::string::npos);
    EXPECT_NE(dup.error().details.find("UNIQUE"), std::string::npos);
}

TEST(SqliteStore, EndIsVisibleToAnIndependentConnectionAtOnce) {
    test::TempDir dir;
    const auto path = dir.file("durable.db");
    auto store = open_file(path);
    ASSERT_TRUE(store);
    asio::io_context io;
    ASSERT_TRUE(run_coro(io, store->create_session(record("sess_d"))));
    auto out = run_coro(io, store->end_session(end_request("sess_d")));
    ASSERT_TRUE(out);
    Outside other(path);
    EXPECT_EQ(other.text("SELECT status FROM sessions WHERE session_id = 'sess_d'"), "ended");
    EXPECT_EQ(other.integer("SELECT message_count FROM sessions WHERE session_id = 'sess_d'"), 3);
    EXPECT_EQ(other.integer("SELECT COUNT(*) FROM events WHERE session_id = 'sess_d' "
                            "AND type = 'session_ended'"),
              1);
}

TEST(SqliteStore, EndSurvivesKillNineRightAfterSuccess) {
    test::TempDir dir;
    const auto path = dir.file("kill9.db");
    const pid_t child = fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
        // The child ends a session, and dies by SIGKILL the moment the end is reported: no
        // close(), no destructors, no flush.
        SqliteOptions o;
        o.path = path;
        o.common.synchronous = "normal";  // the weaker mode must survive a process crash too
        auto s = SqliteStore::open(std::move(o));
        if (!s) {
            _exit(2);
        }
        asio::io_context io;
        if (!run_coro(io, (*s)->create_session(record("sess_k")))) {
            _exit(3);
        }
        if (!run_coro(io, (*s)->end_session(end_request("sess_k")))) {
            _exit(4);
        }
        ::kill(::getpid(), SIGKILL);
        _exit(5);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    Outside other(path);
    EXPECT_EQ(other.text("SELECT status FROM sessions WHERE session_id = 'sess_k'"), "ended");
    EXPECT_EQ(other.integer("SELECT COUNT(*) FROM events WHERE type = 'session_ended'"), 1);
}

TEST(SqliteStore, FileDatabaseUsesWal) {
    test::TempDir dir;
    const auto path = dir.file("wal.db");
    auto store = open_file(path, "normal");
    ASSERT_TRUE(store);
    Outside other(path);
    EXPECT_EQ(other.text("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStore, LockedDatabaseFailsTheBatchWithStoreUnavailableThenRecovers) {
    test::TempDir dir;
    const auto path = dir.file("locked.db");
    auto store = open_file(path, "full", 50);
    ASSERT_TRUE(store);
    asio::io_context io;
    ASSERT_TRUE(run_coro(io, store->create_session(record("sess_a"))));
    Outside other(path);
    ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);  // another process holds the write lock
    auto blocked = run_coro(io, store->end_session(end_request("sess_a")));
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, Error::store_unavailable);
    EXPECT_EQ(blocked.error().public_message().find("locked"), std::string_view::npos);
    EXPECT_NE(blocked.error().details.find("locked"), std::string::npos) << blocked.error().details;
    EXPECT_EQ(store->stats().failed_ops, 1U);
    ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);
    auto retried = run_coro(io, store->end_session(end_request("sess_a")));
    ASSERT_TRUE(retried) << retried.error().details;
    EXPECT_FALSE(retried->already_ended);  // the failed attempt stored nothing
}

// Probe 2026-12: /readyz stayed 200 while another process held the write lock.
TEST(SqliteStore, NotReadyWhileWritesFailThenReadyAgainWithoutClientWrites) {
    test::TempDir dir;
    const auto path = dir.file("ready.db");
    auto store = open_file(path, "full", 50);
    ASSERT_TRUE(store);
    asio::io_context io;
    ASSERT_TRUE(run_coro(io, store->create_session(record("sess_a"))));
    EXPECT_TRUE(store->ready());
    Outside other(path);
    ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
    ASSERT_FALSE(run_coro(io, store->create_session(record("sess_b"))));
    EXPECT_FALSE(store->ready());
    // Still locked: the probe write that ready() queues fails too.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(store->ready());
    ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);
    bool ready = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!(ready = store->ready()) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(ready);
    store->close();
    EXPECT_FALSE(store->ready());
}

TEST(SqliteStore, ReopeningKeepsDataAndDoesNotRemigrate) {
    test::TempDir dir;
    const auto path = dir.file("reopen.db");
    {
        auto store = open_file(path);
        ASSERT_TRUE(store);
        asio::io_context io;
        ASSERT_TRUE(run_coro(io, store->create_session(record("sess_r"))));
    }  // the destructor closes
    auto store = open_file(path);
    ASSERT_TRUE(store);
    asio::io_context io;
    auto row = run_coro(io, store->get_session("sess_r"));
    ASSERT_TRUE(row);
    EXPECT_TRUE(*row);
    Outside other(path);
    EXPECT_EQ(other.integer("SELECT COUNT(*) FROM schema_migrations"), latest_schema_version());
    EXPECT_EQ(other.integer("SELECT MAX(version) FROM schema_migrations"), latest_schema_version());
}

TEST(SqliteStore, ReleaseMemoryUnmapsTheFileAndTheStoreGoesOn) {
    test::TempDir dir;
    const auto path = std::filesystem::canonical(dir.path()).string() + "/release.db";
    auto store = open_file(path, "normal");
    ASSERT_TRUE(store);
    asio::io_context io;
    for (int i = 0; i < 2000; ++i) {
        ASSERT_TRUE(run_coro(io, store->create_session(record("sess_m" + std::to_string(i)))));
    }
    // A checkpoint moves the pages into the file; the writer then reads them through its map.
    Outside other(path);
    ASSERT_EQ(other.exec("PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
    // The reader connection (admin API, periodic usage and alert reads) maps nothing: an idle
    // server that only answers those keeps no database pages resident (probe 2026-12, §7).
    for (int i = 0; i < 2000; i += 7) {
        ASSERT_TRUE(run_coro(io, store->get_session("sess_m" + std::to_string(i))));
    }
    EXPECT_EQ(mapped_rss_kb(path), 0) << "reads through the reader connection mapped the file";
    for (int i = 1; i < 2000; i += 7) {
        ASSERT_TRUE(run_coro(io, store->end_session(end_request("sess_m" + std::to_string(i)))));
    }
    ASSERT_GT(mapped_rss_kb(path), 0) << "the writes did not go through the memory map";

    store->release_memory();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (mapped_rss_kb(path) > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(mapped_rss_kb(path), 0);

    // Everything is still there, and the store reads and writes as before.
    auto row = run_coro(io, store->get_session("sess_m1999"));
    ASSERT_TRUE(row);
    ASSERT_TRUE(*row);
    EXPECT_EQ((*row)->issued.user_id, "user_1");
    auto ended = run_coro(io, store->end_session(end_request("sess_m5")));
    ASSERT_TRUE(ended) << ended.error().details;
    EXPECT_FALSE(ended->already_ended);
    EXPECT_EQ(other.text("SELECT status FROM sessions WHERE session_id = 'sess_m5'"), "ended");
}

TEST(SqliteStore, CloseCommitsEverythingQueued) {
    test::TempDir dir;
    const auto path = dir.file("drain.db");
    auto store = open_file(path);
    ASSERT_TRUE(store);
    asio::io_context io;
    constexpr int kOps = 300;
    std::atomic<int> ok{0};
    for (int i = 0; i < kOps; ++i) {
        asio::co_spawn(
            io,
            [](SqliteStore& s, std::string id, std::atomic<int>& good) -> asio::awaitable<void> {
                if (co_await s.create_session(record(id))) {
                    ++good;
                }
            }(*store, "sess_" + std::to_string(i), ok),
            asio::detached);
    }
    // Run just until every coroutine has queued its op, then close from this thread.
    while (io.poll_one() != 0) {
    }
    store->close();
    io.restart();
    io.run();
    EXPECT_EQ(ok.load(), kOps);
    Outside other(path);
    EXPECT_EQ(other.integer("SELECT COUNT(*) FROM sessions"), kOps);
}

TEST(SqliteStore, RejectsInvalidOptions) {
    SqliteOptions bad_sync;
    bad_sync.common.synchronous = "sometimes";
    auto a = SqliteStore::open(bad_sync);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, Error::bad_request);

    SqliteOptions bad_batch;
    bad_batch.common.batch_max = 0;
    EXPECT_FALSE(SqliteStore::open(bad_batch));

    SqliteOptions no_path;
    no_path.path = "";
    EXPECT_FALSE(SqliteStore::open(no_path));

    SqliteOptions no_dir;
    no_dir.path = "/nonexistent-dir-voicegate/x.db";
    auto d = SqliteStore::open(no_dir);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, Error::store_unavailable);
    EXPECT_EQ(d.error().public_message().find("sqlite"), std::string_view::npos);
    EXPECT_FALSE(d.error().details.empty());
}

TEST(SqliteStore, BatchMaxOneCommitsEachOpAlone) {
    SqliteOptions o;
    o.common.batch_max = 1;
    auto opened = SqliteStore::open(o);
    ASSERT_TRUE(opened);
    auto& store = **opened;
    asio::io_context io;
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(io, store.create_session(record("sess_" + std::to_string(i))),
                       asio::detached);
    }
    io.run();
    EXPECT_EQ(store.stats().batches, 50U);
    EXPECT_EQ(store.stats().ops, 50U);
}

}  // namespace
}  // namespace voicegate::store
