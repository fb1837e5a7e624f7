// The CallSupervisionStore conformance suite (store/supervision.hpp, SPEC §7.3): attach, leases,
// usage checkpoints, the server-seen end and a user's live minutes, run against every engine:
// SQLite in memory and on a file, and PostgreSQL (VOICEGATE_TEST_PG_URL, a fresh schema per
// test). The lease tests also run two store objects on one database (one SQLite file, one
// PostgreSQL schema), as two instances would.
#include <algorithm>
#include <atomic>
#include <functional>
#include <iterator>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.hpp"
#include "fakes/manual_clock.hpp"
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

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kDayStart = 19'675LL * kMsPerDay;
constexpr std::int64_t kT0 = kDayStart + 60 * kMin;  // 01:00 UTC

/// One engine: how to open a store on a place (a second call opens a second store object on
/// the same database), and how to read a session's events back.
struct Backend {
    std::string name;
    bool pg = false;
    bool shared = false;  // two store objects can share the database
};

void PrintTo(const Backend& b, std::ostream* os) {
    *os << b.name;
}

const Backend kBackends[] = {
    {"SqliteMemory", false, false},
    {"SqliteFile", false, true},
#ifdef VOICEGATE_WITH_POSTGRES
    {"Postgres", true, true},
#endif
};

