#include "store/migrations.hpp"

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "fakes/manual_clock.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"
#include "support/run_coro.hpp"
#include "support/temp_dir.hpp"

namespace voicegate::store {
namespace {

constexpr std::int64_t kNowMs = 1'700'000'000'123;

std::unique_ptr<SqliteConnection> connect(const std::string& path = ":memory:") {
    SqliteConnectionOptions o;
    o.path = path;
    auto c = SqliteConnection::open(o);
    EXPECT_TRUE(c) << (c ? "" : c.error().details);
    return c ? std::move(*c) : nullptr;
}

std::int64_t scalar(SqliteConnection& c, const std::string& sql) {
    auto r = c.query_ints(sql);
    EXPECT_TRUE(r) << (r ? "" : r.error().details);
    return r && !r->empty() ? r->front() : -1;
}

TEST(Migrations, VersionsAreOneTwoThreeInOrder) {
    int expected = 1;
    for (const auto& m : migrations()) {
        EXPECT_EQ(m.version, expected++);
        EXPECT_FALSE(m.description.empty());
    }
    EXPECT_EQ(latest_schema_version(), expected - 1);
}

TEST(Migrations, EmptyDatabaseIsVersionZero) {
    auto c = connect();
    auto v = current_schema_version(*c);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 0);
}

TEST(Migrations, MigrateAppliesEverythingOnceAndRecordsIt) {
    auto c = connect();
    test::ManualClock clock{kNowMs};
    auto first = migrate(*c, clock);
    ASSERT_TRUE(first) << first.error().details;
    EXPECT_EQ(first->from_version, 0);
    EXPECT_EQ(first->to_version, latest_schema_version());
    EXPECT_EQ(first->applied.size(), migrations().size());
    EXPECT_EQ(describe(*first), "schema at version 5 (applied 5 migrations: 1 2 3 4 5)");
    EXPECT_EQ(scalar(*c, "SELECT applied_at_ms FROM schema_migrations WHERE version = 1"), kNowMs);

    auto second = migrate(*c, clock);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->from_version, latest_schema_version());
    EXPECT_TRUE(second->applied.empty());
    EXPECT_EQ(describe(*second), "schema at version 5 (up to date)");
    EXPECT_EQ(scalar(*c, "SELECT COUNT(*) FROM schema_migrations"), 5);
    auto v = current_schema_version(*c);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 5);
}

TEST(Migrations, VersionFourCountsTheRefusalsLoggedAsEventsBefore) {
    // A database at version 3, when every refusal was a token_denied event.
    auto c = connect();
    ASSERT_TRUE(c->exec_script(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT "
        "NULL)"));
    for (const auto& m : migrations()) {
        if (m.version <= 3) {
            ASSERT_TRUE(c->exec_script(render_migration(m, Dialect::sqlite)));
            ASSERT_TRUE(c->exec_script("INSERT INTO schema_migrations VALUES (" +
                                       std::to_string(m.version) + ", 1)"));
        }
    }
    const std::int64_t minute = kNowMs / 60'000;
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(
            c->exec_script("INSERT INTO events (at_ms, type, user_id, client_ip, reason) VALUES (" +
                           std::to_string(minute * 60'000 + i * 20'000) +
                           ", 'token_denied', 'u', '192.0.2.1', 'rate_limited')"));
    }
    ASSERT_TRUE(
        c->exec_script("INSERT INTO events (at_ms, type, user_id) VALUES (1, 'token_issued', 'u'); "
                       "INSERT INTO events (at_ms, type) VALUES (2, 'token_denied')"));
    test::ManualClock clock{kNowMs};
    auto report = migrate(*c, clock);
    ASSERT_TRUE(report) << report.error().details;
    EXPECT_EQ(report->applied, (std::vector<int>{4, 5}));
    EXPECT_EQ(
        scalar(*c, "SELECT n FROM denials_by_minute WHERE minute = " + std::to_string(minute) +
                       " AND user_id = 'u' AND client_ip = '192.0.2.1' AND reason = "
                       "'rate_limited'"),
        3);
    EXPECT_EQ(
        scalar(*c, "SELECT n FROM denials_by_minute WHERE minute = " + std::to_string(minute + 1)),
        2);
    EXPECT_EQ(scalar(*c,
                     "SELECT n FROM denials_by_minute WHERE minute = 0 AND user_id = '' "
                     "AND client_ip = '' AND reason = ''"),
              1);
    EXPECT_EQ(scalar(*c, "SELECT SUM(n) FROM denials_by_minute"), 6);
}

