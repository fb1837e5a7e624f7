#include "store/open_store.hpp"

#include "core/text.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"

#ifdef VOICEGATE_WITH_POSTGRES
#include "store/pg_store.hpp"
#endif

namespace voicegate::store {
namespace {

constexpr std::string_view kAccepted =
    "use sqlite:PATH, sqlite://PATH, sqlite::memory: or postgres://... / postgresql://...";

#ifndef VOICEGATE_WITH_POSTGRES
Failure postgres_not_built() {
    return fail(Error::store_unavailable,
                "this voicegate was built without PostgreSQL support "
                "(VOICEGATE_WITH_POSTGRES=OFF); use sqlite:PATH");
}
#endif

}  // namespace

Result<DatabaseTarget> parse_database_url(std::string_view url) {
    DatabaseTarget t;
    if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        t.engine = DatabaseTarget::Engine::postgres;
        t.location = std::string(url);
        return t;
    }
    if (url == "sqlite::memory:") {
        t.location = ":memory:";
        return t;
    }
    std::string_view path;
    if (url.starts_with("sqlite://")) {
        path = url.substr(9);
    } else if (url.starts_with("sqlite:")) {
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

std::string redact_database_url(std::string_view url) {
    return redact_url_userinfo(url);
}

Result<std::unique_ptr<SessionStore>> open_store(const std::string& database_url,
                                                 const StoreOptions& options) {
    auto target = parse_database_url(database_url);
    if (!target) {
        return target.error();
    }
    if (target->engine == DatabaseTarget::Engine::postgres) {
#ifdef VOICEGATE_WITH_POSTGRES
        PgOptions o;
        o.url = target->location;
        o.common = options;
        auto store = PgStore::open(std::move(o));
        if (!store) {
            return store.error();
        }
        return std::unique_ptr<SessionStore>(std::move(*store));
#else
        return postgres_not_built();
#endif
    }
    SqliteOptions o;
    o.path = target->location;
    o.common = options;
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
    const Clock& use_clock = clock != nullptr ? *clock : system_clock();
    if (target->engine == DatabaseTarget::Engine::postgres) {
#ifdef VOICEGATE_WITH_POSTGRES
        auto report = PgStore::migrate(target->location, use_clock);
        if (!report) {
            return report.error();
        }
        return describe(*report);
#else
        return postgres_not_built();
#endif
    }
    SqliteConnectionOptions o;
    o.path = target->location;
    auto conn = SqliteConnection::open(o);
    if (!conn) {
        return conn.error();
    }
    auto report = migrate(**conn, use_clock);
    if (!report) {
        return report.error();
    }
    return describe(*report);
}

namespace {

/// Runs `fn` on a synchronous SqlExec over a fresh connection to `database_url`.
template <class T, class Fn>
Result<T> with_exec(const std::string& database_url, Fn fn) {
    auto target = parse_database_url(database_url);
    if (!target) {
        return target.error();
    }
    if (target->engine == DatabaseTarget::Engine::postgres) {
#ifdef VOICEGATE_WITH_POSTGRES
        auto pg = parse_pg_url(target->location);
        if (!pg) {
            return pg.error();
        }
        auto conn = PgConnection::connect(*pg);
        if (!conn) {
            return conn.error();
        }
        if (auto r = (*conn)->use_schema(pg->schema, false); !r) {
            return r.error();
        }
        PgExec exec(**conn, false, std::chrono::minutes(10));
        return fn(exec);
#else
        return postgres_not_built();
#endif
    }
    SqliteConnectionOptions o;
    o.path = target->location;
    auto conn = SqliteConnection::open(o);
    if (!conn) {
        return conn.error();
    }
    SqliteExec exec(**conn);
    return fn(exec);
}

}  // namespace

Result<RebuildReport> rebuild_database_rollups(const std::string& database_url) {
    return with_exec<RebuildReport>(database_url,
                                    [](SqlExec& db) { return rebuild_rollups(db, true); });
}

}  // namespace voicegate::store