class CallSupervision : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        if (GetParam().pg) {
#ifdef VOICEGATE_WITH_POSTGRES
            VOICEGATE_REQUIRE_PG();
            schema_ = std::make_unique<test::PgTestSchema>();
#endif
        }
        store_ = open_store_object();
        ASSERT_TRUE(store_);
    }
    void TearDown() override {
        for (auto* s : {other_.get(), store_.get()}) {
            if (s != nullptr) {
                s->close();
            }
        }
        other_.reset();
        store_.reset();
#ifdef VOICEGATE_WITH_POSTGRES
        schema_.reset();
#endif
    }

    /// A store object on this test's database (SQLite memory: a fresh one).
    std::unique_ptr<SessionStore> open_store_object() {
        PriceTable prices;
        prices["gpt-realtime"] = ModelPrice{4, 0.4, 16, 32, 0.4, 64, 5, 0.5, -1};
#ifdef VOICEGATE_WITH_POSTGRES
        if (GetParam().pg) {
            PgOptions o;
            o.url = schema_->url();
            o.common.clock = &clock_;
            o.common.prices = prices;
            auto s = PgStore::open(std::move(o));
            EXPECT_TRUE(s) << (s ? "" : s.error().details);
            return s ? std::unique_ptr<SessionStore>(std::move(*s)) : nullptr;
        }
#endif
        SqliteOptions o;
        o.path = GetParam().shared ? dir_.file("calls.db") : ":memory:";
        o.common.clock = &clock_;
        o.common.prices = prices;
        auto s = SqliteStore::open(std::move(o));
        EXPECT_TRUE(s) << (s ? "" : s.error().details);
        return s ? std::unique_ptr<SessionStore>(std::move(*s)) : nullptr;
    }

    SessionStore& other() {
        if (!other_) {
            other_ = open_store_object();
        }
        return *other_;
    }

    std::vector<Event> events(const std::string& id) {
        Result<std::vector<Event>> r = std::vector<Event>{};
#ifdef VOICEGATE_WITH_POSTGRES
        if (GetParam().pg) {
            r = run_coro(io_, dynamic_cast<PgStore&>(*store_).session_events(id));
        }
#endif
        if (!GetParam().pg) {
            r = run_coro(io_, dynamic_cast<SqliteStore&>(*store_).session_events(id));
        }
        EXPECT_TRUE(r);
        return r ? *r : std::vector<Event>{};
    }
    std::vector<std::string> event_types(const std::string& id) {
        std::vector<std::string> out;
        for (const auto& e : events(id)) {
            out.push_back(e.type);
        }
        return out;
    }

    template <class T>
    T run(asio::awaitable<T> aw) {
        return run_coro(io_, std::move(aw));
    }

    /// Creates `id` for `user` at `at` (with `quota` when given).
    void create(const std::string& id, const std::string& user, std::int64_t at,
                QuotaLimits quota = {}) {
        SessionRecord r;
        r.session_id = id;
        r.user_id = user;
        r.model = "gpt-realtime";
        r.voice = "alloy";
        r.issued_at_ms = at;
        r.token_expires_at = at / 1000 + 600;
        r.client_ip = "203.0.113.7";
        r.quota = quota;
        auto done = run(store_->create_session(r));
        ASSERT_TRUE(done) << done.error().details;
    }
    Result<AttachOutcome> attach(const std::string& id, const std::string& caller,
                                 const std::string& call_id, std::int64_t at,
                                 std::int64_t cap_ms = 30 * kMin, bool relayed = false) {
        AttachRequest a;
        a.session_id = id;
        a.caller_user_id = caller;
        a.call_id = call_id;
        a.at_ms = at;
        a.cap_ms = cap_ms;
        a.client_ip = "203.0.113.9";
        a.relayed = relayed;
        return run(store_->attach_call(a));
    }
    /// A live call: created and attached at `at`.
    void live_call(const std::string& id, const std::string& user, std::int64_t at,
                   QuotaLimits quota = {}) {
        create(id, user, at, quota);
        auto a = attach(id, user, "rtc_" + id, at);
        ASSERT_TRUE(a) << a.error().details;
    }
    Result<std::vector<SupervisedCall>> claim(SessionStore& s, const std::string& instance,
                                              std::int64_t now, std::size_t limit = 1000,
                                              std::int64_t lease_ms = 15'000) {
        LeaseClaim c{instance, now, lease_ms, limit};
        return run(s.claim_calls(c));
    }
    Result<void> checkpoint(SessionStore& s, const std::string& id, const std::string& instance,
                            const TrueUsage& usage, std::int64_t at) {
        return run(s.checkpoint_usage(UsageCheckpoint{id, instance, usage, at}));
    }
    Result<void> end_call(SessionStore& s, const std::string& id, const std::string& instance,
                          CallEnd reason, const TrueUsage& usage, std::int64_t at) {
        return run(s.end_call(CallEnded{id, instance, reason, usage, at}));
    }
    Result<EndOutcome> client_end(const std::string& id, const std::string& user, std::int64_t at,
                                  double reported_s, std::int64_t messages) {
        EndRequest e;
        e.session_id = id;
        e.caller_user_id = user;
        e.check_owner = true;
        e.reported_duration_s = reported_s;
        e.message_count = messages;
        e.ended_by = "user";
        e.ended_at_ms = at;
        return run(store_->end_session(e));
    }
    SessionRow row(const std::string& id) {
        auto r = run(store_->get_session(id));
        EXPECT_TRUE(r && *r) << id;
        return r && *r ? **r : SessionRow{};
    }
    UsageTotals usage_today() {
        UsageQuery q;
        q.from_day = q.to_day = quota_day(kT0);
        auto r = run(store_->usage(q));
        EXPECT_TRUE(r) << (r ? "" : r.error().details);
        return r ? r->totals : UsageTotals{};
    }

    test::TempDir dir_;
#ifdef VOICEGATE_WITH_POSTGRES
    std::unique_ptr<test::PgTestSchema> schema_;
#endif
    test::ManualClock clock_{kT0};
    asio::io_context io_;
    std::unique_ptr<SessionStore> store_;
    std::unique_ptr<SessionStore> other_;
};

TrueUsage some_usage(std::int64_t scale = 1) {
    TrueUsage u;
    u.tokens.input_text = 100 * scale;
    u.tokens.input_audio = 2000 * scale;
    u.tokens.cached_audio = 500 * scale;
    u.tokens.output_text = 40 * scale;
    u.tokens.output_audio = 3000 * scale;
    u.transcription_in_tokens = 30 * scale;
    u.transcription_out_tokens = 12 * scale;
    u.transcription_seconds = 7.5 * static_cast<double>(scale);
    u.responses = 4 * scale;
    u.cost_usd = 0.3125 * static_cast<double>(scale);
    return u;
}

