// The PostgreSQL writer's batch planner: pure functions over a batch, no database needed.
#ifdef VOICEGATE_WITH_POSTGRES
#include <gtest/gtest.h>

#include "store/pg_batch_plan.hpp"
#include "store/pg_statements.hpp"

namespace voicegate::store::detail {
namespace {

// An op that is only planned, never run.
class PlannedOp final : public PgOpBase {
public:
    using PgOpBase::PgOpBase;
    void decode(const PgRows&) override {}
    void fail(Failure) override {}
    bool storage_failed() const override { return false; }
    void complete() override {}
};

PgBatch batch_of(std::initializer_list<std::tuple<PgStatement, std::string, std::string>> ops) {
    PgBatch b;
    for (const auto& [st, session, user] : ops) {
        b.push_back(std::make_unique<PlannedOp>(st, PgParams{session, "x"}, session, user));
    }
    return b;
}

using S = PgStatement;

TEST(PgBatchPlan, DistinctSessionsOfOneKindAreOneStatement) {
    auto b = batch_of({{S::end_session, "a", ""}, {S::end_session, "b", ""},
                       {S::end_session, "c", ""}});
    const auto p = plan(b);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].statement, S::end_session);
    EXPECT_EQ(p[0].ops, (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_TRUE(runs_batched(p[0]));
}

TEST(PgBatchPlan, KindsOfAWaveRunCreatesFirstThenEventsThenEnds) {
    auto b = batch_of({{S::end_session, "a", ""}, {S::append_event, "b", ""},
                       {S::create_session, "c", ""}, {S::create_session, "d", ""}});
    const auto p = plan(b);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].statement, S::create_session);
    EXPECT_EQ(p[0].ops, (std::vector<std::size_t>{2, 3}));
    EXPECT_EQ(p[1].statement, S::append_event);
    EXPECT_EQ(p[1].ops, (std::vector<std::size_t>{1}));
    EXPECT_FALSE(runs_batched(p[1]));  // one op: the single form
    EXPECT_EQ(p[2].statement, S::end_session);
    EXPECT_EQ(p[2].ops, (std::vector<std::size_t>{0}));
}

TEST(PgBatchPlan, ARepeatedSessionStartsANewWaveSoItsOpsKeepTheirOrder) {
    // create a, end a: the end must come after the create although ends sort after creates
    // anyway; end a, create a must not be reordered into create-then-end.
    auto b = batch_of({{S::end_session, "a", ""}, {S::create_session, "a", ""},
                       {S::create_session, "b", ""}});
    const auto p = plan(b);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].statement, S::end_session);
    EXPECT_EQ(p[0].ops, (std::vector<std::size_t>{0}));
    EXPECT_EQ(p[1].statement, S::create_session);
    EXPECT_EQ(p[1].ops, (std::vector<std::size_t>{1, 2}));
}

TEST(PgBatchPlan, QuotaCreatesAreOneStatementEachInQueueOrder) {
    auto b = batch_of({{S::create_quota, "a", "u"}, {S::create_quota, "b", "u"},
                       {S::create_session, "c", ""}});
    const auto p = plan(b);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].statement, S::create_session);
    EXPECT_EQ(p[1].statement, S::create_quota);
    EXPECT_EQ(p[1].ops, (std::vector<std::size_t>{0}));
    EXPECT_EQ(p[2].statement, S::create_quota);
    EXPECT_EQ(p[2].ops, (std::vector<std::size_t>{1}));
    EXPECT_FALSE(runs_batched(p[1]));
}

TEST(PgBatchPlan, OtherStatementsCutTheWaveAndRunAlone) {
    auto b = batch_of({{S::create_session, "a", ""}, {S::get_session, "a", ""},
                       {S::create_session, "b", ""}});
    const auto p = plan(b);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].ops, (std::vector<std::size_t>{0}));
    EXPECT_EQ(p[1].statement, S::get_session);
    EXPECT_EQ(p[2].ops, (std::vector<std::size_t>{2}));
}

