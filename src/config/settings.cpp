// The one table of settings: each setting's variable, TOML key, default, secrecy, help and
// parser. Loading, precedence, secret redaction, TOML key checks, `serve --help` and
// docs/configuration.md all read it (detail.hpp's Setting); and load_config, which applies it.
#include <algorithm>
#include <set>
#include <stdexcept>

#include "config/detail.hpp"
#include "core/catalog.hpp"
#include "net/listen.hpp"

namespace voicegate::config {
namespace {

// Setting factories: one per value shape, naming the member the setting fills, so that each
// table row says only what differs (range, member).
template <class Section>
ApplyFn int_setting(Section Config::*section, int Section::*field, long lo, long hi) {
    return [=](Config& c, const std::string& v) { return set_int(c.*section.*field, v, lo, hi); };
}

template <class Section>
ApplyFn size_setting(Section Config::*section, std::size_t Section::*field, long lo, long hi) {
    return [=](Config& c, const std::string& v) { return set_size(c.*section.*field, v, lo, hi); };
}

template <class Section>
ApplyFn bool_setting(Section Config::*section, bool Section::*field) {
    return [=](Config& c, const std::string& v) { return set_bool(c.*section.*field, v); };
}

// A free text, trimmed; any value is valid.
template <class Section>
ApplyFn text_setting(Section Config::*section, std::string Section::*field) {
    return [=](Config& c, const std::string& v) {
        c.*section.*field = trim(v);
        return std::string();
    };
}

ApplyFn rate_setting(ratelimit::Rate LimitsConfig::*rate, std::string LimitsConfig::*text) {
    return [=](Config& c, const std::string& v) {
        return set_rate(c.limits.*rate, c.limits.*text, v);
    };
}

ApplyFn rule_setting(AlertRule AlertsConfig::*rule, const std::vector<std::string>& keys) {
    return
        [=](Config& c, const std::string& v) { return parse_alert_rule(v, keys, c.alerts.*rule); };
}

// The catalog's defaults as the variables would hold them (for the reference and --help).
std::string default_models_text() {
    std::string out;
    for (const auto& model : kCatalogModels) {
        out += (out.empty() ? "" : ",") + std::string(model.name);
    }
    return out;
}

std::string default_aliases_text() {
    std::string out;
    for (const auto& [from, to] : kCatalogAliases) {
        out += (out.empty() ? "" : ",") + std::string(from) + "=" + std::string(to);
    }
    return out;
}

std::string default_voices_text() {
    std::string out;
    for (const auto voice : kCatalogVoices) {
        out += (out.empty() ? "" : ",") + std::string(voice);
    }
    return out;
}

}  // namespace

const std::vector<Setting>& settings() {
    static const std::vector<Setting> kSettings = {
        {"OPENAI_API_KEY", "upstream", "", "", true,
         "the real OpenAI key; unset: built-in emulator",
         text_setting(&Config::upstream, &UpstreamConfig::api_key)},
        {"OPENAI_BASE_URL", "upstream", "base_url", "https://api.openai.com/v1", false,
         "upstream base URL",
         [](Config& c, const std::string& v) {
             c.upstream.base_url = trim(v);
             while (!c.upstream.base_url.empty() && c.upstream.base_url.back() == '/') {
                 c.upstream.base_url.pop_back();
             }
             c.upstream.base_url_set = true;
             return std::string();
         }},
        {"VOICEGATE_LISTEN", "server", "listen", "127.0.0.1:8080", false, "host:port to listen on",
         [](Config& c, const std::string& v) {
             if (!net::parse_listen(trim(v), c.server.host, c.server.port)) {
                 return "must be host:port (e.g. 127.0.0.1:8080 or [::1]:8080), got \"" + v + "\"";
             }
             return std::string();
         }},
        {"VOICEGATE_THREADS", "server", "threads", "0", false, "event loops (0: one per core)",
         int_setting(&Config::server, &ServerConfig::threads, 0, 256)},
        {"VOICEGATE_BODY_LIMIT", "server", "body_limit_bytes", "65536", false,
         "max request body bytes",
         size_setting(&Config::server, &ServerConfig::body_limit, 1024, 16 * 1024 * 1024)},
        {"VOICEGATE_REQUEST_TIMEOUT_MS", "server", "request_timeout_ms", "10000", false,
         "time to receive a whole request",
         int_setting(&Config::server, &ServerConfig::request_timeout_ms, 100, 600'000)},
        {"VOICEGATE_IDLE_TIMEOUT_MS", "server", "idle_timeout_ms", "75000", false,
         "keep-alive idle timeout",
         int_setting(&Config::server, &ServerConfig::idle_timeout_ms, 100, 3'600'000)},
        {"VOICEGATE_DRAIN_TIMEOUT_MS", "server", "drain_timeout_ms", "15000", false,
         "graceful shutdown deadline",
         int_setting(&Config::server, &ServerConfig::drain_timeout_ms, 0, 600'000)},
        {"VOICEGATE_MAX_IN_FLIGHT", "server", "max_in_flight", "auto", false,
         "API requests handled at once by this instance; beyond it a request is answered at once "
         "with 503 overloaded and Retry-After: 1 instead of queueing (load shedding). auto: 256 "
         "per event loop, the upstream connections a loop may open; 0: no cap",
         [](Config& c, const std::string& v) {
             if (v == "auto") {
                 c.server.max_in_flight = -1;
                 return std::string();
             }
             return set_int(c.server.max_in_flight, v, 0, 1'000'000);
         }},
        {"VOICEGATE_CORS_ORIGINS", "server", "cors_origins", "", false, "allowed browser origins",
         [](Config& c, const std::string& v) {
             c.server.cors_origins = split_list(v);
             for (const auto& o : c.server.cors_origins) {
                 if (o != "*" && o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0) {
                     return "each origin must start with http:// or https:// (or be *), got \"" +
                            o + "\"";
                 }
             }
             return std::string();
         }},
        {"VOICEGATE_DEV", "server", "dev", "0", false, "1: error bodies carry details",
         bool_setting(&Config::server, &ServerConfig::dev)},
        {"VOICEGATE_UPSTREAM_TIMEOUT_MS", "upstream", "timeout_ms", "30000", false,
         "upstream deadline, retries included",
         int_setting(&Config::upstream, &UpstreamConfig::timeout_ms, 100, 300'000)},
        {"VOICEGATE_UPSTREAM_CONNECT_TIMEOUT_MS", "upstream", "connect_timeout_ms", "5000", false,
         "upstream connect deadline",
         int_setting(&Config::upstream, &UpstreamConfig::connect_timeout_ms, 50, 60'000)},
        {"VOICEGATE_UPSTREAM_RETRIES", "upstream", "max_retries", "2", false, "upstream retries",
         int_setting(&Config::upstream, &UpstreamConfig::max_retries, 0, 10)},
        {"VOICEGATE_UPSTREAM_POOL", "upstream", "pool_size", "64", false,
         "idle upstream connections kept per event loop",
         int_setting(&Config::upstream, &UpstreamConfig::pool_size, 1, 4096)},
        {"VOICEGATE_UPSTREAM_CA_FILE", "upstream", "ca_file", "", false,
         "CA bundle for upstream TLS (unset: the system CAs)",
         text_setting(&Config::upstream, &UpstreamConfig::ca_file)},
        {"VOICEGATE_UPSTREAM_ALLOW_INSECURE", "upstream", "allow_insecure", "0", false,
         "allow plain http to a non-loopback upstream",
         bool_setting(&Config::upstream, &UpstreamConfig::allow_insecure)},
        {"VOICEGATE_SAFETY_ID_KEY", "upstream", "", "", true,
         "key of the OpenAI-Safety-Identifier sent with relayed calls (HMAC-SHA256 of the user "
         "id, 64 hex characters; never the raw id), at least 16 bytes; unset: derived from "
         "OPENAI_API_KEY, so it changes when the key does",
         [](Config& c, const std::string& v) {
             if (v.size() < 16) {
                 return std::string("must be at least 16 bytes");
             }
             c.upstream.safety_id_key = v;
             return std::string();
         }},
        {"VOICEGATE_TOKEN_TTL", "tokens", "ttl_seconds", "1800", false,
         "client-secret lifetime, 10..7200 s",
         int_setting(&Config::tokens, &TokenPolicy::ttl_s, 10, 7200)},
        {"VOICEGATE_TOKEN_MAX_TTL", "tokens", "max_ttl_seconds", "7200", false,
         "upper bound for the TTL",
         int_setting(&Config::tokens, &TokenPolicy::max_ttl_s, 10, 7200)},
        {"VOICEGATE_MAX_INSTRUCTIONS", "tokens", "max_instructions_bytes", "16384", false,
         "max instructions size in bytes",
         size_setting(&Config::tokens, &TokenPolicy::max_instructions_bytes, 1, 1024 * 1024)},
        {"VOICEGATE_DEFAULT_MODEL", "tokens", "default_model", "gpt-realtime", false,
         "model when the client names none",
         text_setting(&Config::tokens, &TokenPolicy::default_model)},
        {"VOICEGATE_MODELS", "tokens", "models", default_models_text(), false,
         "allowed models (comma-separated)",
         [](Config& c, const std::string& v) {
             c.tokens.models = split_list(v);
             return c.tokens.models.empty() ? std::string("must list at least one model")
                                            : std::string();
         }},
        {"VOICEGATE_MODEL_ALIASES", "tokens", "aliases", default_aliases_text(), false,
         "retired=current model pairs (comma-separated)",
         [](Config& c, const std::string& v) { return set_aliases(c.tokens.aliases, v); }},
        {"VOICEGATE_VOICES", "tokens", "voices", default_voices_text(), false,
         "allowed voices (comma-separated)",
         [](Config& c, const std::string& v) {
             c.tokens.voices = split_list(v);
             return c.tokens.voices.empty() ? std::string("must list at least one voice")
                                            : std::string();
         }},
        {"DATABASE_URL", "store", "database_url", "sqlite:voicegate.db", false,
         "sqlite:PATH or postgres://... (optional schema=NAME)",
         text_setting(&Config::store, &StoreConfig::url)},
        {"VOICEGATE_SQLITE_SYNCHRONOUS", "store", "sqlite_synchronous", "normal", false,
         "full (fsync each group commit) or normal (survives process crashes)",
         [](Config& c, const std::string& v) {
             if (v != "full" && v != "normal") {
                 return "must be full or normal, got \"" + v + "\"";
             }
             c.store.sqlite_synchronous = v;
             return std::string();
         }},
        {"VOICEGATE_STORE_BATCH_MAX", "store", "batch_max", "1024", false,
         "max writes per group commit",
         int_setting(&Config::store, &StoreConfig::batch_max, 1, 100'000)},
        {"VOICEGATE_EVENTS_RETENTION_DAYS", "store", "events_retention_days", "90", false,
         "days the audit log (events) is kept, pruned hourly in small batches; 0: forever",
         int_setting(&Config::store, &StoreConfig::events_retention_days, 0, 36'500)},
        {"VOICEGATE_DENIAL_COUNTS_RETENTION_DAYS", "store", "denial_counts_retention_days", "30",
         false, "days the per-minute denial counts are kept (the daily ones stay); 0: forever",
         int_setting(&Config::store, &StoreConfig::denial_counts_retention_days, 0, 36'500)},
        {"VOICEGATE_DENIAL_SAMPLES_PER_MINUTE", "store", "denial_samples_per_minute", "5", false,
         "refusals audited as events per user and per address, reason and minute (all are "
         "counted); 0: none",
         int_setting(&Config::store, &StoreConfig::denial_samples_per_minute, 0, 10'000)},
        {"VOICEGATE_DENIAL_SAMPLES_PER_SECOND", "store", "denial_samples_per_second", "10", false,
         "refusals audited as events per second in all (backstop); 0: none",
         int_setting(&Config::store, &StoreConfig::denial_samples_per_second, 0, 10'000)},
        {"VOICEGATE_LOG_LEVEL", "log", "level", "info", false, "trace debug info warn error off",
         [](Config& c, const std::string& v) {
             static const std::set<std::string> kLevels{"trace", "debug", "info",
                                                        "warn",  "error", "off"};
             if (!kLevels.contains(v)) {
                 return "must be one of trace debug info warn error off, got \"" + v + "\"";
             }
             c.log.level = v;
             return std::string();
         }},
        {"VOICEGATE_LOG_JSON", "log", "json", "0", false, "1: application log as JSON lines",
         bool_setting(&Config::log, &LogConfig::json)},
        {"VOICEGATE_ACCESS_LOG", "log", "access", "1", false, "0: no access log",
         bool_setting(&Config::log, &LogConfig::access)},
        {"VOICEGATE_AUTH", "auth", "mode", "", false,
         "none or jwt (default: jwt if a JWT key is set)",
         [](Config& c, const std::string& v) {
             if (v != "none" && v != "jwt") {
                 return "must be none or jwt, got \"" + v + "\"";
             }
             c.auth.mode = v;
             return std::string();
         }},
        {"VOICEGATE_ALLOW_ANONYMOUS", "auth", "allow_anonymous", "0", false,
         "1: allow VOICEGATE_AUTH=none on a non-loopback address",
         bool_setting(&Config::auth, &AuthConfig::allow_anonymous)},
        {"VOICEGATE_ADMIN_TOKEN", "auth", "", "", true,
         "bearer token for /api/admin/* (at least 32 bytes, e.g. `openssl rand -hex 32`; unset: "
         "admin off)",
         text_setting(&Config::auth, &AuthConfig::admin_token)},
        {"JWT_SECRET", "auth", "", "", true, "HS256 key (e.g. the Supabase project JWT secret)",
         [](Config& c, const std::string& v) {
             c.auth.jwt_secret = v;
             return std::string();
         }},
        {"JWT_JWKS_URL", "auth", "jwks_url", "", false,
         "RS256/ES256 keys, e.g. https://PROJECT.supabase.co/auth/v1/.well-known/jwks.json",
         text_setting(&Config::auth, &AuthConfig::jwks_url)},
        {"JWT_JWKS_FILE", "auth", "jwks_file", "", false, "RS256/ES256 keys from a JWKS file",
         text_setting(&Config::auth, &AuthConfig::jwks_file)},
        {"JWT_ISSUER", "auth", "issuer", "", false, "required iss claim",
         text_setting(&Config::auth, &AuthConfig::issuer)},
        {"JWT_AUDIENCE", "auth", "audience", "", false,
         "required aud claim (comma-separated: any of)",
         [](Config& c, const std::string& v) {
             c.auth.audiences = split_list(v);
             return std::string();
         }},
        {"VOICEGATE_RATE_USER", "limits", "rate_user", "10/min", false,
         "token requests per user: N/s, N/min, N/h",
         rate_setting(&LimitsConfig::rate_user, &LimitsConfig::rate_user_text)},
        {"VOICEGATE_RATE_IP", "limits", "rate_ip", "60/min", false, "token requests per client IP",
         rate_setting(&LimitsConfig::rate_ip, &LimitsConfig::rate_ip_text)},
        {"VOICEGATE_RATE_ROUTES", "limits", "routes", "", false,
         "per-client-IP limits on any route: PATH=RATE,... (e.g. /api/realtime/end=120/min)",
         [](Config& c, const std::string& v) { return set_route_rates(c.limits.route_rates, v); }},
        {"VOICEGATE_PRICES", "prices", "", "", false,
         "per-model prices, USD per 1M tokens: MODEL=TEXT_IN/TEXT_CACHED/TEXT_OUT/AUDIO_IN/"
         "AUDIO_CACHED/AUDIO_OUT/IMAGE_IN/IMAGE_CACHED[/PER_MINUTE],... (merged with the defaults)",
         [](Config& c, const std::string& v) { return apply_price_list(c.prices, v); }},
        {"VOICEGATE_QUOTA_CONCURRENT", "quota", "concurrent", "2", false,
         "open sessions per user at once (0: unlimited)",
         int_setting(&Config::quota, &QuotaConfig::concurrent, 0, 1'000'000'000)},
        {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "quota", "minutes_per_day", "60", false,
         "billable minutes per user per UTC day (0: unlimited)",
         int_setting(&Config::quota, &QuotaConfig::minutes_per_day, 0, 1'000'000'000)},
        {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "quota", "sessions_per_day", "200", false,
         "sessions per user per UTC day (0: unlimited)",
         int_setting(&Config::quota, &QuotaConfig::sessions_per_day, 0, 1'000'000'000)},
        {"VOICEGATE_SESSION_MAX_MINUTES", "quota", "session_max_minutes", "30", false,
         "minutes a session is assumed to last when issued (reserved until /end), 1..1440",
         int_setting(&Config::quota, &QuotaConfig::session_max_minutes, 1, 1440)},
        {"VOICEGATE_TRUSTED_PROXIES", "limits", "trusted_proxies", "", false,
         "CIDRs whose X-Forwarded-For is believed",
         [](Config& c,
            const std::string& v) { return set_cidr_list(c.limits.trusted_proxies, v); }},
        {"VOICEGATE_IP_ALLOW", "limits", "ip_allow", "", false, "CIDRs allowed (empty: all)",
         [](Config& c, const std::string& v) { return set_cidr_list(c.limits.ip_rules.allow, v); }},
        {"VOICEGATE_IP_DENY", "limits", "ip_deny", "", false, "CIDRs denied on every route",
         [](Config& c, const std::string& v) { return set_cidr_list(c.limits.ip_rules.deny, v); }},
        {"REDIS_URL", "limits", "redis_url", "", false,
         "redis://[:password@]host:port[/db]: limits shared across instances (unset: in-process)",
         [](Config& c, const std::string& v) { return set_redis_url(c.limits.redis_url, v); }},
        {"VOICEGATE_REDIS_FAILURE_MODE", "limits", "redis_failure_mode", "closed", false,
         "closed (503 while Redis is unreachable) or open (allow unlimited)",
         [](Config& c, const std::string& v) {
             const auto mode = trim(v);
             if (mode != "closed" && mode != "open") {
                 return "must be closed or open, got \"" + v + "\"";
             }
             c.limits.redis_fail_open = mode == "open";
             return std::string();
         }},
        {"VOICEGATE_REDIS_TIMEOUT_MS", "limits", "redis_timeout_ms", "200", false,
         "deadline of one rate-limit decision in Redis",
         int_setting(&Config::limits, &LimitsConfig::redis_timeout_ms, 10, 10'000)},
        {"VOICEGATE_REDIS_KEY_PREFIX", "limits", "redis_key_prefix", "voicegate:rl:", false,
         "prefix of the limiter's Redis keys",
         [](Config& c,
            const std::string& v) { return set_key_prefix(c.limits.redis_key_prefix, v); }},
        {"VOICEGATE_METRICS", "metrics", "enabled", "1", false, "0: no GET /metrics",
         bool_setting(&Config::metrics, &MetricsConfig::enabled)},
        {"VOICEGATE_METRICS_TOKEN", "metrics", "", "", true,
         "bearer token required by GET /metrics (unset: loopback or the admin identity)",
         [](Config& c, const std::string& v) {
             c.metrics.token = trim(v);
             return c.metrics.token.empty() || c.metrics.token.size() >= 16
                        ? std::string()
                        : std::string("must be at least 16 characters");
         }},
        {"VOICEGATE_ALERTS", "alerts", "enabled", "1", false, "0: no anomaly alerts",
         bool_setting(&Config::alerts, &AlertsConfig::enabled)},
        {"VOICEGATE_ALERT_WEBHOOK_URL", "alerts", "", "", true,
         "https:// URL that receives each alert as a JSON POST (unset: events log only)",
         text_setting(&Config::alerts, &AlertsConfig::webhook_url)},
        {"VOICEGATE_ALERT_INTERVAL_S", "alerts", "interval_s", "10", false,
         "how often the anomaly rules are evaluated, 1..3600 s",
         int_setting(&Config::alerts, &AlertsConfig::interval_s, 1, 3600)},
        {"VOICEGATE_ALERT_COOLDOWN_S", "alerts", "cooldown_s", "900", false,
         "one alert per rule and subject per this many seconds (repeats are counted), 0..604800",
         int_setting(&Config::alerts, &AlertsConfig::cooldown_s, 0, 604'800)},
        {"VOICEGATE_ALERT_WEBHOOK_TIMEOUT_MS", "alerts", "webhook_timeout_ms", "5000", false,
         "deadline of one webhook POST attempt",
         int_setting(&Config::alerts, &AlertsConfig::webhook_timeout_ms, 100, 60'000)},
        {"VOICEGATE_ALERT_WEBHOOK_RETRIES", "alerts", "webhook_retries", "3", false,
         "webhook retries after a failed POST (exponential back-off), 0..10",
         int_setting(&Config::alerts, &AlertsConfig::webhook_retries, 0, 10)},
        {"VOICEGATE_ALERT_USER_RATE", "alerts", "user_rate", "window_s=60,factor=10,floor=30,max=0",
         false, "a user's token requests per window: off or window_s=,factor=,floor=,max=",
         rule_setting(&AlertsConfig::user_rate, {"window_s", "factor", "floor", "max"})},
        {"VOICEGATE_ALERT_USER_MINUTES", "alerts", "user_minutes", "factor=5,floor=60,max=0", false,
         "a user's billable minutes today: off or factor=,floor=,max=",
         rule_setting(&AlertsConfig::user_minutes, {"factor", "floor", "max"})},
        {"VOICEGATE_ALERT_DENIALS", "alerts", "denials", "factor=10,floor=20,max=120", false,
         "token denials per minute: off or factor=,floor=,max=",
         rule_setting(&AlertsConfig::denials, {"factor", "floor", "max"})},
        {"VOICEGATE_ALERT_UPSTREAM_ERRORS", "alerts", "upstream_errors", "ratio=0.5,floor=10",
         false, "failed upstream calls per minute: off or ratio=,floor=",
         rule_setting(&AlertsConfig::upstream_errors, {"ratio", "floor"})},
        {"VOICEGATE_EMULATOR", "emulator", "", "0", false,
         "1: use the built-in emulator even on a public address",
         bool_setting(&Config::emulator, &EmulatorConfig::forced)},
    };
    return kSettings;
}

std::string setting_help(const std::string& env, bool with_default) {
    for (const auto& s : settings()) {
        if (s.env == env) {
            return with_default && !s.default_value.empty()
                       ? s.help + " (default " + s.default_value + ")"
                       : s.help;
        }
    }
    throw std::logic_error("no setting reads " + env);
}

const std::vector<std::pair<std::string, std::string>>& known_variables() {
    static const auto kVars = [] {
        std::vector<std::pair<std::string, std::string>> v;
        for (const auto& s : settings()) {
            v.emplace_back(s.env, s.help);
        }
        return v;
    }();
    return kVars;
}

// ---- load_config: the sources applied in order of precedence, then validation ----

void apply_map(Config& cfg, const std::map<std::string, std::string>& values,
               const std::string& source, LoadResult& out) {
    for (const auto& s : settings()) {
        auto it = values.find(s.env);
        if (it == values.end()) {
            continue;
        }
        if (auto err = s.apply(cfg, it->second); !err.empty()) {
            // A secret's value never appears in a message.
            out.errors.push_back(s.env + " (" + source +
                                 "): " + (s.secret ? std::string("invalid value") : err));
        }
    }
}

LoadResult load_config(const Sources& sources) {
    LoadResult out;
    Config cfg;
    // Lowest precedence first: each later source overwrites what an earlier one set.
    if (!sources.toml_text.empty()) {
        apply_toml(cfg, sources, out);
    }
    apply_map(cfg, sources.dotenv, ".env", out);
    apply_map(cfg, sources.env, "environment", out);
    apply_map(cfg, sources.flags, "command line", out);
    validate(cfg, out);
    if (out.errors.empty()) {
        out.config = std::move(cfg);
    }
    return out;
}

}  // namespace voicegate::config
