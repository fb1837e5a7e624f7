// Checks of the whole configuration, after every source is applied: what single settings
// cannot check alone (combinations, URLs, lengths of secrets, exposure on a public address).
#include <algorithm>

#include <boost/url/parse.hpp>

#include "config/detail.hpp"
#include "core/text.hpp"
#include "net/listen.hpp"

namespace voicegate::config {

namespace {

// Out of line on purpose: GCC 12 inlines vector<string>::push_back of a literal into these
// checks and then warns, wrongly, that it reads past a 16-byte buffer (-Wstringop-overread).
[[gnu::noinline]] void add_line(std::vector<std::string>& lines, std::string_view text) {
    lines.emplace_back(text);
}

// An allowed model without a price is estimated at $0: a warning, not an error.
void check_prices(const Config& cfg, LoadResult& out) {
    for (const auto& model : cfg.tokens.models) {
        if (cfg.prices.find(model) == cfg.prices.end()) {
            add_line(out.warnings, "prices: the allowed model " + model +
                                       " has no price; its sessions are estimated at $0 (add "
                                       "[prices.\"" +
                                       model + "\"] or VOICEGATE_PRICES)");
        }
    }
}

void check_token_policy(const Config& cfg, LoadResult& out) {
    if (cfg.tokens.ttl_s > cfg.tokens.max_ttl_s) {
        add_line(out.errors, "VOICEGATE_TOKEN_TTL: " + std::to_string(cfg.tokens.ttl_s) +
                                 " exceeds the maximum TTL " +
                                 std::to_string(cfg.tokens.max_ttl_s));
    }
    if (!cfg.tokens.resolve_model(cfg.tokens.default_model)) {
        add_line(out.errors, "VOICEGATE_DEFAULT_MODEL: \"" + cfg.tokens.default_model +
                                 "\" is not in the allowed models (VOICEGATE_MODELS)");
    }
    for (const auto& [from, to] : cfg.tokens.aliases) {
        if (std::find(cfg.tokens.models.begin(), cfg.tokens.models.end(), to) ==
            cfg.tokens.models.end()) {
            add_line(out.errors, "VOICEGATE_MODEL_ALIASES: alias " + from + " -> " + to +
                                     " points at a model that is not allowed");
        }
    }
}

// The key, the base URL it is sent to, and the emulator that answers without a key.
void check_upstream(const Config& cfg, LoadResult& out) {
    if (!cfg.upstream.api_key.empty() && cfg.upstream.api_key.rfind("ek_", 0) == 0) {
        add_line(
            out.errors,
            "OPENAI_API_KEY: holds an ephemeral token (ek_…), not an API key; set the project's "
            "real key");
    }
    if (!cfg.upstream.api_key.empty()) {
        auto url = boost::urls::parse_absolute_uri(cfg.upstream.base_url);
        if (!url || (url->scheme() != "https" && url->scheme() != "http") || url->host().empty()) {
            add_line(out.errors,
                     "OPENAI_BASE_URL: must be an absolute http(s) URL like "
                     "https://api.openai.com/v1, got \"" +
                         (cfg.upstream.base_url.find('@') == std::string::npos
                              ? cfg.upstream.base_url
                              : redact_url_userinfo(cfg.upstream.base_url)) +
                         "\"");
        } else if (url->has_userinfo() || url->has_query() || url->has_fragment()) {
            // The API key is the credential; user info here is a mistake, and never echoed.
            add_line(out.errors,
                     "OPENAI_BASE_URL: must not carry user info (user:password@), a query or a "
                     "fragment; the API key goes in OPENAI_API_KEY");
        } else if (url->scheme() == "http" && !net::is_loopback(std::string(url->host())) &&
                   !cfg.upstream.allow_insecure) {
            add_line(
                out.errors,
                "OPENAI_BASE_URL: plain http is only allowed to a loopback host (the key would "
                "travel unencrypted); use https or set VOICEGATE_UPSTREAM_ALLOW_INSECURE=1");
        }
    } else {
        if (!net::is_loopback(cfg.server.host) && !cfg.emulator.forced) {
            add_line(out.errors,
                     "OPENAI_API_KEY is not set and VOICEGATE_LISTEN is not a loopback address: a "
                     "deployed service must not hand out fake tokens; set OPENAI_API_KEY, or pass "
                     "--emulator to run the emulator on purpose");
        }
        if (cfg.upstream.base_url_set) {
            add_line(out.warnings,
                     "OPENAI_BASE_URL is ignored because OPENAI_API_KEY is not set (the built-in "
                     "emulator answers instead)");
        }
    }
}

void check_auth(const Config& cfg, LoadResult& out) {
    if (cfg.auth.mode == "jwt" && !cfg.auth.jwt_configured()) {
        add_line(out.errors,
                 "VOICEGATE_AUTH=jwt needs a key: set JWT_SECRET (HS256) or JWT_JWKS_URL / "
                 "JWT_JWKS_FILE (RS256/ES256)");
    }
    if (!cfg.auth.jwt_secret.empty() && cfg.auth.jwt_secret.size() < 32) {
        add_line(out.errors, "JWT_SECRET: must be at least 32 bytes (RFC 7518 §3.2)");
    }
    if (!cfg.auth.admin_token.empty() && cfg.auth.admin_token.size() < 32) {
        add_line(out.errors,
                 "VOICEGATE_ADMIN_TOKEN: must be at least 32 bytes (a short token can be guessed); "
                 "make one with `openssl rand -hex 32`");
    }
    if (!cfg.auth.jwks_url.empty()) {
        auto url = boost::urls::parse_absolute_uri(cfg.auth.jwks_url);
        if (!url || (url->scheme() != "https" &&
                     !(url->scheme() == "http" && net::is_loopback(std::string(url->host()))))) {
            add_line(out.errors, "JWT_JWKS_URL: must be an https:// URL (http only to loopback)");
        } else if (url->has_userinfo()) {
            // Never echoed: it holds a password.
            add_line(out.errors,
                     "JWT_JWKS_URL: must not carry user info (user:password@); a JWKS is public, "
                     "serve it without credentials");
        }
    }
}

void check_alert_webhook(const Config& cfg, LoadResult& out) {
    if (!cfg.alerts.webhook_url.empty()) {
        // The URL is a secret (webhook URLs embed tokens): the message never shows it.
        auto url = boost::urls::parse_absolute_uri(cfg.alerts.webhook_url);
        if (!url ||
            (url->scheme() != "https" &&
             !(url->scheme() == "http" && net::is_loopback(std::string(url->host())))) ||
            url->has_userinfo() || url->has_query() || url->has_fragment()) {
            add_line(
                out.errors,
                "VOICEGATE_ALERT_WEBHOOK_URL: must be an https:// URL without user info, query "
                "or fragment (http only to loopback)");
        }
    }
}

// What a public address needs: a reason to run without auth; and a store URL we know.
void check_exposure_and_store(const Config& cfg, LoadResult& out) {
    const bool loopback = net::is_loopback(cfg.server.host);
    if (cfg.auth.mode == "none" && !loopback && !cfg.auth.allow_anonymous) {
        add_line(out.errors, "VOICEGATE_AUTH=none on the non-loopback address " + cfg.server.host +
                                 ": an open token endpoint spends the owner's money; set "
                                 "VOICEGATE_ALLOW_ANONYMOUS=1 "
                                 "to allow it on purpose");
    }
    if (cfg.store.url.rfind("sqlite:", 0) != 0 && cfg.store.url.rfind("postgres://", 0) != 0 &&
        cfg.store.url.rfind("postgresql://", 0) != 0) {
        add_line(out.errors,
                 "DATABASE_URL: must be sqlite:PATH or postgres://..., got \"" +
                     (cfg.store.url.find('@') == std::string::npos ? cfg.store.url
                                                                   : std::string("(redacted)")) +
                     "\"");
    }
}

}  // namespace

void validate(Config& cfg, LoadResult& out) {
    // The order of the checks is the order of the error lines.
    validate_profiles(cfg, out);
    check_prices(cfg, out);
    if (cfg.auth.mode.empty()) {
        cfg.auth.mode = cfg.auth.jwt_configured() ? "jwt" : "none";
    }
    check_token_policy(cfg, out);
    check_upstream(cfg, out);
    check_auth(cfg, out);
    check_alert_webhook(cfg, out);
    check_exposure_and_store(cfg, out);
}


}  // namespace voicegate::config
