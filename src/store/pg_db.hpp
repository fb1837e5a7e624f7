#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/migrations.hpp"
#include "store/rollup.hpp"

// libpq's handle types, declared here so that headers need not include libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace voicegate::store {

/// A PostgreSQL DATABASE_URL split into what libpq sees and voicegate's own parameters.
struct PgTarget {
    std::string conninfo;  // the URL without voicegate's parameters, handed to libpq as is
    std::string schema;    // from `schema=NAME`; empty: the server's default search_path
};

/// Splits voicegate's own query parameter `schema=NAME` off a `postgres://` or `postgresql://`
/// URL; every other parameter (sslmode, sslrootcert, application_name, connect_timeout, ...) is
/// left for libpq. NAME must be an unquoted SQL identifier (letters, digits, `_`, at most 63
/// bytes, not starting with a digit). Fails with bad_request otherwise. Pure; thread-safe.
[[nodiscard]] Result<PgTarget> parse_pg_url(std::string_view url);

/// `name` as a double-quoted SQL identifier. Pure.
std::string quote_identifier(std::string_view name);

/// Deletes a PGresult.
struct PgResultDeleter {
    void operator()(pg_result* result) const;
};
/// An owned PGresult (null between the results of pipelined queries).
using PgResultPtr = std::unique_ptr<pg_result, PgResultDeleter>;

/// A read-only view of a PGresult in text format: all its rows, or one row of it (a batched
/// statement's answer for one op), or none. Rows and columns are 0-based.
/// Not thread-safe (as the result it views).
class PgRows {
public:
    /// Views every row of `result`, which must outlive the view.
    explicit PgRows(const pg_result* result) : result_(result) {}
    /// Views only row `row` of `result` (as row 0), or no row when `row` < 0.
    static PgRows one(const pg_result* result, int row) {
        PgRows v(result);
        v.first_ = row < 0 ? 0 : row;
        v.count_ = row < 0 ? 0 : 1;
        return v;
    }
    /// Number of rows (0 for a command without rows).
    int size() const;
    /// Number of columns.
    int columns() const;
    /// True when the field is NULL.
    bool is_null(int row, int column) const;
    /// The field's text ("" for NULL).
    std::string_view text(int row, int column) const;
    /// The field as a 64-bit integer (0 for NULL or unparsable text).
    std::int64_t int64(int row, int column) const;
    /// The field as a double (0 for NULL or unparsable text).
    double float8(int row, int column) const;
    /// The field as a boolean (`t` is true).
    bool boolean(int row, int column) const;

private:
    const pg_result* result_;
    int first_ = 0;
    int count_ = -1;  // -1: every row
};

/// How a failed statement should be handled by a caller that batches statements.
enum class PgFailureKind {
    statement,   // this statement failed; the connection is fine
    conflict,    // deadlock or serialization failure: the transaction may be retried
    connection,  // the connection is gone or unusable
};

/// The error of a failed result, classified, with the failure to report: integrity violations
/// (SQLSTATE class 23) are Error::internal with details starting "constraint", data exceptions
/// (class 22, e.g. text that is not UTF-8) bad_request, the rest store_unavailable. libpq text
/// goes only into Failure::details.
struct PgError {
    PgFailureKind kind = PgFailureKind::statement;
    std::string sqlstate;
    Failure failure;
};

/// Text parameters of one statement (libpq text format; never NULL: SQL maps "" with NULLIF).
using PgParams = std::vector<std::string>;

/// One PostgreSQL connection (libpq). Synchronous calls for set-up and migrations; a pipeline
/// (libpq pipeline mode, non-blocking socket, every wait bounded by a deadline) for the
/// stores' batches. Not thread-safe: the owner uses it from one thread at a time.
class PgConnection final : public MigrationConnection {
public:
    using Deadline = std::chrono::steady_clock::time_point;

    /// Connects to `target.conninfo` (libpq parses the URL, sslmode included), sets the
    /// fallback application_name "voicegate" and, when the URL names none, a 10 s
    /// connect_timeout. Fails with store_unavailable; libpq text only in details.
    [[nodiscard]] static Result<std::unique_ptr<PgConnection>> connect(const PgTarget& target);
    ~PgConnection() override;
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    Dialect dialect() const override { return Dialect::postgres; }
    /// Runs a script of `;`-separated statements (simple query protocol). Not in pipeline mode.
    [[nodiscard]] Result<void> exec_script(std::string_view sql) override;
    /// Runs one query; the first column of each row as an integer. Not in pipeline mode.
    [[nodiscard]] Result<std::vector<std::int64_t>> query_ints(std::string_view sql) override;
    /// Runs one statement with text parameters and returns its result. Not in pipeline mode.
    [[nodiscard]] Result<PgResultPtr> exec_params(std::string_view sql, const PgParams& params);

