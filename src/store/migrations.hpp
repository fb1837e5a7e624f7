#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/dialect.hpp"

namespace voicegate::store {

/// One versioned schema step. `sql` is a script of `;`-separated statements that may contain
/// the placeholder `${serial_pk}` (an auto-incrementing 64-bit primary key column type).
struct Migration {
    int version = 0;
    std::string_view description;
    std::string_view sql;
};

/// Every migration this build knows, in ascending version order (versions are 1, 2, ...).
/// Pure; thread-safe.
const std::vector<Migration>& migrations();

/// The newest schema version this build knows. Pure; thread-safe.
int latest_schema_version();

/// `migration.sql` with the dialect placeholders filled in. Pure; thread-safe.
std::string render_migration(const Migration& migration, Dialect dialect);

/// The minimal synchronous connection the migration runner needs; implemented for SQLite by
/// SqliteConnection, and for PostgreSQL by PgConnection. Not thread-safe (one user at a time).
class MigrationConnection {
public:
    virtual ~MigrationConnection() = default;
    /// The dialect scripts are rendered for.
    virtual Dialect dialect() const = 0;
    /// Runs a script of one or more statements that return no rows.
    [[nodiscard]] virtual Result<void> exec_script(std::string_view sql) = 0;
    /// Runs one query and returns the first column of every row as integers (NULL -> 0).
    [[nodiscard]] virtual Result<std::vector<std::int64_t>> query_ints(std::string_view sql) = 0;
};

/// What migrate() did.
struct MigrationReport {
    int from_version = 0;      // schema version found (0: empty database)
    int to_version = 0;        // schema version afterwards
    std::vector<int> applied;  // versions applied by this call, in order
};

/// A one-line human summary, e.g. "schema at version 1 (applied 1 migration: 1)". Pure.
std::string describe(const MigrationReport& report);

/// The highest applied version in `schema_migrations`, or 0 when the table does not exist or is
/// empty. Not thread-safe with respect to `conn`.
[[nodiscard]] Result<int> current_schema_version(MigrationConnection& conn);

/// Brings the schema up to latest_schema_version(): creates `schema_migrations` if missing,
/// then applies each missing migration in its own transaction (taken with a write lock so two
/// processes migrating at once apply each version once) and records it with `clock`'s time.
/// Fails with store_unavailable when a script fails (that migration is rolled back) or when
/// the database is newer than this build. Idempotent; usable at start-up and by
/// `voicegate migrate`. Not thread-safe with respect to `conn`.
[[nodiscard]] Result<MigrationReport> migrate(MigrationConnection& conn, const Clock& clock);

}  // namespace voicegate::store
