// The TOML file as a source: its [section] keys go through the settings table (which checks
// unknown keys and refuses secrets), and its special tables ([profiles.*], [prices.*],
// [emulator]) are read here.
#include <algorithm>
#include <optional>
#include <sstream>

#include <boost/json.hpp>
#include <toml++/toml.h>

#include "config/detail.hpp"

namespace voicegate::config {
namespace {

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

// Reads [profiles.NAME] tables. Validation against the final policy happens in validate().
void apply_profiles(Config& cfg, const toml::table& profiles, const std::string& path,
                    LoadResult& out) {
    const auto& fields = profile_fields();
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
            if (std::find(fields.begin(), fields.end(), k) == fields.end()) {
                out.errors.push_back(where + "." + k + ": unknown profile field");
                continue;
            }
            if (k == "description") {
                p.description = value.value_or(std::string());
            } else if (k == "data_channel" || k == "on_violation") {
                // A non-string is kept as an invalid value for validate_profiles to name.
                (k == "data_channel" ? p.data_channel : p.on_violation) =
                    value.value_or(std::string("(not a string)"));
            } else if (k == "max_minutes") {
                // An integer or a float (toml++ converts integers); anything else is -1 for
                // validate_profiles to name.
                p.max_minutes = value.value_or(-1.0);
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

// Reads the [emulator] table: each key an option of `voicegate emulate` (with '_' or '-'),
// checked as the emulator checks its command line, so that a typo or a bad value is one
// config error like any other key's rather than a start-up exception.
void apply_emulator_table(Config& cfg, const toml::table& table, const std::string& path,
                          LoadResult& out) {
    for (const auto& [key, value] : table) {
        const std::string where = path + ": emulator." + std::string(key.str());
        const auto* spec = emulator::find_emulator_option(key.str());
        if (spec == nullptr) {
            out.errors.push_back(where +
                                 ": unknown setting (`voicegate emulate --help` lists the "
                                 "emulator's options)");
            continue;
        }
        const auto text = toml_to_text(value);
        if (!text) {
            out.errors.push_back(where + ": unsupported value type");
            continue;
        }
        if (auto expected = spec->set(cfg.emulator.options, *text); !expected.empty()) {
            out.errors.push_back(where + ": must be " + expected + ", got \"" + *text + "\"");
        }
    }
}

// One key of an ordinary [section]: through the setting the table has for it.
void apply_toml_key(Config& cfg, const std::string& file, const std::string& path,
                    const Setting* setting, const toml::node& value, LoadResult& out) {
    if (setting == nullptr) {
        if (path == "upstream.api_key" || path == "auth.admin_token") {
            out.errors.push_back(file + ": " + path +
                                 ": secrets are read only from the environment or .env, "
                                 "never from the config file");
        } else {
            out.errors.push_back(file + ": " + path + ": unknown setting");
        }
        return;
    }
    auto text = toml_to_text(value);
    if (!text) {
        out.errors.push_back(file + ": " + path + ": unsupported value type");
        return;
    }
    if (path == "limits.redis_url") {
        auto url = ratelimit::parse_redis_url(trim(*text));
        if (url && !url->password.empty()) {
            out.errors.push_back(file + ": " + path +
                                 ": a password is a secret, read only from the "
                                 "environment or .env (set REDIS_URL there)");
            return;
        }
    }
    if (auto err = setting->apply(cfg, *text); !err.empty()) {
        out.errors.push_back(file + ": " + path + ": " + err);
    }
}

}  // namespace

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
            apply_emulator_table(cfg, *table, src.toml_path, out);
            continue;
        }
        for (const auto& [key, value] : *table) {
            const std::string path = std::string(section.str()) + "." + std::string(key.str());
            const auto it = by_path.find(path);
            apply_toml_key(cfg, src.toml_path, path, it == by_path.end() ? nullptr : it->second,
                           value, out);
        }
    }
}

}  // namespace voicegate::config
