// The SessionStore conformance suite: the contract of store/session_store.hpp, run against every
// engine: SQLite in memory and on a file, and PostgreSQL (VOICEGATE_TEST_PG_URL, a fresh schema
// per test, dropped afterwards; without the variable the PostgreSQL cases fail unless
// VOICEGATE_ALLOW_NO_PG=1).
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "fakes/manual_clock.hpp"
#include "store/audit.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"
#include "support/run_coro.hpp"
#include "support/temp_dir.hpp"

#ifdef VOICEGATE_WITH_POSTGRES
#include "store/pg_store.hpp"
#include "support/pg_test_db.hpp"
#endif

namespace voicegate::store {
namespace {
namespace asio = boost::asio;
using test::run_coro;
using test::run_on_loops;

/// Where a backend may put its database: a temp directory, or (PostgreSQL) a store URL with a
/// throw-away schema.
struct BackendPlace {
    const test::TempDir& dir;
    std::string pg_url;
};

/// How the suite opens one engine and reads the audit log back.
struct StoreBackend {
    std::string name;
    std::function<Result<std::unique_ptr<SessionStore>>(const BackendPlace&, const Clock*)> open;
    std::function<asio::awaitable<Result<std::vector<Event>>>(SessionStore&, std::string)> events;
    bool needs_pg = false;
};

/// Names the backend in gtest's messages (instead of dumping its bytes).
void PrintTo(const StoreBackend& backend, std::ostream* os) {
    *os << backend.name;
}

asio::awaitable<Result<std::vector<Event>>> sqlite_events(SessionStore& s, std::string id) {
    co_return co_await dynamic_cast<SqliteStore&>(s).session_events(std::move(id));
}

Result<std::unique_ptr<SessionStore>> open_sqlite(std::string path, const Clock* clock) {
    SqliteOptions o;
    o.path = std::move(path);
    o.common.clock = clock;
    auto s = SqliteStore::open(std::move(o));
    if (!s) {
        return s.error();
    }
    return std::unique_ptr<SessionStore>(std::move(*s));
}

#ifdef VOICEGATE_WITH_POSTGRES
asio::awaitable<Result<std::vector<Event>>> pg_events(SessionStore& s, std::string id) {
    co_return co_await dynamic_cast<PgStore&>(s).session_events(std::move(id));
}

Result<std::unique_ptr<SessionStore>> open_pg(const std::string& url, const Clock* clock) {
    PgOptions o;
    o.url = url;
    o.common.clock = clock;
    auto s = PgStore::open(std::move(o));
    if (!s) {
        return s.error();
    }
    return std::unique_ptr<SessionStore>(std::move(*s));
}
#endif

const StoreBackend kBackends[] = {
    {"SqliteMemory", [](const BackendPlace&, const Clock* c) { return open_sqlite(":memory:", c); },
     sqlite_events, false},
    {"SqliteFile",
     [](const BackendPlace& p, const Clock* c) { return open_sqlite(p.dir.file("store.db"), c); },
     sqlite_events, false},
#ifdef VOICEGATE_WITH_POSTGRES
    {"Postgres", [](const BackendPlace& p, const Clock* c) { return open_pg(p.pg_url, c); },
     pg_events, true},
#endif
};

SessionRecord make_record(const std::string& id, const std::string& user,
                          std::int64_t issued_at_ms = 1'700'000'000'000) {
    SessionRecord r;
    r.session_id = id;
    r.user_id = user;
    r.model = "gpt-realtime";
    r.voice = "alloy";
    r.profile = "diary";
    r.issued_at_ms = issued_at_ms;
    r.token_expires_at = issued_at_ms / 1000 + 1800;
    r.client_ip = "203.0.113.7";
    r.user_agent = "diary/1.0";
    return r;
}

EndRequest make_end(const std::string& id, const std::string& caller, std::int64_t ended_at_ms,
                    double duration = 320, std::int64_t messages = 15) {
    EndRequest e;
    e.session_id = id;
    e.caller_user_id = caller;
    e.check_owner = true;
    e.reported_duration_s = duration;
    e.message_count = messages;
    e.ended_by = "user";
    e.ended_at_ms = ended_at_ms;
    e.client_ip = "203.0.113.8";
    return e;
}

class StoreConformance : public ::testing::TestWithParam<StoreBackend> {
protected:
    void SetUp() override {
        BackendPlace place{dir_, {}};
        if (GetParam().needs_pg) {
#ifdef VOICEGATE_WITH_POSTGRES
            VOICEGATE_REQUIRE_PG();
            pg_schema_ = std::make_unique<test::PgTestSchema>();
            place.pg_url = pg_schema_->url();
#endif
        }
        auto s = GetParam().open(place, &clock_);
        ASSERT_TRUE(s) << s.error().details;
        store_ = std::move(*s);
    }
    void TearDown() override {
        if (store_) {
            store_->close();
        }
        store_.reset();
#ifdef VOICEGATE_WITH_POSTGRES
        pg_schema_.reset();  // drops the schema, after the store's connections are closed
#endif
    }

    Result<void> create(SessionRecord r) {
        return run_coro(io_, store_->create_session(r));
    }
    Result<EndOutcome> end(EndRequest e) {
        return run_coro(io_, store_->end_session(e));
    }
    std::optional<SessionRow> get(const std::string& id) {
        auto r = run_coro(io_, store_->get_session(id));
        EXPECT_TRUE(r) << r.error().details;
        return r ? *r : std::nullopt;
    }
    std::vector<Event> events(const std::string& id) {
        auto r = run_coro(io_, GetParam().events(*store_, id));
        EXPECT_TRUE(r) << r.error().details;
        return r ? *r : std::vector<Event>{};
    }

    test::TempDir dir_;
#ifdef VOICEGATE_WITH_POSTGRES
    std::unique_ptr<test::PgTestSchema> pg_schema_;
#endif
    test::ManualClock clock_{1'700'000'500'000};
    asio::io_context io_;
    std::unique_ptr<SessionStore> store_;
};

TEST_P(StoreConformance, CreatedSessionReadsBackAsIssued) {
    const auto rec = make_record("sess_a", "user_1");
    ASSERT_TRUE(create(rec));
    auto row = get("sess_a");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->issued.session_id, "sess_a");
    EXPECT_EQ(row->issued.user_id, "user_1");
    EXPECT_EQ(row->issued.model, "gpt-realtime");
    EXPECT_EQ(row->issued.voice, "alloy");
    EXPECT_EQ(row->issued.profile, "diary");
    EXPECT_EQ(row->issued.issued_at_ms, rec.issued_at_ms);
    EXPECT_EQ(row->issued.token_expires_at, rec.token_expires_at);
    EXPECT_EQ(row->issued.client_ip, "203.0.113.7");
    EXPECT_EQ(row->issued.user_agent, "diary/1.0");
    EXPECT_EQ(row->status, "issued");
    EXPECT_FALSE(row->ended_at_ms);
    EXPECT_FALSE(row->reported_duration_s);
    EXPECT_FALSE(row->observed_duration_s);
    EXPECT_FALSE(row->message_count);
    EXPECT_FALSE(row->ended_by);
}

TEST_P(StoreConformance, UnknownSessionReadsAsNullopt) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1")));
    EXPECT_FALSE(get("sess_b"));
}

