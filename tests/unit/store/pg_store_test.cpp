// PgStore beyond the conformance suite: URL handling, group commit, concurrency, durability,
// two instances on one database, migrations racing, a failing op inside a batch, and the
// server going away. Needs VOICEGATE_TEST_PG_URL (see support/pg_test_db.hpp).
#ifdef VOICEGATE_WITH_POSTGRES

#include "store/pg_store.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"
#include "support/eventually.hpp"
#include "support/pg_test_db.hpp"
#include "support/run_coro.hpp"

namespace voicegate::store {
namespace {
namespace asio = boost::asio;
using test::eventually;
using test::run_coro;
using test::run_on_loops;

TEST(PgUrl, SplitsTheSchemaOffAndLeavesTheRestToLibpq) {
    auto a = parse_pg_url("postgres://u:p@h:5432/db?sslmode=require&schema=voicegate&x=1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->conninfo, "postgres://u:p@h:5432/db?sslmode=require&x=1");
    EXPECT_EQ(a->schema, "voicegate");

    auto b = parse_pg_url("postgresql://h/db?schema=vg_1");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->conninfo, "postgresql://h/db");
    EXPECT_EQ(b->schema, "vg_1");

    auto c = parse_pg_url("postgresql://h/db?sslmode=verify-full&sslrootcert=/etc/ca.crt");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->conninfo, "postgresql://h/db?sslmode=verify-full&sslrootcert=/etc/ca.crt");
    EXPECT_EQ(c->schema, "");

    auto d = parse_pg_url("postgres://h/db?schema=Vg%5Fx");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->schema, "Vg_x");
}

TEST(PgUrl, RejectsSchemaNamesThatAreNotPlainIdentifiers) {
    for (const char* url :
         {"postgres://h/db?schema=", "postgres://h/db?schema=1abc", "postgres://h/db?schema=a-b",
          "postgres://h/db?schema=a%22b", "postgres://h/db?schema=a;drop"}) {
        auto t = parse_pg_url(url);
        ASSERT_FALSE(t) << url;
        EXPECT_EQ(t.error().code, Error::bad_request);
    }
    EXPECT_FALSE(parse_pg_url("postgres://h/db?schema=" + std::string(64, 'a')));
    EXPECT_TRUE(parse_pg_url("postgres://h/db?schema=" + std::string(63, 'a')));
    EXPECT_FALSE(parse_pg_url("mysql://h/db"));
}

TEST(PgUrl, QuotesIdentifiersAndArrays) {
    EXPECT_EQ(quote_identifier("vg"), "\"vg\"");
    EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(pg_text_array({"a", "b\"c", "d\\e"}), R"({"a","b\"c","d\\e"})");
    EXPECT_EQ(pg_text_array({}), "{}");
}

SessionRecord make_record(const std::string& id, const std::string& user) {
    SessionRecord r;
    r.session_id = id;
    r.user_id = user;
    r.model = "gpt-realtime";
    r.voice = "alloy";
    r.issued_at_ms = 1'700'000'000'000;
    r.token_expires_at = 1'700'000'000 + 1800;
    r.client_ip = "203.0.113.7";
    r.user_agent = "diary/1.0";
    return r;
}

EndRequest make_end(const std::string& id, const std::string& user, std::int64_t messages = 3) {
    EndRequest e;
    e.session_id = id;
    e.caller_user_id = user;
    e.check_owner = true;
    e.reported_duration_s = 30;
    e.message_count = messages;
    e.ended_by = "user";
    e.ended_at_ms = 1'700'000'030'000;
    return e;
}

class PgStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        VOICEGATE_REQUIRE_PG();
        schema_ = std::make_unique<test::PgTestSchema>();
    }
    void TearDown() override {
        for (auto& s : stores_) {
            s->close();
        }
        stores_.clear();
        schema_.reset();
    }

    /// Opens a store on the test schema (or `o.url`), owned by the fixture.
    PgStore& open(PgOptions o = {}) {
        if (o.url.empty()) {
            o.url = schema_->url();
        }
        o.common.clock = &clock_;
        auto s = PgStore::open(std::move(o));
        EXPECT_TRUE(s) << s.error().details;
        if (!s) {
            throw std::runtime_error("cannot open the store");
        }
        stores_.push_back(std::move(*s));
        return *stores_.back();
    }
    std::int64_t count(const std::string& table, const std::string& where = "TRUE") {
        test::PgAdmin admin(schema_->base_url());
        EXPECT_TRUE(admin.ok()) << admin.error();
        const auto n =
            admin.scalar("SELECT count(*) FROM " + schema_->table(table) + " WHERE " + where);
        EXPECT_GE(n, 0) << admin.last_error();
        return n;
    }

    std::unique_ptr<test::PgTestSchema> schema_;
    test::ManualClock clock_{1'700'000'500'000};
    asio::io_context io_;
    std::vector<std::unique_ptr<PgStore>> stores_;
};