QuotaLimits minutes_quota(std::int64_t minutes, std::int64_t reserve_ms) {
    QuotaLimits q;
    q.minutes_per_day = minutes;
    q.reserve_ms = reserve_ms;
    return q;
}

// ---- attach_call ----

TEST_P(CallSupervision, AttachRecordsTheCallAndAnEventWithoutTheCallId) {
    create("sess_a", "u1", kT0);
    auto a = attach("sess_a", "u1", "rtc_secret_1", kT0 + 2000, 20 * kMin);
    ASSERT_TRUE(a) << a.error().details;
    EXPECT_TRUE(a->newly_attached);
    const SessionRow r = row("sess_a");
    ASSERT_TRUE(r.call);
    EXPECT_EQ(r.status, "issued");
    EXPECT_EQ(r.call->state, "live");
    EXPECT_EQ(r.call->flow, "token");
    EXPECT_EQ(r.call->started_at_ms, kT0 + 2000);
    EXPECT_EQ(r.call->cap_ms, 20 * kMin);
    EXPECT_EQ(r.call->call_id, "rtc_secret_1");
    EXPECT_EQ(r.call->usage, TrueUsage{});
    const auto evs = events("sess_a");
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[1].type, "call_attached");
    EXPECT_EQ(evs[1].user_id, "u1");
    EXPECT_EQ(evs[1].detail.find("rtc_secret_1"), std::string::npos) << evs[1].detail;
}

TEST_P(CallSupervision, AttachIsIdempotentForTheSameCallAndRefusesAnother) {
    create("sess_a", "u1", kT0);
    ASSERT_TRUE(attach("sess_a", "u1", "rtc_1", kT0));
    auto again = attach("sess_a", "u1", "rtc_1", kT0 + 5000);
    ASSERT_TRUE(again) << again.error().details;
    EXPECT_FALSE(again->newly_attached);
    EXPECT_EQ(row("sess_a").call->started_at_ms, kT0);  // unchanged
    auto other = attach("sess_a", "u1", "rtc_2", kT0 + 5000);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, Error::conflict);
    EXPECT_EQ(row("sess_a").call->call_id, "rtc_1");
    int attached = 0;
    for (const auto& t : event_types("sess_a")) {
        attached += t == "call_attached" ? 1 : 0;
    }
    EXPECT_EQ(attached, 1);
}

TEST_P(CallSupervision, AttachChecksTheOwnerTheSessionAndItsState) {
    create("sess_a", "u1", kT0);
    auto forbidden = attach("sess_a", "intruder", "rtc_1", kT0);
    ASSERT_FALSE(forbidden);
    EXPECT_EQ(forbidden.error().code, Error::forbidden);
    EXPECT_FALSE(row("sess_a").call);
    auto unknown = attach("sess_nope", "u1", "rtc_1", kT0);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Error::session_not_found);
    ASSERT_TRUE(client_end("sess_a", "u1", kT0 + 1000, 1, 1));
    auto ended = attach("sess_a", "u1", "rtc_1", kT0 + 2000);
    ASSERT_FALSE(ended);
    EXPECT_EQ(ended.error().code, Error::conflict);
    // Without auth there is no verified caller: the owner is not checked.
    create("sess_b", "u1", kT0);
    AttachRequest a;
    a.session_id = "sess_b";
    a.caller_user_id = "anonymous";
    a.check_owner = false;
    a.call_id = "rtc_b";
    a.at_ms = kT0;
    EXPECT_TRUE(run(store_->attach_call(a)));
}

TEST_P(CallSupervision, RelayedCallIsFlowRelayWithItsOwnEvent) {
    create("sess_r", "u1", kT0);
    ASSERT_TRUE(attach("sess_r", "u1", "rtc_r", kT0, 10 * kMin, true));
    EXPECT_EQ(row("sess_r").call->flow, "relay");
    EXPECT_EQ(event_types("sess_r"), (std::vector<std::string>{"token_issued", "call_relayed"}));
}

// ---- leases ----