TEST_P(StoreConformance, MissingIssueTimeComesFromTheClock) {
    auto rec = make_record("sess_a", "user_1");
    rec.issued_at_ms = 0;
    ASSERT_TRUE(create(rec));
    auto row = get("sess_a");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->issued.issued_at_ms, 1'700'000'500'000);
}

TEST_P(StoreConformance, EndStoresReportedAndObservedDurationsSeparately) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1", 1'700'000'000'000)));
    // Reported 320 s, but only 61.5 s passed on the server.
    auto out = end(make_end("sess_a", "user_1", 1'700'000'061'500, 320, 15));
    ASSERT_TRUE(out) << out.error().details;
    EXPECT_FALSE(out->already_ended);
    EXPECT_EQ(out->row.status, "ended");
    EXPECT_EQ(out->row.ended_at_ms, 1'700'000'061'500);
    EXPECT_DOUBLE_EQ(out->row.reported_duration_s.value_or(-1), 320.0);
    EXPECT_DOUBLE_EQ(out->row.observed_duration_s.value_or(-1), 61.5);
    EXPECT_EQ(out->row.message_count, 15);
    EXPECT_EQ(out->row.ended_by, "user");

    auto row = get("sess_a");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, "ended");
    EXPECT_EQ(row->ended_at_ms, 1'700'000'061'500);
    EXPECT_DOUBLE_EQ(row->reported_duration_s.value_or(-1), 320.0);
    EXPECT_DOUBLE_EQ(row->observed_duration_s.value_or(-1), 61.5);
    EXPECT_EQ(row->message_count, 15);
    EXPECT_EQ(row->ended_by, "user");
    EXPECT_EQ(row->issued.user_id, out->row.issued.user_id);
    EXPECT_EQ(row->issued.issued_at_ms, out->row.issued.issued_at_ms);
}

TEST_P(StoreConformance, RepeatedEndReturnsStoredRecordAndChangesNothing) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1", 1'700'000'000'000)));
    ASSERT_TRUE(end(make_end("sess_a", "user_1", 1'700'000'010'000, 10, 3)));
    auto again = make_end("sess_a", "user_1", 1'700'000'999'000, 999, 99);
    again.ended_by = "timeout";
    auto out = end(again);
    ASSERT_TRUE(out) << out.error().details;
    EXPECT_TRUE(out->already_ended);
    EXPECT_EQ(out->row.ended_at_ms, 1'700'000'010'000);
    EXPECT_DOUBLE_EQ(out->row.reported_duration_s.value_or(-1), 10.0);
    EXPECT_DOUBLE_EQ(out->row.observed_duration_s.value_or(-1), 10.0);
    EXPECT_EQ(out->row.message_count, 3);
    EXPECT_EQ(out->row.ended_by, "user");

    auto row = get("sess_a");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->ended_at_ms, 1'700'000'010'000);
    EXPECT_DOUBLE_EQ(row->reported_duration_s.value_or(-1), 10.0);
    EXPECT_EQ(row->message_count, 3);
    EXPECT_EQ(row->ended_by, "user");

    int ended_events = 0;
    for (const auto& e : events("sess_a")) {
        ended_events += e.type == "session_ended" ? 1 : 0;
    }
    EXPECT_EQ(ended_events, 1);
}

TEST_P(StoreConformance, EndingUnknownSessionIsSessionNotFound) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1")));
    auto out = end(make_end("sess_zzz", "user_1", 1'700'000'010'000));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Error::session_not_found);
    EXPECT_EQ(out.error().status(), 404);
}

TEST_P(StoreConformance, EndingSomeoneElsesSessionIsForbiddenAndChangesNothing) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1")));
    auto out = end(make_end("sess_a", "mallory", 1'700'000'010'000));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Error::forbidden);
    EXPECT_EQ(out.error().status(), 403);
    auto row = get("sess_a");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, "issued");
    EXPECT_FALSE(row->ended_at_ms);
    EXPECT_EQ(events("sess_a").size(), 1U);  // token_issued only
}

TEST_P(StoreConformance, OwnerIsNotCheckedWhenCheckOwnerIsOff) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1")));
    auto req = make_end("sess_a", "anonymous", 1'700'000'010'000);
    req.check_owner = false;
    auto out = end(req);
    ASSERT_TRUE(out) << out.error().details;
    EXPECT_FALSE(out->already_ended);
}

TEST_P(StoreConformance, ObservedDurationIsNeverNegative) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1", 1'700'000'000'000)));
    auto out = end(make_end("sess_a", "user_1", 1'699'999'000'000, 5));
    ASSERT_TRUE(out);
    EXPECT_DOUBLE_EQ(out->row.observed_duration_s.value_or(-1), 0.0);
    EXPECT_DOUBLE_EQ(out->row.reported_duration_s.value_or(-1), 5.0);
}

TEST_P(StoreConformance, MissingEndTimeComesFromTheClock) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1", clock_.now_ms())));
    clock_.advance_ms(42'000);
    auto out = end(make_end("sess_a", "user_1", 0));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->row.ended_at_ms, clock_.now_ms());
    EXPECT_DOUBLE_EQ(out->row.observed_duration_s.value_or(-1), 42.0);
}

TEST_P(StoreConformance, IssueAndEndWriteAuditEvents) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1", 1'700'000'000'000)));
    ASSERT_TRUE(end(make_end("sess_a", "user_1", 1'700'000'030'000, 31, 4)));
    auto evs = events("sess_a");
    ASSERT_EQ(evs.size(), 2U);
    EXPECT_EQ(evs[0].type, "token_issued");
    EXPECT_EQ(evs[0].at_ms, 1'700'000'000'000);
    EXPECT_EQ(evs[0].session_id, "sess_a");
    EXPECT_EQ(evs[0].user_id, "user_1");
    EXPECT_EQ(evs[0].client_ip, "203.0.113.7");
    EXPECT_NE(evs[0].detail.find("gpt-realtime"), std::string::npos);
    EXPECT_EQ(evs[1].type, "session_ended");
    EXPECT_EQ(evs[1].at_ms, 1'700'000'030'000);
    EXPECT_EQ(evs[1].user_id, "user_1");
    EXPECT_EQ(evs[1].client_ip, "203.0.113.8");
    EXPECT_EQ(evs[1].reason, "user");
    EXPECT_NE(evs[1].detail.find("\"message_count\":4"), std::string::npos) << evs[1].detail;
}

TEST_P(StoreConformance, AppendedEventIsStored) {
    Event e;
    e.at_ms = 1'700'000'001'000;
    e.type = "call_hung_up";
    e.session_id = "sess_q";
    e.user_id = "user_9";
    e.reason = "time_cap";
    e.detail = R"({"call_id":"rtc_1"})";
    auto r = run_coro(io_, store_->append_event(e));
    ASSERT_TRUE(r) << r.error().details;
    auto evs = events("sess_q");
    ASSERT_EQ(evs.size(), 1U);
    EXPECT_EQ(evs[0].type, "call_hung_up");
    EXPECT_EQ(evs[0].at_ms, 1'700'000'001'000);
    EXPECT_EQ(evs[0].reason, "time_cap");
    EXPECT_EQ(evs[0].detail, R"({"call_id":"rtc_1"})");
    EXPECT_EQ(evs[0].client_ip, "");
}

