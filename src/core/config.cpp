#include "core/config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>
#include <string_view>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <toml++/toml.h>

#include "core/text.hpp"
#include "net/client_ip.hpp"
#include "ratelimit/gcra.hpp"
#include "ratelimit/redis_url.hpp"

namespace voicegate::config {
namespace {

// A setting: its environment name, its TOML section and key, its default (as the variable would
// hold it), whether it is secret, its help, and how a textual value is applied (returns an error
// text, empty on success). This one table drives loading, `serve --help` and
// docs/configuration.md (configuration_reference_markdown).
struct Setting {
    std::string env;
    std::string section;        // TOML table, and the reference's section
    std::string key;            // key in [section]; empty: not settable from the file
    std::string default_value;  // empty: unset (the help says what that means)
    bool secret = false;
    std::string help;
    std::function<std::string(Config&, const std::string&)> apply;
    /// "section.key", or empty when the file cannot set it.
    std::string toml_path() const { return key.empty() ? std::string() : section + "." + key; }
};

// Defaults of the policy lists (they have no member initialisers; load_config starts from these).
constexpr const char* kDefaultModels =
    "gpt-realtime,gpt-realtime-2025-08-28,gpt-realtime-1.5,gpt-realtime-2,gpt-realtime-2.1,"
    "gpt-realtime-2.1-mini,gpt-realtime-mini,gpt-realtime-mini-2025-12-15";
// Retired names that app builds already on phones still send (SPEC §3.1).
constexpr const char* kDefaultAliases =
    "gpt-4o-realtime-preview-2024-12-17=gpt-realtime,"
    "gpt-4o-realtime-preview-2024-10-01=gpt-realtime,"
    "gpt-4o-realtime-preview-2025-06-03=gpt-realtime,gpt-4o-realtime-preview=gpt-realtime,"
    "gpt-4o-mini-realtime-preview-2024-12-17=gpt-realtime-mini,"
    "gpt-4o-mini-realtime-preview=gpt-realtime-mini,gpt-realtime-mini-2025-10-06=gpt-realtime-mini";
constexpr const char* kDefaultVoices = "alloy,ash,ballad,coral,echo,sage,shimmer,verse,marin,cedar";

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item = trim(item);
        if (!item.empty()) {
            out.push_back(item);
        }
    }
    return out;
}

std::string set_int(int& out, const std::string& v, long lo, long hi) {
    long n = 0;
    const auto* end = v.data() + v.size();
    auto [p, ec] = std::from_chars(v.data(), end, n);
    if (ec != std::errc() || p != end) {
        return "must be an integer, got \"" + v + "\"";
    }
    if (n < lo || n > hi) {
        return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
               v;
    }
    out = static_cast<int>(n);
    return {};
}

std::string set_size(std::size_t& out, const std::string& v, long lo, long hi) {
    int n = 0;
    auto err = set_int(n, v, lo, hi);
    if (err.empty()) {
        out = static_cast<std::size_t>(n);
    }
    return err;
}

std::string set_bool(bool& out, const std::string& v) {
    std::string l = v;
    std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
    if (l == "1" || l == "true" || l == "yes" || l == "on") {
        out = true;
    } else if (l == "0" || l == "false" || l == "no" || l == "off" || l.empty()) {
        out = false;
    } else {
        return "must be 1/0 or true/false, got \"" + v + "\"";
    }
    return {};
}

// "old=new,..." (VOICEGATE_MODEL_ALIASES) into (retired, current) pairs; an error text, empty on
// success.
std::string set_aliases(std::vector<std::pair<std::string, std::string>>& out,
                        const std::string& v) {
    out.clear();
    for (const auto& pair : split_list(v)) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
            return "each alias must be old=new, got \"" + pair + "\"";
        }
        out.emplace_back(trim(pair.substr(0, eq)), trim(pair.substr(eq + 1)));
    }
    return {};
}

// A price must be a finite number >= 0 (USD). Returns an error text, empty when valid.
std::string check_price(std::string_view key, double value) {
    if (!std::isfinite(value) || value < 0) {
        return std::string(key) + ": must be a number >= 0 (USD), got " + std::to_string(value);
    }
    return {};
}

// VOICEGATE_PRICES: "MODEL=P1/P2/.../P8[/PER_MINUTE],..." in price_keys() order; each listed
// model replaces its defaults (without PER_MINUTE the minute estimate is derived).
std::string apply_price_list(PriceTable& prices, const std::string& v) {
    PriceTable out;
    for (const auto& item : split_list(v)) {
        const auto eq = item.find('=');
        const std::string model = trim(item.substr(0, eq));
        if (eq == std::string::npos || model.empty()) {
            return "\"" + item + "\" is not MODEL=TEXT_IN/TEXT_CACHED/TEXT_OUT/AUDIO_IN/" +
                   "AUDIO_CACHED/AUDIO_OUT/IMAGE_IN/IMAGE_CACHED[/PER_MINUTE]";
        }
        std::vector<std::string> parts;
        std::stringstream ss(item.substr(eq + 1));
        for (std::string part; std::getline(ss, part, '/');) {
            parts.push_back(trim(part));
        }
        if (parts.size() != 8 && parts.size() != 9) {
            return model +
                   ": expected 8 prices (or 9 with the per-minute estimate) separated by "
                   "/, got " +
                   std::to_string(parts.size());
        }
        ModelPrice price;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            double d = 0;
            const auto* end = parts[i].data() + parts[i].size();
            auto [p, ec] = std::from_chars(parts[i].data(), end, d);
            if (ec != std::errc() || p != end || parts[i].empty()) {
                return model + "." + std::string(price_keys()[i]) + ": must be a number, got \"" +
                       parts[i] + "\"";
            }
            if (auto err = check_price(price_keys()[i], d); !err.empty()) {
                return model + "." + err;
            }
            (void)set_price(price, price_keys()[i], d);
        }
        if (out.contains(model)) {
            return model + " is listed twice";
        }
        out[model] = price;
    }
    for (auto& [model, price] : out) {
        prices[model] = price;
    }
    return {};
}

