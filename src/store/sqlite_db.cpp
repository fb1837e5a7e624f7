#include "store/sqlite_db.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>
#include <variant>

#include <sqlite3.h>

namespace voicegate::store {

Failure sqlite_failure(sqlite3* db, int rc, std::string_view what) {
    std::string details = "sqlite: " + std::string(what) + ": ";
    details += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    details += " (" + std::to_string(rc) + ")";
    const Error code =
        (rc & 0xff) == SQLITE_CONSTRAINT ? Error::internal : Error::store_unavailable;
    if (code == Error::internal) {
        details.insert(0, "constraint: ");
    }
    return fail(code, {}, std::move(details));
}

StatementUse::~StatementUse() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

void StatementUse::note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
        bind_rc_ = rc;
    }
}

StatementUse& StatementUse::bind(int index, std::int64_t value) {
    note(sqlite3_bind_int64(stmt_, index, value));
    return *this;
}

StatementUse& StatementUse::bind(int index, double value) {
    note(sqlite3_bind_double(stmt_, index, value));
    return *this;
}

StatementUse& StatementUse::bind(int index, std::string_view value) {
    note(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8));
    return *this;
}

StatementUse& StatementUse::bind_or_null(int index, std::string_view value) {
    return value.empty() ? bind_null(index) : bind(index, value);
}

StatementUse& StatementUse::bind_null(int index) {
    note(sqlite3_bind_null(stmt_, index));
    return *this;
}

Result<bool> StatementUse::step() {
    sqlite3* db = sqlite3_db_handle(stmt_);
    if (bind_rc_ != SQLITE_OK) {
        return sqlite_failure(nullptr, bind_rc_, "bind");
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return sqlite_failure(db, rc, sqlite3_sql(stmt_));
}

std::int64_t StatementUse::column_int(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

double StatementUse::column_double(int column) const {
    return sqlite3_column_double(stmt_, column);
}

std::string StatementUse::column_text(int column) const {
    const auto* text = sqlite3_column_text(stmt_, column);
    if (text == nullptr) {
        return {};
    }
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
    return {reinterpret_cast<const char*>(text), n};
}

bool StatementUse::column_is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int StatementUse::column_count() const {
    return sqlite3_column_count(stmt_);
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(
    const SqliteConnectionOptions& options) {
    // Before SQLite initializes (the first open): no memory statistics, which voicegate never
    // reads and which take a process-wide mutex on every allocation SQLite makes. Fails
    // harmlessly (SQLITE_MISUSE) if something else initialized SQLite first.
    static std::once_flag configured;
    std::call_once(configured, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        auto f = sqlite_failure(db, rc, "open " + options.path);
        sqlite3_close_v2(db);
        return f;
    }
    std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, std::max(0, options.busy_timeout_ms));
    const bool memory = options.path == ":memory:" || options.path.empty();
    if (options.wal && !memory && !options.read_only) {
        auto mode = conn->query_ints("PRAGMA journal_mode=WAL");
        if (!mode) {
            return mode.error();
        }
    }
    if (!options.synchronous.empty()) {
        if (auto r = conn->exec_script("PRAGMA synchronous=" + options.synchronous); !r) {
            return r.error();
        }
    }
    if (!memory && !options.mmap) {
        if (auto r = conn->exec_script("PRAGMA mmap_size=0"); !r) {  // whatever the build default
            return r.error();
        }
    } else if (!memory) {
        // Reads through a memory map of the file instead of a pread() and a copy per page
        // missing from SQLite's own cache: sessions are found by a random id, so once the
        // database outgrows that cache (2 MiB) almost every op reads pages. Measured with the
        // store bench (200k sessions, quotas on): ends 35k/s -> 58k/s, creates 23k/s -> 32k/s.
        // Writes still go through the WAL; only file pages actually read count toward RSS.
        if (auto r = conn->exec_script("PRAGMA mmap_size=" + std::to_string(kSqliteMmapSize)); !r) {
            return r.error();
        }
    }
    if (options.read_only) {
        if (auto r = conn->exec_script("PRAGMA query_only=1"); !r) {
            return r.error();
        }
    }
    return conn;
}

SqliteConnection::~SqliteConnection() {
    for (auto& [sql, stmt] : cache_) {
        sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
}

Result<void> SqliteConnection::exec_script(std::string_view sql) {
    const std::string text(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);  // the same text is available from sqlite3_errmsg
    if (rc != SQLITE_OK) {
        return sqlite_failure(db_, rc, "exec");
    }
    return {};
}

Result<std::vector<std::int64_t>> SqliteConnection::query_ints(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        return sqlite_failure(db_, rc, "prepare");
    }
    std::vector<std::int64_t> out;
    Result<std::vector<std::int64_t>> result;
    {
        StatementUse use(stmt);
        for (;;) {
            auto row = use.step();
            if (!row) {
                result = row.error();
                break;
            }
            if (!*row) {
                result = std::move(out);
                break;
            }
            out.push_back(use.column_int(0));
        }
    }
    sqlite3_finalize(stmt);
    return result;
}

Result<StatementUse> SqliteConnection::use(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) {
            return sqlite_failure(db_, rc, "prepare");
        }
        it = cache_.emplace(sql, stmt).first;
    }
    return StatementUse(it->second);
}

Result<std::string> SqliteConnection::journal_mode() {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode", -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        return sqlite_failure(db_, rc, "prepare");
    }
    Result<std::string> result = std::string();
    {
        StatementUse use(stmt);
        auto row = use.step();
        if (!row) {
            result = row.error();
        } else if (*row) {
            std::string mode = use.column_text(0);
            std::transform(mode.begin(), mode.end(), mode.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            result = std::move(mode);
        }
    }
    sqlite3_finalize(stmt);
    return result;
}

std::string sqlite_sql(std::string sql) {
    for (std::size_t i = 0; i + 1 < sql.size(); ++i) {
        if (sql[i] == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            sql[i] = '?';
        }
    }
    return sql;
}

namespace {

/// The cached statement for `q` on `conn`, with its parameters bound.
Result<StatementUse> bound(SqliteConnection& conn, const SqlQuery& q) {
    auto s = conn.use(sqlite_sql(q.sql));
    if (!s) {
        return s.error();
    }
    for (std::size_t i = 0; i < q.params.size(); ++i) {
        const int at = static_cast<int>(i + 1);
        if (const auto* n = std::get_if<std::int64_t>(&q.params[i])) {
            s->bind(at, *n);
        } else {
            s->bind(at, std::string_view(std::get<std::string>(q.params[i])));
        }
    }
    return s;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::int64_t>>> SqliteExec::sum_by_key(
    const SqlQuery& q) {
    auto s = bound(conn_, q);
    if (!s) {
        return s.error();
    }
    std::unordered_map<std::string, std::int64_t> sums;
    if (auto done = s->each_row([&] { sums[s->column_text(0)] += s->column_int(1); }); !done) {
        return done.error();
    }
    return std::vector<std::pair<std::string, std::int64_t>>(sums.begin(), sums.end());
}

Result<SqlTable> SqliteExec::query(const SqlQuery& q) {
    auto s = bound(conn_, q);
    if (!s) {
        return s.error();
    }
    SqlTable out;
    auto done = s->each_row([&] {
        const int n = s->column_count();
        auto& r = out.rows.emplace_back();
        r.reserve(static_cast<std::size_t>(n));
        for (int c = 0; c < n; ++c) {
            if (s->column_is_null(c)) {
                r.emplace_back();
            } else {
                r.emplace_back(s->column_text(c));
            }
        }
    });
    if (!done) {
        return done.error();
    }
    return out;
}

}  // namespace voicegate::store
