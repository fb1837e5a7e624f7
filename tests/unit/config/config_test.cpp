#include <gtest/gtest.h>

#include "config/config.hpp"

namespace voicegate::config {
namespace {

bool has_error(const LoadResult& r, const std::string& needle) {
    for (const auto& e : r.errors) {
        if (e.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

TEST(Config, DefaultsMatchSpec) {
    auto r = load_config({});
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0]);
    const auto& c = *r.config;
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.store.url, "sqlite:voicegate.db");
    EXPECT_EQ(c.tokens.ttl_s, 1800);
    EXPECT_EQ(c.server.body_limit, 64U * 1024U);
    EXPECT_TRUE(c.uses_emulator());
    EXPECT_EQ(c.tokens.resolve_model("gpt-4o-realtime-preview-2024-12-17"), "gpt-realtime");
    EXPECT_EQ(c.tokens.resolve_model("gpt-4o-mini-realtime-preview"), "gpt-realtime-mini");
    EXPECT_EQ(c.tokens.resolve_model("gpt-9"), std::nullopt);
    EXPECT_TRUE(c.tokens.voice_allowed("marin"));
    EXPECT_FALSE(c.tokens.voice_allowed("onyx"));
}

TEST(Config, PrecedenceFlagsOverEnvOverDotenvOverFile) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text =
        "[server]\nlisten = \"127.0.0.1:7000\"\n[tokens]\nttl_seconds = "
        "100\nmax_instructions_bytes = 10\n";
    s.dotenv = {{"VOICEGATE_TOKEN_TTL", "200"}, {"VOICEGATE_LISTEN", "127.0.0.1:7001"}};
    s.env = {{"VOICEGATE_TOKEN_TTL", "300"}};
    s.flags = {{"VOICEGATE_TOKEN_TTL", "400"}};
    auto r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors[0];
    EXPECT_EQ(r.config->tokens.ttl_s, 400);
    EXPECT_EQ(r.config->server.port, 7001);
    EXPECT_EQ(r.config->tokens.max_instructions_bytes, 10U);
}

TEST(Config, OneClearLinePerProblem) {
    Sources s;
    s.env = {
        {"VOICEGATE_TOKEN_TTL", "5"}, {"VOICEGATE_LISTEN", "nonsense"}, {"VOICEGATE_DEV", "maybe"}};
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.errors.size(), 3U);
    EXPECT_TRUE(has_error(r, "VOICEGATE_TOKEN_TTL (environment): must be between 10 and 7200"));
    EXPECT_TRUE(has_error(r, "VOICEGATE_LISTEN"));
    EXPECT_TRUE(has_error(r, "VOICEGATE_DEV"));
}

TEST(Config, RouteRates) {
    Sources ok;
    ok.toml_path = "vg.toml";
    ok.toml_text = "[limits]\nroutes = \"/api/realtime/end=120/min, /healthz=10/s\"\n";
    auto r = load_config(ok);
    ASSERT_TRUE(r.config) << r.errors[0];
    ASSERT_EQ(r.config->limits.route_rates.size(), 2U);
    EXPECT_EQ(r.config->limits.route_rates[0].first, "/api/realtime/end");
    EXPECT_EQ(r.config->limits.route_rates[0].second.to_string(), "120/min");
    EXPECT_EQ(r.config->limits.route_rates[1].second.to_string(), "10/s");
    EXPECT_TRUE(load_config({}).config->limits.route_rates.empty());

    for (const char* bad : {"/a", "a=1/s", "/a=often", "/a=1/s,/a=2/s"}) {
        Sources s;
        s.env = {{"VOICEGATE_RATE_ROUTES", bad}};
        auto b = load_config(s);
        EXPECT_FALSE(b.config) << bad;
        EXPECT_TRUE(has_error(b, "VOICEGATE_RATE_ROUTES")) << bad;
    }
}

TEST(Config, UnknownTomlKeyAndSecretsInFileRejected) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text = "[server]\nlisen = \"x\"\n[upstream]\napi_key = \"sk-abc\"\n";
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    EXPECT_TRUE(has_error(r, "vg.toml: server.lisen: unknown setting"));
    EXPECT_TRUE(has_error(r, "upstream.api_key: secrets are read only from the environment"));
}

TEST(Config, TomlSyntaxErrorHasLine) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text = "[server\n";
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].rfind("vg.toml:1:", 0), 0U) << r.errors[0];
}

