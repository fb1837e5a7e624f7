// The value parsers behind single settings: numbers, booleans, lists, rates, CIDR lists, the
// Redis URL, prices and alert rules. Each returns an error text, empty on success.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "config/detail.hpp"
#include "core/text.hpp"

namespace voicegate::config {

std::string trim(const std::string& s) {
    return std::string(trim_view(s, " \t\r\n"));
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
    const std::string l = to_lower(v);
    if (l == "1" || l == "true" || l == "yes" || l == "on") {
        out = true;
    } else if (l == "0" || l == "false" || l == "no" || l == "off" || l.empty()) {
        out = false;
    } else {
        return "must be 1/0 or true/false, got \"" + v + "\"";
    }
    return {};
}

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

std::string set_rate(ratelimit::Rate& rate, std::string& text, const std::string& v) {
    auto r = ratelimit::parse_rate(trim(v));
    if (!r) {
        return std::string(r.error().public_message());
    }
    rate = *r;
    text = trim(v);
    return {};
}

std::string set_route_rates(std::vector<std::pair<std::string, ratelimit::Rate>>& out,
                            const std::string& v) {
    std::vector<std::pair<std::string, ratelimit::Rate>> routes;
    for (const auto& item : split_list(v)) {
        const auto eq = item.find('=');
        if (eq == std::string::npos) {
            return "\"" + item + "\" is not PATH=RATE (e.g. /api/realtime/end=120/min)";
        }
        std::string path = trim(item.substr(0, eq));
        if (path.empty() || path.front() != '/') {
            return "\"" + path + "\" is not a path: it must start with /";
        }
        auto rate = ratelimit::parse_rate(trim(item.substr(eq + 1)));
        if (!rate) {
            return path + ": " + std::string(rate.error().public_message());
        }
        for (const auto& [seen, unused] : routes) {
            if (seen == path) {
                return path + " is listed twice";
            }
        }
        routes.emplace_back(std::move(path), *rate);
    }
    out = std::move(routes);
    return {};
}

std::string set_cidr_list(net::CidrList& out, const std::string& v) {
    auto r = net::CidrList::parse(v);
    if (!r) {
        return std::string(r.error().public_message());
    }
    out = std::move(*r);
    return {};
}

std::string set_redis_url(std::optional<ratelimit::RedisUrl>& out, const std::string& v) {
    // The setting is not flagged secret so that the problem is shown; parse_redis_url's
    // messages never show a password.
    const auto text = trim(v);
    if (text.empty()) {
        out.reset();
        return {};
    }
    auto url = ratelimit::parse_redis_url(text);
    if (!url) {
        return std::string(url.error().public_message());
    }
    out = std::move(*url);
    return {};
}

std::string set_key_prefix(std::string& out, const std::string& v) {
    if (v.size() > 64 || std::any_of(v.begin(), v.end(),
                                     [](unsigned char ch) { return ch <= 0x20 || ch >= 0x7F; })) {
        return "must be at most 64 printable characters without spaces";
    }
    out = v;
    return {};
}

std::string check_price(std::string_view key, double value) {
    if (!std::isfinite(value) || value < 0) {
        return std::string(key) + ": must be a number >= 0 (USD), got " + std::to_string(value);
    }
    return {};
}

namespace {

// One "MODEL=P1/.../P8[/PER_MINUTE]" item into `price`; an error text, empty on success.
std::string parse_price_item(const std::string& model, const std::string& prices,
                             ModelPrice& price) {
    std::vector<std::string> parts;
    std::stringstream ss(prices);
    for (std::string part; std::getline(ss, part, '/');) {
        parts.push_back(trim(part));
    }
    if (parts.size() != 8 && parts.size() != 9) {
        return model +
               ": expected 8 prices (or 9 with the per-minute estimate) separated by "
               "/, got " +
               std::to_string(parts.size());
    }
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
    return {};
}

}  // namespace

std::string apply_price_list(PriceTable& prices, const std::string& v) {
    PriceTable out;
    for (const auto& item : split_list(v)) {
        const auto eq = item.find('=');
        const std::string model = trim(item.substr(0, eq));
        if (eq == std::string::npos || model.empty()) {
            return "\"" + item + "\" is not MODEL=TEXT_IN/TEXT_CACHED/TEXT_OUT/AUDIO_IN/" +
                   "AUDIO_CACHED/AUDIO_OUT/IMAGE_IN/IMAGE_CACHED[/PER_MINUTE]";
        }
        ModelPrice price;
        if (auto err = parse_price_item(model, item.substr(eq + 1), price); !err.empty()) {
            return err;
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

namespace {

// Sets the field `key` of `rule` to `value` (text: for messages); an error text, empty on
// success.
std::string set_rule_field(AlertRule& rule, const std::string& key, double number,
                           const std::string& value) {
    if (key == "factor") {
        rule.factor = number;
    } else if (key == "floor") {
        rule.floor = number;
    } else if (key == "max") {
        rule.max = number;
    } else if (key == "ratio") {
        if (number > 1) {
            return "ratio must be between 0 and 1, got " + value;
        }
        rule.ratio = number;
    } else if (key == "window_s") {
        if (number < 10 || number > 86'400 || number != static_cast<int>(number)) {
            return "window_s must be a whole number from 10 to 86400, got " + value;
        }
        rule.window_s = static_cast<int>(number);
    }
    return {};
}

}  // namespace

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
        if (auto err = set_rule_field(out, key, number, value); !err.empty()) {
            return err;
        }
    }
    rule = out;
    return {};
}

}  // namespace voicegate::config
