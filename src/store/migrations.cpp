#include "store/migrations.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "store/rollup.hpp"

namespace voicegate::store {
namespace {

// Version 1: sessions and the append-only audit log (SPEC §5). Portable SQL only; the one
// dialect difference (the events id column) is the ${serial_pk} placeholder.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE sessions (
    session_id          TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL,
    model               TEXT NOT NULL DEFAULT '',
    voice               TEXT NOT NULL DEFAULT '',
    profile             TEXT NOT NULL DEFAULT '',
    issued_at_ms        BIGINT NOT NULL,
    token_expires_at    BIGINT NOT NULL DEFAULT 0,
    client_ip           TEXT NOT NULL DEFAULT '',
    user_agent          TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'ended')),
    ended_at_ms         BIGINT,
    reported_duration_s DOUBLE PRECISION,
    observed_duration_s DOUBLE PRECISION,
    message_count       BIGINT,
    ended_by            TEXT,
    call_id             TEXT,
    input_text_tokens   BIGINT NOT NULL DEFAULT 0,
    input_audio_tokens  BIGINT NOT NULL DEFAULT 0,
    input_image_tokens  BIGINT NOT NULL DEFAULT 0,
    cached_text_tokens  BIGINT NOT NULL DEFAULT 0,
    cached_audio_tokens BIGINT NOT NULL DEFAULT 0,
    cached_image_tokens BIGINT NOT NULL DEFAULT 0,
    output_text_tokens  BIGINT NOT NULL DEFAULT 0,
    output_audio_tokens BIGINT NOT NULL DEFAULT 0,
    estimated_cost_usd  DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user_issued ON sessions (user_id, issued_at_ms);
CREATE INDEX sessions_issued ON sessions (issued_at_ms);
CREATE TABLE events (
    id         ${serial_pk},
    at_ms      BIGINT NOT NULL,
    type       TEXT NOT NULL,
    session_id TEXT,
    user_id    TEXT,
    client_ip  TEXT,
    reason     TEXT,
    detail     TEXT
);
CREATE INDEX events_at ON events (at_ms);
CREATE INDEX events_type_at ON events (type, at_ms);
)sql";

// Version 2: per-user quota bookkeeping (SPEC §4), kept so that deciding costs O(1) per token
// rather than a scan of the user's sessions. `quota_usage` holds each user's sessions and
// charged ms per UTC day (days since the epoch). `quota_slots` counts each user's concurrent
// slots by the whole minute at which they are released (a session's reservation expiry rounded
// up to the minute, store/quota.hpp): a user has at most one row per minute of the reservation,
// a decision sums them, and the rows are small and few, so bookkeeping touches a handful of
// pages per group commit. (One row per open session, keyed by its random id, cost a random page
// per write and halved the store's throughput.)
// `sessions.quota_reserved_ms` is what the session reserved (NULL: issued without quotas), so
// settling at /end is exact even if the configuration changed in between.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE sessions ADD COLUMN quota_reserved_ms BIGINT;
CREATE TABLE quota_usage (
    user_id    TEXT NOT NULL,
    day        BIGINT NOT NULL,
    sessions   BIGINT NOT NULL DEFAULT 0,
    charged_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
CREATE TABLE quota_slots (
    user_id       TEXT NOT NULL,
    release_at_ms BIGINT NOT NULL,
    n             BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, release_at_ms)
)${without_rowid};
)sql";

