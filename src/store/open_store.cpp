#include "store/open_store.hpp"

#include "store/migrations.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"

namespace voicegate::store {
namespace {

constexpr std::string_view kAccepted =
    "use sqlite:PATH, sqlite://PATH, sqlite::memory: or postgres://... / postgresql://...";

Failure postgres_not_built() {
    return fail(Error::store_unavailable,
                "PostgreSQL storage is not built yet (issue 3); use sqlite:PATH");
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<DatabaseTarget> parse_database_url(std::string_view url) {
    DatabaseTarget t;
    if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
        t.engine = DatabaseTarget::Engine::postgres;
        t.location = std::string(url);
        return t;
    }
    if (url == "sqlite::memory:") {
        t.location = ":memory:";
        return t;
    }
    std::string_view path;
    if (starts_with(url, "sqlite://")) {
        path = url.substr(9);
    } else if (starts_with(url, "sqlite:")) {
        path = url.substr(7);
    } else {
        return fail(Error::bad_request,
                    "DATABASE_URL is not a supported database URL; " + std::string(kAccepted));
    }
    if (path.empty()) {
        return fail(Error::bad_request,
                    "DATABASE_URL names no SQLite file; " + std::string(kAccepted));
    }
    t.location = std::string(path);
    return t;
}

Result<std::unique_ptr<SessionStore>> open_store(const std::string& database_url,
                                                 const StoreOptions& options) {
    auto target = parse_database_url(database_url);
    if (!target) {
        return target.error();
    }
    if (target->engine == DatabaseTarget::Engine::postgres) {
        return postgres_not_built();
    }
    SqliteOptions o;
    o.path = target->location;
    o.synchronous = options.synchronous;
    o.batch_max = options.batch_max;
    o.busy_timeout_ms = options.busy_timeout_ms;
    o.clock = options.clock;
    auto store = SqliteStore::open(std::move(o));
    if (!store) {
        return store.error();
    }
    return std::unique_ptr<SessionStore>(std::move(*store));
}

Result<std::string> migrate_database(const std::string& database_url, const Clock* clock) {
    auto target = parse_database_url(database_url);
    if (!target) {
        return target.error();
    }
    if (target->engine == DatabaseTarget::Engine::postgres) {
        return postgres_not_built();
    }
    SqliteConnectionOptions o;
    o.path = target->location;
    auto conn = SqliteConnection::open(o);
    if (!conn) {
        return conn.error();
    }
    static const SystemClock kSystemClock;
    auto report = migrate(**conn, clock != nullptr ? *clock : kSystemClock);
    if (!report) {
        return report.error();
    }
    return describe(*report);
}

}  // namespace voicegate::store
