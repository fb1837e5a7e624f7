#include "supervisor/usage.hpp"

#include <algorithm>

namespace voicegate::supervisor {

void add_tokens(TokenUsage& a, const TokenUsage& b) {
    a.input_text += b.input_text;
    a.input_audio += b.input_audio;
    a.input_image += b.input_image;
    a.cached_text += b.cached_text;
    a.cached_audio += b.cached_audio;
    a.cached_image += b.cached_image;
    a.output_text += b.output_text;
    a.output_audio += b.output_audio;
}

UsageAccumulator::UsageAccumulator(store::TrueUsage so_far, const ModelPrice* price)
    : total_(so_far), price_(price) {
    this->price();
}

bool UsageAccumulator::add(const SidebandEvent& event) {
    using Kind = SidebandEvent::Kind;
    // A `closed` event may carry the final totals (GPT-Live's session.closed).
    const bool final_totals = event.kind == Kind::closed && event.cumulative;
    if (event.kind == Kind::usage || final_totals) {
        if (!event.response_id.empty()) {
            if (std::find(recent_.begin(), recent_.end(), event.response_id) != recent_.end()) {
                return false;
            }
            recent_.push_back(event.response_id);
            if (recent_.size() > kRecentResponses) {
                recent_.pop_front();
            }
        }
        if (event.cumulative) {
            total_.tokens = event.tokens;
        } else {
            add_tokens(total_.tokens, event.tokens);
            ++total_.responses;
        }
    } else if (event.kind == Kind::transcription_usage) {
        if (event.cumulative) {
            total_.transcription_in_tokens = event.transcription_in_tokens;
            total_.transcription_out_tokens = event.transcription_out_tokens;
            total_.transcription_seconds = event.transcription_seconds;
        } else {
            total_.transcription_in_tokens += event.transcription_in_tokens;
            total_.transcription_out_tokens += event.transcription_out_tokens;
            total_.transcription_seconds += event.transcription_seconds;
        }
    } else {
        return false;
    }
    price();
    ++version_;
    return true;
}

void UsageAccumulator::price() {
    // billable_ms 0: without tokens there is nothing to price (no per-minute estimate here).
    total_.cost_usd = estimate_cost_usd(price_, total_.tokens, 0);
}

}  // namespace voicegate::supervisor