TEST(Config, PublicAddressWithoutKeyRefusedUnlessEmulatorForced) {
    Sources s;
    s.env = {{"VOICEGATE_LISTEN", "0.0.0.0:8080"}, {"VOICEGATE_ALLOW_ANONYMOUS", "1"}};
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    EXPECT_TRUE(has_error(r, "OPENAI_API_KEY is not set"));
    s.flags = {{"VOICEGATE_EMULATOR", "1"}};
    EXPECT_TRUE(load_config(s).config);
}

TEST(Config, AnonymousOnPublicAddressRefused) {
    Sources s;
    s.env = {{"VOICEGATE_LISTEN", "0.0.0.0:8080"}, {"OPENAI_API_KEY", "sk-test-1234567890abcdef"}};
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    EXPECT_TRUE(has_error(r, "VOICEGATE_ALLOW_ANONYMOUS"));
}

TEST(Config, SecretValuesNeverInMessages) {
    Sources s;
    s.env = {{"OPENAI_API_KEY", "ek_0123456789abcdef0123"}, {"OPENAI_BASE_URL", "ftp://x"}};
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    for (const auto& e : r.errors) {
        EXPECT_EQ(e.find("ek_0123456789abcdef0123"), std::string::npos) << e;
    }
    EXPECT_TRUE(has_error(r, "OPENAI_BASE_URL"));
}

// Probe 2026-12 D4: a JWKS URL with user info started and logged its password on every
// fetch; a base URL with user info was refused by a message quoting it.
TEST(Config, UrlsWithUserInfoRefusedWithoutQuotingThePassword) {
    Sources jwks;
    jwks.env = {{"VOICEGATE_AUTH", "jwt"},
                {"JWT_JWKS_URL", "https://u:JWKSLEAK@127.0.0.1:1/jwks.json"}};
    auto r = load_config(jwks);
    EXPECT_FALSE(r.config);
    EXPECT_TRUE(has_error(r, "JWT_JWKS_URL: must not carry user info"));
    Sources base;
    base.env = {{"OPENAI_API_KEY", "sk-test-1234567890abcdef"},
                {"OPENAI_BASE_URL", "http://user:PWLEAK@127.0.0.1:1/v1"}};
    auto b = load_config(base);
    EXPECT_FALSE(b.config);
    EXPECT_TRUE(has_error(b, "OPENAI_BASE_URL: must not carry user info"));
    for (const auto* res : {&r, &b}) {
        for (const auto& e : res->errors) {
            EXPECT_EQ(e.find("JWKSLEAK"), std::string::npos) << e;
            EXPECT_EQ(e.find("PWLEAK"), std::string::npos) << e;
        }
    }
}

// Probe 2026-12 D7: VOICEGATE_ADMIN_TOKEN=abc started without a word.
TEST(Config, ShortAdminTokenRefusedWithHowToMakeOne) {
    Sources s;
    s.env = {{"VOICEGATE_ADMIN_TOKEN", "abc"}};
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    EXPECT_TRUE(has_error(r, "VOICEGATE_ADMIN_TOKEN: must be at least 32 bytes"));
    EXPECT_TRUE(has_error(r, "openssl rand -hex 32"));
    for (const auto& e : r.errors) {
        EXPECT_EQ(e.find("abc\""), std::string::npos) << e;
    }
    s.env["VOICEGATE_ADMIN_TOKEN"] = std::string(31, 'x');
    EXPECT_FALSE(load_config(s).config);
    s.env["VOICEGATE_ADMIN_TOKEN"] = std::string(32, 'x');
    EXPECT_TRUE(load_config(s).config);
}

TEST(Config, PlainHttpUpstreamOnlyOnLoopback) {
    Sources s;
    s.env = {{"OPENAI_API_KEY", "sk-test-1234567890abcdef"},
             {"OPENAI_BASE_URL", "http://api.example.com/v1"}};
    EXPECT_FALSE(load_config(s).config);
    s.env["OPENAI_BASE_URL"] = "http://127.0.0.1:9090/v1/";
    auto r = load_config(s);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->upstream.base_url, "http://127.0.0.1:9090/v1");
}