// Version 3: daily rollups (SPEC §5), kept current by every write in its own transaction so
// that usage reads never scan `sessions`. `usage_daily` is day x user x model; the small
// `usage_daily_model` (day x model, one row per writer `shard` so that concurrent PostgreSQL
// writers do not queue on one hot row) answers the per-day and per-model views; the narrow
// `usage_daily_user` (day x user, billable ms) ranks users (grouping a month of it is a third
// of the work of grouping usage_daily);
// `denials_daily` counts token_denied events per day x user x reason. Days are days since the
// epoch (UTC). A session counts on its day of issue, its end too. The primary keys start with
// the day so a date range is one contiguous scan. Existing data is backfilled.
const std::string& v3_sql() {
    static const std::string kSql = [] {
        std::string counters;
        for (std::size_t i = 0; i < kV3UsageColumns; ++i) {
            const auto c = usage_columns()[i];
            counters += std::string(",\n    ") + std::string(c) +
                        (is_money_column(c) ? " DOUBLE PRECISION NOT NULL DEFAULT 0"
                                            : " BIGINT NOT NULL DEFAULT 0");
        }
        std::string sql =
            "CREATE TABLE usage_daily (\n    day BIGINT NOT NULL,\n    user_id TEXT NOT NULL,\n"
            "    model TEXT NOT NULL";
        sql += counters;
        sql +=
            ",\n    PRIMARY KEY (day, user_id, model)\n)${without_rowid};\n"
            "CREATE INDEX usage_daily_by_user ON usage_daily (user_id, day);\n"
            "CREATE TABLE usage_daily_model (\n    day BIGINT NOT NULL,\n"
            "    model TEXT NOT NULL,\n    shard BIGINT NOT NULL DEFAULT 0";
        sql += counters;
        sql +=
            ",\n    PRIMARY KEY (day, model, shard)\n)${without_rowid};\n"
            "CREATE TABLE usage_daily_user (\n    day BIGINT NOT NULL,\n"
            "    user_id TEXT NOT NULL,\n    billable_ms BIGINT NOT NULL DEFAULT 0,\n"
            "    PRIMARY KEY (day, user_id)\n)${without_rowid};\n"
            "CREATE TABLE denials_daily (\n    day BIGINT NOT NULL,\n    user_id TEXT NOT NULL,\n"
            "    reason TEXT NOT NULL,\n    n BIGINT NOT NULL DEFAULT 0,\n"
            "    PRIMARY KEY (day, user_id, reason)\n)${without_rowid};\n";
        for (const auto& st : rollup_rebuild_statements(false)) {
            sql += st + ";\n";
        }
        // Until version 4 every refusal was an event: the daily denial counts came from them.
        sql +=
            "INSERT INTO denials_daily (day, user_id, reason, n) SELECT at_ms / 86400000, "
            "COALESCE(user_id, ''), COALESCE(reason, ''), COUNT(*) FROM events "
            "WHERE type = 'token_denied' GROUP BY at_ms / 86400000, COALESCE(user_id, ''), "
            "COALESCE(reason, '');\n";
        return sql;
    }();
    return kSql;
}

// Version 4: refusals are counted, not each written (store/audit.hpp). `denials_by_minute`
// holds the exact count per minute (since the epoch, UTC), user, client IP and reason; the
// token handler's refusals are summed in memory and added to it and to `denials_daily` about
// once a second, while `events` keeps a bounded sample of them. The refusals logged as events
// before this version are counted in as well. Old rows are pruned by minute (the key's first
// column), and events by at_ms (index events_at).
constexpr std::string_view kV4 = R"sql(
CREATE TABLE denials_by_minute (
    minute    BIGINT NOT NULL,
    user_id   TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    reason    TEXT NOT NULL,
    n         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, user_id, client_ip, reason)
)${without_rowid};
INSERT INTO denials_by_minute (minute, user_id, client_ip, reason, n)
SELECT at_ms / 60000, COALESCE(user_id, ''), COALESCE(client_ip, ''), COALESCE(reason, ''),
       COUNT(*)
FROM events WHERE type = 'token_denied'
GROUP BY at_ms / 60000, COALESCE(user_id, ''), COALESCE(client_ip, ''), COALESCE(reason, '');
)sql";