TEST(PgBatchPlan, OpsWithoutASessionNeverCutAWave) {
    auto b = batch_of({{S::append_event, "", ""}, {S::append_event, "", ""}});
    const auto p = plan(b);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].ops.size(), 2u);
}

TEST(PgBatchPlan, LockKeysAreTheEndsSortedAndDistinctFromTwoOn) {
    auto one = batch_of({{S::end_session, "b", ""}, {S::end_session, "b", ""}});
    EXPECT_TRUE(lock_keys(one).empty());  // one row: its own statement locks it
    auto b = batch_of({{S::end_session, "c", ""}, {S::create_session, "z", ""},
                       {S::end_session, "a", ""}, {S::end_session, "c", ""}});
    EXPECT_EQ(lock_keys(b), (std::vector<std::string>{"a", "c"}));
}

TEST(PgBatchPlan, UserLockKeysAreSortedAndDistinctEvenAlone) {
    auto one = batch_of({{S::create_quota, "a", "u1"}});
    EXPECT_EQ(user_lock_keys(one), (std::vector<std::string>{"u1"}));
    auto b = batch_of({{S::create_quota, "a", "u2"}, {S::end_session, "b", "u1"},
                       {S::create_session, "c", ""}, {S::create_quota, "d", "u2"}});
    EXPECT_EQ(user_lock_keys(b), (std::vector<std::string>{"u1", "u2"}));
}

TEST(PgBatchPlan, ManyParamsAreOneQuotedArrayPerParameter) {
    PgBatch b;
    b.push_back(std::make_unique<PlannedOp>(S::append_event, PgParams{"1", "plain"}, "a"));
    b.push_back(std::make_unique<PlannedOp>(S::append_event, PgParams{"2", "q\"b\\s"}, "b"));
    b.push_back(std::make_unique<PlannedOp>(S::append_event, PgParams{"3", ""}, "c"));
    const auto p = many_params(b, {0, 2, 1});
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0], R"({"1","3","2"})");
    EXPECT_EQ(p[1], R"({"plain","","q\"b\\s"})");
}

TEST(PgBatchPlan, RowsByPositionMapEachOpToItsRowOrNone) {
    // Rows answer ops 3 and 1 (1-based); op 2 had no row (an unknown session); junk ignored.
    EXPECT_EQ(rows_by_position({3, 1, 0, 9}, 3), (std::vector<int>{1, -1, 0}));
    EXPECT_EQ(rows_by_position({}, 2), (std::vector<int>{-1, -1}));
}

TEST(PgBatchPlan, RowsByIdMapEachCreateToItsInsertedRowOrNone) {
    // "b" was a duplicate: not inserted, so no row.
    EXPECT_EQ(rows_by_id({"c", "a"}, {"a", "b", "c"}), (std::vector<int>{1, -1, 0}));
}

TEST(PgStatements, EveryStatementIsEmbeddedWithItsParameters) {
    for (const auto s : {S::create_session, S::end_session, S::append_event, S::get_session,
                         S::events, S::lock, S::create_quota, S::lock_users}) {
        const auto& d = definition(s);
        EXPECT_FALSE(d.sql.empty()) << d.name;
        // The highest $N of the text is the number of parameter types.
        const std::string last = "$" + std::to_string(d.types.size());
        EXPECT_NE(d.sql.find(last), std::string_view::npos) << d.name;
        EXPECT_EQ(d.sql.find("$" + std::to_string(d.types.size() + 1)), std::string_view::npos)
            << d.name;
        EXPECT_EQ(d.sql.find("--"), std::string_view::npos) << d.name << ": comments are dropped";
        EXPECT_EQ(d.sql.find('\n'), std::string_view::npos) << d.name;
    }
    for (const auto s : {S::create_session, S::end_session, S::append_event}) {
        ASSERT_NE(many_definition(s), nullptr);
    }
    EXPECT_EQ(many_definition(S::create_quota), nullptr);
}

}  // namespace
}  // namespace voicegate::store::detail
#endif
