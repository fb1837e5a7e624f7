// The store engines report their group commits to metrics::StoreMetrics.
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "metrics/instruments.hpp"
#include "store/open_store.hpp"
#include "support/child_process.hpp"
#ifdef VOICEGATE_WITH_POSTGRES
#include "support/pg_test_db.hpp"
#endif
#include "support/run_coro.hpp"

namespace voicegate::store {
namespace {

double sample(const std::string& text, const std::string& key) {
    const auto at = text.find("\n" + key + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size() + 2));
}

void writes_are_counted(const std::string& url) {
    metrics::Registry registry;
    metrics::StoreMetrics sm(registry);
    StoreOptions o;
    o.metrics = &sm;
    auto opened = open_store(url, o);
    ASSERT_TRUE(opened) << opened.error().details;
    auto& store = **opened;
    boost::asio::io_context io;
    for (int i = 0; i < 5; ++i) {
        Event ev;
        ev.at_ms = 1'790'000'000'000 + i;
        ev.type = "admin_action";
        ev.reason = "metrics-test";
        ASSERT_TRUE(test::run_coro(io, store.append_event(std::move(ev))));
    }
    const auto text = registry.render();
    // One op at a time: each is its own transaction.
    EXPECT_EQ(sample(text, "voicegate_store_write_batches_total"), 5) << text;
    EXPECT_EQ(sample(text, "voicegate_store_write_batch_size_sum"), 5);
    EXPECT_EQ(sample(text, "voicegate_store_write_batch_size_count"), 5);
    EXPECT_EQ(sample(text, "voicegate_store_commit_duration_seconds_count"), 5);
    EXPECT_GT(sample(text, "voicegate_store_commit_duration_seconds_sum"), 0);
    EXPECT_EQ(sample(text, "voicegate_store_write_errors_total"), 0);
    store.close();
}

TEST(StoreMetrics, SqliteGroupCommitsAreCounted) {
    writes_are_counted("sqlite:" + test::make_temp_dir() + "/m.db");
}

#ifdef VOICEGATE_WITH_POSTGRES
TEST(StoreMetrics, PostgresGroupCommitsAreCounted) {
    VOICEGATE_REQUIRE_PG();
    test::PgTestSchema schema;
    writes_are_counted(schema.url());
}
#endif

}  // namespace
}  // namespace voicegate::store
