#include "api/options.hpp"

#include <boost/json.hpp>

#include "http/response.hpp"

namespace voicegate::api {
namespace json = boost::json;

http::Response options_response(const config::Config& config) {
    json::object out;
    out["success"] = true;
    json::array models;
    for (const auto& m : config.tokens.models) {
        models.emplace_back(m);
    }
    out["models"] = std::move(models);
    out["defaultModel"] = config.tokens.default_model;
    json::array voices;
    for (const auto& v : config.tokens.voices) {
        voices.emplace_back(v);
    }
    out["voices"] = std::move(voices);
    out["defaultVoice"] = "alloy";
    json::object aliases;
    for (const auto& [from, to] : config.tokens.aliases) {
        aliases[from] = to;
    }
    out["aliases"] = std::move(aliases);
    out["maxInstructionsBytes"] = config.tokens.max_instructions_bytes;
    out["tokenTtl"] = config.tokens.ttl_s;
    json::array profiles;
    for (const auto& p : config.tokens.profiles) {
        json::array locked;
        for (const auto& [k, v] : p.fields) {
            locked.emplace_back(k);
        }
        json::array overridable;
        for (const auto& o : p.allow_override) {
            overridable.emplace_back(o);
        }
        // Names and shape only: a profile's instructions and tools stay on the server.
        profiles.emplace_back(json::object{{"name", p.name},
                                           {"description", p.description},
                                           {"fields", std::move(locked)},
                                           {"allowOverride", std::move(overridable)}});
    }
    out["profiles"] = std::move(profiles);
    out["emulator"] = config.uses_emulator();
    out["realtimeCallsUrl"] = realtime_calls_url(config);
    return http::json_response(200, out);
}

std::string realtime_calls_url(const config::Config& config) {
    if (config.uses_emulator()) {
        return "/v1/realtime/calls";
    }
    std::string base = config.upstream.base_url;
    while (!base.empty() && base.back() == '/') {
        base.pop_back();
    }
    return base + "/realtime/calls";
}

}  // namespace voicegate::api
