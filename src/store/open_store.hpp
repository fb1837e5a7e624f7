#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/audit.hpp"
#include "store/rollup.hpp"
#include "store/session_store.hpp"
#include "store/store_options.hpp"

namespace voicegate::store {

/// Which engine a DATABASE_URL names, and where.
struct DatabaseTarget {
    enum class Engine { sqlite, postgres };
    Engine engine = Engine::sqlite;
    std::string location;  // SQLite: file path or ":memory:"; PostgreSQL: the URL itself
};

/// Parses a DATABASE_URL: `sqlite:PATH`, `sqlite://PATH` (so `sqlite:///abs/file.db` is an
/// absolute path), `sqlite::memory:`, or `postgres://...` / `postgresql://...`. Anything else
/// fails with bad_request naming the accepted forms. Pure; thread-safe.
[[nodiscard]] Result<DatabaseTarget> parse_database_url(std::string_view url);

/// `url` with its password (`user:PASSWORD@` and a `password=` parameter) replaced by `***`,
/// for logs and error messages. Pure; thread-safe.
std::string redact_database_url(std::string_view url);

/// Opens the store that `database_url` names and runs migrations: SqliteStore, or PgStore for
/// postgres:// URLs (see PgOptions for the URL; a build without VOICEGATE_WITH_POSTGRES fails
/// with a clear message). Thread-safe (no shared state).
[[nodiscard]] Result<std::unique_ptr<SessionStore>> open_store(const std::string& database_url,
                                                               const StoreOptions& options);

/// Runs the migrations on `database_url` (for `voicegate migrate`) and returns a one-line
/// summary such as "schema at version 1 (applied 1 migration: 1)". Blocking.
[[nodiscard]] Result<std::string> migrate_database(const std::string& database_url,
                                                   const Clock* clock = nullptr);

/// Recomputes the daily usage rollups of the (migrated) database from its sessions (the denial
/// counts are kept), in one transaction (`voicegate migrate --rebuild-rollups`). Blocking.
[[nodiscard]] Result<RebuildReport> rebuild_database_rollups(const std::string& database_url);

}  // namespace voicegate::store
