#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/prices.hpp"
#include "emulator/options.hpp"
#include "net/cidr.hpp"
#include "net/client_ip.hpp"
#include "ratelimit/gcra.hpp"
#include "ratelimit/redis_url.hpp"

namespace voicegate::config {

/// A server-side session profile (SPEC §3.4): a named session config that a client selects
/// with `sessionConfig.profile`. Fields it sets are locked unless listed in allow_override.
struct Profile {
    std::string name;
    std::string description;
    /// GA session fields, already validated: model (resolved), voice, instructions,
    /// max_output_tokens, turn_detection, transcription, noise_reduction, tools, tool_choice,
    /// speed.
    boost::json::object fields;
    std::vector<std::string> allow_override;  // client field names: voice, instructions, ...
    /// Server-side call control (SPEC §7): "allow" lets a relayed offer carry a data channel
    /// (or other media) beside its audio; "deny" refuses such offers (400 sdp_policy).
    std::string data_channel = "allow";
    /// Cap of a supervised call of this profile in minutes (fractions allowed: 0.05 is 3 s);
    /// 0: VOICEGATE_SESSION_MAX_MINUTES.
    double max_minutes = 0;
    /// What the supervisor does when a locked field changes: "reapply" or "hangup".
    std::string on_violation = "reapply";
    /// True if the client may set `client_field` (model, voice, instructions, maxOutputTokens).
    bool allows(const std::string& client_field) const;
    bool operator==(const Profile&) const = default;
};

/// HTTP listener settings (SPEC §2.1 VOICEGATE_LISTEN, CORS, limits).
struct ServerConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    int threads = 0;  // 0: one event loop per core
    std::size_t body_limit = 64 * 1024;
    std::size_t header_limit = 16 * 1024;
    int request_timeout_ms = 10'000;
    int idle_timeout_ms = 75'000;
    int drain_timeout_ms = 15'000;
    // API requests handled at once; more get 503 overloaded. 0: no cap; -1 (auto): 256 per
    // event loop, the upstream connections each loop may open, so none waits for a connection.
    int max_in_flight = -1;
    std::vector<std::string> cors_origins;
    bool dev = false;  // VOICEGATE_DEV: error bodies carry details
    bool operator==(const ServerConfig&) const = default;
};

/// Upstream (OpenAI) settings. The key is a secret: never print it.
struct UpstreamConfig {
    std::string api_key;  // empty: use the in-process emulator
    std::string base_url = "https://api.openai.com/v1";
    bool base_url_set = false;
    int connect_timeout_ms = 5'000;
    int timeout_ms = 30'000;  // whole-request deadline, retries included
    int max_retries = 2;
    int pool_size = 64;  // idle keep-alive connections kept per event loop
    std::string ca_file;
    bool allow_insecure = false;  // plain http to a non-loopback host
    // VOICEGATE_SAFETY_ID_KEY (secret): the key of the OpenAI-Safety-Identifier hash of user
    // ids; empty: derived from api_key (api::safety_key_from).
    std::string safety_id_key;
    bool operator==(const UpstreamConfig&) const = default;
};

/// The default model allowlist: the names of core/catalog.hpp's models, in its order. Pure.
std::vector<std::string> catalog_models();

/// The default (retired, current) model aliases of core/catalog.hpp. Pure.
std::vector<std::pair<std::string, std::string>> catalog_aliases();

/// The default voice allowlist of core/catalog.hpp. Pure.
std::vector<std::string> catalog_voices();

/// Server-side token policy (SPEC §3.1, §3.4).
struct TokenPolicy {
    int ttl_s = 1800;
    int max_ttl_s = 7200;
    std::size_t max_instructions_bytes = 16 * 1024;
    std::string default_model = "gpt-realtime";
    std::vector<std::string> models = catalog_models();  // allowlist (after aliases)
    std::vector<std::pair<std::string, std::string>> aliases = catalog_aliases();  // old -> new
    std::vector<std::string> voices = catalog_voices();
    std::vector<Profile> profiles;
    /// The profile named `name`, or nullptr.
    const Profile* find_profile(const std::string& name) const;
    /// The model `requested` resolves to after aliases, or nullopt if not allowed.
    std::optional<std::string> resolve_model(const std::string& requested) const;
    bool voice_allowed(const std::string& voice) const;
    bool operator==(const TokenPolicy&) const = default;
};

