#include "metrics/registry.hpp"

#include <cmath>
#include <limits>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"
#include "metrics/instruments.hpp"

namespace voicegate::metrics {
namespace {

TEST(MetricsFormat, EscapesLabelValuesAndHelp) {
    EXPECT_EQ(escape_label_value(R"(a\b"c)"
                                 "\nd"),
              R"(a\\b\"c\nd)");
    EXPECT_EQ(escape_label_value("plain/route"), "plain/route");
    EXPECT_EQ(escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");  // quotes stay in HELP
    Writer w;
    w.sample("m_total", {{"route", "a\"b"}, {"status", "200"}}, 3);
    EXPECT_EQ(w.text(), "m_total{route=\"a\\\"b\",status=\"200\"} 3\n");
}

TEST(MetricsFormat, FormatsValues) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(42), "42");
    EXPECT_EQ(format_value(-3), "-3");
    EXPECT_EQ(format_value(0.0005), "0.0005");
    EXPECT_EQ(format_value(2.5), "2.5");
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsFormat, HeaderLines) {
    Writer w;
    w.header("x_total", "Counts x.\nSecond line.", "counter");
    EXPECT_EQ(w.text(), "# HELP x_total Counts x.\\nSecond line.\n# TYPE x_total counter\n");
}

TEST(MetricsHistogram, BucketsAreCumulativeWithInfSumAndCount) {
    Histogram h({0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0, 60.0}) {
        h.observe(v);
    }
    const auto s = h.snapshot();
    // le is inclusive: 0.1 lands in the 0.1 bucket, 1.0 in the 1 bucket.
    EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 4, 5, 7}));
    EXPECT_EQ(s.count, 7U);
    EXPECT_DOUBLE_EQ(s.sum, 0.05 + 0.1 + 0.5 + 1.0 + 5.0 + 50.0 + 60.0);

    Writer w;
    w.histogram("lat_seconds", {{"route", "/x"}}, h);
    EXPECT_EQ(w.text(),
              "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
              "lat_seconds_bucket{route=\"/x\",le=\"1\"} 4\n"
              "lat_seconds_bucket{route=\"/x\",le=\"10\"} 5\n"
              "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 7\n"
              "lat_seconds_sum{route=\"/x\"} 116.65\n"
              "lat_seconds_count{route=\"/x\"} 7\n");
}

TEST(MetricsHistogram, RejectsUnorderedBounds) {
    EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

TEST(MetricsHistogram, ConcurrentObservationsAllCounted) {
    Histogram h(latency_buckets());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&h] {
            for (int i = 0; i < 10'000; ++i) {
                h.observe(0.001);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    const auto s = h.snapshot();
    EXPECT_EQ(s.count, 40'000U);
    EXPECT_NEAR(s.sum, 40.0, 1e-6);
}

TEST(MetricsRegistry, RendersFamiliesInRegistrationOrder) {
    Registry r;
    auto& c = r.counter("a_total", "A.", {"kind"});
    c.with({"y"}).inc(2);
    c.with({"x"}).inc();
    r.gauge("b", "B.").with({}).set(1.5);
    r.callback("c", "C.", "gauge", [](auto& out) { out.push_back({{{"k", "v"}}, 7.0}); });
    EXPECT_EQ(r.render(),
              "# HELP a_total A.\n# TYPE a_total counter\n"
              "a_total{kind=\"x\"} 1\na_total{kind=\"y\"} 2\n"
              "# HELP b B.\n# TYPE b gauge\nb 1.5\n"
              "# HELP c C.\n# TYPE c gauge\nc{k=\"v\"} 7\n");
}

TEST(MetricsHttp, UnknownRoutesCountAsOther) {
    Registry r;
    HttpMetrics m(r, {"/a", "/b"});
    m.record(0, 200, 0.001);
    m.record(1, 404, 0.001);
    m.record(2, 404, 0.001);                         // "other" itself
    m.record(static_cast<std::size_t>(-1), 404, 0);  // no route
    m.record(99, 200, 0);
    EXPECT_EQ(m.count("/a", 200), 1U);
    EXPECT_EQ(m.count("/b", 404), 1U);
    EXPECT_EQ(m.count("other", 404), 2U);
    EXPECT_EQ(m.count("other", 200), 1U);
    const auto text = r.render();
    EXPECT_NE(text.find("voicegate_http_requests_total{route=\"other\",status=\"404\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("voicegate_http_request_duration_seconds_count{route=\"/a\"} 1\n"),
              std::string::npos);
}

TEST(MetricsDecisions, QuotaReasonFromStoreDetails) {
    using Q = DecisionMetrics::Quota;
    EXPECT_EQ(DecisionMetrics::quota_reason(
                  fail(Error::quota_exhausted, {}, "charged 3600000 ms today, limit 60 min")),
              Q::minutes_per_day);
    EXPECT_EQ(DecisionMetrics::quota_reason(
                  fail(Error::quota_exhausted, {}, "200 sessions today, limit 200")),
              Q::sessions_per_day);
    EXPECT_EQ(
        DecisionMetrics::quota_reason(fail(Error::quota_exhausted, {}, "2 open sessions, limit 2")),
        Q::concurrent);
    EXPECT_EQ(DecisionMetrics::quota_reason(fail(Error::quota_exhausted)), Q::other);
}

TEST(MetricsDecisions, DenialsByReason) {
    Registry r;
    DecisionMetrics d(r);
    d.denied(Error::rate_limited);
    d.denied(Error::rate_limited);
    d.denied(Error::quota_exhausted);
    d.denied(Error::internal);
    EXPECT_EQ(d.denials(Error::rate_limited), 2U);
    EXPECT_EQ(d.denials(), 4U);
    EXPECT_NE(r.render().find("voicegate_token_denials_total{reason=\"other\"} 1\n"),
              std::string::npos);
}

TEST(MetricsUsage, ProviderIsCachedBetweenScrapes) {
    test::ManualClock clock;
    Registry r;
    int calls = 0;
    register_usage(
        r, clock,
        [&] {
            ++calls;
            UsageSnapshot s;
            s.open_sessions = calls;
            s.cost_usd_today = 1.25;
            return s;
        },
        5'000, "test");
    const auto first = r.render();
    EXPECT_EQ(calls, 1);  // one evaluation for the three gauges
    EXPECT_NE(first.find("voicegate_open_sessions 1\n"), std::string::npos) << first;
    EXPECT_NE(first.find("voicegate_estimated_cost_usd_today 1.25\n"), std::string::npos);
    (void)r.render();
    EXPECT_EQ(calls, 1);
    clock.advance_ms(5'000);
    EXPECT_NE(r.render().find("voicegate_open_sessions 2\n"), std::string::npos);
}

TEST(MetricsProcess, ResidentMemoryIsReadFromProc) {
    EXPECT_GT(resident_memory_bytes(), 1024 * 1024);
}

}  // namespace
}  // namespace voicegate::metrics
