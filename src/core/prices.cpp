#include "core/prices.hpp"

#include <algorithm>
#include <cmath>

#include "core/catalog.hpp"

namespace voicegate {

double ModelPrice::minute_estimate() const {
    if (per_minute >= 0) {
        return per_minute;
    }
    return (static_cast<double>(kAudioInTokensPerMinute) * audio_in +
            static_cast<double>(kAudioOutTokensPerMinute) * audio_out) /
           1e6;
}

const PriceTable& default_prices() {
    // USD per 1M tokens: text in/cached/out, audio in/cached/out, image in/cached
    // (reference openai-realtime.md §6; entries marked UNCONFIRMED there are taken as listed).
    static const PriceTable kPrices = [] {
        const ModelPrice full{4.00, 0.40, 16.00, 32.00, 0.40, 64.00, 5.00, 0.50, -1};
        const ModelPrice v2{4.00, 0.40, 24.00, 32.00, 0.40, 64.00, 5.00, 0.50, -1};
        const ModelPrice mini{0.60, 0.06, 2.40, 10.00, 0.30, 20.00, 0.80, 0.08, -1};
        PriceTable t;
        for (const auto& model : kCatalogModels) {
            t[std::string(model.name)] = model.tier == PriceTier::realtime     ? full
                                         : model.tier == PriceTier::realtime_2 ? v2
                                                                               : mini;
        }
        return t;
    }();
    return kPrices;
}

const std::array<std::string_view, 9>& price_keys() {
    static const std::array<std::string_view, 9> kKeys{"text_in",  "text_cached",  "text_out",
                                                       "audio_in", "audio_cached", "audio_out",
                                                       "image_in", "image_cached", "per_minute"};
    return kKeys;
}

bool set_price(ModelPrice& price, std::string_view key, double value) {
    double* const fields[] = {&price.text_in,  &price.text_cached,  &price.text_out,
                              &price.audio_in, &price.audio_cached, &price.audio_out,
                              &price.image_in, &price.image_cached, &price.per_minute};
    const auto& keys = price_keys();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (keys[i] == key) {
            *fields[i] = value;
            return true;
        }
    }
    return false;
}

double estimate_cost_usd(const ModelPrice* price, const TokenUsage& t, std::int64_t billable_ms) {
    if (price == nullptr) {
        return 0;
    }
    if (!t.any()) {
        return static_cast<double>(std::max<std::int64_t>(0, billable_ms)) / 60'000.0 *
               price->minute_estimate();
    }
    const auto d = [](std::int64_t v) { return static_cast<double>(v); };
    const double usd = d(t.input_text - t.cached_text) * price->text_in +
                       d(t.cached_text) * price->text_cached +
                       d(t.input_audio - t.cached_audio) * price->audio_in +
                       d(t.cached_audio) * price->audio_cached +
                       d(t.input_image - t.cached_image) * price->image_in +
                       d(t.cached_image) * price->image_cached +
                       d(t.output_text) * price->text_out + d(t.output_audio) * price->audio_out;
    return usd / 1e6;
}

std::string_view cost_basis() {
    return "Estimate, not an invoice: sessions with token usage are priced from their tokens at "
           "the configured per-model prices (USD per 1M tokens, cached input at the cached "
           "price); sessions without token usage are priced per billable minute (the smaller of "
           "reported and observed duration) at the model's per-minute estimate, by default 600 "
           "input and 1,200 output audio tokens a minute (~10 and ~20 audio tokens/s).";
}

}  // namespace voicegate