TEST(Config, QuotaSettings) {
    Sources s;
    auto r = load_config(s);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->quota.concurrent, 2);
    EXPECT_EQ(r.config->quota.minutes_per_day, 60);
    EXPECT_EQ(r.config->quota.sessions_per_day, 200);
    EXPECT_EQ(r.config->quota.session_max_minutes, 30);

    s.toml_text =
        "[quota]\nconcurrent = 5\nminutes_per_day = 0\nsessions_per_day = 7\n"
        "session_max_minutes = 45\n";
    s.env = {{"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "9"}};
    s.flags = {{"VOICEGATE_QUOTA_CONCURRENT", "0"}};
    r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    EXPECT_EQ(r.config->quota.concurrent, 0) << "flag over file";
    EXPECT_EQ(r.config->quota.minutes_per_day, 0) << "0: unlimited";
    EXPECT_EQ(r.config->quota.sessions_per_day, 9) << "environment over file";
    EXPECT_EQ(r.config->quota.session_max_minutes, 45);

    Sources bad;
    bad.env = {{"VOICEGATE_QUOTA_CONCURRENT", "-1"},
               {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "lots"},
               {"VOICEGATE_SESSION_MAX_MINUTES", "0"}};
    auto b = load_config(bad);
    EXPECT_FALSE(b.config);
    EXPECT_EQ(b.errors.size(), 3U);
}

TEST(Config, RedisSettings) {
    Sources s;
    auto r = load_config(s);
    ASSERT_TRUE(r.config);
    EXPECT_FALSE(r.config->limits.redis_url) << "default: in-process limits";
    EXPECT_FALSE(r.config->limits.redis_fail_open) << "default: fail closed";
    EXPECT_EQ(r.config->limits.redis_timeout_ms, 200);
    EXPECT_EQ(r.config->limits.redis_key_prefix, "voicegate:rl:");

    s.env = {{"REDIS_URL", " redis://:pw@127.0.0.1:6379/3 "},
             {"VOICEGATE_REDIS_FAILURE_MODE", "open"},
             {"VOICEGATE_REDIS_TIMEOUT_MS", "50"},
             {"VOICEGATE_REDIS_KEY_PREFIX", "app1:rl:"}};
    r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    ASSERT_TRUE(r.config->limits.redis_url);
    EXPECT_EQ(r.config->limits.redis_url->redacted(), "redis://:***@127.0.0.1:6379/3");
    EXPECT_EQ(r.config->limits.redis_url->password, "pw");
    EXPECT_TRUE(r.config->limits.redis_fail_open);
    EXPECT_EQ(r.config->limits.redis_timeout_ms, 50);
    EXPECT_EQ(r.config->limits.redis_key_prefix, "app1:rl:");

    s.env = {{"REDIS_URL", ""}};
    EXPECT_TRUE(load_config(s).config) << "empty means unset";
}

TEST(Config, BadRedisSettingsNameTheProblemButNotThePassword) {
    Sources s;
    s.env = {{"REDIS_URL", "redis://:hunter2@127.0.0.1:99999/0"},
             {"VOICEGATE_REDIS_FAILURE_MODE", "sometimes"},
             {"VOICEGATE_REDIS_TIMEOUT_MS", "0"},
             {"VOICEGATE_REDIS_KEY_PREFIX", "has space"}};
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 4U);
    for (const auto& e : r.errors) {
        EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
    }
    EXPECT_EQ(r.errors[0].rfind("REDIS_URL (environment): ", 0), 0U) << r.errors[0];
    EXPECT_NE(r.errors[0].find("redis://:***@127.0.0.1:99999/0"), std::string::npos) << r.errors[0];
}

TEST(Config, RedisPasswordNeverFromTheConfigFile) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text = "[limits]\nredis_url = \"redis://:hunter2@10.0.0.5:6379/0\"\n";
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    ASSERT_FALSE(r.errors.empty());
    EXPECT_NE(r.errors[0].find("limits.redis_url"), std::string::npos) << r.errors[0];
    EXPECT_EQ(r.errors[0].find("hunter2"), std::string::npos) << r.errors[0];

    s.toml_text =
        "[limits]\nredis_url = \"redis://10.0.0.5:6379/0\"\n"
        "redis_failure_mode = \"open\"\nredis_timeout_ms = 150\n";
    r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    ASSERT_TRUE(r.config->limits.redis_url);
    EXPECT_EQ(r.config->limits.redis_url->redacted(), "redis://10.0.0.5:6379/0");
    EXPECT_TRUE(r.config->limits.redis_url->password.empty());
    EXPECT_TRUE(r.config->limits.redis_fail_open);
    EXPECT_EQ(r.config->limits.redis_timeout_ms, 150);
}

