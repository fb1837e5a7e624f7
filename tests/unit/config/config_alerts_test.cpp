// Configuration of /metrics and the anomaly alerts.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace voicegate::config {
namespace {

LoadResult load(std::map<std::string, std::string> env, std::string toml = {}) {
    Sources s;
    s.env = std::move(env);
    s.toml_text = std::move(toml);
    s.toml_path = "test.toml";
    return load_config(s);
}

TEST(ConfigAlerts, DefaultsAlertsOnWebhookOff) {
    auto r = load({});
    ASSERT_TRUE(r.config) << r.errors.at(0);
    const auto& a = r.config->alerts;
    EXPECT_TRUE(a.enabled);
    EXPECT_TRUE(a.webhook_url.empty());
    EXPECT_EQ(a.cooldown_s, 900);
    EXPECT_EQ(a.interval_s, 10);
    EXPECT_TRUE(a.user_rate.enabled);
    EXPECT_EQ(a.user_rate.factor, 10);
    EXPECT_EQ(a.user_rate.floor, 30);
    EXPECT_EQ(a.user_rate.window_s, 60);
    EXPECT_TRUE(r.config->metrics.enabled);
    EXPECT_TRUE(r.config->metrics.token.empty());
}

TEST(ConfigAlerts, RulesParseFromEnvAndToml) {
    auto r = load({{"VOICEGATE_ALERT_USER_RATE", "window_s=120, factor=5,floor=50,max=500"},
                   {"VOICEGATE_ALERT_DENIALS", "off"}},
                  "[alerts]\nupstream_errors = \"ratio=0.25,floor=3\"\ncooldown_s = 60\n");
    ASSERT_TRUE(r.config) << r.errors.at(0);
    const auto& a = r.config->alerts;
    EXPECT_EQ(a.user_rate.window_s, 120);
    EXPECT_EQ(a.user_rate.factor, 5);
    EXPECT_EQ(a.user_rate.floor, 50);
    EXPECT_EQ(a.user_rate.max, 500);
    EXPECT_FALSE(a.denials.enabled);
    EXPECT_DOUBLE_EQ(a.upstream_errors.ratio, 0.25);
    EXPECT_EQ(a.upstream_errors.floor, 3);
    EXPECT_EQ(a.cooldown_s, 60);
    EXPECT_EQ(a.user_minutes.floor, 60);  // untouched defaults
}

TEST(ConfigAlerts, BadRulesGiveOneClearLineEach) {
    auto r = load({{"VOICEGATE_ALERT_USER_RATE", "factor=lots"},
                   {"VOICEGATE_ALERT_UPSTREAM_ERRORS", "ratio=2"},
                   {"VOICEGATE_ALERT_USER_MINUTES", "window_s=10"},
                   {"VOICEGATE_ALERT_INTERVAL_S", "0"}});
    ASSERT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 4U);
    const auto all = r.errors[0] + "\n" + r.errors[1] + "\n" + r.errors[2] + "\n" + r.errors[3];
    EXPECT_NE(all.find("VOICEGATE_ALERT_USER_RATE (environment): factor must be a number"),
              std::string::npos)
        << all;
    EXPECT_NE(all.find("ratio must be between 0 and 1"), std::string::npos) << all;
    EXPECT_NE(all.find("\"window_s=10\" is not one of factor=, floor=, max= (or off)"),
              std::string::npos)
        << all;
    EXPECT_NE(all.find("VOICEGATE_ALERT_INTERVAL_S"), std::string::npos) << all;
}

TEST(ConfigAlerts, WebhookUrlIsValidatedWithoutEchoingIt) {
    auto ok = load({{"VOICEGATE_ALERT_WEBHOOK_URL", "https://hooks.example.com/services/T0-B1-x"}});
    ASSERT_TRUE(ok.config) << ok.errors.at(0);
    EXPECT_TRUE(load({{"VOICEGATE_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook"}}).config);
    for (const char* bad : {"http://hooks.example.com/secret-path-123", "ftp://x/secret-path-123",
                            "https://user:secret-path-123@x/", "not a url secret-path-123",
                            "https://x/hook?token=secret-path-123"}) {
        auto r = load({{"VOICEGATE_ALERT_WEBHOOK_URL", bad}});
        ASSERT_FALSE(r.config) << bad;
        ASSERT_EQ(r.errors.size(), 1U);
        EXPECT_EQ(r.errors[0].rfind("VOICEGATE_ALERT_WEBHOOK_URL: must be an https:// URL", 0), 0U);
        EXPECT_EQ(r.errors[0].find("secret-path-123"), std::string::npos);
    }
    // A secret: not accepted from the config file.
    auto file = load({}, "[alerts]\nwebhook_url = \"https://x/y\"\n");
    EXPECT_FALSE(file.config);
}

TEST(ConfigAlerts, MetricsTokenMustBeLongAndIsNeverEchoed) {
    auto r = load({{"VOICEGATE_METRICS_TOKEN", "short-tok"}});
    ASSERT_FALSE(r.config);
    EXPECT_EQ(r.errors.at(0), "VOICEGATE_METRICS_TOKEN (environment): invalid value");
    auto ok =
        load({{"VOICEGATE_METRICS_TOKEN", "mt-0123456789-abcdef"}, {"VOICEGATE_METRICS", "1"}});
    ASSERT_TRUE(ok.config);
    EXPECT_EQ(ok.config->metrics.token, "mt-0123456789-abcdef");
    EXPECT_FALSE(load({{"VOICEGATE_METRICS", "0"}}).config->metrics.enabled);
}

}  // namespace
}  // namespace voicegate::config