TEST_P(CallSupervision, ClaimTakesLiveCallsOnceAndRenewsOnlyItsOwn) {
    live_call("sess_a", "u1", kT0);
    live_call("sess_b", "u2", kT0 + 1);
    create("sess_plain", "u3", kT0);  // no call: never claimed
    auto a = claim(*store_, "inst_a", kT0 + 10);
    ASSERT_TRUE(a) << a.error().details;
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ((*a)[0].session_id, "sess_a");
    EXPECT_EQ((*a)[0].call_id, "rtc_sess_a");
    EXPECT_EQ((*a)[0].user_id, "u1");
    EXPECT_EQ((*a)[0].model, "gpt-realtime");
    EXPECT_EQ((*a)[0].started_at_ms, kT0);
    EXPECT_EQ((*a)[0].cap_ms, 30 * kMin);
    // Held: another instance gets nothing while the lease runs.
    auto b = claim(*store_, "inst_b", kT0 + 14'000);
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->empty());
    // The holder renews; the other instance renews nothing.
    auto renewed = run(store_->renew_leases(LeaseClaim{"inst_a", kT0 + 14'000, 15'000, 1000},
                                            {"sess_a", "sess_b", "sess_plain"}));
    ASSERT_TRUE(renewed);
    EXPECT_EQ(*renewed, (std::vector<std::string>{"sess_a", "sess_b"}));
    auto not_mine =
        run(store_->renew_leases(LeaseClaim{"inst_b", kT0 + 14'000, 15'000, 1000}, {"sess_a"}));
    ASSERT_TRUE(not_mine);
    EXPECT_TRUE(not_mine->empty());
    // Renewed to 29 s: still held at 28 s, taken over once it expired.
    auto still = claim(*store_, "inst_b", kT0 + 28'000);
    ASSERT_TRUE(still);
    EXPECT_TRUE(still->empty());
    auto taken = claim(*store_, "inst_b", kT0 + 29'000);
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->size(), 2u);
    // The old holder's writes are refused from then on.
    auto stale = checkpoint(*store_, "sess_a", "inst_a", some_usage(), kT0 + 29'500);
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().code, Error::lease_lost);
}

TEST_P(CallSupervision, ClaimHonoursTheLimitAndPrefersCallsNobodyHolds) {
    for (int i = 0; i < 5; ++i) {
        live_call("sess_" + std::to_string(i), "u", kT0 + i);
    }
    auto first = claim(*store_, "inst_a", kT0 + 10, 2);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->size(), 2u);
    // A second claim of the same instance goes on to calls nobody holds.
    auto second = claim(*store_, "inst_a", kT0 + 20, 2);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->size(), 2u);
    EXPECT_EQ((*second)[0].session_id, "sess_2");
    EXPECT_EQ((*second)[1].session_id, "sess_3");
}

TEST_P(CallSupervision, ReleasedLeaseIsTakenAtOnceAndEndedCallsAreNotClaimed) {
    live_call("sess_a", "u1", kT0);
    live_call("sess_b", "u1", kT0 + 1);
    ASSERT_EQ(claim(*store_, "inst_a", kT0 + 10)->size(), 2u);
    ASSERT_TRUE(run(store_->release_lease("sess_a", "inst_a")));
    ASSERT_TRUE(end_call(*store_, "sess_b", "inst_a", CallEnd::closed, {}, kT0 + 20));
    auto b = claim(*store_, "inst_b", kT0 + 30);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->size(), 1u);
    EXPECT_EQ((*b)[0].session_id, "sess_a");
}

