#pragma once

// Internal to src/config/: the pieces load_config is built from. Not for other directories.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace voicegate::config {

/// Applies a setting's textual value (as an environment variable would hold it) to a config;
/// returns an error text, empty on success.
using ApplyFn = std::function<std::string(Config&, const std::string&)>;

/// A setting: its environment name, its TOML section and key, its default (as the variable
/// would hold it), whether it is secret, its help, and how a textual value is applied. The one
/// table of them (settings()) drives loading, precedence, secret handling, TOML key checks,
/// `serve --help` and docs/configuration.md. Immutable after the table is built.
struct Setting {
    std::string env;
    std::string section;        // TOML table, and the reference's section
    std::string key;            // key in [section]; empty: not settable from the file
    std::string default_value;  // empty: unset (the help says what that means)
    bool secret = false;
    std::string help;
    ApplyFn apply;
    /// "section.key", or empty when the file cannot set it. Pure.
    std::string toml_path() const { return key.empty() ? std::string() : section + "." + key; }
};

/// Every setting, in reference order (settings.cpp). Thread-safe (built once).
const std::vector<Setting>& settings();

/// The keys a [profiles.NAME] table may hold. Thread-safe (a constant).
const std::vector<std::string>& profile_fields();

/// `s` without leading and trailing spaces, tabs, CR and LF (a CRLF `.env` line), as a string:
/// core's trim_view with those characters. Pure.
std::string trim(const std::string& s);

/// Splits a comma-separated list, trimming items and dropping empty ones. Pure.
std::vector<std::string> split_list(const std::string& s);

/// Parses an integer lo..hi into `out`; an error text, empty on success. Pure.
std::string set_int(int& out, const std::string& v, long lo, long hi);

/// set_int for a size. Pure.
std::string set_size(std::size_t& out, const std::string& v, long lo, long hi);

/// Parses 1/0, true/false, yes/no, on/off (any case; empty is false). Pure.
std::string set_bool(bool& out, const std::string& v);

/// Parses "old=new,..." (VOICEGATE_MODEL_ALIASES) into (retired, current) pairs. Pure.
std::string set_aliases(std::vector<std::pair<std::string, std::string>>& out,
                        const std::string& v);

/// Parses a rate ("N/s", "N/min", "N/h") into `rate` and its trimmed text into `text`. Pure.
std::string set_rate(ratelimit::Rate& rate, std::string& text, const std::string& v);

/// Parses VOICEGATE_RATE_ROUTES ("PATH=RATE,...") into (path, rate) pairs. Pure.
std::string set_route_rates(std::vector<std::pair<std::string, ratelimit::Rate>>& out,
                            const std::string& v);

/// Parses a comma-separated CIDR list. Pure.
std::string set_cidr_list(net::CidrList& out, const std::string& v);

/// Parses REDIS_URL (trimmed; empty: unset). The error never shows the password. Pure.
std::string set_redis_url(std::optional<ratelimit::RedisUrl>& out, const std::string& v);

/// Sets a Redis key prefix: at most 64 printable characters without spaces. Pure.
std::string set_key_prefix(std::string& out, const std::string& v);

/// A price must be a finite number >= 0 (USD); an error text naming `key`, empty when valid.
/// Pure.
std::string check_price(std::string_view key, double value);

/// VOICEGATE_PRICES: "MODEL=P1/.../P8[/PER_MINUTE],..." in price_keys() order; each listed
/// model replaces its defaults (without PER_MINUTE the minute estimate is derived). Pure.
std::string apply_price_list(PriceTable& prices, const std::string& v);

/// Applies the TOML file of `src` (settings, [profiles.*], [prices.*], [emulator]); one error
/// line per problem, each naming the file and the key.
void apply_toml(Config& cfg, const Sources& src, LoadResult& out);

/// Applies the variables of `values` (from `source`: ".env", "environment", "command line")
/// that the table knows; a secret's value never appears in an error.
void apply_map(Config& cfg, const std::map<std::string, std::string>& values,
               const std::string& source, LoadResult& out);

/// Checks the [profiles.*] against the final policy and resolves their model aliases.
void validate_profiles(Config& cfg, LoadResult& out);

/// Checks what single settings cannot: combinations, URLs, secrets' lengths, exposure.
void validate(Config& cfg, LoadResult& out);

}  // namespace voicegate::config
