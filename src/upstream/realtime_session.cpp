#include "upstream/realtime_session.hpp"

#include <string_view>

namespace voicegate::upstream {
namespace json = boost::json;

json::object realtime_session_from_fields(const json::object& fields) {
    json::object s;
    s["type"] = "realtime";
    json::object input;
    json::object output;
    for (const auto& [key, value] : fields) {
        const std::string_view k = key;
        if (k == "model" || k == "instructions") {
            s[k] = value;
        } else if (k == "voice" || k == "speed") {
            output[k] = value;
        } else if (k == "turn_detection" || k == "transcription" || k == "noise_reduction") {
            input[k] = value;
        }
    }
    if (!input.empty() || !output.empty()) {
        json::object audio;
        if (!input.empty()) {
            audio["input"] = std::move(input);
        }
        if (!output.empty()) {
            audio["output"] = std::move(output);
        }
        s["audio"] = std::move(audio);
    }
    // After `audio`, as the token flow has always sent them.
    for (const char* k : {"max_output_tokens", "tools", "tool_choice"}) {
        if (const auto* v = fields.if_contains(k)) {
            s[k] = *v;
        }
    }
    return s;
}

}  // namespace voicegate::upstream