TEST_F(PgStoreTest, GroupCommitPutsConcurrentWritesIntoFewTransactions) {
    PgOptions o;
    o.writers = 1;
    PgStore& store = open(o);
    constexpr int kThreads = 2;
    constexpr int kPerThread = 1000;
    std::atomic<int> ok{0};
    run_on_loops(kThreads, kPerThread, [&](int t, int i) -> asio::awaitable<void> {
        auto r = co_await store.create_session(
            make_record("sess_" + std::to_string(t) + "_" + std::to_string(i), "u"));
        if (r) {
            ++ok;
        }
    });
    EXPECT_EQ(ok.load(), kThreads * kPerThread);
    const auto stats = store.stats();
    EXPECT_EQ(stats.ops, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_EQ(stats.failed_ops, 0U);
    EXPECT_GE(stats.batches, 1U);
    // 2,000 writes in flight at once: a handful of group commits, not one per write.
    EXPECT_LE(stats.batches, static_cast<std::uint64_t>(kThreads * kPerThread / 10))
        << "batches=" << stats.batches;
    EXPECT_EQ(count("sessions"), kThreads * kPerThread);
    EXPECT_EQ(count("events", "type = 'token_issued'"), kThreads * kPerThread);
}

TEST_F(PgStoreTest, ConcurrentOpsFromManyLoopsAreEachCommittedExactlyOnce) {
    PgStore& store = open();
    constexpr int kThreads = 4;
    constexpr int kPerThread = 250;
    constexpr int kTotal = kThreads * kPerThread;
    std::atomic<int> created{0};
    std::atomic<int> events{0};
    std::atomic<int> first_ends{0};
    std::atomic<int> repeat_ends{0};
    std::atomic<int> errors{0};
    run_on_loops(kThreads, kPerThread, [&](int t, int i) -> asio::awaitable<void> {
        const std::string id = "sess_" + std::to_string(t) + "_" + std::to_string(i);
        const std::string user = "user_" + std::to_string(i % 7);
        auto c = co_await store.create_session(make_record(id, user));
        if (!c) {
            ++errors;
            co_return;
        }
        ++created;
        Event e;
        e.type = "admin_action";
        e.session_id = id;
        e.reason = "test";
        auto a = co_await store.append_event(std::move(e));
        a ? ++events : ++errors;
        for (int k = 0; k < 2; ++k) {
            auto r = co_await store.end_session(make_end(id, user, i));
            if (!r) {
                ++errors;
            } else if (r->already_ended) {
                ++repeat_ends;
            } else {
                ++first_ends;
            }
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(created.load(), kTotal);
    EXPECT_EQ(events.load(), kTotal);
    EXPECT_EQ(first_ends.load(), kTotal);
    EXPECT_EQ(repeat_ends.load(), kTotal);
    EXPECT_EQ(count("sessions"), kTotal);
    EXPECT_EQ(count("sessions", "status = 'ended'"), kTotal);
    EXPECT_EQ(count("events", "type = 'token_issued'"), kTotal);
    EXPECT_EQ(count("events", "type = 'admin_action'"), kTotal);
    EXPECT_EQ(count("events", "type = 'session_ended'"), kTotal);
    EXPECT_EQ(store.stats().failed_ops, 0U);
}

TEST_F(PgStoreTest, EverySuccessIsAlreadyVisibleToAnIndependentConnection) {
    PgStore& store = open();
    test::PgAdmin admin(schema_->base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    const std::string sessions = schema_->table("sessions");
    const std::string events = schema_->table("events");
    for (int i = 0; i < 20; ++i) {
        const std::string id = "sess_durable_" + std::to_string(i);
        ASSERT_TRUE(run_coro(io_, store.create_session(make_record(id, "u"))));
        // No close(), no flush: success means committed.
        EXPECT_EQ(admin.scalar("SELECT count(*) FROM " + sessions + " WHERE session_id = '" + id +
                               "' AND status = 'issued'"),
                  1);
        auto ended = run_coro(io_, store.end_session(make_end(id, "u", i)));
        ASSERT_TRUE(ended) << ended.error().details;
        EXPECT_EQ(admin.scalar("SELECT message_count FROM " + sessions + " WHERE session_id = '" +
                               id + "' AND status = 'ended'"),
                  i);
        EXPECT_EQ(
            admin.scalar("SELECT count(*) FROM " + events + " WHERE session_id = '" + id + "'"), 2);
    }
    // And a fresh store (another process, after a restart) reads the same.
    store.close();
    PgStore& again = open();
    auto row = run_coro(io_, again.get_session("sess_durable_7"));
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->status, "ended");
    EXPECT_EQ((*row)->message_count, 7);
}

// The issue's exactness bar: two voicegate processes on one database (two stores, each with two
// writer connections), N concurrent token requests for one user with a limit L < N: exactly L
// succeed, three rounds over, with the bookkeeping rows checked.
TEST_F(PgStoreTest, TwoInstancesGrantExactlyTheConcurrentQuota) {
    PgStore& a = open();
    PgStore& b = open();
    constexpr int kRequests = 20;
    constexpr int kLimit = 5;
    QuotaLimits q;
    q.concurrent = kLimit;
    q.reserve_ms = 30 * 60'000;
    for (int round = 0; round < 3; ++round) {
        const std::string user = "u" + std::to_string(round);
        std::atomic<int> ok{0};
        std::atomic<int> refused{0};
        std::atomic<int> errors{0};
        run_on_loops(4, kRequests / 4, [&](int t, int i) -> asio::awaitable<void> {
            PgStore& store = t % 2 == 0 ? a : b;
            SessionRecord rec = make_record(
                "sess_" + user + "_" + std::to_string(t) + "_" + std::to_string(i), user);
            rec.quota = q;
            auto r = co_await store.create_session(std::move(rec));
            if (r) {
                ++ok;
            } else if (r.error().code == Error::quota_exhausted) {
                ++refused;
            } else {
                ++errors;
            }
        });
        EXPECT_EQ(errors.load(), 0) << "round " << round;
        EXPECT_EQ(ok.load(), kLimit) << "round " << round;
        EXPECT_EQ(refused.load(), kRequests - kLimit) << "round " << round;
        test::PgAdmin slots(schema_->base_url());
        ASSERT_TRUE(slots.ok()) << slots.error();
        EXPECT_EQ(slots.scalar("SELECT COALESCE(SUM(n), 0) FROM " + schema_->table("quota_slots") +
                               " WHERE user_id = '" + user + "'"),
                  kLimit);
        EXPECT_EQ(count("sessions", "user_id = '" + user + "'"), kLimit);
        EXPECT_EQ(count("quota_usage",
                        "user_id = '" + user + "' AND sessions = " + std::to_string(kLimit) +
                            " AND charged_ms = " + std::to_string(kLimit * q.reserve_ms)),
                  1);
    }
}

// Creates and ends of many users' sessions at once through two instances: no errors (lock
// conflicts are retried), and the bookkeeping adds up: each user's open count matches their
// open rows, and every ended session was settled to its 30 s.
TEST_F(PgStoreTest, TwoInstancesMixingQuotaCreatesAndEndsKeepTheBooksExact) {
    PgStore& a = open();
    PgStore& b = open();
    QuotaLimits q;
    q.concurrent = 1000;
    q.minutes_per_day = 100'000;
    q.reserve_ms = 30 * 60'000;
    constexpr int kUsers = 6;
    constexpr int kPerThread = 150;
    std::atomic<int> errors{0};
    std::atomic<int> ended{0};
    run_on_loops(4, kPerThread, [&](int t, int i) -> asio::awaitable<void> {
        PgStore& store = t % 2 == 0 ? a : b;
        PgStore& other = t % 2 == 0 ? b : a;
        const std::string user = "u" + std::to_string((t * kPerThread + i) % kUsers);
        const std::string id = "sess_m" + std::to_string(t) + "_" + std::to_string(i);
        SessionRecord rec = make_record(id, user);
        rec.quota = q;
        auto c = co_await store.create_session(std::move(rec));
        if (!c) {
            ++errors;
            co_return;
        }
        if (i % 3 != 0) {  // two in three are ended, through the other instance
            auto e = co_await other.end_session(make_end(id, user));
            if (!e || e->already_ended) {
                ++errors;
            } else {
                ++ended;
            }
        }
    });
    EXPECT_EQ(errors.load(), 0);
    const int total = 4 * kPerThread;
    const int open_sessions = total - ended.load();
    test::PgAdmin admin(schema_->base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    // Every user's held slots are exactly its sessions still open.
    EXPECT_EQ(admin.scalar("SELECT COALESCE(SUM(n), 0) FROM " + schema_->table("quota_slots")),
              open_sessions);
    EXPECT_EQ(admin.scalar("SELECT COUNT(*) FROM (SELECT user_id, SUM(n) AS held FROM " +
                           schema_->table("quota_slots") + " GROUP BY user_id) o WHERE held <> " +
                           "(SELECT COUNT(*) FROM " + schema_->table("sessions") +
                           " s WHERE s.user_id = o.user_id AND s.status = 'issued')"),
              0);
    // Charged: 30 min per open session, 30 s per ended one.
    EXPECT_EQ(admin.scalar("SELECT SUM(charged_ms) FROM " + schema_->table("quota_usage")),
              static_cast<std::int64_t>(open_sessions) * q.reserve_ms +
                  static_cast<std::int64_t>(ended.load()) * 30'000);
    EXPECT_EQ(admin.scalar("SELECT SUM(sessions) FROM " + schema_->table("quota_usage")), total);
    // Creates and ends of the same users take the users' locks in one sorted order: the two
    // instances' batches never deadlocked (PostgreSQL would have aborted one, and it retried).
    EXPECT_EQ(a.stats().conflict_retries + b.stats().conflict_retries, 0U);
}

TEST_F(PgStoreTest, QuotaSettlesInBatchedEnds) {
    PgOptions o;
    o.writers = 1;  // one writer: ends queued together go out as one batched statement
    PgStore& store = open(o);
    QuotaLimits q;
    q.minutes_per_day = 600;
    q.reserve_ms = 30 * 60'000;
    constexpr int kSessions = 40;
    for (int i = 0; i < kSessions; ++i) {
        SessionRecord rec = make_record("sess_q" + std::to_string(i), "u" + std::to_string(i % 4));
        rec.quota = q;
        ASSERT_TRUE(run_coro(io_, store.create_session(std::move(rec))));
    }
    std::atomic<int> errors{0};
    run_on_loops(1, kSessions, [&](int, int i) -> asio::awaitable<void> {
        // Reported 30 s, observed 30 s (make_end): each charge goes from 30 min to 30 s.
        auto r = co_await store.end_session(
            make_end("sess_q" + std::to_string(i), "u" + std::to_string(i % 4)));
        if (!r || r->already_ended) {
            ++errors;
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(count("quota_slots", "n <> 0"), 0);
    EXPECT_GE(count("quota_slots", "n = 0"), 4);  // one slot minute per user at least
    EXPECT_EQ(count("quota_usage", "sessions = 10 AND charged_ms = 300000"), 4);
}

TEST_F(PgStoreTest, TwoInstancesEndEachSessionExactlyOnce) {
    PgStore& a = open();
    PgStore& b = open();  // a second voicegate instance on the same database

    // Created through one, ended through the other.
    ASSERT_TRUE(run_coro(io_, a.create_session(make_record("sess_x", "u"))));
    auto by_b = run_coro(io_, b.end_session(make_end("sess_x", "u", 5)));
    ASSERT_TRUE(by_b) << by_b.error().details;
    EXPECT_FALSE(by_b->already_ended);
    auto by_a = run_coro(io_, a.end_session(make_end("sess_x", "u", 9)));
    ASSERT_TRUE(by_a) << by_a.error().details;
    EXPECT_TRUE(by_a->already_ended);
    EXPECT_EQ(by_a->row.message_count, 5);

    // Both instances end every session at once, in opposite orders (a lock-ordering test too).
    constexpr int kSessions = 300;
    std::atomic<int> created{0};
    run_on_loops(1, kSessions, [&](int, int i) -> asio::awaitable<void> {
        auto r = co_await a.create_session(make_record("sess_" + std::to_string(i), "u"));
        if (r) {
            ++created;
        }
    });
    ASSERT_EQ(created.load(), kSessions);
    std::atomic<int> first{0};
    std::atomic<int> repeat{0};
    std::atomic<int> errors{0};
    run_on_loops(2, kSessions, [&](int t, int i) -> asio::awaitable<void> {
        PgStore& store = t == 0 ? a : b;
        const int n = t == 0 ? i : kSessions - 1 - i;
        auto r = co_await store.end_session(make_end("sess_" + std::to_string(n), "u", t));
        if (!r) {
            ++errors;
        } else if (r->already_ended) {
            ++repeat;
        } else {
            ++first;
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(first.load(), kSessions);
    EXPECT_EQ(repeat.load(), kSessions);
    EXPECT_EQ(count("events", "type = 'session_ended'"), kSessions + 1);
    EXPECT_EQ(count("events e", "type = 'session_ended' AND (SELECT count(*) FROM " +
                                    schema_->table("events") +
                                    " f WHERE f.session_id = e.session_id AND f.type = "
                                    "'session_ended') <> 1"),
              0);
}

// Coroutines for OpsOnOneSessionKeepTheirOrderWithinABatch: each records its outcome in `out`.
asio::awaitable<void> create_as(PgStore& store, std::string id, std::string& out) {
    auto r = co_await store.create_session(make_record(id, "owner"));
    out = r ? "created" : "failed";
}

asio::awaitable<void> end_as(PgStore& store, std::string id, std::string caller, int messages,
                             std::string& out) {
    auto r = co_await store.end_session(make_end(id, caller, messages));
    out = !r                 ? std::string(error_info(r.error().code).code)
          : r->already_ended ? "already_ended"
                             : "ended";
}

asio::awaitable<void> append_for(PgStore& store, std::string id, std::string& out) {
    Event e;
    e.type = "admin_action";
    e.session_id = std::move(id);
    auto r = co_await store.append_event(std::move(e));
    out = r ? "appended" : "failed";
}

TEST_F(PgStoreTest, OpsOnOneSessionKeepTheirOrderWithinABatch) {
    PgOptions o;
    o.writers = 1;  // every op in one queue, so they share batches
    PgStore& store = open(o);
    constexpr int kSessions = 100;
    // Per session, queued in this order: create, end by a stranger, end, end again, an event;
    // plus an end of an unknown session. All are queued before the loop runs any further.
    std::vector<std::string> outcome(kSessions * 6);
    for (int i = 0; i < kSessions; ++i) {
        const std::string id = "sess_" + std::to_string(i);
        std::string* slot = &outcome[static_cast<std::size_t>(i * 6)];
        asio::co_spawn(io_, create_as(store, id, slot[0]), asio::detached);
        asio::co_spawn(io_, end_as(store, id, "stranger", 1, slot[1]), asio::detached);
        asio::co_spawn(io_, end_as(store, id, "owner", 2, slot[2]), asio::detached);
        asio::co_spawn(io_, end_as(store, id, "owner", 3, slot[3]), asio::detached);
        asio::co_spawn(io_, append_for(store, id, slot[4]), asio::detached);
        asio::co_spawn(io_, end_as(store, "sess_missing_" + std::to_string(i), "owner", 4, slot[5]),
                       asio::detached);
    }
    io_.run();
    io_.restart();
    for (int i = 0; i < kSessions; ++i) {
        const auto at = [&](int k) { return outcome[static_cast<std::size_t>(i * 6 + k)]; };
        EXPECT_EQ(at(0), "created") << i;
        EXPECT_EQ(at(1), error_info(Error::forbidden).code) << i;
        EXPECT_EQ(at(2), "ended") << i;
        EXPECT_EQ(at(3), "already_ended") << i;
        EXPECT_EQ(at(4), "appended") << i;
        EXPECT_EQ(at(5), error_info(Error::session_not_found).code) << i;
    }
    auto evs = run_coro(io_, store.session_events("sess_42"));
    ASSERT_TRUE(evs) << evs.error().details;
    ASSERT_EQ(evs->size(), 3U);
    EXPECT_EQ((*evs)[0].type, "token_issued");
    EXPECT_EQ((*evs)[1].type, "session_ended");
    EXPECT_EQ((*evs)[2].type, "admin_action");
    auto row = run_coro(io_, store.get_session("sess_42"));
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->message_count, 2);  // the first successful end's (k = 2)
    // Far fewer transactions than ops: the ops were batched, and still in order.
    EXPECT_LT(store.stats().batches, static_cast<std::uint64_t>(kSessions * 6 / 4));
    EXPECT_EQ(count("events", "type = 'session_ended'"), kSessions);
}

TEST_F(PgStoreTest, InstancesStartingTogetherMigrateOnce) {
    constexpr int kInstances = 4;
    std::vector<std::unique_ptr<PgStore>> opened(kInstances);
    std::vector<std::string> failures(kInstances);
    std::vector<std::thread> threads;
    for (int i = 0; i < kInstances; ++i) {
        threads.emplace_back([&, i] {
            PgOptions o;
            o.url = schema_->url();
            o.common.clock = &clock_;
            auto s = PgStore::open(std::move(o));
            if (s) {
                opened[static_cast<std::size_t>(i)] = std::move(*s);
            } else {
                failures[static_cast<std::size_t>(i)] = s.error().details;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (int i = 0; i < kInstances; ++i) {
        EXPECT_TRUE(opened[static_cast<std::size_t>(i)]) << failures[static_cast<std::size_t>(i)];
    }
    EXPECT_EQ(count("schema_migrations"), latest_schema_version());
    for (auto& s : opened) {
        if (s) {
            stores_.push_back(std::move(s));
        }
    }
}

TEST_F(PgStoreTest, ADatabaseAtVersionFourMigratesToSupervisedCalls) {
    {
        test::PgAdmin admin(schema_->base_url());
        ASSERT_TRUE(admin.ok()) << admin.error();
        std::string sql = "CREATE SCHEMA \"" + schema_->name() + "\"; SET search_path TO \"" +
                          schema_->name() +
                          "\"; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                          "applied_at_ms BIGINT NOT NULL);";
        for (const auto& m : migrations()) {
            if (m.version <= 4) {
                sql += render_migration(m, Dialect::postgres) +
                       ";\nINSERT INTO schema_migrations VALUES (" + std::to_string(m.version) +
                       ", 1);";
            }
        }
        sql +=
            "INSERT INTO sessions (session_id, user_id, model, issued_at_ms) VALUES "
            "('sess_old', 'u', 'gpt-realtime', 1700000000000);";
        ASSERT_TRUE(admin.query(sql)) << admin.last_error();
    }
    PgStore& store = open();
    EXPECT_EQ(count("schema_migrations"), latest_schema_version());
    EXPECT_EQ(count("sessions", "call_state IS NULL AND flow = 'token' AND true_cost_usd = 0"), 1);
    AttachRequest a;
    a.session_id = "sess_old";
    a.caller_user_id = "u";
    a.call_id = "rtc_old";
    a.at_ms = 1'700'000'001'000;
    auto attached = run_coro(io_, store.attach_call(a));
    ASSERT_TRUE(attached) << attached.error().details;
    TrueUsage usage;
    usage.tokens.output_audio = 1200;
    usage.cost_usd = 0.0768;
    ASSERT_TRUE(run_coro(io_, store.end_call(CallEnded{"sess_old", "i", CallEnd::upstream_expired,
                                                       usage, 1'700'000'061'000})));
    EXPECT_EQ(count("sessions",
                    "ended_by = 'upstream_expired' AND observed_duration_s = 60 AND "
                    "true_output_audio_tokens = 1200"),
              1);
    EXPECT_EQ(count("usage_daily", "true_output_audio_tokens = 1200 AND billable_ms = 60000"), 1);
}

TEST_F(PgStoreTest, LateClientEndsAfterServerEndsAreExactInBatches) {
    // Client ends of calls the server ended first, many at once from two instances, so that
    // writers batch them (end_sessions.sql): each answers as a first end once, the rest
    // alreadyEnded, and the rollups gain each report once.
    constexpr int kCalls = 40;
    PgStore& a = open();
    PgStore& b = open();
    for (int i = 0; i < kCalls; ++i) {
        const std::string id = "sess_" + std::to_string(i);
        ASSERT_TRUE(run_coro(io_, a.create_session(make_record(id, "u"))));
        AttachRequest at;
        at.session_id = id;
        at.caller_user_id = "u";
        at.call_id = "rtc_" + id;
        at.at_ms = 1'700'000'000'000;
        ASSERT_TRUE(run_coro(io_, a.attach_call(at)));
        ASSERT_TRUE(
            run_coro(io_, a.end_call(CallEnded{id, "i", CallEnd::cap, {}, 1'700'000'020'000})));
    }
    std::atomic<int> first{0};
    std::atomic<int> repeat{0};
    std::atomic<int> errors{0};
    test::run_on_loops(4, kCalls, [&](int t, int i) -> asio::awaitable<void> {
        PgStore& s = t % 2 == 0 ? a : b;
        auto out = co_await s.end_session(make_end("sess_" + std::to_string(i), "u", 2));
        if (!out) {
            ++errors;
        } else if (out->already_ended) {
            ++repeat;
        } else {
            ++first;
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(first.load(), kCalls);
    EXPECT_EQ(repeat.load(), 3 * kCalls);
    UsageQuery q;
    q.from_day = q.to_day = quota_day(1'700'000'000'000);
    auto usage = run_coro(io_, a.usage(q));
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->totals.ended_sessions, kCalls);
    EXPECT_EQ(usage->totals.billable_ms, kCalls * 20'000);  // observed by the server
    EXPECT_EQ(usage->totals.reported_ms, kCalls * 30'000);  // each report once
    EXPECT_EQ(usage->totals.messages, kCalls * 2);
    EXPECT_EQ(count("events", "type = 'session_ended'"), kCalls);
    EXPECT_EQ(count("sessions", "ended_by = 'cap' AND reported_duration_s = 30"), kCalls);
}

TEST_F(PgStoreTest, ClientEndRacingTheServerEndCountsEachSessionOnce) {
    constexpr int kCalls = 30;
    PgStore& a = open();
    PgStore& b = open();
    QuotaLimits q;
    q.minutes_per_day = 10'000;
    q.reserve_ms = 30 * 60'000;
    for (int i = 0; i < kCalls; ++i) {
        auto r = make_record("sess_" + std::to_string(i), "u" + std::to_string(i % 3));
        r.quota = q;
        ASSERT_TRUE(run_coro(io_, a.create_session(r)));
        AttachRequest at;
        at.session_id = r.session_id;
        at.caller_user_id = r.user_id;
        at.call_id = "rtc_" + r.session_id;
        at.at_ms = r.issued_at_ms;
        ASSERT_TRUE(run_coro(io_, a.attach_call(at)));
    }
    TrueUsage usage;
    usage.tokens.input_audio = 10;
    usage.cost_usd = 0.5;
    std::atomic<int> errors{0};
    std::atomic<int> already{0};
    std::mutex mu;
    std::string first_error;
    const auto error = [&](const Failure& f) {
        ++errors;
        std::lock_guard lock(mu);
        first_error = first_error.empty() ? f.details : first_error;
    };
    test::run_on_loops(2, kCalls, [&](int t, int i) -> asio::awaitable<void> {
        const std::string id = "sess_" + std::to_string(i);
        if (t == 0) {
            auto out = co_await a.end_session(make_end(id, "u" + std::to_string(i % 3)));
            if (!out) {
                error(out.error());
            }
            already += out && out->already_ended ? 1 : 0;
        } else {
            CallEnded e{id, "i", CallEnd::closed, usage, 1'700'000'020'000};
            auto out = co_await b.end_call(e);
            if (!out) {
                error(out.error());
            }
        }
    });
    EXPECT_EQ(errors.load(), 0) << first_error;
    EXPECT_EQ(already.load(), 0);  // the client's end is a first end whichever came first
    UsageQuery uq;
    uq.from_day = uq.to_day = quota_day(1'700'000'000'000);
    auto report = run_coro(io_, a.usage(uq));
    ASSERT_TRUE(report);
    EXPECT_EQ(report->totals.ended_sessions, kCalls);
    EXPECT_EQ(report->totals.true_tokens.input_audio, 10 * kCalls);
    EXPECT_DOUBLE_EQ(report->totals.true_cost_usd, 0.5 * kCalls);
    EXPECT_EQ(report->totals.messages, 3 * kCalls);
    // Every reservation was settled exactly once, to what the end that came first used: 20 s
    // observed by the server, or min(30 s reported, 30 s observed) by the client.
    EXPECT_GE(report->totals.billable_ms, kCalls * 20'000);
    EXPECT_LE(report->totals.billable_ms, kCalls * 30'000);
    test::PgAdmin admin(schema_->base_url());
    EXPECT_EQ(admin.scalar("SELECT SUM(charged_ms) FROM " + schema_->table("quota_usage")),
              report->totals.billable_ms);
    EXPECT_EQ(count("sessions", "call_state = 'ended'"), kCalls);
}

TEST_F(PgStoreTest, CallOpsAreGroupCommittedAndARefusedOneFailsAlone) {
    constexpr int kCalls = 60;
    PgStore& s = open();
    for (int i = 0; i < kCalls; ++i) {
        const std::string id = "sess_" + std::to_string(i);
        ASSERT_TRUE(run_coro(io_, s.create_session(make_record(id, "u"))));
        AttachRequest a;
        a.session_id = id;
        a.caller_user_id = "u";
        a.call_id = "rtc_" + id;
        a.at_ms = 1'700'000'000'000 + i;
        ASSERT_TRUE(run_coro(io_, s.attach_call(a)));
    }
    // Half the calls held by this instance; checkpoints of all of them at once.
    auto held =
        run_coro(io_, s.claim_calls(LeaseClaim{"inst", 1'700'000'001'000, 60'000, kCalls / 2}));
    ASSERT_TRUE(held);
    ASSERT_EQ(held->size(), static_cast<std::size_t>(kCalls / 2));
    const auto before = s.stats();
    std::atomic<int> ok{0};
    std::atomic<int> lost{0};
    run_on_loops(2, kCalls / 2, [&](int t, int i) -> asio::awaitable<void> {
        TrueUsage u;
        u.responses = 7;
        UsageCheckpoint c{"sess_" + std::to_string(t * (kCalls / 2) + i), "inst", u,
                          1'700'000'002'000};
        auto r = co_await s.checkpoint_usage(c);
        ok += r ? 1 : 0;
        lost += !r && r.error().code == Error::lease_lost ? 1 : 0;
    });
    EXPECT_EQ(ok.load(), kCalls / 2);
    EXPECT_EQ(lost.load(), kCalls / 2);
    EXPECT_EQ(count("sessions", "responses = 7"), kCalls / 2);
    EXPECT_EQ(count("sessions", "responses = 7 AND lease_owner = 'inst'"), kCalls / 2);
    EXPECT_LT(s.stats().batches - before.batches, static_cast<std::uint64_t>(kCalls));
}

TEST_F(PgStoreTest, AFailingOpFailsAloneAndTheRestOfItsBatchCommits) {
    PgOptions o;
    o.writers = 1;
    PgStore& store = open(o);
    constexpr int kOps = 60;
    constexpr int kBad = 30;
    std::atomic<int> ok{0};
    std::atomic<int> bad_requests{0};
    std::string bad_details;
    run_on_loops(1, kOps, [&](int, int i) -> asio::awaitable<void> {
        auto rec = make_record("sess_" + std::to_string(i), "u");
        if (i == kBad) {
            rec.user_agent = "\xff\xfe not UTF-8";  // PostgreSQL refuses the text
        }
        auto r = co_await store.create_session(std::move(rec));
        if (r) {
            ++ok;
        } else if (r.error().code == Error::bad_request) {
            ++bad_requests;
            bad_details = r.error().details;
        }
    });
    EXPECT_EQ(ok.load(), kOps - 1);
    EXPECT_EQ(bad_requests.load(), 1);
    EXPECT_NE(bad_details.find("UTF8"), std::string::npos) << bad_details;
    EXPECT_GE(store.stats().careful_batches, 1U);
    EXPECT_EQ(count("sessions"), kOps - 1);
    EXPECT_EQ(count("sessions", "session_id = 'sess_" + std::to_string(kBad) + "'"), 0);
    EXPECT_EQ(count("events", "type = 'token_issued'"), kOps - 1);
    // The store goes on as usual.
    EXPECT_TRUE(run_coro(io_, store.create_session(make_record("sess_after", "u"))));
}

TEST_F(PgStoreTest, KilledConnectionsAreReplaced) {
    const std::string app = schema_->name();
    PgOptions o;
    o.url = test::pg_url_with(schema_->url(), "application_name=" + app);
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 200;
    PgStore& store = open(o);
    ASSERT_TRUE(run_coro(io_, store.create_session(make_record("sess_before", "u"))));
    ASSERT_TRUE(store.ready());

    test::PgAdmin admin(schema_->base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    EXPECT_GE(admin.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE application_name = '" +
                           app + "'"),
              3);  // two writers and the reader

    // Each op either succeeds or fails with store_unavailable; soon they all succeed again.
    int failures = 0;
    int other = 0;
    for (int i = 0; i < 200; ++i) {
        auto c = run_coro(io_, store.create_session(make_record("sess_" + std::to_string(i), "u")));
        auto g = run_coro(io_, store.get_session("sess_before"));
        if (c && g) {
            break;
        }
        if (!c) {
            ++(c.error().code == Error::store_unavailable ? failures : other);
        }
        if (!g) {
            ++(g.error().code == Error::store_unavailable ? failures : other);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(other, 0);
    EXPECT_TRUE(eventually([&] { return store.ready() && store.stats().reconnects >= 3; }))
        << "losses=" << store.stats().connection_losses
        << " reconnects=" << store.stats().reconnects;
    EXPECT_GE(store.stats().connection_losses, 3U);
    auto row = run_coro(io_, store.get_session("sess_before"));
    ASSERT_TRUE(row) << row.error().details;
    EXPECT_TRUE(*row);
}

TEST_F(PgStoreTest, WhileTheServerIsAwayOpsFailFastAndTheStoreRecovers) {
    // The store logs in as its own role; taking its LOGIN away and killing its connections
    // makes the server unreachable for this store alone (other tests share the server).
    const std::string role = schema_->name() + "_role";
    test::PgAdmin admin(schema_->base_url());
    ASSERT_TRUE(admin.ok()) << admin.error();
    ASSERT_TRUE(admin.query("CREATE ROLE \"" + role + "\" LOGIN")) << admin.last_error();
    struct DropRole {
        test::PgAdmin& admin;
        const test::PgTestSchema& schema;
        std::string role;
        ~DropRole() {
            (void)admin.query("DROP SCHEMA IF EXISTS \"" + schema.name() + "\" CASCADE");
            (void)admin.query("DROP ROLE IF EXISTS \"" + role + "\"");
        }
    } drop_role{admin, *schema_, role};
    ASSERT_TRUE(
        admin.query("CREATE SCHEMA \"" + schema_->name() + "\" AUTHORIZATION \"" + role + "\""))
        << admin.last_error();

    PgOptions o;
    o.url = test::pg_url_with(schema_->url(), "user=" + role);
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 200;
    PgStore& store = open(o);
    ASSERT_TRUE(run_coro(io_, store.create_session(make_record("sess_before", "u"))));
    ASSERT_TRUE(store.ready());

    ASSERT_TRUE(admin.query("ALTER ROLE \"" + role + "\" NOLOGIN")) << admin.last_error();
    ASSERT_TRUE(
        admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "usename = '" +
                    role + "'"))
        << admin.last_error();
    // The idle connections notice within about a second.
    ASSERT_TRUE(eventually([&] { return !store.ready(); }));

    const auto t0 = std::chrono::steady_clock::now();
    auto c = run_coro(io_, store.create_session(make_record("sess_during", "u")));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, Error::store_unavailable);
    auto e = run_coro(io_, store.end_session(make_end("sess_before", "u")));
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, Error::store_unavailable);
    auto g = run_coro(io_, store.get_session("sess_before"));
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, Error::store_unavailable);
    // Failing fast: no op waits for the server (the bound is loose for a loaded machine).
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    EXPECT_FALSE(store.ready());

    ASSERT_TRUE(admin.query("ALTER ROLE \"" + role + "\" LOGIN")) << admin.last_error();
    ASSERT_TRUE(eventually([&] { return store.ready(); }));
    EXPECT_TRUE(run_coro(io_, store.create_session(make_record("sess_after", "u"))));
    auto before = run_coro(io_, store.get_session("sess_before"));
    ASSERT_TRUE(before && *before);
    EXPECT_EQ((*before)->status, "issued");  // the failed end changed nothing
    auto during = run_coro(io_, store.get_session("sess_during"));
    ASSERT_TRUE(during);
    EXPECT_FALSE(*during);  // the failed create left nothing
    EXPECT_GE(store.stats().connection_losses, 3U);
    EXPECT_GE(store.stats().reconnects, 3U);
    store.close();
}

TEST_F(PgStoreTest, RejectsBadOptions) {
    PgOptions o;
    o.url = schema_->url();
    o.writers = 0;
    auto s = PgStore::open(o);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Error::bad_request);
    o.writers = 1;
    o.common.batch_max = 0;
    EXPECT_FALSE(PgStore::open(o));
    o.common.batch_max = 1;
    o.url = "postgres://h/db?schema=bad-name";
    EXPECT_FALSE(PgStore::open(o));
}

}  // namespace
}  // namespace voicegate::store

#endif  // VOICEGATE_WITH_POSTGRES
