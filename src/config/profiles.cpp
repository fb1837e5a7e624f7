// Token policy: the catalog defaults, model and voice lookups, and session profiles
// ([profiles.NAME]) checked against the final policy.
#include <algorithm>

#include "config/detail.hpp"
#include "core/catalog.hpp"

namespace voicegate::config {

std::vector<std::string> catalog_models() {
    std::vector<std::string> out;
    out.reserve(kCatalogModels.size());
    for (const auto& model : kCatalogModels) {
        out.emplace_back(model.name);
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> catalog_aliases() {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(kCatalogAliases.size());
    for (const auto& [from, to] : kCatalogAliases) {
        out.emplace_back(from, to);
    }
    return out;
}

std::vector<std::string> catalog_voices() {
    return {kCatalogVoices.begin(), kCatalogVoices.end()};
}

const std::vector<std::string>& profile_fields() {
    static const std::vector<std::string> kProfileFields = {
        "model",         "voice",           "instructions", "max_output_tokens", "turn_detection",
        "transcription", "noise_reduction", "tools",        "tool_choice",       "speed",
        "description",   "allow_override",  "data_channel", "max_minutes",       "on_violation"};
    return kProfileFields;
}

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
        if (p.data_channel != "allow" && p.data_channel != "deny") {
            out.errors.push_back(where + ".data_channel: must be \"allow\" or \"deny\"");
        }
        if (p.on_violation != "reapply" && p.on_violation != "hangup") {
            out.errors.push_back(where + ".on_violation: must be \"reapply\" or \"hangup\"");
        }
        if (!(p.max_minutes >= 0 && p.max_minutes <= 1440) ||
            (p.max_minutes > 0 && p.max_minutes < 1.0 / 60)) {
            out.errors.push_back(where + ".max_minutes: must be from 1/60 (one second) to 1440, " +
                                 "fractions allowed (0 or unset: VOICEGATE_SESSION_MAX_MINUTES)");
        }
        if (auto* sp = f.if_contains("speed");
            sp && !((sp->is_double() && sp->get_double() >= 0.25 && sp->get_double() <= 1.5) ||
                    (sp->is_int64() && sp->get_int64() == 1))) {
            out.errors.push_back(where + ".speed: must be a number from 0.25 to 1.5");
        }
    }
}

}  // namespace voicegate::config