TEST_P(StoreConformance, DuplicateSessionIdFailsAndKeepsTheOriginal) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1")));
    auto dup = create(make_record("sess_a", "user_2"));
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.error().code, Error::session_not_found);
    auto row = get("sess_a");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->issued.user_id, "user_1");
    EXPECT_EQ(events("sess_a").size(), 1U);                // the failed create left no event behind
    EXPECT_TRUE(create(make_record("sess_b", "user_2")));  // and the store still works
}

TEST_P(StoreConformance, AfterCloseEveryOpIsStoreUnavailable) {
    ASSERT_TRUE(create(make_record("sess_a", "user_1")));
    EXPECT_TRUE(store_->ready());
    store_->close();
    EXPECT_FALSE(store_->ready());
    auto c = create(make_record("sess_b", "user_1"));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, Error::store_unavailable);
    auto e = end(make_end("sess_a", "user_1", 1'700'000'010'000));
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, Error::store_unavailable);
    auto g = run_coro(io_, store_->get_session("sess_a"));
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, Error::store_unavailable);
    store_->close();  // idempotent
}

TEST_P(StoreConformance, ConcurrentCreateAndEndFromManyLoopsAllCountOnce) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 500;
    std::atomic<int> created{0};
    std::atomic<int> first_ends{0};
    std::atomic<int> repeat_ends{0};
    std::atomic<int> errors{0};
    SessionStore& store = *store_;
    run_on_loops(kThreads, kPerThread, [&](int t, int i) -> asio::awaitable<void> {
        const std::string id = "sess_" + std::to_string(t) + "_" + std::to_string(i);
        const std::string user = "user_" + std::to_string(i % 7);
        auto c = co_await store.create_session(make_record(id, user, 1'700'000'000'000));
        if (!c) {
            ++errors;
            co_return;
        }
        ++created;
        for (int k = 0; k < 2; ++k) {
            auto e = co_await store.end_session(make_end(id, user, 1'700'000'020'000, 20, i));
            if (!e) {
                ++errors;
            } else if (e->already_ended) {
                ++repeat_ends;
            } else {
                ++first_ends;
            }
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(created.load(), kThreads * kPerThread);
    EXPECT_EQ(first_ends.load(), kThreads * kPerThread);
    EXPECT_EQ(repeat_ends.load(), kThreads * kPerThread);
    for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < kPerThread; i += 37) {
            auto row = get("sess_" + std::to_string(t) + "_" + std::to_string(i));
            ASSERT_TRUE(row);
            EXPECT_EQ(row->status, "ended");
            EXPECT_EQ(row->message_count, i);
        }
    }
}