/// Storage settings (SPEC §5).
struct StoreConfig {
    std::string url = "sqlite:voicegate.db";
    std::string sqlite_synchronous = "normal";
    int batch_max = 1024;
    int events_retention_days = 90;         // 0: keep the audit log forever
    int denial_counts_retention_days = 30;  // per-minute denial counts; 0: forever
    int denial_samples_per_minute = 5;      // token_denied events per user/address, reason, minute
    int denial_samples_per_second = 10;     // token_denied events per second, all together
    bool operator==(const StoreConfig&) const = default;
};

/// Built-in emulator settings for `serve` without a key and for `emulate`.
struct EmulatorConfig {
    bool forced = false;  // --emulator: allowed on a non-loopback address
    // The `[emulator]` table of the file, validated like every other setting.
    emulator::EmulatorOptions options;
    bool operator==(const EmulatorConfig&) const = default;
};

/// Logging.
struct LogConfig {
    std::string level = "info";
    bool json = false;
    bool access = true;
    bool operator==(const LogConfig&) const = default;
};

/// Identity settings (SPEC §2.1, §4).
struct AuthConfig {
    std::string mode;  // "none" | "jwt"; empty until validated: jwt if a JWT key is set
    bool allow_anonymous = false;
    std::string admin_token;  // secret
    std::string jwt_secret;   // secret (HS256)
    std::string jwks_url;
    std::string jwks_file;
    std::string issuer;
    std::vector<std::string> audiences;
    bool jwt_configured() const {
        return !jwt_secret.empty() || !jwks_url.empty() || !jwks_file.empty();
    }
    bool operator==(const AuthConfig&) const = default;
};

