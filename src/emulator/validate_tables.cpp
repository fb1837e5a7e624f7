#include "emulator/validate.hpp"

#include <span>
#include <string_view>

#include "emulator/validate_detail.hpp"

namespace voicegate::emulator {

using detail::contains;
using detail::kVoices;

namespace {

// ---- model tables (reference §1.3, §5); the shared ones are in validate_detail.hpp ----

constexpr std::string_view kCurrentModels[] = {
    "gpt-realtime",          "gpt-realtime-1.5",
    "gpt-realtime-2",        "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini", "gpt-realtime-2025-08-28",
    "gpt-realtime-mini",     "gpt-realtime-mini-2025-12-15",
};

// In the GA enum but shut down (§5). gpt-4o-mini-realtime-preview is only an alias of its
// shut-down 2024-12-17 snapshot, so it goes too.
constexpr std::string_view kRetiredModels[] = {
    "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01",
    "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03",
    "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
    "gpt-realtime-mini-2025-10-06",
};

constexpr std::string_view kReasoningModels[] = {"gpt-realtime-2", "gpt-realtime-2.1",
                                                 "gpt-realtime-2.1-mini"};

}  // namespace

ModelStatus realtime_model_status(std::string_view model) {
    if (contains(kCurrentModels, model)) {
        return ModelStatus::current;
    }
    if (contains(kRetiredModels, model)) {
        return ModelStatus::retired;
    }
    if (model.rfind("gpt-audio", 0) == 0) {
        return ModelStatus::not_realtime;  // Chat Completions audio models (§5)
    }
    return ModelStatus::unknown;
}

std::span<const std::string_view> current_realtime_models() {
    return kCurrentModels;
}

bool is_reasoning_model(std::string_view model) {
    return contains(kReasoningModels, model);
}

std::span<const std::string_view> builtin_voices() {
    return kVoices;
}

}  // namespace voicegate::emulator