// Version 5: server-side call control (SPEC §7). A session becomes a supervised call when the
// relay creates it or the app attaches one: `call_id` (the upstream's, a secret kept
// server-side; the column exists since version 1), `flow` (token | relay), `call_state` (NULL:
// no call; live; ended: the server recorded the end), the call's start and time cap, the lease
// of the instance supervising it (`lease_owner`, `lease_expires_at_ms`), and the true usage the
// supervisor summed from the sideband beside the client's figures (`usage_at_ms`: its last
// checkpoint). `sessions_live_calls` serves the lease claims (every live call, a few thousand)
// and a user's live calls (the quota hang-up). The rollups gain the true usage of ended calls.
const std::string& v5_sql() {
    static const std::string kSql = [] {
        std::string sql =
            "ALTER TABLE sessions ADD COLUMN flow TEXT NOT NULL DEFAULT 'token';\n"
            "ALTER TABLE sessions ADD COLUMN call_state TEXT;\n"
            "ALTER TABLE sessions ADD COLUMN call_started_at_ms BIGINT;\n"
            "ALTER TABLE sessions ADD COLUMN cap_ms BIGINT;\n"
            "ALTER TABLE sessions ADD COLUMN lease_owner TEXT;\n"
            "ALTER TABLE sessions ADD COLUMN lease_expires_at_ms BIGINT;\n"
            "ALTER TABLE sessions ADD COLUMN usage_at_ms BIGINT;\n";
        std::string rollups;
        for (std::size_t i = kV3UsageColumns; i < usage_columns().size(); ++i) {
            const std::string c(usage_columns()[i]);
            const std::string type = is_money_column(c) ? " DOUBLE PRECISION NOT NULL DEFAULT 0"
                                                        : " BIGINT NOT NULL DEFAULT 0";
            sql += "ALTER TABLE sessions ADD COLUMN " + c + type + ";\n";
            rollups += "ALTER TABLE usage_daily ADD COLUMN " + c + type + ";\n";
            rollups += "ALTER TABLE usage_daily_model ADD COLUMN " + c + type + ";\n";
        }
        sql +=
            "ALTER TABLE sessions ADD COLUMN transcription_in_tokens BIGINT NOT NULL DEFAULT 0;\n"
            "ALTER TABLE sessions ADD COLUMN transcription_out_tokens BIGINT NOT NULL DEFAULT 0;\n"
            "ALTER TABLE sessions ADD COLUMN transcription_seconds DOUBLE PRECISION NOT NULL "
            "DEFAULT 0;\n"
            "ALTER TABLE sessions ADD COLUMN responses BIGINT NOT NULL DEFAULT 0;\n"
            "CREATE INDEX sessions_live_calls ON sessions (user_id, lease_expires_at_ms) "
            "WHERE call_state = 'live';\n";
        return sql + rollups;
    }();
    return kSql;
}

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)";

std::string_view serial_pk(Dialect d) {
    // SQLite: INTEGER PRIMARY KEY aliases the 64-bit rowid (auto-assigned). PostgreSQL: BIGSERIAL.
    return d == Dialect::sqlite ? "INTEGER PRIMARY KEY" : "BIGSERIAL PRIMARY KEY";
}

std::string_view begin_locked(Dialect d) {
    // Both take the write lock up front, so a concurrent migrator waits instead of racing.
    return d == Dialect::sqlite ? "BEGIN IMMEDIATE"
                                : "BEGIN; LOCK TABLE schema_migrations IN EXCLUSIVE MODE";
}

std::string_view table_exists_query(Dialect d) {
    return d == Dialect::sqlite
               ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                 "AND name = 'schema_migrations'"
               : "SELECT COUNT(*) FROM information_schema.tables "
                 "WHERE table_schema = current_schema() AND table_name = 'schema_migrations'";
}

Failure with_context(Failure f, std::string_view context) {
    f.code = Error::store_unavailable;
    f.message.clear();
    f.details = std::string(context) + (f.details.empty() ? "" : ": ") + f.details;
    return f;
}

}  // namespace

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> kAll{
        {1, "sessions and events", kV1},
        {2, "quota bookkeeping", kV2},
        {3, "daily usage rollups", v3_sql()},
        {4, "denial counts per minute", kV4},
        {5, "supervised calls: leases and true usage", v5_sql()},
    };
    return kAll;
}

