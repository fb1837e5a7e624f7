// load_config: the sources applied in order of precedence, then validation.
#include "config/detail.hpp"

namespace voicegate::config {

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
