#include "store/open_store.hpp"

#include <string>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/temp_dir.hpp"

#ifdef VOICEGATE_WITH_POSTGRES
#include "support/pg_test_db.hpp"
#endif

namespace voicegate::store {
namespace {

TEST(ParseDatabaseUrl, AcceptsTheSqliteForms) {
    auto a = parse_database_url("sqlite:voicegate.db");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->engine, DatabaseTarget::Engine::sqlite);
    EXPECT_EQ(a->location, "voicegate.db");

    auto b = parse_database_url("sqlite://data/v.db");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->location, "data/v.db");

    auto c = parse_database_url("sqlite:///var/lib/voicegate/v.db");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->location, "/var/lib/voicegate/v.db");

    auto d = parse_database_url("sqlite:/abs.db");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->location, "/abs.db");

    auto m = parse_database_url("sqlite::memory:");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->location, ":memory:");
}

TEST(ParseDatabaseUrl, RecognisesPostgres) {
    for (const char* url : {"postgres://u@h/db", "postgresql://u:p@h:5432/db?sslmode=require"}) {
        auto t = parse_database_url(url);
        ASSERT_TRUE(t) << url;
        EXPECT_EQ(t->engine, DatabaseTarget::Engine::postgres);
        EXPECT_EQ(t->location, url);
    }
}

TEST(ParseDatabaseUrl, RejectsOtherFormsNamingTheAcceptedOnes) {
    for (const char* url :
         {"", "voicegate.db", "mysql://h/db", "sqlite:", "sqlite://", "SQLITE:x"}) {
        auto t = parse_database_url(url);
        ASSERT_FALSE(t) << url;
        EXPECT_EQ(t.error().code, Error::bad_request);
        EXPECT_NE(t.error().message.find("sqlite:PATH"), std::string::npos) << t.error().message;
    }
}

TEST(RedactDatabaseUrl, HidesPasswordsOnly) {
    EXPECT_EQ(redact_database_url("postgres://vg:s3cr%40t@db.example.com:5432/app?sslmode=require"),
              "postgres://vg:***@db.example.com:5432/app?sslmode=require");
    EXPECT_EQ(redact_database_url("postgresql://vg@h/db?password=hunter2&sslmode=require"),
              "postgresql://vg@h/db?password=***&sslmode=require");
    EXPECT_EQ(redact_database_url("postgres://h/db?sslmode=require&password=x"),
              "postgres://h/db?sslmode=require&password=***");
    EXPECT_EQ(redact_database_url("postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(redact_database_url("sqlite:/var/lib/v.db"), "sqlite:/var/lib/v.db");
    EXPECT_EQ(redact_database_url("sqlite::memory:"), "sqlite::memory:");
}

#ifdef VOICEGATE_WITH_POSTGRES
TEST(OpenStore, OpensAndMigratesPostgres) {
    VOICEGATE_REQUIRE_PG();
    test::PgTestSchema schema;
    auto first = migrate_database(schema.url());
    ASSERT_TRUE(first) << first.error().details;
    EXPECT_EQ(*first, "schema at version 5 (applied 5 migrations: 1 2 3 4 5)");
    auto second = migrate_database(schema.url());
    ASSERT_TRUE(second) << second.error().details;
    EXPECT_EQ(*second, "schema at version 5 (up to date)");

    auto s = open_store(schema.url(), {});
    ASSERT_TRUE(s) << s.error().details;
    EXPECT_TRUE((*s)->ready());
    boost::asio::io_context io;
    SessionRecord r;
    r.session_id = "sess_1";
    r.user_id = "u";
    r.issued_at_ms = 1;
    EXPECT_TRUE(test::run_coro(io, (*s)->create_session(r)));
    (*s)->close();
    EXPECT_FALSE((*s)->ready());
}

TEST(OpenStore, UnreachablePostgresFailsCleanlyWithoutThePassword) {
    // Port 1 on loopback: connection refused at once.
    auto s = open_store("postgres://vg:topsecret@127.0.0.1:1/db?connect_timeout=2", {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Error::store_unavailable);
    EXPECT_EQ(s.error().details.find("topsecret"), std::string::npos) << s.error().details;
    auto bad = open_store("postgres://h/db?schema=no;drop", {});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Error::bad_request);
}
#endif

TEST(OpenStore, OpensSqliteInMemoryAndOnFile) {
    test::TempDir dir;
    for (const std::string& url : {std::string("sqlite::memory:"), "sqlite:" + dir.file("a.db"),
                                   "sqlite://" + dir.file("b.db")}) {
        StoreOptions o;
        o.synchronous = "normal";
        auto s = open_store(url, o);
        ASSERT_TRUE(s) << url << ": " << s.error().details;
        EXPECT_TRUE((*s)->ready());
        boost::asio::io_context io;
        SessionRecord r;
        r.session_id = "sess_1";
        r.user_id = "u";
        r.issued_at_ms = 1;
        EXPECT_TRUE(test::run_coro(io, (*s)->create_session(r))) << url;
        (*s)->close();
        EXPECT_FALSE((*s)->ready());
    }
}

TEST(OpenStore, BadOptionsAndUrlsFailCleanly) {
    StoreOptions o;
    o.synchronous = "off";
    EXPECT_FALSE(open_store("sqlite::memory:", o));
    EXPECT_FALSE(open_store("file.db", {}));
    auto missing_dir = open_store("sqlite:/nonexistent-voicegate-dir/x.db", {});
    ASSERT_FALSE(missing_dir);
    EXPECT_EQ(missing_dir.error().code, Error::store_unavailable);
}

TEST(MigrateDatabase, ReportsWhatItApplied) {
    test::TempDir dir;
    const std::string url = "sqlite:" + dir.file("m.db");
    auto first = migrate_database(url);
    ASSERT_TRUE(first) << first.error().details;
    EXPECT_EQ(*first, "schema at version 5 (applied 5 migrations: 1 2 3 4 5)");
    auto second = migrate_database(url);
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, "schema at version 5 (up to date)");
    // A store opened afterwards finds the schema ready.
    auto s = open_store(url, {});
    ASSERT_TRUE(s) << s.error().details;
}

}  // namespace
}  // namespace voicegate::store