// Reads [prices."MODEL"] tables: each key of price_keys() a number >= 0. A model of the
// defaults keeps the prices the table does not set; a new model starts from zero.
void apply_price_tables(Config& cfg, const toml::table& prices, const std::string& path,
                        LoadResult& out) {
    for (const auto& [name, node] : prices) {
        const std::string model(name.str());
        const std::string where = path + ": prices." + model;
        const auto* table = node.as_table();
        if (table == nullptr) {
            out.errors.push_back(where + ": expected a table like [prices.\"" + model + "\"]");
            continue;
        }
        const auto known = cfg.prices.find(model);
        ModelPrice price = known != cfg.prices.end() ? known->second : ModelPrice{};
        bool ok = true;
        for (const auto& [key, value] : *table) {
            const std::string k(key.str());
            const bool is_number = value.is_integer() || value.is_floating_point();
            const double number_value = is_number ? value.value_or(0.0) : 0.0;
            if (std::find(price_keys().begin(), price_keys().end(), k) == price_keys().end()) {
                out.errors.push_back(where + "." + k +
                                     ": unknown price (expected one of "
                                     "text_in, text_cached, text_out, audio_in, audio_cached, "
                                     "audio_out, image_in, image_cached, per_minute)");
                ok = false;
            } else if (!is_number) {
                out.errors.push_back(where + "." + k + ": must be a number (USD)");
                ok = false;
            } else if (auto err = check_price(k, number_value); !err.empty()) {
                out.errors.push_back(where + "." + err);
                ok = false;
            } else {
                (void)set_price(price, k, number_value);
            }
        }
        if (ok) {
            cfg.prices[model] = price;
        }
    }
}

