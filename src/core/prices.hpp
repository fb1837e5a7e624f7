#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace voicegate {

/// Token counts of a session by modality (SPEC §5, the 8 token columns of `sessions`).
/// Cached counts are a subset of the input counts (reference §6).
struct TokenUsage {
    std::int64_t input_text = 0;
    std::int64_t input_audio = 0;
    std::int64_t input_image = 0;
    std::int64_t cached_text = 0;
    std::int64_t cached_audio = 0;
    std::int64_t cached_image = 0;
    std::int64_t output_text = 0;
    std::int64_t output_audio = 0;
    /// True when any count is non-zero (the cost then comes from the tokens).
    bool any() const {
        return input_text != 0 || input_audio != 0 || input_image != 0 || output_text != 0 ||
               output_audio != 0;
    }
    bool operator==(const TokenUsage&) const = default;
};

/// The rule of thumb of the reference (§6, OpenAI community, unconfirmed) behind the per-minute
/// estimate: a minute of conversation is ~10 audio tokens/s of user audio in and ~20 audio
/// tokens/s of model audio out, i.e. 600 input and 1,200 output audio tokens, uncached.
constexpr std::int64_t kAudioInTokensPerMinute = 600;
constexpr std::int64_t kAudioOutTokensPerMinute = 1200;

/// One model's prices in USD per 1M tokens, and a per-minute estimate for sessions without
/// token usage. A value object; thread-safe to share.
struct ModelPrice {
    double text_in = 0;
    double text_cached = 0;
    double text_out = 0;
    double audio_in = 0;
    double audio_cached = 0;
    double audio_out = 0;
    double image_in = 0;
    double image_cached = 0;
    double per_minute = -1;  // USD per billable minute; < 0: derived from the audio prices
    /// USD per billable minute: per_minute if set, else 600 audio tokens in and 1,200 out at
    /// this model's audio prices (kAudioInTokensPerMinute, kAudioOutTokensPerMinute). Pure.
    double minute_estimate() const;
    bool operator==(const ModelPrice&) const = default;
};

/// Prices by model name (after aliases).
using PriceTable = std::map<std::string, ModelPrice, std::less<>>;

/// The defaults from the reference's price table (§6). Thread-safe.
const PriceTable& default_prices();

/// The price keys a configured model may set, in ModelPrice order ("text_in", ...,
/// "per_minute"). Pure.
const std::array<std::string_view, 9>& price_keys();

/// Sets the field named `key` (one of price_keys()); false for an unknown key. Pure.
bool set_price(ModelPrice& price, std::string_view key, double value);

/// The estimated cost of a session: exact from its tokens when it has any (cached input at the
/// cached price, the rest of the input at the input price, output at the output price), else
/// its billable minutes times the per-minute estimate. 0 when `price` is null (a model without
/// prices). Pure.
double estimate_cost_usd(const ModelPrice* price, const TokenUsage& tokens,
                         std::int64_t billable_ms);

/// The sentence the admin API puts in `costBasis`. Pure.
std::string_view cost_basis();

}  // namespace voicegate
