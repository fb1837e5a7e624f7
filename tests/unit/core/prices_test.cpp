#include <gtest/gtest.h>

#include "config/config.hpp"
#include "core/prices.hpp"

namespace voicegate {
namespace {

config::LoadResult load(std::map<std::string, std::string> env, std::string toml = {}) {
    config::Sources s;
    s.env = std::move(env);
    s.toml_text = std::move(toml);
    s.toml_path = "voicegate.toml";
    return config::load_config(s);
}

TEST(Prices, DefaultsComeFromTheReferenceTable) {
    auto r = load({});
    ASSERT_TRUE(r.config);
    const auto& p = r.config->prices.at("gpt-realtime");
    EXPECT_DOUBLE_EQ(p.audio_in, 32.0);
    EXPECT_DOUBLE_EQ(p.audio_out, 64.0);
    EXPECT_DOUBLE_EQ(p.text_cached, 0.40);
    // 600 audio tokens in at $32/1M plus 1,200 out at $64/1M.
    EXPECT_NEAR(p.minute_estimate(), 0.096, 1e-12);
    EXPECT_DOUBLE_EQ(r.config->prices.at("gpt-realtime-2").text_out, 24.0);
    EXPECT_NEAR(r.config->prices.at("gpt-realtime-mini").minute_estimate(),
                (600 * 10.0 + 1200 * 20.0) / 1e6, 1e-12);
}

TEST(Prices, CostFromTokensWhenThereAreAnyElsePerMinute) {
    const auto& p = default_prices().at("gpt-realtime");
    TokenUsage t;
    EXPECT_NEAR(estimate_cost_usd(&p, t, 90'000), 1.5 * 0.096, 1e-12);
    // The reference's example: 313 text in (256 cached), 476 audio in (384 cached), 9 text
    // out, 23 audio out.
    t.input_text = 313;
    t.cached_text = 256;
    t.input_audio = 476;
    t.cached_audio = 384;
    t.output_text = 9;
    t.output_audio = 23;
    const double expected =
        (57 * 4.0 + 256 * 0.4 + 92 * 32.0 + 384 * 0.4 + 9 * 16.0 + 23 * 64.0) / 1e6;
    EXPECT_NEAR(estimate_cost_usd(&p, t, 90'000), expected, 1e-12);
    EXPECT_EQ(estimate_cost_usd(nullptr, t, 90'000), 0.0);
}

TEST(Prices, EnvironmentReplacesAModelsPrices) {
    auto r = load({{"VOICEGATE_PRICES",
                    "gpt-realtime=1/0.1/2/3/0.3/4/5/0.5, my-model=1/1/1/1/1/1/1/1/0.25"}});
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0]);
    EXPECT_DOUBLE_EQ(r.config->prices.at("gpt-realtime").audio_out, 4.0);
    EXPECT_NEAR(r.config->prices.at("gpt-realtime").minute_estimate(),
                (600 * 3.0 + 1200 * 4.0) / 1e6, 1e-12);
    EXPECT_DOUBLE_EQ(r.config->prices.at("my-model").minute_estimate(), 0.25);
    EXPECT_DOUBLE_EQ(r.config->prices.at("gpt-realtime-2").text_out, 24.0);  // untouched
}

TEST(Prices, TomlTablesOverrideSomeKeys) {
    auto r = load({}, "[prices.\"gpt-realtime\"]\naudio_in = 40\nper_minute = 0.2\n");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0]);
    EXPECT_DOUBLE_EQ(r.config->prices.at("gpt-realtime").audio_in, 40.0);
    EXPECT_DOUBLE_EQ(r.config->prices.at("gpt-realtime").audio_out, 64.0);
    EXPECT_DOUBLE_EQ(r.config->prices.at("gpt-realtime").minute_estimate(), 0.2);
}

TEST(Prices, EachProblemIsOneClearLine) {
    auto r = load({{"VOICEGATE_PRICES", "gpt-realtime=1/2/3"}});
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_NE(r.errors[0].find("VOICEGATE_PRICES"), std::string::npos);
    EXPECT_NE(r.errors[0].find("expected 8 prices"), std::string::npos);

    r = load({{"VOICEGATE_PRICES", "gpt-realtime=1/2/3/x/5/6/7/8"}});
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_NE(r.errors[0].find("gpt-realtime.audio_in: must be a number"), std::string::npos);

    r = load({}, "[prices.\"gpt-realtime\"]\naudio_in = -1\ntext_inn = 3\ntext_out = \"cheap\"\n");
    ASSERT_EQ(r.errors.size(), 3U);
    EXPECT_NE(r.errors[0].find("prices.gpt-realtime.audio_in: must be a number >= 0"),
              std::string::npos)
        << r.errors[0];
    EXPECT_NE(r.errors[1].find("prices.gpt-realtime.text_inn: unknown price"), std::string::npos)
        << r.errors[1];
    EXPECT_NE(r.errors[2].find("prices.gpt-realtime.text_out: must be a number"), std::string::npos)
        << r.errors[2];

    r = load({}, "[prices]\nflat = 3\n");
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_NE(r.errors[0].find("prices.flat: expected a table"), std::string::npos);
}

}  // namespace
}  // namespace voicegate
