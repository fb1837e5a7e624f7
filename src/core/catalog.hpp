#pragma once

#include <array>
#include <string_view>
#include <utility>

namespace voicegate {

/// Which row of the reference's price table (§6) a catalog model is priced at.
enum class PriceTier { realtime, realtime_2, mini };

/// A Realtime model voicegate knows: its name and its price tier.
struct CatalogModel {
    std::string_view name;
    PriceTier tier;
};

/// The models allowed by default (VOICEGATE_MODELS), in the order the setting lists them. The
/// default price table has one entry per model here, so the two cannot drift apart.
inline constexpr std::array<CatalogModel, 8> kCatalogModels{{
    {"gpt-realtime", PriceTier::realtime},
    {"gpt-realtime-2025-08-28", PriceTier::realtime},
    {"gpt-realtime-1.5", PriceTier::realtime},
    {"gpt-realtime-2", PriceTier::realtime_2},
    {"gpt-realtime-2.1", PriceTier::realtime_2},
    {"gpt-realtime-2.1-mini", PriceTier::mini},
    {"gpt-realtime-mini", PriceTier::mini},
    {"gpt-realtime-mini-2025-12-15", PriceTier::mini},
}};

/// Retired model names that app builds already on phones still send (SPEC §3.1), as
/// (retired, current) pairs: the default of VOICEGATE_MODEL_ALIASES.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kCatalogAliases{{
    {"gpt-4o-realtime-preview-2024-12-17", "gpt-realtime"},
    {"gpt-4o-realtime-preview-2024-10-01", "gpt-realtime"},
    {"gpt-4o-realtime-preview-2025-06-03", "gpt-realtime"},
    {"gpt-4o-realtime-preview", "gpt-realtime"},
    {"gpt-4o-mini-realtime-preview-2024-12-17", "gpt-realtime-mini"},
    {"gpt-4o-mini-realtime-preview", "gpt-realtime-mini"},
    {"gpt-realtime-mini-2025-10-06", "gpt-realtime-mini"},
}};

/// The voices allowed by default (VOICEGATE_VOICES).
inline constexpr std::array<std::string_view, 10> kCatalogVoices{
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"};

}  // namespace voicegate