int latest_schema_version() {
    return migrations().back().version;
}

std::string render_migration(const Migration& migration, Dialect dialect) {
    // The dialect differences, as placeholders in otherwise portable SQL.
    const std::array<std::pair<std::string_view, std::string_view>, 2> kPlaceholders{{
        {"${serial_pk}", serial_pk(dialect)},
        {"${without_rowid}", dialect == Dialect::sqlite ? " WITHOUT ROWID" : ""},
    }};
    std::string out(migration.sql);
    for (const auto& [placeholder, with] : kPlaceholders) {
        for (auto pos = out.find(placeholder); pos != std::string::npos;
             pos = out.find(placeholder, pos)) {
            out.replace(pos, placeholder.size(), with);
            pos += with.size();
        }
    }
    return out;
}

std::string describe(const MigrationReport& report) {
    // Built with append(): GCC 12 -O3 gives a false -Wstringop-overflow on `" " + to_string()`.
    std::string out = "schema at version ";
    out.append(std::to_string(report.to_version));
    if (report.applied.empty()) {
        out.append(" (up to date)");
        return out;
    }
    out.append(" (applied ").append(std::to_string(report.applied.size()));
    out.append(report.applied.size() == 1 ? " migration:" : " migrations:");
    for (const int v : report.applied) {
        out.append(" ").append(std::to_string(v));
    }
    out.append(")");
    return out;
}

Result<int> current_schema_version(MigrationConnection& conn) {
    auto exists = conn.query_ints(table_exists_query(conn.dialect()));
    if (!exists) {
        return with_context(exists.error(), "reading schema version");
    }
    if (exists->empty() || exists->front() == 0) {
        return 0;
    }
    auto max = conn.query_ints("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!max) {
        return with_context(max.error(), "reading schema version");
    }
    return max->empty() ? 0 : static_cast<int>(max->front());
}

Result<MigrationReport> migrate(MigrationConnection& conn, const Clock& clock) {
    MigrationReport report;
    auto from = current_schema_version(conn);
    if (!from) {
        return from.error();
    }
    report.from_version = *from;
    report.to_version = *from;
    if (*from > latest_schema_version()) {
        return fail(Error::store_unavailable,
                    "The database schema is newer than this build of voicegate.",
                    "schema version " + std::to_string(*from) + " > supported " +
                        std::to_string(latest_schema_version()));
    }
    if (auto r = conn.exec_script(kCreateMigrationsTable); !r) {
        return with_context(r.error(), "creating schema_migrations");
    }
    for (const auto& m : migrations()) {
        if (m.version <= report.to_version) {
            continue;
        }
        const std::string context =
            "migration " + std::to_string(m.version) + " (" + std::string(m.description) + ")";
        if (auto r = conn.exec_script(begin_locked(conn.dialect())); !r) {
            return with_context(r.error(), context + ": begin");
        }
        // Re-check under the lock: another process may have applied it meanwhile.
        auto done = conn.query_ints("SELECT COUNT(*) FROM schema_migrations WHERE version = " +
                                    std::to_string(m.version));
        Result<void> step = done ? Result<void>() : Result<void>(done.error());
        const bool already = done && !done->empty() && done->front() > 0;
        if (step && !already) {
            step = conn.exec_script(render_migration(m, conn.dialect()));
            if (step) {
                step = conn.exec_script(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (" +
                    std::to_string(m.version) + ", " + std::to_string(clock.now_ms()) + ")");
            }
        }
        if (!step) {
            (void)conn.exec_script("ROLLBACK");
            return with_context(step.error(), context);
        }
        if (auto r = conn.exec_script("COMMIT"); !r) {
            (void)conn.exec_script("ROLLBACK");
            return with_context(r.error(), context + ": commit");
        }
        if (!already) {
            report.applied.push_back(m.version);
        }
        report.to_version = m.version;
    }
    return report;
}

}  // namespace voicegate::store