TEST_P(StoreConformance, ConcurrentEndsOfOneSessionEndItExactlyOnce) {
    ASSERT_TRUE(create(make_record("sess_hot", "user_1", 1'700'000'000'000)));
    std::atomic<int> first{0};
    std::atomic<int> repeat{0};
    std::atomic<int> errors{0};
    SessionStore& store = *store_;
    run_on_loops(4, 50, [&](int t, int i) -> asio::awaitable<void> {
        auto e = co_await store.end_session(
            make_end("sess_hot", "user_1", 1'700'000'001'000 + t * 100 + i, 1, t * 100 + i));
        if (!e) {
            ++errors;
        } else if (e->already_ended) {
            ++repeat;
        } else {
            ++first;
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(first.load(), 1);
    EXPECT_EQ(repeat.load(), 199);
    int ended_events = 0;
    for (const auto& e : events("sess_hot")) {
        ended_events += e.type == "session_ended" ? 1 : 0;
    }
    EXPECT_EQ(ended_events, 1);
}

// ---- Quotas (SPEC §4): decided in the store, atomically with recording the session ----

constexpr std::int64_t kMin = 60'000;
// 01:00 UTC, so the tests have most of a UTC day before midnight.
constexpr std::int64_t kDayStart = 19'675LL * kMsPerDay;
constexpr std::int64_t kT0 = kDayStart + 60 * kMin;

SessionRecord quota_record(const std::string& id, const std::string& user, std::int64_t at_ms,
                           QuotaLimits limits) {
    SessionRecord r = make_record(id, user, at_ms);
    r.quota = limits;
    return r;
}

QuotaLimits limits(std::int64_t concurrent, std::int64_t sessions, std::int64_t minutes,
                   std::int64_t reserve_ms) {
    QuotaLimits q;
    q.concurrent = concurrent;
    q.sessions_per_day = sessions;
    q.minutes_per_day = minutes;
    q.reserve_ms = reserve_ms;
    return q;
}

EndRequest end_with(const std::string& id, const std::string& user, std::int64_t at_ms,
                    double reported_s) {
    return make_end(id, user, at_ms, reported_s, 1);
}

void expect_exhausted(const Result<void>& r, std::int64_t resets_at_s) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::quota_exhausted) << r.error().details;
    EXPECT_EQ(r.error().resets_at, resets_at_s) << r.error().details;
}

TEST_P(StoreConformance, ConcurrentQuotaRefusesUntilASessionEnds) {
    const auto q = limits(2, 0, 0, 30 * kMin);
    ASSERT_TRUE(create(quota_record("sess_a", "u", kT0, q)));
    ASSERT_TRUE(create(quota_record("sess_b", "u", kT0 + 1000, q)));
    ASSERT_TRUE(create(quota_record("sess_other", "someone_else", kT0 + 1000, q)));
    // Resets when the earliest reservation runs out.
    const auto denied = create(quota_record("sess_c", "u", kT0 + 2000, q));
    expect_exhausted(denied, (kT0 + 30 * kMin) / 1000);
    // A refusal writes nothing.
    EXPECT_FALSE(get("sess_c"));
    EXPECT_TRUE(events("sess_c").empty());

    ASSERT_TRUE(end(end_with("sess_a", "u", kT0 + 3000, 3)));
    EXPECT_TRUE(create(quota_record("sess_c", "u", kT0 + 4000, q)));
    // sess_b's reservation ends at kT0 + 30 min + 1 s: its slot is held to the whole minute.
    expect_exhausted(create(quota_record("sess_d", "u", kT0 + 5000, q)), (kT0 + 31 * kMin) / 1000);
}

TEST_P(StoreConformance, ConcurrentSlotIsReleasedWhenTheReservationExpires) {
    const auto q = limits(2, 0, 0, 60'000);
    // Slots are released at whole minutes (kT0 is one): sess_a's at kT0 + 1 min, sess_b's
    // (reservation over at kT0 + 70 s) at kT0 + 2 min.
    ASSERT_TRUE(create(quota_record("sess_a", "u", kT0, q)));
    ASSERT_TRUE(create(quota_record("sess_b", "u", kT0 + 10'000, q)));
    expect_exhausted(create(quota_record("sess_c", "u", kT0 + 59'999, q)), (kT0 + 60'000) / 1000);
    // Never ended, but its reservation is over: the slot is free again (only that one).
    ASSERT_TRUE(create(quota_record("sess_c", "u", kT0 + 60'000, q)));
    // Ending the session whose slot already went frees nothing more.
    ASSERT_TRUE(end(end_with("sess_a", "u", kT0 + 60'001, 30)));
    expect_exhausted(create(quota_record("sess_d", "u", kT0 + 60'002, q)), (kT0 + 120'000) / 1000);
    ASSERT_TRUE(end(end_with("sess_b", "u", kT0 + 60'003, 30)));
    ASSERT_TRUE(create(quota_record("sess_d", "u", kT0 + 60'004, q)));
    expect_exhausted(create(quota_record("sess_e", "u", kT0 + 60'005, q)), (kT0 + 120'000) / 1000);
}

TEST_P(StoreConformance, SessionsPerDayQuotaResetsAtUtcMidnight) {
    const auto q = limits(0, 3, 0, kMin);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(create(quota_record("sess_" + std::to_string(i), "u", kT0 + i, q)));
    }
    const std::int64_t midnight_s = (kDayStart + kMsPerDay) / 1000;
    expect_exhausted(create(quota_record("sess_x", "u", kT0 + 10, q)), midnight_s);
    // Ending sessions does not give back the day's session count.
    ASSERT_TRUE(end(end_with("sess_0", "u", kT0 + 1000, 1)));
    expect_exhausted(create(quota_record("sess_x", "u", kDayStart + kMsPerDay - 1, q)), midnight_s);
    EXPECT_TRUE(create(quota_record("sess_x", "u", kDayStart + kMsPerDay, q)));
    EXPECT_TRUE(create(quota_record("sess_y", "other", kT0 + 20, q)));
}

TEST_P(StoreConformance, MinutesQuotaChargesTheSmallerOfReportedAndObserved) {
    // Cap 10 min; each session reserves 30 min until it ends.
    const auto q = limits(0, 0, 10, 30 * kMin);
    const std::int64_t midnight_s = (kDayStart + kMsPerDay) / 1000;
    ASSERT_TRUE(create(quota_record("sess_a", "u", kT0, q)));
    expect_exhausted(create(quota_record("sess_b", "u", kT0, q)), midnight_s);  // 30 charged
    // Reported 5 min, observed 10 min: charged 5.
    ASSERT_TRUE(end(end_with("sess_a", "u", kT0 + 10 * kMin, 300)));
    ASSERT_TRUE(create(quota_record("sess_b", "u", kT0 + 10 * kMin, q)));  // 5 < 10; now 35
    // Reported 100 min, observed 4 min: charged 4 (total 9).
    ASSERT_TRUE(end(end_with("sess_b", "u", kT0 + 14 * kMin, 6000)));
    ASSERT_TRUE(create(quota_record("sess_c", "u", kT0 + 14 * kMin, q)));  // 9 < 10; now 39
    ASSERT_TRUE(end(end_with("sess_c", "u", kT0 + 15 * kMin, 60)));        // 1 min: total 10
    // Refused once the cap is reached, even though no session is open.
    expect_exhausted(create(quota_record("sess_d", "u", kT0 + 15 * kMin, q)), midnight_s);
}

TEST_P(StoreConformance, NeverEndedSessionStaysChargedItsWholeReservation) {
    const auto q = limits(0, 0, 60, 30 * kMin);
    ASSERT_TRUE(create(quota_record("sess_a", "u", kT0, q)));
    ASSERT_TRUE(create(quota_record("sess_b", "u", kT0 + 1000, q)));
    // Hours later, both reservations long over and never ended: still 60 min charged.
    const std::int64_t midnight_s = (kDayStart + kMsPerDay) / 1000;
    expect_exhausted(create(quota_record("sess_c", "u", kT0 + 5 * 60 * kMin, q)), midnight_s);
    // The next UTC day starts afresh.
    EXPECT_TRUE(create(quota_record("sess_c", "u", kDayStart + kMsPerDay + 1, q)));
    // An end long after issue settles to what was used (charged on the day of issue).
    ASSERT_TRUE(end(end_with("sess_a", "u", kDayStart + kMsPerDay + 2, 60)));
    EXPECT_TRUE(create(quota_record("sess_d", "u", kT0 + 5 * 60 * kMin + 1, q)));
}

TEST_P(StoreConformance, RepeatEndDoesNotSettleTwice) {
    const auto q = limits(0, 0, 10, 30 * kMin);
    ASSERT_TRUE(create(quota_record("sess_a", "u", kT0, q)));
    ASSERT_TRUE(end(end_with("sess_a", "u", kT0 + 10 * kMin, 300)));  // charged 5
    auto again = end(end_with("sess_a", "u", kT0 + 11 * kMin, 0));
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->already_ended);
    ASSERT_TRUE(create(quota_record("sess_b", "u", kT0 + 12 * kMin, q)));  // 35 charged
    // Had the repeat settled again (0 - 30), the charge would be back under the cap.
    expect_exhausted(create(quota_record("sess_c", "u", kT0 + 12 * kMin, q)),
                     (kDayStart + kMsPerDay) / 1000);
}

TEST_P(StoreConformance, ZeroLimitsAreUnlimited) {
    // All zero: no check at all.
    for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(
            create(quota_record("sess_n" + std::to_string(i), "u", kT0, limits(0, 0, 0, 0))));
    }
    // One limit set, the others 0: only that one counts.
    const auto q = limits(0, 1000, 0, 30 * kMin);
    for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(create(quota_record("sess_q" + std::to_string(i), "v", kT0, q)));
    }
}

TEST_P(StoreConformance, ConcurrentRequestsGetExactlyTheLimit) {
    constexpr int kRequests = 20;
    constexpr int kLimit = 5;
    const auto q = limits(kLimit, 0, 0, 30 * kMin);
    std::atomic<int> ok{0};
    std::atomic<int> refused{0};
    std::atomic<int> errors{0};
    SessionStore& store = *store_;
    run_on_loops(4, kRequests / 4, [&](int t, int i) -> asio::awaitable<void> {
        auto rec = quota_record("sess_" + std::to_string(t) + "_" + std::to_string(i), "u",
                                kT0 + t * 10 + i, q);
        auto r = co_await store.create_session(std::move(rec));
        if (r) {
            ++ok;
        } else if (r.error().code == Error::quota_exhausted) {
            ++refused;
        } else {
            ++errors;
        }
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(ok.load(), kLimit);
    EXPECT_EQ(refused.load(), kRequests - kLimit);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreConformance, ::testing::ValuesIn(kBackends),
                         [](const auto& param_info) { return param_info.param.name; });

// --- Daily rollups and the read API (issue 4) -----------------------------------------------

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kIssueDay = 1'700'000'000'000 / kDay;  // 2023-11-14

class StoreRollups : public StoreConformance {
protected:
    UsageReport usage(std::int64_t from, std::int64_t to, const std::string& group = "day",
                      const std::string& user = {}, const std::string& model = {}) {
        UsageQuery q;
        q.from_day = from;
        q.to_day = to;
        q.group_by = group;
        q.user_id = user;
        q.model = model;
        auto r = run_coro(io_, store_->usage(q));
        EXPECT_TRUE(r) << r.error().details;
        return r ? *r : UsageReport{};
    }
    // A refusal as the token handler reports it (counted, and audited within the sample).
    void deny(const std::string& user, const std::string& reason, std::int64_t at_ms) {
        Denial d;
        d.at_ms = at_ms;
        d.user_id = user;
        d.client_ip = "203.0.113.9";
        d.reason = reason;
        store_->record_denial(d);
    }
    // Three sessions on the issue day: two ended (billable 50 s and 30 s), one open; three
    // denials.
    void write_history() {
        const std::int64_t t0 = kIssueDay * kDay + 3'600'000;
        auto a = make_record("sess_r1", "user_1", t0);
        auto b = make_record("sess_r2", "user_1", t0 + 1000);
        auto c = make_record("sess_r3", "user_2", t0 + 2000);
        c.model = "gpt-realtime-mini";
        ASSERT_TRUE(create(a));
        ASSERT_TRUE(create(b));
        ASSERT_TRUE(create(c));
        // Reported 100 s, observed 50 s: billable 50 s.
        ASSERT_TRUE(end(make_end("sess_r1", "user_1", t0 + 50'000, 100, 4)));
        // Reported 30 s, observed 60 s: billable 30 s.
        auto e2 = make_end("sess_r2", "user_1", t0 + 61'000, 30, 6);
        e2.ended_by = "timeout";
        ASSERT_TRUE(end(e2));
        deny("user_1", "rate_limited", t0 + 5000);
        deny("user_1", "rate_limited", t0 + 6000);
        deny("user_2", "quota_exhausted", t0 + 7000);
    }
};

TEST_P(StoreRollups, CountSessionsEndsBillableMinutesCostAndDenials) {
    write_history();
    const auto r = usage(kIssueDay, kIssueDay);
    const auto& t = r.totals;
    EXPECT_EQ(t.sessions, 3);
    EXPECT_EQ(t.ended_sessions, 2);
    EXPECT_EQ(t.reported_ms, 130'000);
    EXPECT_EQ(t.billable_ms, 80'000);
    EXPECT_EQ(t.messages, 10);
    EXPECT_EQ(t.ended_user, 1);
    EXPECT_EQ(t.ended_timeout, 1);
    EXPECT_EQ(t.ended_error, 0);
    // gpt-realtime's per-minute estimate: 600 audio tokens in at $32/1M + 1,200 out at $64/1M.
    EXPECT_NEAR(t.cost_usd, 80.0 / 60.0 * 0.096, 1e-9);
    EXPECT_EQ(t.denied.at("rate_limited"), 2);
    EXPECT_EQ(t.denied.at("quota_exhausted"), 1);
    ASSERT_EQ(r.rows.size(), 1U);
    EXPECT_EQ(r.rows[0].key, "2023-11-14");
    EXPECT_EQ(r.rows[0].usage.sessions, 3);
    // The stored session carries the same estimate.
    auto row = get("sess_r1");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, "ended");
    // (list_sessions() reads the stored cost; get_session() leaves it unset on PostgreSQL.)
    auto page = run_coro(io_, store_->list_sessions(SessionQuery{}));
    ASSERT_TRUE(page);
    const auto r1 = std::find_if(page->sessions.begin(), page->sessions.end(),
                                 [](const auto& s) { return s.issued.session_id == "sess_r1"; });
    ASSERT_NE(r1, page->sessions.end());
    EXPECT_NEAR(r1->estimated_cost_usd.value_or(-1), 50.0 / 60.0 * 0.096, 1e-9);
}

TEST_P(StoreRollups, GroupsByUserAndModelAndFilters) {
    write_history();
    const auto by_user = usage(kIssueDay, kIssueDay, "user");
    ASSERT_EQ(by_user.rows.size(), 2U);
    EXPECT_EQ(by_user.rows[0].key, "user_1");  // most billable minutes first
    EXPECT_EQ(by_user.rows[0].usage.billable_ms, 80'000);
    EXPECT_EQ(by_user.rows[0].usage.denied.at("rate_limited"), 2);
    EXPECT_EQ(by_user.rows[1].key, "user_2");
    EXPECT_EQ(by_user.rows[1].usage.sessions, 1);
    EXPECT_EQ(by_user.totals.sessions, 3);

    const auto by_model = usage(kIssueDay, kIssueDay, "model");
    ASSERT_EQ(by_model.rows.size(), 2U);
    EXPECT_EQ(by_model.rows[0].key, "gpt-realtime");
    EXPECT_EQ(by_model.rows[0].usage.sessions, 2);
    EXPECT_EQ(by_model.rows[1].key, "gpt-realtime-mini");

    const auto one_user = usage(kIssueDay, kIssueDay, "day", "user_2");
    EXPECT_EQ(one_user.totals.sessions, 1);
    EXPECT_EQ(one_user.totals.ended_sessions, 0);
    EXPECT_EQ(one_user.totals.denied.at("quota_exhausted"), 1);
    EXPECT_EQ(one_user.totals.denied.count("rate_limited"), 0U);

    const auto one_model = usage(kIssueDay, kIssueDay, "day", "", "gpt-realtime-mini");
    EXPECT_EQ(one_model.totals.sessions, 1);
    EXPECT_EQ(usage(kIssueDay + 1, kIssueDay + 3).totals.sessions, 0);
}

TEST_P(StoreRollups, UserRankingFollowsALateEndOnAnEarlierDay) {
    // Ranking users reuses each day's per-user sums between calls until the day changes: a
    // session ended days after its issue day must still move that day's ranking.
    write_history();
    const std::int64_t next_day = (kIssueDay + 1) * kDay + 3'600'000;
    ASSERT_TRUE(create(make_record("sess_next", "user_3", next_day)));
    ASSERT_TRUE(end(make_end("sess_next", "user_3", next_day + 40'000, 40)));
    auto before = usage(kIssueDay, kIssueDay + 1, "user");
    ASSERT_EQ(before.rows.size(), 3U);
    EXPECT_EQ(before.rows[0].key, "user_1");  // 80 s
    EXPECT_EQ(before.rows[1].key, "user_3");  // 40 s
    EXPECT_EQ(before.rows[2].key, "user_2");  // not ended
    EXPECT_EQ(usage(kIssueDay, kIssueDay + 1, "user").rows[0].key, "user_1") << "same answer again";

    // user_2's session from the first day ends two days later: 300 s reported and observed.
    const std::int64_t t0 = kIssueDay * kDay + 3'600'000;
    ASSERT_TRUE(end(make_end("sess_r3", "user_2", t0 + 2000 + 300'000, 300)));
    auto after = usage(kIssueDay, kIssueDay + 1, "user");
    ASSERT_EQ(after.rows.size(), 3U);
    EXPECT_EQ(after.rows[0].key, "user_2");
    EXPECT_EQ(after.rows[0].usage.billable_ms, 300'000);
    EXPECT_EQ(after.rows[1].key, "user_1");
    EXPECT_EQ(after.rows[2].key, "user_3");
    // A range that starts at the changed day, and one that leaves it out.
    EXPECT_EQ(usage(kIssueDay, kIssueDay, "user").rows[0].key, "user_2");
    EXPECT_EQ(usage(kIssueDay + 1, kIssueDay + 1, "user").rows[0].key, "user_3");
    ASSERT_EQ(usage(kIssueDay + 1, kIssueDay + 1, "user").rows.size(), 1U);
}

TEST_P(StoreRollups, EndCountsOnTheDayOfIssue) {
    const std::int64_t late = (kIssueDay + 1) * kDay - 30'000;  // 23:59:30
    ASSERT_TRUE(create(make_record("sess_late", "user_1", late)));
    ASSERT_TRUE(end(make_end("sess_late", "user_1", late + 90'000, 90)));
    deny("user_1", "rate_limited", late + 60'000);  // denials count on their own day
    const auto r = usage(kIssueDay, kIssueDay + 1);
    ASSERT_EQ(r.rows.size(), 2U);
    EXPECT_EQ(r.rows[0].usage.sessions, 1);
    EXPECT_EQ(r.rows[0].usage.ended_sessions, 1);
    EXPECT_EQ(r.rows[0].usage.billable_ms, 90'000);
    EXPECT_TRUE(r.rows[0].usage.denied.empty());
    EXPECT_EQ(r.rows[1].key, "2023-11-15");
    EXPECT_EQ(r.rows[1].usage.sessions, 0);
    EXPECT_EQ(r.rows[1].usage.ended_sessions, 0);
    EXPECT_EQ(r.rows[1].usage.denied.at("rate_limited"), 1);
}

TEST_P(StoreRollups, RepeatedEndAndFailedWritesAreNotCounted) {
    write_history();
    ASSERT_TRUE(end(make_end("sess_r1", "user_1", 1'700'010'000'000, 500)));    // already ended
    EXPECT_FALSE(create(make_record("sess_r1", "user_9")));                     // duplicate
    EXPECT_FALSE(end(make_end("sess_r3", "someone_else", 1'700'010'000'000)));  // forbidden
    const auto t = usage(kIssueDay, kIssueDay).totals;
    EXPECT_EQ(t.sessions, 3);
    EXPECT_EQ(t.ended_sessions, 2);
    EXPECT_EQ(t.billable_ms, 80'000);
}

TEST_P(StoreRollups, RebuildGivesIdenticalNumbers) {
    write_history();
    const std::int64_t late = (kIssueDay + 1) * kDay - 30'000;
    ASSERT_TRUE(create(make_record("sess_late", "user_3", late)));
    ASSERT_TRUE(end(make_end("sess_late", "user_3", late + 90'000, 12.345)));
    std::vector<UsageReport> before;
    for (const char* g : {"day", "user", "model"}) {
        before.push_back(usage(kIssueDay, kIssueDay + 1, g));
    }
    auto rebuilt = run_coro(io_, store_->rebuild_rollups());
    ASSERT_TRUE(rebuilt) << rebuilt.error().details;
    EXPECT_EQ(rebuilt->sessions, 4);
    EXPECT_EQ(rebuilt->denials, 3);
    std::size_t i = 0;
    for (const char* g : {"day", "user", "model"}) {
        const auto after = usage(kIssueDay, kIssueDay + 1, g);
        ASSERT_EQ(after.rows.size(), before[i].rows.size()) << g;
        for (std::size_t r = 0; r < after.rows.size(); ++r) {
            const auto& a = after.rows[r];
            const auto& b = before[i].rows[r];
            EXPECT_EQ(a.key, b.key) << g;
            EXPECT_EQ(a.usage.sessions, b.usage.sessions) << g << " " << a.key;
            EXPECT_EQ(a.usage.ended_sessions, b.usage.ended_sessions) << g << " " << a.key;
            EXPECT_EQ(a.usage.reported_ms, b.usage.reported_ms) << g << " " << a.key;
            EXPECT_EQ(a.usage.billable_ms, b.usage.billable_ms) << g << " " << a.key;
            EXPECT_EQ(a.usage.messages, b.usage.messages) << g << " " << a.key;
            EXPECT_NEAR(a.usage.cost_usd, b.usage.cost_usd, 1e-9) << g << " " << a.key;
            EXPECT_EQ(a.usage.ended_user, b.usage.ended_user) << g << " " << a.key;
            EXPECT_EQ(a.usage.ended_timeout, b.usage.ended_timeout) << g << " " << a.key;
            EXPECT_EQ(a.usage.denied, b.usage.denied) << g << " " << a.key;
        }
        EXPECT_EQ(after.totals.billable_ms, before[i].totals.billable_ms) << g;
        EXPECT_EQ(after.totals.denied, before[i].totals.denied) << g;
        ++i;
    }
}

TEST_P(StoreRollups, SessionPagesVisitEveryRowExactlyOnce) {
    const std::int64_t t0 = kIssueDay * kDay;
    std::set<std::string> all;
    for (int i = 0; i < 23; ++i) {
        // Pairs share an issue time, so the cursor's tie-break on the id is exercised.
        const std::string id = "sess_p" + std::to_string(100 + i);
        ASSERT_TRUE(create(make_record(id, i % 3 == 0 ? "user_a" : "user_b", t0 + (i / 2) * 1000)));
        all.insert(id);
        if (i % 4 == 0) {
            ASSERT_TRUE(end(make_end(id, i % 3 == 0 ? "user_a" : "user_b", t0 + 100'000, 5)));
        }
    }
    const auto visit = [&](SessionQuery q) {
        std::vector<std::string> seen;
        std::optional<std::int64_t> last_ms;
        for (int pages = 0; pages < 50; ++pages) {
            auto page = run_coro(io_, store_->list_sessions(q));
            EXPECT_TRUE(page) << page.error().details;
            if (!page) {
                break;
            }
            for (const auto& s : page->sessions) {
                if (last_ms) {
                    EXPECT_LE(s.issued.issued_at_ms, *last_ms);  // newest first
                }
                last_ms = s.issued.issued_at_ms;
                seen.push_back(s.issued.session_id);
            }
            if (!page->next) {
                break;
            }
            q.after = page->next;
        }
        return seen;
    };
    SessionQuery q;
    q.limit = 4;
    const auto seen = visit(q);
    EXPECT_EQ(seen.size(), all.size());
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all);

    q.user_id = "user_a";
    EXPECT_EQ(visit(q).size(), 8U);
    q.user_id.clear();
    q.status = "ended";
    const auto ended = visit(q);
    EXPECT_EQ(ended.size(), 6U);
    q.status = "issued";
    EXPECT_EQ(visit(q).size(), 17U);
    q.status.clear();
    q.from_ms = t0 + 5000;
    q.to_ms = t0 + 7000;  // issue times 5 s and 6 s: ids 110..113
    EXPECT_EQ(visit(q).size(), 4U);
}

TEST_P(StoreRollups, EventPagesVisitEveryRowExactlyOnceAndFilter) {
    write_history();  // 3 token_issued, 2 session_ended, 3 token_denied
    std::set<std::int64_t> ids;
    EventQuery q;
    q.limit = 3;
    for (int pages = 0; pages < 10; ++pages) {
        auto page = run_coro(io_, store_->list_events(q));
        ASSERT_TRUE(page) << page.error().details;
        for (const auto& e : page->events) {
            EXPECT_TRUE(ids.insert(e.id).second) << e.id;
        }
        if (!page->next) {
            break;
        }
        q.before_id = page->next;
    }
    EXPECT_EQ(ids.size(), 8U);
    EventQuery denied;
    denied.type = "token_denied";
    denied.user_id = "user_1";
    auto page = run_coro(io_, store_->list_events(denied));
    ASSERT_TRUE(page);
    ASSERT_EQ(page->events.size(), 2U);
    EXPECT_EQ(page->events[0].reason, "rate_limited");
    EXPECT_GT(page->events[0].id, page->events[1].id);
}

TEST_P(StoreRollups, LiveListsOpenSessionsWithinTheReservation) {
    const std::int64_t now = kIssueDay * kDay + 10 * 3'600'000;
    ASSERT_TRUE(create(make_record("sess_old", "user_1", now - 31 * 60'000)));  // abandoned
    ASSERT_TRUE(create(make_record("sess_open1", "user_1", now - 60'000)));
    ASSERT_TRUE(create(make_record("sess_open2", "user_2", now - 30'000)));
    ASSERT_TRUE(create(make_record("sess_done", "user_2", now - 20'000)));
    ASSERT_TRUE(end(make_end("sess_done", "user_2", now - 10'000, 10)));
    LiveQuery q;
    q.now_ms = now;
    q.max_age_ms = 30 * 60'000;
    auto live = run_coro(io_, store_->live(q));
    ASSERT_TRUE(live) << live.error().details;
    EXPECT_EQ(live->open_sessions, 2);
    ASSERT_EQ(live->sessions.size(), 2U);
    EXPECT_EQ(live->sessions[0].row.issued.session_id, "sess_open2");
    EXPECT_EQ(live->sessions[0].reservation_ends_at_ms, now - 30'000 + 30 * 60'000);
    EXPECT_EQ(live->today.sessions, 4);
    EXPECT_EQ(live->today.ended_sessions, 1);
}

// Group commits put many creates, ends and denials of the same keys into one batch: the batch
// sums them per key, and the rollups still equal what was written (and what a rebuild finds).
TEST_P(StoreRollups, ConcurrentWritesFromManyLoopsAreCountedExactlyOnce) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 300;
    constexpr int kUsers = 7;
    std::atomic<int> errors{0};
    SessionStore& store = *store_;
    const std::int64_t t0 = kIssueDay * kDay + 3'600'000;
    run_on_loops(kThreads, kPerThread, [&](int t, int i) -> asio::awaitable<void> {
        const std::string id = "sess_c" + std::to_string(t) + "_" + std::to_string(i);
        const std::string user = "user_" + std::to_string(i % kUsers);
        auto rec = make_record(id, user, t0);
        rec.model = i % 2 == 0 ? "gpt-realtime" : "gpt-realtime-mini";
        if (!co_await store.create_session(rec)) {
            ++errors;
            co_return;
        }
        for (int k = 0; k < 2; ++k) {  // the repeat changes nothing
            auto e = make_end(id, user, t0 + 20'000, 30, 2);
            e.ended_by = i % 3 == 0 ? "error" : "user";
            if (!co_await store.end_session(e)) {
                ++errors;
            }
        }
        Denial denied;
        denied.at_ms = t0 + 1000;
        denied.user_id = user;
        denied.reason = i % 2 == 0 ? "rate_limited" : "quota_exhausted";
        store.record_denial(denied);
        if (i % 50 == 0 && !co_await store.flush_denials()) {  // flushes racing the records
            ++errors;
        }
    });
    ASSERT_EQ(errors.load(), 0);
    constexpr std::int64_t kAll = kThreads * kPerThread;
    const auto check = [&](const UsageReport& r) {
        const auto& t = r.totals;
        EXPECT_EQ(t.sessions, kAll);
        EXPECT_EQ(t.ended_sessions, kAll);
        EXPECT_EQ(t.reported_ms, kAll * 30'000);
        EXPECT_EQ(t.billable_ms, kAll * 20'000);  // observed 20 s < reported 30 s
        EXPECT_EQ(t.messages, kAll * 2);
        EXPECT_EQ(t.ended_error, kThreads * 100);
        EXPECT_EQ(t.ended_user, kAll - kThreads * 100);
        EXPECT_EQ(t.denied.at("rate_limited") + t.denied.at("quota_exhausted"), kAll);
        std::int64_t per_user = 0;
        for (const auto& row : r.rows) {
            per_user += row.usage.sessions;
        }
        EXPECT_EQ(per_user, kAll);
        EXPECT_EQ(r.rows.size(), static_cast<std::size_t>(kUsers));
    };
    check(usage(kIssueDay, kIssueDay, "user"));
    const auto by_model = usage(kIssueDay, kIssueDay, "model");
    ASSERT_EQ(by_model.rows.size(), 2U);
    EXPECT_EQ(by_model.rows[0].usage.sessions, kAll / 2);
    ASSERT_TRUE(run_coro(io_, store_->rebuild_rollups()));
    check(usage(kIssueDay, kIssueDay, "user"));
}

// Token usage (written by the call supervisor, here straight into the row) makes the cost exact
// from the tokens instead of the per-minute estimate. Runs where a second connection can reach
// the database (a file, PostgreSQL); the in-memory database is private to its store.
TEST_P(StoreRollups, CostComesFromTokensWhenTheSessionHasThem) {
    if (GetParam().name == "SqliteMemory") {
        GTEST_SKIP() << "the in-memory database is private to its store: no second connection "
                        "can write the tokens";
    }
    const std::int64_t t0 = kIssueDay * kDay;
    ASSERT_TRUE(create(make_record("sess_tok", "user_1", t0)));
    const std::string update =
        "UPDATE sessions SET input_text_tokens = 313, cached_text_tokens = 256, "
        "input_audio_tokens = 476, cached_audio_tokens = 384, output_text_tokens = 9, "
        "output_audio_tokens = 23 WHERE session_id = 'sess_tok'";
    if (GetParam().needs_pg) {
#ifdef VOICEGATE_WITH_POSTGRES
        auto target = parse_pg_url(pg_schema_->url());
        ASSERT_TRUE(target);
        auto conn = PgConnection::connect(*target);
        ASSERT_TRUE(conn);
        ASSERT_TRUE((*conn)->use_schema(target->schema, false));
        ASSERT_TRUE((*conn)->exec_script(update));
#endif
    } else {
        SqliteConnectionOptions o;
        o.path = dir_.file("store.db");
        auto conn = SqliteConnection::open(o);
        ASSERT_TRUE(conn);
        ASSERT_TRUE((*conn)->exec_script(update));
    }
    ASSERT_TRUE(end(make_end("sess_tok", "user_1", t0 + 600'000, 600)));
    // gpt-realtime: text 4 / 0.40 / 16, audio 32 / 0.40 / 64 per 1M (reference §6 example).
    const double expected =
        (57 * 4.0 + 256 * 0.4 + 92 * 32.0 + 384 * 0.4 + 9 * 16.0 + 23 * 64.0) / 1e6;
    const auto t = usage(kIssueDay, kIssueDay).totals;
    EXPECT_NEAR(t.cost_usd, expected, 1e-12);
    EXPECT_EQ(t.tokens.input_audio, 476);
    EXPECT_EQ(t.tokens.output_audio, 23);
    SessionQuery q;
    auto page = run_coro(io_, store_->list_sessions(q));
    ASSERT_TRUE(page);
    ASSERT_EQ(page->sessions.size(), 1U);
    EXPECT_NEAR(page->sessions[0].estimated_cost_usd.value_or(-1), expected, 1e-12);
}

// --- Refusals: counted exactly, audited by sample, pruned by retention (probe D3) -----------

TEST_P(StoreRollups, DenialsAreCountedExactlyWhileTheAuditKeepsASample) {
    const std::int64_t m0 = kIssueDay * kDay + 3'600'000;  // the start of a minute
    for (int i = 0; i < 40; ++i) {
        deny("user_1", "rate_limited", m0 + i * 100);
    }
    for (int i = 0; i < 3; ++i) {
        deny("user_2", "quota_exhausted", m0 + 10'000 + i);
    }
    for (int i = 0; i < 2; ++i) {
        deny("user_1", "rate_limited", m0 + 60'000 + i);  // the next minute
    }
    // Read at once: the read writes what was recorded before it.
    auto t = usage(kIssueDay, kIssueDay).totals;
    EXPECT_EQ(t.denied.at("rate_limited"), 42);
    EXPECT_EQ(t.denied.at("quota_exhausted"), 3);
    EXPECT_EQ(usage(kIssueDay, kIssueDay, "day", "user_2").totals.denied.at("quota_exhausted"), 3);

    // The first 5 per user (and address) and reason each minute are audit events.
    EventQuery q;
    q.type = "token_denied";
    q.limit = 1000;
    auto page = run_coro(io_, store_->list_events(q));
    ASSERT_TRUE(page) << page.error().details;
    ASSERT_EQ(page->events.size(), 10U);
    std::map<std::pair<std::string, std::int64_t>, int> per_user_minute;
    for (const auto& e : page->events) {
        EXPECT_EQ(e.client_ip, "203.0.113.9");
        ++per_user_minute[{e.user_id, e.at_ms / 60'000}];
    }
    EXPECT_EQ((per_user_minute[{"user_1", m0 / 60'000}]), 5);
    EXPECT_EQ((per_user_minute[{"user_1", m0 / 60'000 + 1}]), 2);
    EXPECT_EQ((per_user_minute[{"user_2", m0 / 60'000}]), 3);
    EXPECT_EQ(page->events.back().at_ms, m0) << "the first refusals are the ones kept";

    // Written once: another flush adds nothing; a rebuild of the usage rollups keeps them.
    ASSERT_TRUE(run_coro(io_, store_->flush_denials()));
    auto rebuilt = run_coro(io_, store_->rebuild_rollups());
    ASSERT_TRUE(rebuilt) << rebuilt.error().details;
    EXPECT_EQ(rebuilt->denials, 45);
    EXPECT_EQ(rebuilt->denial_rows, 2);  // (day, user_1, rate_limited), (day, user_2, quota)
    t = usage(kIssueDay, kIssueDay).totals;
    EXPECT_EQ(t.denied.at("rate_limited"), 42);
    EXPECT_EQ(t.denied.at("quota_exhausted"), 3);

    // Per minute, user, address and reason: three rows, which retention removes while the daily
    // counts stay.
    PruneRequest all;
    all.denials_before_minute = m0 / 60'000 + 2;
    all.limit = 100;
    auto pruned = run_coro(io_, store_->prune(all));
    ASSERT_TRUE(pruned) << pruned.error().details;
    EXPECT_EQ(pruned->denial_rows, 3);
    EXPECT_EQ(pruned->events, 0);
    EXPECT_EQ(usage(kIssueDay, kIssueDay).totals.denied.at("rate_limited"), 42);
}

TEST_P(StoreRollups, RetentionPrunesOnlyOldRowsInBoundedSteps) {
    const std::int64_t old_t = kIssueDay * kDay;
    const std::int64_t now = old_t + 10 * kDay;
    const auto append = [&](std::int64_t at_ms) {
        Event e;
        e.at_ms = at_ms;
        e.type = "admin_action";
        e.user_id = "admin";
        ASSERT_TRUE(run_coro(io_, store_->append_event(e)));
    };
    for (int i = 0; i < 25; ++i) {
        append(old_t + i);
    }
    for (int i = 0; i < 3; ++i) {
        append(now - 1000 + i);
    }
    for (int i = 0; i < 8; ++i) {  // 8 per-minute rows, 5 samples (the address's bound)
        deny("user_" + std::to_string(i), "rate_limited", old_t + i * 1000);
    }
    deny("user_x", "rate_limited", now - 500);
    ASSERT_TRUE(run_coro(io_, store_->flush_denials()));

    const PruneRequest request = retention_request(now, 5, 5, 10);
    PruneReport total;
    int steps = 0;
    for (; steps < 20; ++steps) {
        auto step = run_coro(io_, store_->prune(request));
        ASSERT_TRUE(step) << step.error().details;
        EXPECT_LE(step->events, 10);
        EXPECT_LE(step->denial_rows, 10);
        total.events += step->events;
        total.denial_rows += step->denial_rows;
        if (step->events < request.limit && step->denial_rows < request.limit) {
            break;
        }
    }
    EXPECT_EQ(total.events, 30);  // 25 old events and 5 old samples
    EXPECT_EQ(total.denial_rows, 8);
    EXPECT_GE(steps, 3) << "at most `limit` rows a step";

    EventQuery q;
    q.limit = 1000;
    auto page = run_coro(io_, store_->list_events(q));
    ASSERT_TRUE(page) << page.error().details;
    ASSERT_EQ(page->events.size(), 4U);  // the 3 recent events and the recent sample
    for (const auto& e : page->events) {
        EXPECT_GE(e.at_ms, now - 1000);
    }
    // The daily counts are kept: the usage report still counts every refusal.
    EXPECT_EQ(usage(kIssueDay, kIssueDay + 10).totals.denied.at("rate_limited"), 9);
    auto again = run_coro(io_, store_->prune(request));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->events, 0);
    EXPECT_EQ(again->denial_rows, 0);
    // Zero retention keeps everything.
    EXPECT_EQ(retention_request(now, 0, 0).events_before_ms, 0);
    EXPECT_EQ(retention_request(now, 0, 0).denials_before_minute, 0);
}

TEST_P(StoreRollups, DenialsStillBufferedAtCloseAreWritten) {
    if (GetParam().name == "SqliteMemory") {
        GTEST_SKIP() << "the in-memory database is private to its store: nothing to reopen";
    }
    const std::int64_t t0 = kIssueDay * kDay + 3'600'000;
    for (int i = 0; i < 7; ++i) {
        deny("user_1", "rate_limited", t0 + i);
    }
    store_->close();
    BackendPlace place{dir_, {}};
#ifdef VOICEGATE_WITH_POSTGRES
    if (pg_schema_) {
        place.pg_url = pg_schema_->url();
    }
#endif
    auto reopened = GetParam().open(place, &clock_);
    ASSERT_TRUE(reopened) << reopened.error().details;
    store_ = std::move(*reopened);
    EXPECT_EQ(usage(kIssueDay, kIssueDay).totals.denied.at("rate_limited"), 7);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreRollups, ::testing::ValuesIn(kBackends),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace voicegate::store