TEST(Config, Dotenv) {
    auto m = parse_dotenv("# c\nexport A=1\nB = \"two words\"\nC='x' \nD=v # note\nbad\n");
    EXPECT_EQ(m["A"], "1");
    EXPECT_EQ(m["B"], "two words");
    EXPECT_EQ(m["C"], "x");
    EXPECT_EQ(m["D"], "v");
    EXPECT_EQ(m.count("bad"), 0U);
}

}  // namespace
}  // namespace voicegate::config

#include <fstream>
#include <sstream>

namespace voicegate::config {
namespace {

TEST(Config, ExampleFileLoadsAndEqualsDefaults) {
    std::ifstream in(std::string(VOICEGATE_SOURCE_DIR) + "/config/voicegate.example.toml");
    ASSERT_TRUE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    Sources s;
    s.toml_text = ss.str();
    s.toml_path = "voicegate.example.toml";
    auto r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    auto d = *load_config({}).config;
    EXPECT_EQ(r.config->tokens.models, d.tokens.models);
    EXPECT_EQ(r.config->tokens.voices, d.tokens.voices);
    EXPECT_EQ(r.config->tokens.aliases.size(), d.tokens.aliases.size());
    EXPECT_EQ(r.config->tokens.resolve_model("gpt-4o-realtime-preview-2024-12-17"), "gpt-realtime");
    EXPECT_EQ(r.config->server.port, 8080);
}

}  // namespace
}  // namespace voicegate::config

namespace voicegate::config {
namespace {

const char* kProfiles = R"(
[profiles.diary]
description = "Diary helper"
model = "gpt-4o-realtime-preview-2024-12-17"
voice = "marin"
instructions = "You help the user write today's diary entry."
max_output_tokens = 1024
turn_detection = { type = "semantic_vad", eagerness = "auto" }
transcription = { model = "gpt-4o-mini-transcribe", language = "en" }
allow_override = ["voice"]
tools = [ { type = "function", name = "save_entry", description = "Save the entry", parameters = { type = "object" } } ]
)";

TEST(ConfigProfiles, LoadedResolvedAndValidated) {
    Sources s;
    s.toml_path = "p.toml";
    s.toml_text = kProfiles;
    auto r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    const auto* p = r.config->tokens.find_profile("diary");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->fields.at("model"), "gpt-realtime") << "aliases apply to profiles";
    EXPECT_EQ(p->fields.at("turn_detection").at("type"), "semantic_vad");
    EXPECT_EQ(p->fields.at("tools").as_array().size(), 1U);
    EXPECT_TRUE(p->allows("voice"));
    EXPECT_FALSE(p->allows("instructions"));

    s.toml_text = "[profiles.bad]\nvoice = \"onyx\"\nallow_override = [\"tools\"]\ncolour = 1\n";
    auto bad = load_config(s);
    EXPECT_FALSE(bad.config);
    EXPECT_EQ(bad.errors.size(), 3U);
}

}  // namespace
}  // namespace voicegate::config

namespace voicegate::config {
namespace {

// Test review 2026-12 D9: a key set in the environment and in .env, but by no flag: the
// environment wins (were the two swapped, a .env file could override the real environment).
TEST(Config, EnvironmentOverDotenvWithoutAFlag) {
    Sources s;
    s.dotenv = {{"VOICEGATE_LISTEN", "127.0.0.1:7001"}};
    s.env = {{"VOICEGATE_LISTEN", "127.0.0.1:7002"}};
    auto r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    EXPECT_EQ(r.config->server.port, 7002);
    s.env.clear();
    r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    EXPECT_EQ(r.config->server.port, 7001) << ".env over the defaults";
}

TEST(ConfigEmulator, TableIsParsedIntoTheEmulatorsOptions) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text =
        "[emulator]\nlatency_ms = 250\nerror-rate = 0.5\nsingle_use_secrets = true\n"
        "max_calls = 10\n";
    auto r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    const auto& o = r.config->emulator.options;
    EXPECT_EQ(o.faults.latency_ms, 250);
    EXPECT_EQ(o.faults.error_rate, 0.5);
    EXPECT_TRUE(o.single_use_secrets);
    EXPECT_EQ(o.max_calls, 10U);
    EXPECT_EQ(load_config({}).config->emulator.options, emulator::EmulatorOptions{});
}

// Review 2026-12 §1.3: a typo in [emulator] was a start-up exception from App, not the
// one-line config error every other key gets.
TEST(ConfigEmulator, UnknownKeyIsOneConfigErrorNamingIt) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text = "[emulator]\nlatency_mss = 250\n";
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].rfind("vg.toml: emulator.latency_mss: unknown setting", 0), 0U)
        << r.errors[0];
    EXPECT_EQ(r.errors[0].find('\n'), std::string::npos) << r.errors[0];
    // Also when a key is set and the emulator would not run: the file is wrong either way.
    s.env = {{"OPENAI_API_KEY", "sk-test-1234567890abcdef"}};
    EXPECT_TRUE(has_error(load_config(s), "emulator.latency_mss: unknown setting"));
}