TEST(Migrations, VersionFiveGivesOldSessionsAndRollupsTheCallColumns) {
    // A database at version 4 with an ended session and its rollup row.
    test::TempDir dir;
    const auto path = dir.file("v4.db");
    {
        auto c = connect(path);
        ASSERT_TRUE(c->exec_script(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms BIGINT "
            "NOT NULL)"));
        for (const auto& m : migrations()) {
            if (m.version <= 4) {
                ASSERT_TRUE(c->exec_script(render_migration(m, Dialect::sqlite)));
                ASSERT_TRUE(c->exec_script("INSERT INTO schema_migrations VALUES (" +
                                           std::to_string(m.version) + ", 1)"));
            }
        }
        ASSERT_TRUE(c->exec_script(
            "INSERT INTO sessions (session_id, user_id, model, issued_at_ms, status, "
            "ended_at_ms, reported_duration_s, observed_duration_s, message_count, ended_by) "
            "VALUES ('sess_old', 'u', 'm', 1000, 'ended', 61000, 60, 60, 3, 'user'); "
            "INSERT INTO sessions (session_id, user_id, model, issued_at_ms) VALUES "
            "('sess_open', 'u', 'm', 2000); "
            "INSERT INTO usage_daily (day, user_id, model, sessions, ended, billable_ms) "
            "VALUES (0, 'u', 'm', 2, 1, 60000); "
            "INSERT INTO usage_daily_model (day, model, shard, sessions, ended, billable_ms) "
            "VALUES (0, 'm', 0, 2, 1, 60000)"));
        test::ManualClock clock{kNowMs};
        auto report = migrate(*c, clock);
        ASSERT_TRUE(report) << report.error().details;
        EXPECT_EQ(report->applied, std::vector<int>{5});
        EXPECT_EQ(scalar(*c,
                         "SELECT COUNT(*) FROM sessions WHERE call_state IS NULL AND "
                         "flow = 'token' AND true_cost_usd = 0 AND responses = 0"),
                  2);
        EXPECT_EQ(scalar(*c, "SELECT billable_ms + true_output_audio_tokens FROM usage_daily"),
                  60000);
        EXPECT_EQ(scalar(*c,
                         "SELECT billable_ms + true_input_text_tokens + true_cost_usd "
                         "FROM usage_daily_model"),
                  60000);
        EXPECT_EQ(scalar(*c,
                         "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
                         "name = 'sessions_live_calls'"),
                  1);
    }
    // The migrated database works with the store: the old open session can become a call.
    SqliteOptions o;
    o.path = path;
    auto store = SqliteStore::open(std::move(o));
    ASSERT_TRUE(store) << store.error().details;
    boost::asio::io_context io;
    AttachRequest a;
    a.session_id = "sess_open";
    a.caller_user_id = "u";
    a.call_id = "rtc_1";
    a.at_ms = 3000;
    auto attached = test::run_coro(io, (*store)->attach_call(a));
    ASSERT_TRUE(attached) << attached.error().details;
    auto old = test::run_coro(io, (*store)->get_session("sess_old"));
    ASSERT_TRUE(old && *old);
    EXPECT_FALSE((*old)->call);
    EXPECT_EQ((*old)->ended_by, "user");
    UsageQuery q;
    q.from_day = q.to_day = 0;
    auto usage = test::run_coro(io, (*store)->usage(q));
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->totals.billable_ms, 60000);
    EXPECT_EQ(usage->totals.true_tokens, TokenUsage{});
    (*store)->close();
}