    /// Creates `schema` if it is missing (when `create`), then makes it the search_path. A
    /// no-op for an empty schema. Not in pipeline mode.
    [[nodiscard]] Result<void> use_schema(const std::string& schema, bool create);
    /// Prepares a named statement with explicit parameter types (Oids). Not in pipeline mode.
    [[nodiscard]] Result<void> prepare(const char* name, std::string_view sql,
                                       std::span<const unsigned> param_types);

    /// Switches to pipeline mode with a non-blocking socket.
    [[nodiscard]] Result<void> enter_pipeline();
    /// Queues a statement without parameters (e.g. BEGIN) in the pipeline.
    [[nodiscard]] Result<void> send_query(const char* sql);
    /// Queues an execution of the prepared statement `name`.
    [[nodiscard]] Result<void> send_prepared(const char* name, const PgParams& params);
    /// Queues an unprepared statement with text parameters (types inferred by the server).
    [[nodiscard]] Result<void> send_params(const std::string& sql, const PgParams& params);
    /// Queues a sync point: the server answers everything before it (PGRES_PIPELINE_SYNC).
    [[nodiscard]] Result<void> sync();
    /// The next result of the pipeline (null between queries), flushing what is queued and
    /// reading as needed; fails with store_unavailable (connection lost) on a broken
    /// connection or when `deadline` passes.
    [[nodiscard]] Result<PgResultPtr> next_result(Deadline deadline);
    /// The result of the next queued query and its terminating null, or the next sync result.
    [[nodiscard]] Result<PgResultPtr> take(Deadline deadline);
    /// Reads the sync that ends a pipelined round trip; store_unavailable if the next result
    /// is anything else (the pipeline is out of step) or the connection fails.
    [[nodiscard]] Result<void> take_sync(Deadline deadline);

    /// Reads what the server sent while idle (notices, a termination message); false when the
    /// connection turned out to be gone.
    bool poll_idle();
    /// True while the connection is usable.
    bool ok() const;
    /// The server process id of this connection.
    int backend_pid() const;
    /// The raw handle.
    pg_conn* handle() const { return conn_; }

private:
    explicit PgConnection(pg_conn* conn) : conn_(conn) {}
    Failure lost(std::string_view what) const;
    pg_conn* conn_;
};

/// Result status helpers (libpq's ExecStatusType, named).
bool pg_tuples_or_command_ok(const pg_result* result);
/// True for PGRES_PIPELINE_ABORTED.
bool pg_pipeline_aborted(const pg_result* result);
/// True for PGRES_PIPELINE_SYNC.
bool pg_pipeline_sync(const pg_result* result);
/// Classifies the error of `result` (on `conn`); `what` names the step in the details.
PgError pg_error(const pg_conn* conn, const pg_result* result, std::string_view what);

/// True when `f` is pg_error()'s failure of a deadlock (40P01) or serialization failure
/// (40001): the transaction may be retried. Pure.
bool pg_conflict(const Failure& f);

/// Appends `item` to `out` as one element of a text[] literal: quoted, `"` and `\` escaped,
/// after a comma unless `first`. Pure.
void append_pg_array_element(std::string& out, std::string_view item, bool first);

/// A PostgreSQL text[] literal of `items`, e.g. {"a","b"}. Pure.
std::string pg_text_array(const std::vector<std::string>& items);

/// SqlExec over a PgConnection, in pipeline mode (a store thread's) or not (`voicegate
/// migrate`). Not thread-safe.
class PgExec final : public SqlExec {
public:
    PgExec(PgConnection& conn, bool pipeline, std::chrono::milliseconds timeout)
        : conn_(conn), pipeline_(pipeline), timeout_(timeout) {}
    Dialect dialect() const override { return Dialect::postgres; }
    [[nodiscard]] Result<SqlTable> query(const SqlQuery& q) override;
    /// Runs the statement prepared on the connection as `name` (pipeline mode only).
    [[nodiscard]] Result<SqlTable> prepared(const char* name, const PgParams& params);

private:
    /// Reads the answer of the statement `sent` queued (pipeline mode), after a sync.
    Result<SqlTable> round_trip(Result<void> sent);

    PgConnection& conn_;
    bool pipeline_;
    std::chrono::milliseconds timeout_;
};

}  // namespace voicegate::store
