#pragma once

// PostgreSQL for tests: the server named by VOICEGATE_TEST_PG_URL (scripts/services.sh starts
// one; `make test` does so), and a throw-away schema per test. Without the variable the
// PostgreSQL tests FAIL with a clear message, unless VOICEGATE_ALLOW_NO_PG=1 lets them skip:
// in CI they must always run (STYLE §6.5).

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include <gtest/gtest.h>

#include <unistd.h>

namespace voicegate::test {

/// The test server's URL, or nullopt when VOICEGATE_TEST_PG_URL is unset or empty.
inline std::optional<std::string> pg_test_url() {
    const char* url = std::getenv("VOICEGATE_TEST_PG_URL");
    if (url == nullptr || *url == '\0') {
        return std::nullopt;
    }
    return std::string(url);
}

/// True when VOICEGATE_ALLOW_NO_PG=1: PostgreSQL tests may skip instead of failing.
inline bool pg_may_skip() {
    const char* allow = std::getenv("VOICEGATE_ALLOW_NO_PG");
    return allow != nullptr && std::string(allow) == "1";
}

/// Why a PostgreSQL test cannot run.
inline const char* pg_missing_message() {
    return "VOICEGATE_TEST_PG_URL is not set, so the PostgreSQL store cannot be tested. Run "
           "`make test` (it starts a throw-away PostgreSQL), or `eval \"$(scripts/services.sh "
           "start)\"` before running the tests; set VOICEGATE_ALLOW_NO_PG=1 to skip these tests "
           "on purpose.";
}

/// In a test body or SetUp: fails (or, with VOICEGATE_ALLOW_NO_PG=1, skips) the test when no
/// PostgreSQL test server is configured.
#define VOICEGATE_REQUIRE_PG()                                           \
    do {                                                                 \
        if (!::voicegate::test::pg_test_url()) {                         \
            if (::voicegate::test::pg_may_skip()) {                      \
                GTEST_SKIP() << ::voicegate::test::pg_missing_message(); \
            }                                                            \
            FAIL() << ::voicegate::test::pg_missing_message();           \
        }                                                                \
    } while (0)

/// `url` with one more query parameter `param` (`key=value`).
inline std::string pg_url_with(const std::string& url, const std::string& param) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

/// An independent libpq connection (not the store's code), for checking what is committed and
/// for administration. Not thread-safe.
class PgAdmin {
public:
    /// Connects to `url` (a plain libpq URL); check ok().
    explicit PgAdmin(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
        // Quiet: DROP SCHEMA ... CASCADE would print a NOTICE per test.
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr);
    }
    ~PgAdmin() { PQfinish(conn_); }
    PgAdmin(const PgAdmin&) = delete;
    PgAdmin& operator=(const PgAdmin&) = delete;

    /// True when connected.
    bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
    /// The last error text.
    std::string error() const { return PQerrorMessage(conn_); }

    /// Runs `sql`; the first column of each row as text; nullopt (and error()) on failure.
    std::optional<std::vector<std::string>> query(const std::string& sql) {
        PGresult* r = PQexec(conn_, sql.c_str());
        const auto st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            last_error_ = PQresultErrorMessage(r);
            PQclear(r);
            return std::nullopt;
        }
        std::vector<std::string> out;
        for (int i = 0; i < PQntuples(r); ++i) {
            out.emplace_back(PQgetvalue(r, i, 0));
        }
        PQclear(r);
        return out;
    }
    /// Runs `sql` and returns the first column of the first row as an integer (-1 on failure).
    std::int64_t scalar(const std::string& sql) {
        auto rows = query(sql);
        if (!rows || rows->empty()) {
            return -1;
        }
        return std::stoll(rows->front());
    }
    /// The error of the last failed query().
    const std::string& last_error() const { return last_error_; }

private:
    PGconn* conn_;
    std::string last_error_;
};

/// A fresh schema name on the test server, `vg_test_<pid>_<random>`, dropped with everything
/// in it on destruction. The schema itself is created by whoever opens a store on url().
class PgTestSchema {
public:
    /// Requires pg_test_url().
    PgTestSchema() : base_(pg_test_url().value_or("")) {
        std::random_device rd;
        name_ = "vg_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000);
    }
    ~PgTestSchema() {
        PgAdmin admin(base_);
        if (admin.ok()) {
            (void)admin.query("DROP SCHEMA IF EXISTS \"" + name_ + "\" CASCADE");
        }
    }
    PgTestSchema(const PgTestSchema&) = delete;
    PgTestSchema& operator=(const PgTestSchema&) = delete;

    /// The schema's name.
    const std::string& name() const { return name_; }
    /// The server's URL without a schema.
    const std::string& base_url() const { return base_; }
    /// The store URL: the server's URL with `schema=<name>`.
    std::string url() const { return pg_url_with(base_, "schema=" + name_); }
    /// `table` qualified with the schema, for PgAdmin queries.
    std::string table(const std::string& t) const { return "\"" + name_ + "\"." + t; }

private:
    std::string base_;
    std::string name_;
};

}  // namespace voicegate::test