TEST_P(CallSupervision, TakeoverContinuesFromTheLastCheckpoint) {
    live_call("sess_a", "u1", kT0);
    ASSERT_EQ(claim(*store_, "inst_a", kT0)->size(), 1u);
    ASSERT_TRUE(checkpoint(*store_, "sess_a", "inst_a", some_usage(2), kT0 + 10'000));
    auto b = claim(*store_, "inst_b", kT0 + 16'000);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->size(), 1u);
    EXPECT_EQ((*b)[0].usage, some_usage(2));
    EXPECT_EQ(row("sess_a").call->usage, some_usage(2));
}

TEST_P(CallSupervision, CheckpointIsRefusedClearlyUnlessHeld) {
    create("sess_plain", "u1", kT0);
    live_call("sess_a", "u1", kT0);
    auto unheld = checkpoint(*store_, "sess_a", "inst_a", some_usage(), kT0);
    ASSERT_FALSE(unheld);
    EXPECT_EQ(unheld.error().code, Error::lease_lost);
    auto plain = checkpoint(*store_, "sess_plain", "inst_a", some_usage(), kT0);
    ASSERT_FALSE(plain);
    EXPECT_EQ(plain.error().code, Error::conflict);
    auto unknown = checkpoint(*store_, "sess_nope", "inst_a", some_usage(), kT0);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Error::session_not_found);
    EXPECT_EQ(row("sess_a").call->usage, TrueUsage{});
}

// ---- end_call and the client's /end after it ----

TEST_P(CallSupervision, ServerEndEndsTheSessionOnceAndTheClientEndStillAnswersAsFirst) {
    live_call("sess_a", "u1", kT0);
    ASSERT_EQ(claim(*store_, "inst_a", kT0)->size(), 1u);
    ASSERT_TRUE(end_call(*store_, "sess_a", "inst_a", CallEnd::cap, some_usage(), kT0 + 90'000));
    SessionRow r = row("sess_a");
    EXPECT_EQ(r.status, "ended");
    EXPECT_EQ(r.ended_by, "cap");
    EXPECT_EQ(r.ended_at_ms, kT0 + 90'000);
    EXPECT_DOUBLE_EQ(r.observed_duration_s.value_or(-1), 90.0);
    EXPECT_FALSE(r.reported_duration_s);
    ASSERT_TRUE(r.call);
    EXPECT_EQ(r.call->state, "ended");
    EXPECT_EQ(r.call->usage, some_usage());
    // A retried end changes nothing.
    ASSERT_TRUE(
        end_call(*store_, "sess_a", "inst_a", CallEnd::closed, some_usage(9), kT0 + 99'000));
    EXPECT_EQ(row("sess_a").ended_by, "cap");
    EXPECT_EQ(row("sess_a").call->usage, some_usage());
    // The client's first /end: a first end that only adds its figures.
    auto first = client_end("sess_a", "u1", kT0 + 95'000, 80, 6);
    ASSERT_TRUE(first) << first.error().details;
    EXPECT_FALSE(first->already_ended);
    EXPECT_EQ(first->row.ended_by, "cap");
    EXPECT_DOUBLE_EQ(first->row.reported_duration_s.value_or(-1), 80.0);
    EXPECT_EQ(first->row.message_count, 6);
    auto second = client_end("sess_a", "u1", kT0 + 96'000, 500, 60);
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->already_ended);
    r = row("sess_a");
    EXPECT_DOUBLE_EQ(r.reported_duration_s.value_or(-1), 80.0);
    EXPECT_EQ(r.message_count, 6);
    EXPECT_EQ(r.ended_at_ms, kT0 + 90'000);
    EXPECT_EQ(event_types("sess_a"), (std::vector<std::string>{"token_issued", "call_attached",
                                                               "call_hung_up", "session_ended"}));
    const auto evs = events("sess_a");
    EXPECT_EQ(evs[2].reason, "cap");
}

TEST_P(CallSupervision, ServerEndIsCountedOnceInTheRollupsWithTrueUsage) {
    live_call("sess_a", "u1", kT0);
    ASSERT_EQ(claim(*store_, "inst_a", kT0)->size(), 1u);
    ASSERT_TRUE(end_call(*store_, "sess_a", "inst_a", CallEnd::closed, some_usage(), kT0 + 90'000));
    ASSERT_TRUE(client_end("sess_a", "u1", kT0 + 95'000, 80, 6));
    ASSERT_TRUE(client_end("sess_a", "u1", kT0 + 96'000, 80, 6));
    const UsageTotals t = usage_today();
    EXPECT_EQ(t.sessions, 1);
    EXPECT_EQ(t.ended_sessions, 1);
    EXPECT_EQ(t.billable_ms, 90'000);  // what the server observed, not min(80 s reported)
    EXPECT_EQ(t.reported_ms, 80'000);
    EXPECT_EQ(t.messages, 6);
    EXPECT_EQ(t.true_tokens, some_usage().tokens);
    EXPECT_DOUBLE_EQ(t.true_cost_usd, some_usage().cost_usd);
    EXPECT_EQ(t.tokens, TokenUsage{});
    // A rebuild from the sessions gives the same figures.
    ASSERT_TRUE(run(store_->rebuild_rollups()));
    const UsageTotals rebuilt = usage_today();
    EXPECT_EQ(rebuilt.billable_ms, t.billable_ms);
    EXPECT_EQ(rebuilt.reported_ms, t.reported_ms);
    EXPECT_EQ(rebuilt.messages, t.messages);
    EXPECT_EQ(rebuilt.true_tokens, t.true_tokens);
    EXPECT_DOUBLE_EQ(rebuilt.true_cost_usd, t.true_cost_usd);
    EXPECT_DOUBLE_EQ(rebuilt.cost_usd, t.cost_usd);
}

TEST_P(CallSupervision, ClientEndFirstThenServerEndAddsOnlyTheTrueUsage) {
    live_call("sess_a", "u1", kT0);
    ASSERT_EQ(claim(*store_, "inst_a", kT0)->size(), 1u);
    auto first = client_end("sess_a", "u1", kT0 + 60'000, 50, 3);
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->already_ended);
    // The call goes on until the sideband closes; the supervisor still holds it.
    ASSERT_TRUE(checkpoint(*store_, "sess_a", "inst_a", some_usage(), kT0 + 61'000));
    ASSERT_TRUE(
        end_call(*store_, "sess_a", "inst_a", CallEnd::closed, some_usage(2), kT0 + 62'000));
    const SessionRow r = row("sess_a");
    EXPECT_EQ(r.ended_by, "user");
    EXPECT_EQ(r.ended_at_ms, kT0 + 60'000);
    EXPECT_EQ(r.call->state, "ended");
    EXPECT_EQ(r.call->usage, some_usage(2));
    const UsageTotals t = usage_today();
    EXPECT_EQ(t.ended_sessions, 1);
    EXPECT_EQ(t.billable_ms, 50'000);
    EXPECT_EQ(t.true_tokens, some_usage(2).tokens);
    EXPECT_EQ(event_types("sess_a"),
              (std::vector<std::string>{"token_issued", "call_attached", "session_ended"}));
}

TEST_P(CallSupervision, EndByAnotherInstanceWaitsForTheLeaseToLapse) {
    live_call("sess_a", "u1", kT0);
    ASSERT_EQ(claim(*store_, "inst_a", kT0)->size(), 1u);
    auto refused = end_call(*store_, "sess_a", "inst_b", CallEnd::gone, {}, kT0 + 5'000);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Error::lease_lost);
    EXPECT_EQ(row("sess_a").status, "issued");
    EXPECT_TRUE(end_call(*store_, "sess_a", "inst_b", CallEnd::gone, {}, kT0 + 15'000));
    EXPECT_EQ(row("sess_a").ended_by, "gone");
    auto plain = end_call(*store_, "sess_nope", "inst_b", CallEnd::gone, {}, kT0);
    ASSERT_FALSE(plain);
    EXPECT_EQ(plain.error().code, Error::session_not_found);
}

// ---- quotas ----

TEST_P(CallSupervision, ServerEndSettlesTheQuotaWithTheObservedDurationOnce) {
    const auto q = minutes_quota(10, 30 * kMin);
    live_call("sess_a", "u1", kT0, q);
    ASSERT_EQ(claim(*store_, "inst_a", kT0)->size(), 1u);
    // Observed 4 min: charged 4 (the 30 min reservation is settled).
    ASSERT_TRUE(end_call(*store_, "sess_a", "inst_a", CallEnd::closed, {}, kT0 + 4 * kMin));
    auto m = run(store_->user_minutes("u1", kT0 + 5 * kMin));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->settled_ms_today, 4 * kMin);
    EXPECT_TRUE(m->live_started_at_ms.empty());
    // A client reporting 1 s afterwards changes nothing of the charge.
    ASSERT_TRUE(client_end("sess_a", "u1", kT0 + 5 * kMin, 1, 1));
    m = run(store_->user_minutes("u1", kT0 + 5 * kMin));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->settled_ms_today, 4 * kMin);
}

TEST_P(CallSupervision, UserMinutesCountLiveCallsApartFromTheirReservations) {
    const auto q = minutes_quota(600, 30 * kMin);
    live_call("sess_a", "u1", kT0, q);
    live_call("sess_b", "u1", kT0 + kMin, q);
    live_call("sess_c", "u1", kT0 + 2 * kMin, q);
    live_call("sess_x", "u2", kT0, q);
    create("sess_open", "u1", kT0, q);  // a token never attached: its reservation stays charged
    ASSERT_TRUE(claim(*store_, "inst_a", kT0 + 3 * kMin));
    ASSERT_TRUE(end_call(*store_, "sess_c", "inst_a", CallEnd::quota, {}, kT0 + 4 * kMin));
    auto m = run(store_->user_minutes("u1", kT0 + 5 * kMin));
    ASSERT_TRUE(m) << m.error().details;
    EXPECT_EQ(m->settled_ms_today, 2 * kMin + 30 * kMin);  // sess_c's 2 min + sess_open's
    EXPECT_EQ(m->live_started_at_ms, (std::vector<std::int64_t>{kT0, kT0 + kMin}));
    auto none = run(store_->user_minutes("nobody", kT0));
    ASSERT_TRUE(none);
    EXPECT_EQ(none->settled_ms_today, 0);
    EXPECT_TRUE(none->live_started_at_ms.empty());
}

// ---- reads ----

TEST_P(CallSupervision, ListedSessionsCarryTheirCall) {
    live_call("sess_a", "u1", kT0);
    create("sess_b", "u1", kT0 + 1);
    SessionQuery q;
    q.user_id = "u1";
    auto page = run(store_->list_sessions(q));
    ASSERT_TRUE(page);
    ASSERT_EQ(page->sessions.size(), 2u);
    EXPECT_FALSE(page->sessions[0].call);  // sess_b, newest first
    ASSERT_TRUE(page->sessions[1].call);
    EXPECT_EQ(page->sessions[1].call->state, "live");
}

// ---- two instances on one database ----

TEST_P(CallSupervision, TwoInstancesClaimingConcurrentlyNeverHoldOneCall) {
    if (!GetParam().shared) {
        GTEST_SKIP() << "an in-memory SQLite database has one store object only";
    }
    constexpr int kCalls = 120;
    for (int i = 0; i < kCalls; ++i) {
        live_call("sess_" + std::to_string(1000 + i), "u" + std::to_string(i % 7), kT0 + i);
    }
    SessionStore& second = other();
    std::mutex mu;
    std::vector<std::set<std::string>> held(2);
    std::atomic<int> errors{0};
    const auto instance = [&](int n, SessionStore* s) {
        asio::io_context io;
        for (int round = 0; round < 200; ++round) {
            auto got = run_coro(
                io, s->claim_calls(LeaseClaim{"inst_" + std::to_string(n), kT0 + 1000, 60'000, 5}));
            if (!got) {
                ++errors;
                continue;
            }
            std::lock_guard lock(mu);
            const auto before = held[n].size();
            for (const auto& c : *got) {
                held[n].insert(c.session_id);
            }
            if (held[n].size() == before) {
                break;  // nothing new: every call is held
            }
        }
    };
    std::thread a(instance, 0, store_.get());
    std::thread b(instance, 1, &second);
    a.join();
    b.join();
    EXPECT_EQ(errors.load(), 0);
    std::vector<std::string> both;
    std::set_intersection(held[0].begin(), held[0].end(), held[1].begin(), held[1].end(),
                          std::back_inserter(both));
    EXPECT_TRUE(both.empty()) << both.size() << " calls claimed by both instances";
    EXPECT_EQ(held[0].size() + held[1].size(), static_cast<std::size_t>(kCalls));
    // The database agrees: each instance renews exactly what it claimed.
    for (int n = 0; n < 2; ++n) {
        std::vector<std::string> all(held[0].begin(), held[0].end());
        all.insert(all.end(), held[1].begin(), held[1].end());
        auto renewed =
            run((n == 0 ? *store_ : second)
                    .renew_leases(LeaseClaim{"inst_" + std::to_string(n), kT0 + 2000, 60'000, 1000},
                                  all));
        ASSERT_TRUE(renewed);
        EXPECT_EQ(std::set<std::string>(renewed->begin(), renewed->end()), held[n]);
    }
}

TEST_P(CallSupervision, ConcurrentEndsFromTwoInstancesEndACallOnce) {
    if (!GetParam().shared) {
        GTEST_SKIP() << "an in-memory SQLite database has one store object only";
    }
    const auto q = minutes_quota(100, 30 * kMin);
    live_call("sess_a", "u1", kT0, q);
    SessionStore& second = other();
    // Nobody holds the lease: both may end it; exactly one end counts.
    std::atomic<int> ok{0};
    std::thread t1([&] {
        asio::io_context io;
        ok += run_coro(io, store_->end_call(CallEnded{"sess_a", "inst_a", CallEnd::closed,
                                                      some_usage(), kT0 + 2 * kMin}))
                  ? 1
                  : 0;
    });
    std::thread t2([&] {
        asio::io_context io;
        ok += run_coro(io, second.end_call(CallEnded{"sess_a", "inst_b", CallEnd::gone,
                                                     some_usage(), kT0 + 3 * kMin}))
                  ? 1
                  : 0;
    });
    t1.join();
    t2.join();
    EXPECT_EQ(ok.load(), 2);  // the second is a harmless repeat
    const UsageTotals t = usage_today();
    EXPECT_EQ(t.ended_sessions, 1);
    EXPECT_EQ(t.true_tokens, some_usage().tokens);
    auto m = run(store_->user_minutes("u1", kT0 + 4 * kMin));
    ASSERT_TRUE(m);
    const std::int64_t charged = m->settled_ms_today;
    EXPECT_TRUE(charged == 2 * kMin || charged == 3 * kMin) << charged;
}

INSTANTIATE_TEST_SUITE_P(Engines, CallSupervision, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& i) { return i.param.name; });

// ---- durability ----

TEST(CallSupervisionSqlite, ServerEndSurvivesKillNineRightAfterSuccess) {
    test::TempDir dir;
    const auto path = dir.file("kill9.db");
    const pid_t child = fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
        SqliteOptions o;
        o.path = path;
        o.common.synchronous = "normal";
        auto s = SqliteStore::open(std::move(o));
        if (!s) {
            _exit(2);
        }
        asio::io_context io;
        SessionRecord r;
        r.session_id = "sess_k";
        r.user_id = "u";
        r.issued_at_ms = kT0;
        AttachRequest a;
        a.session_id = "sess_k";
        a.caller_user_id = "u";
        a.call_id = "rtc_k";
        a.at_ms = kT0;
        if (!run_coro(io, (*s)->create_session(r)) || !run_coro(io, (*s)->attach_call(a))) {
            _exit(3);
        }
        if (!run_coro(io, (*s)->end_call(CallEnded{"sess_k", "i", CallEnd::hangup, some_usage(),
                                                   kT0 + 7000}))) {
            _exit(4);
        }
        ::kill(::getpid(), SIGKILL);
        _exit(5);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    SqliteOptions o;
    o.path = path;
    auto s = SqliteStore::open(std::move(o));
    ASSERT_TRUE(s);
    asio::io_context io;
    auto row = run_coro(io, (*s)->get_session("sess_k"));
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->status, "ended");
    EXPECT_EQ((*row)->ended_by, "hangup");
    ASSERT_TRUE((*row)->call);
    EXPECT_EQ((*row)->call->usage, some_usage());
    (*s)->close();
}

}  // namespace
}  // namespace voicegate::store