TEST(Migrations, SchemaHasTheSpecTablesColumnsAndIndexes) {
    auto c = connect();
    test::ManualClock clock{kNowMs};
    ASSERT_TRUE(migrate(*c, clock));
    for (const char* col : {"session_id",
                            "user_id",
                            "model",
                            "voice",
                            "profile",
                            "issued_at_ms",
                            "token_expires_at",
                            "client_ip",
                            "user_agent",
                            "status",
                            "ended_at_ms",
                            "reported_duration_s",
                            "observed_duration_s",
                            "message_count",
                            "ended_by",
                            "call_id",
                            "input_text_tokens",
                            "input_audio_tokens",
                            "input_image_tokens",
                            "cached_text_tokens",
                            "cached_audio_tokens",
                            "cached_image_tokens",
                            "output_text_tokens",
                            "output_audio_tokens",
                            "estimated_cost_usd",
                            "quota_reserved_ms"}) {
        EXPECT_EQ(scalar(*c, std::string("SELECT COUNT(*) FROM pragma_table_info('sessions') "
                                         "WHERE name = '") +
                                 col + "'"),
                  1)
            << col;
    }
    for (const char* col :
         {"id", "at_ms", "type", "session_id", "user_id", "client_ip", "reason", "detail"}) {
        EXPECT_EQ(scalar(*c, std::string("SELECT COUNT(*) FROM pragma_table_info('events') "
                                         "WHERE name = '") +
                                 col + "'"),
                  1)
            << col;
    }
    for (const char* index : {"sessions_user_issued", "sessions_issued", "events_at",
                              "events_type_at", "sqlite_autoindex_quota_usage_1"}) {
        EXPECT_EQ(scalar(*c, std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                         "'index' AND name = '") +
                                 index + "'"),
                  1)
            << index;
    }
    // quota_slots is clustered on (user, release minute): no rowid, no second index.
    EXPECT_EQ(scalar(*c,
                     "SELECT COUNT(*) FROM pragma_index_list('quota_slots') "
                     "WHERE origin = 'pk'"),
              1);
    EXPECT_EQ(scalar(*c,
                     "SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'quota_slots' "
                     "AND sql LIKE '%WITHOUT ROWID%'"),
              1);
    // events.id auto-increments (rowid alias on SQLite).
    ASSERT_TRUE(
        c->exec_script("INSERT INTO events (at_ms, type) VALUES (1, 'a');"
                       "INSERT INTO events (at_ms, type) VALUES (2, 'b')"));
    EXPECT_EQ(scalar(*c, "SELECT id FROM events WHERE type = 'b'"), 2);
    // status is constrained.
    EXPECT_FALSE(
        c->exec_script("INSERT INTO sessions (session_id, user_id, issued_at_ms, status) VALUES "
                       "('s', 'u', 1, 'x')"));
}

TEST(Migrations, SharedDdlRendersPerDialectWithoutSqliteOnlySyntax) {
    for (const auto& m : migrations()) {
        const auto pg = render_migration(m, Dialect::postgres);
        const auto lite = render_migration(m, Dialect::sqlite);
        EXPECT_EQ(pg.find("${"), std::string::npos);
        EXPECT_EQ(lite.find("${"), std::string::npos);
        for (const char* sqlite_only : {"AUTOINCREMENT", "INTEGER PRIMARY KEY", "WITHOUT ROWID",
                                        "PRAGMA", " REAL", "INSERT OR", "IF NOT EXISTS"}) {
            EXPECT_EQ(pg.find(sqlite_only), std::string::npos) << sqlite_only;
        }
        if (m.version == 1) {
            EXPECT_NE(pg.find("id         BIGSERIAL PRIMARY KEY"), std::string::npos);
            EXPECT_NE(lite.find("id         INTEGER PRIMARY KEY"), std::string::npos);
        }
    }
}

TEST(Migrations, FailedMigrationIsRolledBackWhole) {
    auto c = connect();
    // A clashing table makes migration 1 fail half-way (after nothing, or after `sessions`).
    ASSERT_TRUE(c->exec_script("CREATE TABLE events (x INTEGER)"));
    test::ManualClock clock{kNowMs};
    auto r = migrate(*c, clock);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::store_unavailable);
    EXPECT_NE(r.error().details.find("migration 1"), std::string::npos) << r.error().details;
    EXPECT_EQ(scalar(*c, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sessions'"), 0);
    EXPECT_EQ(scalar(*c, "SELECT COUNT(*) FROM schema_migrations"), 0);
    auto v = current_schema_version(*c);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 0);
}

TEST(Migrations, NewerDatabaseIsRefused) {
    auto c = connect();
    test::ManualClock clock{kNowMs};
    ASSERT_TRUE(migrate(*c, clock));
    ASSERT_TRUE(c->exec_script("INSERT INTO schema_migrations VALUES (99, 0)"));
    auto r = migrate(*c, clock);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::store_unavailable);
    EXPECT_NE(r.error().public_message().find("newer"), std::string_view::npos);
}

TEST(Migrations, TwoConnectionsToOneFileApplyEachVersionOnce) {
    test::TempDir dir;
    const auto path = dir.file("m.db");
    auto a = connect(path);
    auto b = connect(path);
    test::ManualClock clock{kNowMs};
    auto ra = migrate(*a, clock);
    auto rb = migrate(*b, clock);
    ASSERT_TRUE(ra);
    ASSERT_TRUE(rb);
    EXPECT_EQ(ra->applied.size(), migrations().size());
    EXPECT_TRUE(rb->applied.empty());
    EXPECT_EQ(scalar(*b, "SELECT COUNT(*) FROM schema_migrations"), latest_schema_version());
}

}  // namespace
}  // namespace voicegate::store
