#include "store/open_store.hpp"

#include <string>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/temp_dir.hpp"

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

TEST(OpenStore, PostgresIsNotBuiltYet) {
    auto s = open_store("postgres://u@localhost/voicegate", {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message, "PostgreSQL storage is not built yet (issue 3); use sqlite:PATH");
    auto m = migrate_database("postgresql://u@localhost/voicegate");
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message, "PostgreSQL storage is not built yet (issue 3); use sqlite:PATH");
}

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
    EXPECT_EQ(*first, "schema at version 1 (applied 1 migration: 1)");
    auto second = migrate_database(url);
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, "schema at version 1 (up to date)");
    // A store opened afterwards finds the schema ready.
    auto s = open_store(url, {});
    ASSERT_TRUE(s) << s.error().details;
}

}  // namespace
}  // namespace voicegate::store