const std::vector<Setting>& settings() {
    static const std::vector<Setting> kSettings = {
        {"OPENAI_API_KEY", "upstream", "", "", true,
         "the real OpenAI key; unset: built-in emulator",
         [](Config& c, const std::string& v) {
             c.upstream.api_key = trim(v);
             return std::string();
         }},
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
             if (!parse_listen(trim(v), c.server.host, c.server.port)) {
                 return "must be host:port (e.g. 127.0.0.1:8080 or [::1]:8080), got \"" + v + "\"";
             }
             return std::string();
         }},
        {"VOICEGATE_THREADS", "server", "threads", "0", false, "event loops (0: one per core)",
         [](Config& c, const std::string& v) { return set_int(c.server.threads, v, 0, 256); }},
        {"VOICEGATE_BODY_LIMIT", "server", "body_limit_bytes", "65536", false,
         "max request body bytes",
         [](Config& c, const std::string& v) {
             return set_size(c.server.body_limit, v, 1024, 16 * 1024 * 1024);
         }},
        {"VOICEGATE_REQUEST_TIMEOUT_MS", "server", "request_timeout_ms", "10000", false,
         "time to receive a whole request",
         [](Config& c, const std::string& v) {
             return set_int(c.server.request_timeout_ms, v, 100, 600'000);
         }},
        {"VOICEGATE_IDLE_TIMEOUT_MS", "server", "idle_timeout_ms", "75000", false,
         "keep-alive idle timeout",
         [](Config& c, const std::string& v) {
             return set_int(c.server.idle_timeout_ms, v, 100, 3'600'000);
         }},
        {"VOICEGATE_DRAIN_TIMEOUT_MS", "server", "drain_timeout_ms", "15000", false,
         "graceful shutdown deadline",
         [](Config& c, const std::string& v) {
             return set_int(c.server.drain_timeout_ms, v, 0, 600'000);
         }},
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
         [](Config& c, const std::string& v) { return set_bool(c.server.dev, v); }},
        {"VOICEGATE_UPSTREAM_TIMEOUT_MS", "upstream", "timeout_ms", "30000", false,
         "upstream deadline, retries included",
         [](Config& c, const std::string& v) {
             return set_int(c.upstream.timeout_ms, v, 100, 300'000);
         }},
        {"VOICEGATE_UPSTREAM_CONNECT_TIMEOUT_MS", "upstream", "connect_timeout_ms", "5000", false,
         "upstream connect deadline",
         [](Config& c, const std::string& v) {
             return set_int(c.upstream.connect_timeout_ms, v, 50, 60'000);
         }},
        {"VOICEGATE_UPSTREAM_RETRIES", "upstream", "max_retries", "2", false, "upstream retries",
         [](Config& c, const std::string& v) { return set_int(c.upstream.max_retries, v, 0, 10); }},
        {"VOICEGATE_UPSTREAM_POOL", "upstream", "pool_size", "64", false,
         "idle upstream connections kept per event loop",
         [](Config& c, const std::string& v) { return set_int(c.upstream.pool_size, v, 1, 4096); }},
        {"VOICEGATE_UPSTREAM_CA_FILE", "upstream", "ca_file", "", false,
         "CA bundle for upstream TLS (unset: the system CAs)",
         [](Config& c, const std::string& v) {
             c.upstream.ca_file = trim(v);
             return std::string();
         }},
        {"VOICEGATE_UPSTREAM_ALLOW_INSECURE", "upstream", "allow_insecure", "0", false,
         "allow plain http to a non-loopback upstream",
         [](Config& c, const std::string& v) { return set_bool(c.upstream.allow_insecure, v); }},
        {"VOICEGATE_TOKEN_TTL", "tokens", "ttl_seconds", "1800", false,
         "client-secret lifetime, 10..7200 s",
         [](Config& c, const std::string& v) { return set_int(c.tokens.ttl_s, v, 10, 7200); }},
        {"VOICEGATE_TOKEN_MAX_TTL", "tokens", "max_ttl_seconds", "7200", false,
         "upper bound for the TTL",
         [](Config& c, const std::string& v) { return set_int(c.tokens.max_ttl_s, v, 10, 7200); }},
        {"VOICEGATE_MAX_INSTRUCTIONS", "tokens", "max_instructions_bytes", "16384", false,
         "max instructions size in bytes",
         [](Config& c, const std::string& v) {
             return set_size(c.tokens.max_instructions_bytes, v, 1, 1024 * 1024);
         }},
        {"VOICEGATE_DEFAULT_MODEL", "tokens", "default_model", "gpt-realtime", false,
         "model when the client names none",
         [](Config& c, const std::string& v) {
             c.tokens.default_model = trim(v);
             return std::string();
         }},
        {"VOICEGATE_MODELS", "tokens", "models", kDefaultModels, false,
         "allowed models (comma-separated)",
         [](Config& c, const std::string& v) {
             c.tokens.models = split_list(v);
             return c.tokens.models.empty() ? std::string("must list at least one model")
                                            : std::string();
         }},
        {"VOICEGATE_MODEL_ALIASES", "tokens", "aliases", kDefaultAliases, false,
         "retired=current model pairs (comma-separated)",
         [](Config& c, const std::string& v) { return set_aliases(c.tokens.aliases, v); }},
        {"VOICEGATE_VOICES", "tokens", "voices", kDefaultVoices, false,
         "allowed voices (comma-separated)",
         [](Config& c, const std::string& v) {
             c.tokens.voices = split_list(v);
             return c.tokens.voices.empty() ? std::string("must list at least one voice")
                                            : std::string();
         }},
        {"DATABASE_URL", "store", "database_url", "sqlite:voicegate.db", false,
         "sqlite:PATH or postgres://... (optional schema=NAME)",
         [](Config& c, const std::string& v) {
             c.store.url = trim(v);
             return std::string();
         }},
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
         [](Config& c, const std::string& v) { return set_int(c.store.batch_max, v, 1, 100'000); }},
        {"VOICEGATE_EVENTS_RETENTION_DAYS", "store", "events_retention_days", "90", false,
         "days the audit log (events) is kept, pruned hourly in small batches; 0: forever",
         [](Config& c, const std::string& v) {
             return set_int(c.store.events_retention_days, v, 0, 36'500);
         }},
        {"VOICEGATE_DENIAL_COUNTS_RETENTION_DAYS", "store", "denial_counts_retention_days", "30",
         false,
         "days the per-minute denial counts are kept (the daily ones stay); 0: forever",
         [](Config& c, const std::string& v) {
             return set_int(c.store.denial_counts_retention_days, v, 0, 36'500);
         }},
        {"VOICEGATE_DENIAL_SAMPLES_PER_MINUTE", "store", "denial_samples_per_minute", "5", false,
         "refusals audited as events per user and per address, reason and minute (all are "
         "counted); 0: none",
         [](Config& c, const std::string& v) {
             return set_int(c.store.denial_samples_per_minute, v, 0, 10'000);
         }},
        {"VOICEGATE_DENIAL_SAMPLES_PER_SECOND", "store", "denial_samples_per_second", "10", false,
         "refusals audited as events per second in all (backstop); 0: none",
         [](Config& c, const std::string& v) {
             return set_int(c.store.denial_samples_per_second, v, 0, 10'000);
         }},
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
         [](Config& c, const std::string& v) { return set_bool(c.log.json, v); }},
        {"VOICEGATE_ACCESS_LOG", "log", "access", "1", false, "0: no access log",
         [](Config& c, const std::string& v) { return set_bool(c.log.access, v); }},
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
         [](Config& c, const std::string& v) { return set_bool(c.auth.allow_anonymous, v); }},
        {"VOICEGATE_ADMIN_TOKEN", "auth", "", "", true,
         "bearer token for /api/admin/* (at least 32 bytes, e.g. `openssl rand -hex 32`; unset: "
         "admin off)",
         [](Config& c, const std::string& v) {
             c.auth.admin_token = trim(v);
             return std::string();
         }},
        {"JWT_SECRET", "auth", "", "", true, "HS256 key (e.g. the Supabase project JWT secret)",
         [](Config& c, const std::string& v) {
             c.auth.jwt_secret = v;
             return std::string();
         }},
        {"JWT_JWKS_URL", "auth", "jwks_url", "", false,
         "RS256/ES256 keys, e.g. https://PROJECT.supabase.co/auth/v1/.well-known/jwks.json",
         [](Config& c, const std::string& v) {
             c.auth.jwks_url = trim(v);
             return std::string();
         }},
        {"JWT_JWKS_FILE", "auth", "jwks_file", "", false, "RS256/ES256 keys from a JWKS file",
         [](Config& c, const std::string& v) {
             c.auth.jwks_file = trim(v);
             return std::string();
         }},
        {"JWT_ISSUER", "auth", "issuer", "", false, "required iss claim",
         [](Config& c, const std::string& v) {
             c.auth.issuer = trim(v);
             return std::string();
         }},
        {"JWT_AUDIENCE", "auth", "audience", "", false,
         "required aud claim (comma-separated: any of)",
         [](Config& c, const std::string& v) {
             c.auth.audiences = split_list(v);
             return std::string();
         }},
        {"VOICEGATE_RATE_USER", "limits", "rate_user", "10/min", false,
         "token requests per user: N/s, N/min, N/h",
         [](Config& c, const std::string& v) {
             auto r = ratelimit::parse_rate(trim(v));
             if (!r) {
                 return std::string(r.error().public_message());
             }
             c.limits.rate_user = trim(v);
             return std::string();
         }},
        {"VOICEGATE_RATE_IP", "limits", "rate_ip", "60/min", false, "token requests per client IP",
         [](Config& c, const std::string& v) {
             auto r = ratelimit::parse_rate(trim(v));
             if (!r) {
                 return std::string(r.error().public_message());
             }
             c.limits.rate_ip = trim(v);
             return std::string();
         }},
        {"VOICEGATE_RATE_ROUTES", "limits", "routes", "", false,
         "per-client-IP limits on any route: PATH=RATE,... (e.g. /api/realtime/end=120/min)",
         [](Config& c, const std::string& v) {
             std::vector<std::pair<std::string, std::string>> out;
             for (const auto& item : split_list(v)) {
                 const auto eq = item.find('=');
                 if (eq == std::string::npos) {
                     return "\"" + item + "\" is not PATH=RATE (e.g. /api/realtime/end=120/min)";
                 }
                 std::string path = trim(item.substr(0, eq));
                 std::string rate = trim(item.substr(eq + 1));
                 if (path.empty() || path.front() != '/') {
                     return "\"" + path + "\" is not a path: it must start with /";
                 }
                 if (auto r = ratelimit::parse_rate(rate); !r) {
                     return path + ": " + std::string(r.error().public_message());
                 }
                 for (const auto& [seen, unused] : out) {
                     if (seen == path) {
                         return path + " is listed twice";
                     }
                 }
                 out.emplace_back(std::move(path), std::move(rate));
             }
             c.limits.route_rates = std::move(out);
             return std::string();
         }},
        {"VOICEGATE_PRICES", "prices", "", "", false,
         "per-model prices, USD per 1M tokens: MODEL=TEXT_IN/TEXT_CACHED/TEXT_OUT/AUDIO_IN/"
         "AUDIO_CACHED/AUDIO_OUT/IMAGE_IN/IMAGE_CACHED[/PER_MINUTE],... (merged with the defaults)",
         [](Config& c, const std::string& v) { return apply_price_list(c.prices, v); }},
        {"VOICEGATE_QUOTA_CONCURRENT", "quota", "concurrent", "2", false,
         "open sessions per user at once (0: unlimited)",
         [](Config& c, const std::string& v) {
             return set_int(c.quota.concurrent, v, 0, 1'000'000'000);
         }},
        {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "quota", "minutes_per_day", "60", false,
         "billable minutes per user per UTC day (0: unlimited)",
         [](Config& c, const std::string& v) {
             return set_int(c.quota.minutes_per_day, v, 0, 1'000'000'000);
         }},
        {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "quota", "sessions_per_day", "200", false,
         "sessions per user per UTC day (0: unlimited)",
         [](Config& c, const std::string& v) {
             return set_int(c.quota.sessions_per_day, v, 0, 1'000'000'000);
         }},
        {"VOICEGATE_SESSION_MAX_MINUTES", "quota", "session_max_minutes", "30", false,
         "minutes a session is assumed to last when issued (reserved until /end), 1..1440",
         [](Config& c, const std::string& v) {
             return set_int(c.quota.session_max_minutes, v, 1, 1440);
         }},
        {"VOICEGATE_TRUSTED_PROXIES", "limits", "trusted_proxies", "", false,
         "CIDRs whose X-Forwarded-For is believed",
         [](Config& c, const std::string& v) {
             auto r = net::CidrList::parse(v);
             if (!r) {
                 return std::string(r.error().public_message());
             }
             c.limits.trusted_proxies = v;
             return std::string();
         }},
        {"VOICEGATE_IP_ALLOW", "limits", "ip_allow", "", false, "CIDRs allowed (empty: all)",
         [](Config& c, const std::string& v) {
             auto r = net::CidrList::parse(v);
             if (!r) {
                 return std::string(r.error().public_message());
             }
             c.limits.ip_allow = v;
             return std::string();
         }},
        {"VOICEGATE_IP_DENY", "limits", "ip_deny", "", false, "CIDRs denied on every route",
         [](Config& c, const std::string& v) {
             auto r = net::CidrList::parse(v);
             if (!r) {
                 return std::string(r.error().public_message());
             }
             c.limits.ip_deny = v;
             return std::string();
         }},
        {"REDIS_URL", "limits", "redis_url", "", false,
         "redis://[:password@]host:port[/db]: limits shared across instances (unset: in-process)",
         [](Config& c, const std::string& v) {
             // Not flagged secret so the problem is shown; parse_redis_url never shows a password.
             const auto text = trim(v);
             if (!text.empty()) {
                 auto url = ratelimit::parse_redis_url(text);
                 if (!url) {
                     return std::string(url.error().public_message());
                 }
             }
             c.limits.redis_url = text;
             return std::string();
         }},
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
         [](Config& c, const std::string& v) {
             return set_int(c.limits.redis_timeout_ms, v, 10, 10'000);
         }},
        {"VOICEGATE_REDIS_KEY_PREFIX", "limits", "redis_key_prefix", "voicegate:rl:", false,
         "prefix of the limiter's Redis keys",
         [](Config& c, const std::string& v) {
             if (v.size() > 64 || std::any_of(v.begin(), v.end(), [](unsigned char ch) {
                     return ch <= 0x20 || ch >= 0x7F;
                 })) {
                 return std::string("must be at most 64 printable characters without spaces");
             }
             c.limits.redis_key_prefix = v;
             return std::string();
         }},
        {"VOICEGATE_METRICS", "metrics", "enabled", "1", false, "0: no GET /metrics",
         [](Config& c, const std::string& v) { return set_bool(c.metrics.enabled, v); }},
        {"VOICEGATE_METRICS_TOKEN", "metrics", "", "", true,
         "bearer token required by GET /metrics (unset: loopback or the admin identity)",
         [](Config& c, const std::string& v) {
             c.metrics.token = trim(v);
             return c.metrics.token.empty() || c.metrics.token.size() >= 16
                        ? std::string()
                        : std::string("must be at least 16 characters");
         }},
        {"VOICEGATE_ALERTS", "alerts", "enabled", "1", false, "0: no anomaly alerts",
         [](Config& c, const std::string& v) { return set_bool(c.alerts.enabled, v); }},
        {"VOICEGATE_ALERT_WEBHOOK_URL", "alerts", "", "", true,
         "https:// URL that receives each alert as a JSON POST (unset: events log only)",
         [](Config& c, const std::string& v) {
             c.alerts.webhook_url = trim(v);
             return std::string();
         }},
        {"VOICEGATE_ALERT_INTERVAL_S", "alerts", "interval_s", "10", false,
         "how often the anomaly rules are evaluated, 1..3600 s",
         [](Config& c, const std::string& v) { return set_int(c.alerts.interval_s, v, 1, 3600); }},
        {"VOICEGATE_ALERT_COOLDOWN_S", "alerts", "cooldown_s", "900", false,
         "one alert per rule and subject per this many seconds (repeats are counted), 0..604800",
         [](Config& c, const std::string& v) {
             return set_int(c.alerts.cooldown_s, v, 0, 604'800);
         }},
        {"VOICEGATE_ALERT_WEBHOOK_TIMEOUT_MS", "alerts", "webhook_timeout_ms", "5000", false,
         "deadline of one webhook POST attempt",
         [](Config& c, const std::string& v) {
             return set_int(c.alerts.webhook_timeout_ms, v, 100, 60'000);
         }},
        {"VOICEGATE_ALERT_WEBHOOK_RETRIES", "alerts", "webhook_retries", "3", false,
         "webhook retries after a failed POST (exponential back-off), 0..10",
         [](Config& c, const std::string& v) {
             return set_int(c.alerts.webhook_retries, v, 0, 10);
         }},
        {"VOICEGATE_ALERT_USER_RATE", "alerts", "user_rate",
         "window_s=60,factor=10,floor=30,max=0", false,
         "a user's token requests per window: off or window_s=,factor=,floor=,max=",
         [](Config& c, const std::string& v) {
             return parse_alert_rule(v, {"window_s", "factor", "floor", "max"},
                                     c.alerts.user_rate);
         }},
        {"VOICEGATE_ALERT_USER_MINUTES", "alerts", "user_minutes", "factor=5,floor=60,max=0", false,
         "a user's billable minutes today: off or factor=,floor=,max=",
         [](Config& c, const std::string& v) {
             return parse_alert_rule(v, {"factor", "floor", "max"}, c.alerts.user_minutes);
         }},
        {"VOICEGATE_ALERT_DENIALS", "alerts", "denials", "factor=10,floor=20,max=120", false,
         "token denials per minute: off or factor=,floor=,max=",
         [](Config& c, const std::string& v) {
             return parse_alert_rule(v, {"factor", "floor", "max"}, c.alerts.denials);
         }},
        {"VOICEGATE_ALERT_UPSTREAM_ERRORS", "alerts", "upstream_errors",
         "ratio=0.5,floor=10", false,
         "failed upstream calls per minute: off or ratio=,floor=",
         [](Config& c, const std::string& v) {
             return parse_alert_rule(v, {"ratio", "floor"}, c.alerts.upstream_errors);
         }},
        {"VOICEGATE_EMULATOR", "emulator", "", "0", false,
         "1: use the built-in emulator even on a public address",
         [](Config& c, const std::string& v) { return set_bool(c.emulator.forced, v); }},
    };
    return kSettings;
}

// Settings of SPEC §2.1 that later issues implement. Setting one to a value that would turn a
// protection on is refused rather than silently ignored. (None left.)
const std::vector<std::string> kNotYet;

// Renders a TOML node as the same text an environment variable would hold.
std::optional<std::string> toml_to_text(const toml::node& n) {
    if (const auto* s = n.as_string()) {
        return s->get();
    }
    if (const auto* i = n.as_integer()) {
        return std::to_string(i->get());
    }
    if (const auto* b = n.as_boolean()) {
        return b->get() ? "true" : "false";
    }
    if (const auto* f = n.as_floating_point()) {
        std::ostringstream o;
        o << f->get();
        return o.str();
    }
    if (const auto* a = n.as_array()) {
        std::string out;
        for (const auto& e : *a) {
            auto t = toml_to_text(e);
            if (!t || e.is_array() || e.is_table()) {
                return std::nullopt;
            }
            if (!out.empty()) {
                out += ",";
            }
            out += *t;
        }
        return out;
    }
    if (const auto* t = n.as_table()) {
        std::string out;
        for (const auto& [k, v] : *t) {
            auto s = v.as_string();
            if (s == nullptr) {
                return std::nullopt;
            }
            if (!out.empty()) {
                out += ",";
            }
            out += std::string(k.str()) + "=" + s->get();
        }
        return out;
    }
    return std::nullopt;
}

// A TOML value as JSON (tables -> objects, arrays -> arrays), for profile fields.
boost::json::value toml_to_json(const toml::node& n) {
    if (const auto* t = n.as_table()) {
        boost::json::object o;
        for (const auto& [k, v] : *t) {
            o[std::string(k.str())] = toml_to_json(v);
        }
        return o;
    }
    if (const auto* a = n.as_array()) {
        boost::json::array arr;
        for (const auto& e : *a) {
            arr.push_back(toml_to_json(e));
        }
        return arr;
    }
    if (const auto* s = n.as_string()) {
        return boost::json::value(s->get());
    }
    if (const auto* i = n.as_integer()) {
        return boost::json::value(i->get());
    }
    if (const auto* b = n.as_boolean()) {
        return boost::json::value(b->get());
    }
    if (const auto* f = n.as_floating_point()) {
        return boost::json::value(f->get());
    }
    return nullptr;
}

// The keys a [profiles.NAME] table may hold.
const std::vector<std::string> kProfileFields = {
    "model",          "voice",         "instructions",    "max_output_tokens",
    "turn_detection", "transcription", "noise_reduction", "tools",
    "tool_choice",    "speed",         "description",     "allow_override"};

// Reads [profiles.NAME] tables. Validation against the final policy happens in validate().
void apply_profiles(Config& cfg, const toml::table& profiles, const std::string& path,
                    LoadResult& out) {
    for (const auto& [name, node] : profiles) {
        const std::string where = path + ": profiles." + std::string(name.str());
        const auto* table = node.as_table();
        if (table == nullptr) {
            out.errors.push_back(where + ": expected a table like [profiles." +
                                 std::string(name.str()) + "]");
            continue;
        }
        Profile p;
        p.name = std::string(name.str());
        for (const auto& [key, value] : *table) {
            const std::string k(key.str());
            if (std::find(kProfileFields.begin(), kProfileFields.end(), k) ==
                kProfileFields.end()) {
                out.errors.push_back(where + "." + k + ": unknown profile field");
                continue;
            }
            if (k == "description") {
                p.description = value.value_or(std::string());
            } else if (k == "allow_override") {
                if (auto t = toml_to_text(value)) {
                    p.allow_override = split_list(*t);
                }
            } else {
                p.fields[k] = toml_to_json(value);
            }
        }
        cfg.tokens.profiles.push_back(std::move(p));
    }
}

void validate_profiles(Config& cfg, LoadResult& out) {
    static const std::vector<std::string> kOverridable = {"model", "voice", "instructions",
                                                          "maxOutputTokens"};
    for (auto& p : cfg.tokens.profiles) {
        const std::string where = "profiles." + p.name;
        for (const auto& o : p.allow_override) {
            if (std::find(kOverridable.begin(), kOverridable.end(), o) == kOverridable.end()) {
                out.errors.push_back(where + ".allow_override: \"" + o +
                                     "\" is not a client field (model, voice, instructions, "
                                     "maxOutputTokens)");
            }
        }
        auto& f = p.fields;
        if (auto* m = f.if_contains("model")) {
            auto resolved = m->is_string() ? cfg.tokens.resolve_model(std::string(m->get_string()))
                                           : std::nullopt;
            if (!resolved) {
                out.errors.push_back(where + ".model: must be an allowed model");
            } else {
                *m = *resolved;
            }
        }
        if (auto* v = f.if_contains("voice");
            v && (!v->is_string() || !cfg.tokens.voice_allowed(std::string(v->get_string())))) {
            out.errors.push_back(where + ".voice: must be one of the allowed voices");
        }
        if (auto* i = f.if_contains("instructions");
            i && (!i->is_string() || i->get_string().size() > cfg.tokens.max_instructions_bytes)) {
            out.errors.push_back(where + ".instructions: must be a string within " +
                                 std::to_string(cfg.tokens.max_instructions_bytes) + " bytes");
        }
        if (auto* n = f.if_contains("max_output_tokens")) {
            const bool ok = (n->is_string() && n->get_string() == "inf") ||
                            (n->is_int64() && n->get_int64() >= 1 && n->get_int64() <= 4096);
            if (!ok) {
                out.errors.push_back(where + ".max_output_tokens: must be 1..4096 or \"inf\"");
            }
        }
        for (const char* obj : {"turn_detection", "transcription", "noise_reduction"}) {
            if (auto* o = f.if_contains(obj); o && !o->is_object()) {
                out.errors.push_back(where + "." + obj + ": must be a table");
            }
        }
        if (auto* t = f.if_contains("tools"); t && !t->is_array()) {
            out.errors.push_back(where + ".tools: must be an array of tables");
        }
        if (auto* sp = f.if_contains("speed");
            sp && !((sp->is_double() && sp->get_double() >= 0.25 && sp->get_double() <= 1.5) ||
                    (sp->is_int64() && sp->get_int64() == 1))) {
            out.errors.push_back(where + ".speed: must be a number from 0.25 to 1.5");
        }
    }
}

void apply_toml(Config& cfg, const Sources& src, LoadResult& out) {
    toml::table doc;
    try {
        doc = toml::parse(src.toml_text, src.toml_path);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        out.errors.push_back(src.toml_path + ":" + std::to_string(where.line) + ":" +
                             std::to_string(where.column) + ": " + std::string(e.description()));
        return;
    }
    std::map<std::string, const Setting*> by_path;
    for (const auto& s : settings()) {
        if (!s.key.empty()) {
            by_path[s.toml_path()] = &s;
        }
    }
    for (const auto& [section, node] : doc) {
        const auto* table = node.as_table();
        if (table == nullptr) {
            out.errors.push_back(src.toml_path + ": " + std::string(section.str()) +
                                 ": expected a [section] table");
            continue;
        }
        if (section.str() == "profiles") {
            apply_profiles(cfg, *table, src.toml_path, out);
            continue;
        }
        if (section.str() == "prices") {
            apply_price_tables(cfg, *table, src.toml_path, out);
            continue;
        }
        if (section.str() == "emulator") {
            for (const auto& [k, v] : *table) {
                if (auto t = toml_to_text(v)) {
                    cfg.emulator.options[std::string(k.str())] = *t;
                }
            }
            continue;
        }
        for (const auto& [key, value] : *table) {
            const std::string path = std::string(section.str()) + "." + std::string(key.str());
            auto it = by_path.find(path);
            if (it == by_path.end()) {
                if (path == "upstream.api_key" || path == "auth.admin_token") {
                    out.errors.push_back(src.toml_path + ": " + path +
                                         ": secrets are read only from the environment or .env, "
                                         "never from the config file");
                } else {
                    out.errors.push_back(src.toml_path + ": " + path + ": unknown setting");
                }
                continue;
            }
            auto text = toml_to_text(value);
            if (!text) {
                out.errors.push_back(src.toml_path + ": " + path + ": unsupported value type");
                continue;
            }
            if (path == "limits.redis_url") {
                auto url = ratelimit::parse_redis_url(trim(*text));
                if (url && !url->password.empty()) {
                    out.errors.push_back(src.toml_path + ": " + path +
                                         ": a password is a secret, read only from the "
                                         "environment or .env (set REDIS_URL there)");
                    continue;
                }
            }
            if (auto err = it->second->apply(cfg, *text); !err.empty()) {
                out.errors.push_back(src.toml_path + ": " + path + ": " + err);
            }
        }
    }
}

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

void validate(Config& cfg, LoadResult& out) {
    validate_profiles(cfg, out);
    for (const auto& model : cfg.tokens.models) {
        if (cfg.prices.find(model) == cfg.prices.end()) {
            out.warnings.push_back("prices: the allowed model " + model +
                                   " has no price; its sessions are estimated at $0 (add "
                                   "[prices.\"" +
                                   model + "\"] or VOICEGATE_PRICES)");
        }
    }
    if (cfg.auth.mode.empty()) {
        cfg.auth.mode = cfg.auth.jwt_configured() ? "jwt" : "none";
    }
    const bool loopback = is_loopback(cfg.server.host);
    if (cfg.tokens.ttl_s > cfg.tokens.max_ttl_s) {
        out.errors.push_back("VOICEGATE_TOKEN_TTL: " + std::to_string(cfg.tokens.ttl_s) +
                             " exceeds the maximum TTL " + std::to_string(cfg.tokens.max_ttl_s));
    }
    if (!cfg.tokens.resolve_model(cfg.tokens.default_model)) {
        out.errors.push_back("VOICEGATE_DEFAULT_MODEL: \"" + cfg.tokens.default_model +
                             "\" is not in the allowed models (VOICEGATE_MODELS)");
    }
    for (const auto& [from, to] : cfg.tokens.aliases) {
        if (std::find(cfg.tokens.models.begin(), cfg.tokens.models.end(), to) ==
            cfg.tokens.models.end()) {
            out.errors.push_back("VOICEGATE_MODEL_ALIASES: alias " + from + " -> " + to +
                                 " points at a model that is not allowed");
        }
    }
    if (!cfg.upstream.api_key.empty() && cfg.upstream.api_key.rfind("ek_", 0) == 0) {
        out.errors.push_back(
            "OPENAI_API_KEY: holds an ephemeral token (ek_…), not an API key; set the project's "
            "real key");
    }
    if (!cfg.upstream.api_key.empty()) {
        auto url = boost::urls::parse_absolute_uri(cfg.upstream.base_url);
        if (!url || (url->scheme() != "https" && url->scheme() != "http") || url->host().empty()) {
            out.errors.push_back(
                "OPENAI_BASE_URL: must be an absolute http(s) URL like "
                "https://api.openai.com/v1, got \"" +
                (cfg.upstream.base_url.find('@') == std::string::npos
                     ? cfg.upstream.base_url
                     : redact_url_userinfo(cfg.upstream.base_url)) +
                "\"");
        } else if (url->has_userinfo() || url->has_query() || url->has_fragment()) {
            // The API key is the credential; user info here is a mistake, and never echoed.
            out.errors.push_back(
                "OPENAI_BASE_URL: must not carry user info (user:password@), a query or a "
                "fragment; the API key goes in OPENAI_API_KEY");
        } else if (url->scheme() == "http" && !is_loopback(std::string(url->host())) &&
                   !cfg.upstream.allow_insecure) {
            out.errors.push_back(
                "OPENAI_BASE_URL: plain http is only allowed to a loopback host (the key would "
                "travel unencrypted); use https or set VOICEGATE_UPSTREAM_ALLOW_INSECURE=1");
        }
    } else {
        if (!loopback && !cfg.emulator.forced) {
            out.errors.push_back(
                "OPENAI_API_KEY is not set and VOICEGATE_LISTEN is not a loopback address: a "
                "deployed service must not hand out fake tokens; set OPENAI_API_KEY, or pass "
                "--emulator to run the emulator on purpose");
        }
        if (cfg.upstream.base_url_set) {
            out.warnings.push_back(
                "OPENAI_BASE_URL is ignored because OPENAI_API_KEY is not set (the built-in "
                "emulator answers instead)");
        }
    }
    if (cfg.auth.mode == "jwt" && !cfg.auth.jwt_configured()) {
        out.errors.push_back(
            "VOICEGATE_AUTH=jwt needs a key: set JWT_SECRET (HS256) or JWT_JWKS_URL / "
            "JWT_JWKS_FILE (RS256/ES256)");
    }
    if (!cfg.auth.jwt_secret.empty() && cfg.auth.jwt_secret.size() < 32) {
        out.errors.push_back("JWT_SECRET: must be at least 32 bytes (RFC 7518 §3.2)");
    }
    if (!cfg.auth.admin_token.empty() && cfg.auth.admin_token.size() < 32) {
        out.errors.push_back(
            "VOICEGATE_ADMIN_TOKEN: must be at least 32 bytes (a short token can be guessed); "
            "make one with `openssl rand -hex 32`");
    }
    if (!cfg.auth.jwks_url.empty()) {
        auto url = boost::urls::parse_absolute_uri(cfg.auth.jwks_url);
        if (!url || (url->scheme() != "https" &&
                     !(url->scheme() == "http" && is_loopback(std::string(url->host()))))) {
            out.errors.push_back("JWT_JWKS_URL: must be an https:// URL (http only to loopback)");
        } else if (url->has_userinfo()) {
            // Never echoed: it holds a password.
            out.errors.push_back(
                "JWT_JWKS_URL: must not carry user info (user:password@); a JWKS is public, "
                "serve it without credentials");
        }
    }
    if (!cfg.alerts.webhook_url.empty()) {
        // The URL is a secret (webhook URLs embed tokens): the message never shows it.
        auto url = boost::urls::parse_absolute_uri(cfg.alerts.webhook_url);
        if (!url ||
            (url->scheme() != "https" &&
             !(url->scheme() == "http" && is_loopback(std::string(url->host())))) ||
            url->has_userinfo() || url->has_query() || url->has_fragment()) {
            out.errors.push_back(
                "VOICEGATE_ALERT_WEBHOOK_URL: must be an https:// URL without user info, query "
                "or fragment (http only to loopback)");
        }
    }
    if (cfg.auth.mode == "none" && !loopback && !cfg.auth.allow_anonymous) {
        out.errors.push_back(
            "VOICEGATE_AUTH=none on the non-loopback address " + cfg.server.host +
            ": an open token endpoint spends the owner's money; set VOICEGATE_ALLOW_ANONYMOUS=1 "
            "to allow it on purpose");
    }
    if (cfg.store.url.rfind("sqlite:", 0) != 0 && cfg.store.url.rfind("postgres://", 0) != 0 &&
        cfg.store.url.rfind("postgresql://", 0) != 0) {
        out.errors.push_back("DATABASE_URL: must be sqlite:PATH or postgres://..., got \"" +
                             (cfg.store.url.find('@') == std::string::npos
                                  ? cfg.store.url
                                  : std::string("(redacted)")) +
                             "\"");
    }
}

}  // namespace

std::optional<std::string> TokenPolicy::resolve_model(const std::string& requested) const {
    std::string m = requested;
    for (const auto& [from, to] : aliases) {
        if (from == requested) {
            m = to;
            break;
        }
    }
    if (std::find(models.begin(), models.end(), m) == models.end()) {
        return std::nullopt;
    }
    return m;
}

bool Profile::allows(const std::string& client_field) const {
    return std::find(allow_override.begin(), allow_override.end(), client_field) !=
           allow_override.end();
}

const Profile* TokenPolicy::find_profile(const std::string& name) const {
    for (const auto& p : profiles) {
        if (p.name == name) {
            return &p;
        }
    }
    return nullptr;
}

bool TokenPolicy::voice_allowed(const std::string& voice) const {
    return std::find(voices.begin(), voices.end(), voice) != voices.end();
}

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") {
        return true;
    }
    return host.rfind("127.", 0) == 0;
}

std::string parse_alert_rule(const std::string& text, const std::vector<std::string>& keys,
                             AlertRule& rule) {
    const auto t = trim(text);
    if (t == "off" || t == "0" || t == "false") {
        rule.enabled = false;
        return {};
    }
    AlertRule out = rule;
    out.enabled = true;
    for (const auto& item : split_list(t)) {
        const auto eq = item.find('=');
        const auto key = trim(item.substr(0, eq));
        if (eq == std::string::npos || std::find(keys.begin(), keys.end(), key) == keys.end()) {
            std::string accepted;
            for (const auto& k : keys) {
                accepted += (accepted.empty() ? "" : ", ") + k + "=";
            }
            return "\"" + item + "\" is not one of " + accepted + " (or off)";
        }
        const auto value = trim(item.substr(eq + 1));
        double number = 0;
        const auto* end = value.data() + value.size();
        auto [p, ec] = std::from_chars(value.data(), end, number);
        if (ec != std::errc() || p != end || !(number >= 0) || number > 1e9) {
            return key + " must be a number from 0 to 1e9, got \"" + value + "\"";
        }
        if (key == "factor") {
            out.factor = number;
        } else if (key == "floor") {
            out.floor = number;
        } else if (key == "max") {
            out.max = number;
        } else if (key == "ratio") {
            if (number > 1) {
                return "ratio must be between 0 and 1, got " + value;
            }
            out.ratio = number;
        } else if (key == "window_s") {
            if (number < 10 || number > 86'400 || number != static_cast<int>(number)) {
                return "window_s must be a whole number from 10 to 86400, got " + value;
            }
            out.window_s = static_cast<int>(number);
        }
    }
    rule = out;
    return {};
}

bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
    std::string h;
    std::string p;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return false;
        }
        h = text.substr(1, close - 1);
        p = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) {
            return false;
        }
        h = text.substr(0, colon);
        p = text.substr(colon + 1);
    }
    int n = 0;
    const auto* end = p.data() + p.size();
    auto [ptr, ec] = std::from_chars(p.data(), end, n);
    if (h.empty() || ec != std::errc() || ptr != end || n < 0 || n > 65535) {
        return false;
    }
    host = h;
    port = static_cast<std::uint16_t>(n);
    return true;
}

std::map<std::string, std::string> parse_dotenv(const std::string& text) {
    std::map<std::string, std::string> out;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
        line = trim(line);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.rfind("export ", 0) == 0) {
            line = trim(line.substr(7));
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos || eq == 0) {
            continue;
        }
        std::string key = trim(line.substr(0, eq));
        std::string value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        } else if (const auto hash = value.find(" #"); hash != std::string::npos) {
            value = trim(value.substr(0, hash));
        }
        out[key] = value;
    }
    return out;
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

namespace {

// A reference section: the title of a TOML section, and what the file holds there beyond the
// table's keys.
struct SectionDoc {
    std::string_view section;
    std::string_view title;
    std::string_view note;
};

const SectionDoc& section_doc(const std::string& section) {
    static const std::vector<SectionDoc> kSections = {
        {"upstream", "Upstream (OpenAI)", ""},
        {"server", "HTTP server", ""},
        {"tokens", "Token policy",
         "The file also takes session profiles that clients select with "
         "`sessionConfig.profile`: one `[profiles.NAME]` table each, with the keys "},
        {"store", "Storage", ""},
        {"log", "Logging", ""},
        {"auth", "Identity and admin access", ""},
        {"limits", "Rate limits, IP filters and Redis", ""},
        {"prices", "Prices for cost estimates",
         "In the file: one `[prices.\"MODEL\"]` table per model, overriding only the keys it "
         "sets among "},
        {"quota", "Per-user quotas", ""},
        {"metrics", "Metrics (`GET /metrics`)", ""},
        {"alerts", "Anomaly alerts", ""},
        {"emulator", "Built-in emulator",
         "In the file, `[emulator]` holds the emulator's fault options (`voicegate emulate "
         "--help` lists them)."},
    };
    for (const auto& d : kSections) {
        if (d.section == section) {
            return d;
        }
    }
    static const SectionDoc kUntitled{"", "", ""};
    return kUntitled;
}

// Text for a Markdown table cell: `|` would end the cell, `*` and `<` could start markup.
std::string md_cell(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '|' || ch == '*' || ch == '<') {
            out += '\\';
        }
        out += ch;
    }
    return out;
}

