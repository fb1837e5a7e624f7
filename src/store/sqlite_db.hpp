#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "store/migrations.hpp"
#include "store/rollup.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace voicegate::store {

/// A bound, cached prepared statement in use. Binds by 1-based index, steps, reads columns
/// (0-based), and resets the statement and clears its bindings when destroyed, so the cached
/// statement is ready for the next user. Bound text is copied. Not thread-safe; lives on the
/// thread that owns its connection.
class StatementUse {
public:
    explicit StatementUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~StatementUse();
    StatementUse(StatementUse&& other) noexcept
        : stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}
    StatementUse& operator=(StatementUse&&) = delete;
    StatementUse(const StatementUse&) = delete;
    StatementUse& operator=(const StatementUse&) = delete;

    /// Binds a value; a bind error is remembered and reported by the next step().
    StatementUse& bind(int index, std::int64_t value);
    /// Binds a double.
    StatementUse& bind(int index, double value);
    /// Binds text (copied).
    StatementUse& bind(int index, std::string_view value);
    /// Binds text, or NULL when `value` is empty.
    StatementUse& bind_or_null(int index, std::string_view value);
    /// Binds NULL.
    StatementUse& bind_null(int index);

    /// Advances: true when a row is available, false when done; store_unavailable on error
    /// (sqlite text only in details). A constraint violation fails with `Error::internal` and
    /// details starting with "constraint".
    [[nodiscard]] Result<bool> step();
    /// Steps through every row, calling `fn()` at each (it reads the row with the column
    /// readers); the first step error ends it.
    template <class Fn>
    [[nodiscard]] Result<void> each_row(Fn fn) {
        for (;;) {
            auto row = step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return {};
            }
            fn();
        }
    }

    /// Column readers for the current row.
    std::int64_t column_int(int column) const;
    /// A REAL column.
    double column_double(int column) const;
    /// A TEXT column ("" for NULL).
    std::string column_text(int column) const;
    /// True when the column is NULL.
    bool column_is_null(int column) const;
    /// The number of columns of the result.
    int column_count() const;

private:
    void note(int rc);
    sqlite3_stmt* stmt_;
    int bind_rc_ = 0;
};

/// Options for opening one SQLite connection.
struct SqliteConnectionOptions {
    std::string path = ":memory:";
    bool read_only = false;   // PRAGMA query_only
    std::string synchronous;  // "FULL" | "NORMAL" | "" (leave the default)
    bool wal = true;          // journal_mode=WAL (ignored for :memory:)
    int busy_timeout_ms = 5000;
    bool mmap = true;  // read the file through a memory map (PRAGMA mmap_size=kSqliteMmapSize)
};

/// How much of a database file a connection reads through a memory map (PRAGMA mmap_size).
constexpr long long kSqliteMmapSize = 256LL * 1024 * 1024;

/// One SQLite connection with a prepared-statement cache. Opened with SQLITE_OPEN_NOMUTEX: the
/// owner must use it from one thread at a time (the store gives each connection one thread).
class SqliteConnection final : public MigrationConnection {
public:
    /// Opens (creating the file if needed) and applies the pragmas; store_unavailable on
    /// failure with the sqlite text in details only.
    [[nodiscard]] static Result<std::unique_ptr<SqliteConnection>> open(
        const SqliteConnectionOptions& options);
    ~SqliteConnection() override;
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    Dialect dialect() const override { return Dialect::sqlite; }
    [[nodiscard]] Result<void> exec_script(std::string_view sql) override;
    [[nodiscard]] Result<std::vector<std::int64_t>> query_ints(std::string_view sql) override;

    /// The cached prepared statement for `sql` (prepared on first use), wrapped for one use.
    /// Only one StatementUse per statement text may be alive at a time.
    [[nodiscard]] Result<StatementUse> use(const std::string& sql);

    /// The raw handle (for tests and pragmas).
    sqlite3* handle() const { return db_; }

    /// The current journal mode, lowercase (e.g. "wal", "memory").
    [[nodiscard]] Result<std::string> journal_mode();

private:
    explicit SqliteConnection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

/// A store_unavailable Failure whose details name `what` and the connection's error text.
Failure sqlite_failure(sqlite3* db, int rc, std::string_view what);

/// `sql` with PostgreSQL-style `$N` placeholders as SQLite's `?N`. Pure.
std::string sqlite_sql(std::string sql);

/// SqlExec over a SqliteConnection (`$N` placeholders run as `?N`). Not thread-safe.
class SqliteExec final : public SqlExec {
public:
    explicit SqliteExec(SqliteConnection& conn) : conn_(conn) {}
    Dialect dialect() const override { return Dialect::sqlite; }
    [[nodiscard]] Result<SqlTable> query(const SqlQuery& q) override;
    /// Hash aggregation straight off the statement (no row copies, no sorter).
    [[nodiscard]] Result<std::vector<std::pair<std::string, std::int64_t>>> sum_by_key(
        const SqlQuery& q) override;

private:
    SqliteConnection& conn_;
};

}  // namespace voicegate::store