TEST(ConfigEmulator, BadValueIsOneConfigErrorNamingTheKeyAndTheValue) {
    Sources s;
    s.toml_path = "vg.toml";
    s.toml_text = "[emulator]\nerror_rate = 2\nlatency_ms = \"soon\"\nseed = [1, [2]]\n";
    auto r = load_config(s);
    EXPECT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 3U);
    EXPECT_TRUE(
        has_error(r, "vg.toml: emulator.error_rate: must be a rate between 0 and 1, got \"2\""));
    EXPECT_TRUE(has_error(r, "vg.toml: emulator.latency_ms: must be a number of milliseconds"));
    EXPECT_TRUE(has_error(r, "vg.toml: emulator.seed: unsupported value type"));
    for (const auto& e : r.errors) {
        EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    }
}

TEST(ConfigTyped, RatesAndAddressListsAreParsedOnce) {
    Sources s;
    s.env = {{"VOICEGATE_RATE_USER", " 5/s "},
             {"VOICEGATE_RATE_IP", "100/h"},
             {"VOICEGATE_TRUSTED_PROXIES", "10.0.0.0/8, ::1"},
             {"VOICEGATE_IP_ALLOW", "192.168.0.0/16"},
             {"VOICEGATE_IP_DENY", "192.168.1.0/24"}};
    auto r = load_config(s);
    ASSERT_TRUE(r.config) << r.errors.at(0);
    const auto& l = r.config->limits;
    EXPECT_EQ(l.rate_user, (ratelimit::Rate{5, 1000, 5}));
    EXPECT_EQ(l.rate_user_text, "5/s");
    EXPECT_EQ(l.rate_ip, (ratelimit::Rate{100, 3'600'000, 100}));
    EXPECT_EQ(l.trusted_proxies.blocks().size(), 2U);
    EXPECT_TRUE(l.trusted_proxies.contains("10.1.2.3"));
    EXPECT_TRUE(l.ip_rules.allowed("192.168.2.1"));
    EXPECT_FALSE(l.ip_rules.allowed("192.168.1.5")) << "deny wins";
    EXPECT_FALSE(l.ip_rules.allowed("8.8.8.8")) << "not in the allow list";
}

TEST(ConfigTyped, DefaultRatesAreTheirText) {
    const Config c;
    EXPECT_EQ(c.limits.rate_user, *ratelimit::parse_rate(c.limits.rate_user_text));
    EXPECT_EQ(c.limits.rate_ip, *ratelimit::parse_rate(c.limits.rate_ip_text));
    // The member initialisers and the table's documented defaults agree.
    EXPECT_EQ(setting_help("VOICEGATE_RATE_USER", true),
              setting_help("VOICEGATE_RATE_USER", false) + " (default " +
                  c.limits.rate_user_text + ")");
    EXPECT_EQ(setting_help("VOICEGATE_RATE_IP", true),
              setting_help("VOICEGATE_RATE_IP", false) + " (default " + c.limits.rate_ip_text +
                  ")");
}

TEST(ConfigCatalog, DefaultsComeFromTheCatalogAndEachModelHasAPrice) {
    const Config c;
    EXPECT_EQ(c.tokens.models, catalog_models());
    EXPECT_EQ(c.tokens.aliases, catalog_aliases());
    EXPECT_EQ(c.tokens.voices, catalog_voices());
    EXPECT_EQ(default_prices().size(), c.tokens.models.size());
    for (const auto& model : c.tokens.models) {
        EXPECT_TRUE(default_prices().contains(model)) << model;
    }
    for (const auto& [from, to] : c.tokens.aliases) {
        EXPECT_TRUE(c.tokens.resolve_model(from)) << from << " -> " << to;
    }
}

}  // namespace
}  // namespace voicegate::config