// A code span in a table cell: only `|` is escaped (the table's syntax); the span is literal.
std::string md_code(const std::string& text) {
    std::string out = "`";
    for (const char ch : text) {
        if (ch == '|') {
            out += '\\';
        }
        out += ch;
    }
    return out + "`";
}

// `text` as a Markdown paragraph: lines of at most 100 columns (broken at spaces, so a longer
// word keeps its own line), then a blank line.
std::string md_paragraph(const std::string& text) {
    constexpr std::size_t kWidth = 100;
    std::string out;
    std::size_t line_start = 0;
    std::istringstream words(text);
    for (std::string word; words >> word;) {
        if (out.size() > line_start && out.size() - line_start + 1 + word.size() > kWidth) {
            out += '\n';
            line_start = out.size();
        } else if (out.size() > line_start) {
            out += ' ';
        }
        out += word;
    }
    return out + "\n\n";
}

std::string md_code_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : ", ") + md_code(item);
    }
    return out;
}

}  // namespace

std::string configuration_reference_markdown(const std::map<std::string, std::string>& flags) {
    std::vector<std::string> sections;  // in the order the table first names them
    for (const auto& s : settings()) {
        if (std::find(sections.begin(), sections.end(), s.section) == sections.end()) {
            sections.push_back(s.section);
        }
    }
    std::string md =
        "# Configuration reference\n\n"
        "<!-- Generated by `voicegate config-reference`; do not edit. Run `make docs`. -->\n\n";
    md += md_paragraph(
        "This file is generated from the settings table in `src/core/config.cpp`, the same table "
        "that `voicegate serve --help` prints, by `voicegate config-reference`. Do not edit it by "
        "hand: change the table, then run `make docs` to rewrite it. A test of `make test` fails "
        "while this file differs from what the binary prints. Back to the [README](../README.md).");
    md += md_paragraph("It lists " + std::to_string(settings().size()) + " settings in " +
                       std::to_string(sections.size()) + " sections.");
    md +=
        "## Where a setting comes from\n\n"
        "Each setting is taken from the first of these that sets it:\n\n"
        "1. a command-line flag of `voicegate serve` (column *Flag*);\n"
        "2. the environment variable;\n"
        "3. the dotenv file (`--env-file FILE`, default `.env`, read when it exists);\n"
        "4. the TOML file given with `--config FILE` (column *TOML key*: the key in the "
        "section's table);\n"
        "5. the default.\n\n";
    md += md_paragraph(
        "Other commands that read the configuration (`voicegate COMMAND --help`) accept some of "
        "the same flags. Start-up validates every setting and exits with status 2, printing one "
        "line per problem; a secret's value is never printed. Secrets are read only from the "
        "environment or the dotenv file, never from the TOML file.");
    md += md_paragraph(
        "Values and defaults are written as the environment variable holds them: booleans as `1` "
        "or `0` (`true`/`false`, `yes`/`no` and `on`/`off` work too), lists comma-separated (TOML "
        "arrays in the file). *unset* means the setting is off or derived, as its description "
        "says.");
    for (const auto& section : sections) {
        const auto& doc = section_doc(section);
        md += "## " + (doc.title.empty() ? section : std::string(doc.title)) + ": `[" + section +
              "]`\n\n";
        if (section == "tokens") {
            md += md_paragraph(std::string(doc.note) + md_code_list(kProfileFields) + ".");
        } else if (section == "prices") {
            std::vector<std::string> keys(price_keys().begin(), price_keys().end());
            md += md_paragraph(std::string(doc.note) + md_code_list(keys) +
                               " (USD per 1M tokens; `per_minute`: USD per billable minute).");
        } else if (!doc.note.empty()) {
            md += md_paragraph(std::string(doc.note));
        }
        md += "| Variable | TOML key | Flag | Default | Description |\n";
        md += "|---|---|---|---|---|\n";
        for (const auto& s : settings()) {
            if (s.section != section) {
                continue;
            }
            const auto flag = flags.find(s.env);
            std::string help = md_cell(s.help);
            if (s.secret) {
                help += ". Secret: only from the environment or the dotenv file, never printed";
            }
            md += "| " + md_code(s.env) + " | " + (s.key.empty() ? "—" : md_code(s.key)) + " | " +
                  (flag == flags.end() ? "—" : md_code(flag->second)) + " | " +
                  (s.default_value.empty() ? "*unset*" : md_code(s.default_value)) + " | " + help +
                  " |\n";
        }
        md += "\n";
    }
    md.pop_back();  // one newline at the end of the file
    return md;
}

LoadResult load_config(const Sources& sources) {
    LoadResult out;
    Config cfg;
    cfg.tokens.models = split_list(kDefaultModels);
    (void)set_aliases(cfg.tokens.aliases, kDefaultAliases);
    cfg.tokens.voices = split_list(kDefaultVoices);
    if (!sources.toml_text.empty()) {
        apply_toml(cfg, sources, out);
    }
    apply_map(cfg, sources.dotenv, ".env", out);
    apply_map(cfg, sources.env, "environment", out);
    apply_map(cfg, sources.flags, "command line", out);
    for (const auto* m : {&sources.dotenv, &sources.env, &sources.flags}) {
        for (const auto& name : kNotYet) {
            auto it = m->find(name);
            if (it != m->end() && !trim(it->second).empty()) {
                out.errors.push_back(name +
                                     ": not available in this build yet (issue 3); refusing to "
                                     "start rather than run without it");
            }
        }
    }
    validate(cfg, out);
    if (out.errors.empty()) {
        out.config = std::move(cfg);
    }
    return out;
}

}  // namespace voicegate::config