/// Abuse control (SPEC §2.1, §4): rates ("N/s", "N/min", "N/h") and CIDR lists, parsed.
struct LimitsConfig {
    ratelimit::Rate rate_user{10, 60'000, 10};
    std::string rate_user_text = "10/min";  // as configured, for messages
    ratelimit::Rate rate_ip{60, 60'000, 60};
    std::string rate_ip_text = "60/min";  // as configured, for messages
    // VOICEGATE_RATE_ROUTES: extra per-client-IP limits on any route, as (path, rate) pairs
    // from "PATH=RATE,PATH=RATE" (e.g. "/api/realtime/end=120/min"). Empty: none.
    std::vector<std::pair<std::string, ratelimit::Rate>> route_rates;
    net::CidrList trusted_proxies;  // VOICEGATE_TRUSTED_PROXIES
    net::IpRules ip_rules;          // VOICEGATE_IP_ALLOW (allow), VOICEGATE_IP_DENY (deny)
    // REDIS_URL; unset: in-process limits. Holds the password: log it only through
    // ratelimit::RedisUrl::redacted().
    std::optional<ratelimit::RedisUrl> redis_url;
    bool redis_fail_open = false;  // VOICEGATE_REDIS_FAILURE_MODE=open
    int redis_timeout_ms = 200;    // per decision
    std::string redis_key_prefix = "voicegate:rl:";
    bool operator==(const LimitsConfig&) const = default;
};

/// Per-user quotas (SPEC §2.1, §4), enforced by the store atomically with recording a session.
/// 0 for a quota means unlimited.
struct QuotaConfig {
    int concurrent = 2;          // VOICEGATE_QUOTA_CONCURRENT: open sessions per user at once
    int minutes_per_day = 60;    // VOICEGATE_QUOTA_MINUTES_PER_DAY: billable minutes per UTC day
    int sessions_per_day = 200;  // VOICEGATE_QUOTA_SESSIONS_PER_DAY
    // VOICEGATE_SESSION_MAX_MINUTES: how long a session is assumed to last when it is issued
    // (the reservation charged until /end settles it, and how long it holds a concurrent slot).
    int session_max_minutes = 30;
    bool enabled() const { return concurrent > 0 || minutes_per_day > 0 || sessions_per_day > 0; }
    bool operator==(const QuotaConfig&) const = default;
};

/// GET /metrics (SPEC §6): open to loopback clients; with `token` set, only to
/// `Authorization: Bearer TOKEN`; without it, also to the admin identity.
struct MetricsConfig {
    bool enabled = true;  // VOICEGATE_METRICS=0 removes the route
    std::string token;    // VOICEGATE_METRICS_TOKEN (secret)
    bool operator==(const MetricsConfig&) const = default;
};

/// One anomaly rule's thresholds. A rule fires when the figure reaches `max` (if > 0), or
/// when it reaches `floor` and exceeds `factor` x its baseline (EWMA of earlier windows; if
/// factor > 0). The upstream-error rule instead uses `ratio` of calls and `floor` errors.
struct AlertRule {
    bool enabled = true;
    double factor = 0;
    double floor = 0;
    double max = 0;
    double ratio = 0;
    int window_s = 60;
    bool operator==(const AlertRule&) const = default;
};

/// Anomaly alerts (issue 4 §5): rules evaluated every `interval_s`, one alert per rule and
/// subject per `cooldown_s`, written to the events log and optionally POSTed to a webhook.
struct AlertsConfig {
    bool enabled = true;             // VOICEGATE_ALERTS
    std::string webhook_url;         // VOICEGATE_ALERT_WEBHOOK_URL (secret: such URLs embed tokens)
    int interval_s = 10;             // VOICEGATE_ALERT_INTERVAL_S
    int cooldown_s = 900;            // VOICEGATE_ALERT_COOLDOWN_S
    int webhook_timeout_ms = 5'000;  // VOICEGATE_ALERT_WEBHOOK_TIMEOUT_MS, per attempt
    int webhook_retries = 3;         // VOICEGATE_ALERT_WEBHOOK_RETRIES
    // VOICEGATE_ALERT_USER_RATE: a user's token requests per window.
    AlertRule user_rate{true, 10, 30, 0, 0, 60};
    // VOICEGATE_ALERT_USER_MINUTES: a user's billable minutes today (baseline: earlier days).
    AlertRule user_minutes{true, 5, 60, 0, 0, 86'400};
    // VOICEGATE_ALERT_DENIALS: token denials per minute (all users).
    AlertRule denials{true, 10, 20, 120, 0, 60};
    // VOICEGATE_ALERT_UPSTREAM_ERRORS: upstream calls failing (429, 5xx, no answer) per minute.
    AlertRule upstream_errors{true, 0, 10, 0, 0.5, 60};
    bool operator==(const AlertsConfig&) const = default;
};

/// The whole configuration, its values already parsed (rates, CIDR lists, the Redis URL, the
/// emulator's options). Thread safety: built once at start-up by load_config, then immutable;
/// safe to share between threads.
struct Config {
    ServerConfig server;
    UpstreamConfig upstream;
    TokenPolicy tokens;
    StoreConfig store;
    EmulatorConfig emulator;
    LogConfig log;
    AuthConfig auth;
    LimitsConfig limits;
    QuotaConfig quota;
    MetricsConfig metrics;
    AlertsConfig alerts;
    /// Per-model prices for cost estimates (SPEC §2.1, §5): the reference's defaults, merged
    /// with `[prices."MODEL"]` tables of the config file and VOICEGATE_PRICES.
    PriceTable prices = default_prices();

    /// True when no key is set: the in-process emulator answers instead of OpenAI.
    bool uses_emulator() const { return upstream.api_key.empty(); }
    /// Member-wise, every sub-struct included (tests compare loaded configurations).
    bool operator==(const Config&) const = default;
};

/// Where configuration comes from. `flags` and `env` are keyed by the environment variable
/// names of SPEC §2.1 (flags are translated to them by the command line parser).
struct Sources {
    std::string toml_text;  // empty: no file
    std::string toml_path;  // for messages
    std::map<std::string, std::string> dotenv;
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> flags;
};

/// Outcome of loading: a config, or one clear line per problem.
struct LoadResult {
    std::optional<Config> config;
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
};

/// Builds the configuration: flags > environment > .env > TOML file > defaults, then validates
/// everything. Error lines name the setting and its source, never a secret's value. Pure.
LoadResult load_config(const Sources& sources);

/// Parses a .env file (KEY=VALUE lines, `export ` prefix, quotes, # comments). Pure.
std::map<std::string, std::string> parse_dotenv(const std::string& text);

/// The environment variables the loader reads, with one-line help each (for --help and docs).
const std::vector<std::pair<std::string, std::string>>& known_variables();

/// The help of the setting read from `env`, as the table has it, followed by " (default X)" when
/// `with_default` and the setting has one; for the command-line flags that set it, so that each
/// setting's text stands once. Throws std::logic_error for a variable the table lacks.
std::string setting_help(const std::string& env, bool with_default);

/// docs/configuration.md: every setting of the table known_variables() reads, grouped by TOML
/// section, with its variable, TOML key, flag, default and help, after an intro on precedence.
/// `flags` maps a variable to the `serve` flag that sets it ("--listen VALUE"). Pure.
std::string configuration_reference_markdown(const std::map<std::string, std::string>& flags);

/// Parses an alert rule: "off", or comma-separated key=value pairs among `keys` (factor,
/// floor, max, ratio, window_s) applied over `rule`'s defaults; an error text, empty on success.
/// Pure.
std::string parse_alert_rule(const std::string& text, const std::vector<std::string>& keys,
                             AlertRule& rule);

}  // namespace voicegate::config
