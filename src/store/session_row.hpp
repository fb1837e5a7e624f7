#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/session_store.hpp"

namespace voicegate::store {

/// A session read back from a row whose first 15 columns are, in order: session_id, user_id,
/// model, voice, profile, issued_at_ms, token_expires_at, client_ip, user_agent, status,
/// ended_at_ms, reported_duration_s, observed_duration_s, message_count, ended_by (NULL until
/// the end). `cost_column` (negative: not selected) holds estimated_cost_usd, kept for an ended
/// session. `Cells` reads the row's columns: text(c), int64(c), float8(c), is_null(c). Each
/// engine adapts its own row type, so there is one decoding for them all.
template <class Cells>
SessionRow decode_session_row(const Cells& cells, int cost_column = -1) {
    SessionRow row;
    row.issued.session_id = cells.text(0);
    row.issued.user_id = cells.text(1);
    row.issued.model = cells.text(2);
    row.issued.voice = cells.text(3);
    row.issued.profile = cells.text(4);
    row.issued.issued_at_ms = cells.int64(5);
    row.issued.token_expires_at = cells.int64(6);
    row.issued.client_ip = cells.text(7);
    row.issued.user_agent = cells.text(8);
    row.status = cells.text(9);
    if (!cells.is_null(10)) {
        row.ended_at_ms = cells.int64(10);
    }
    if (!cells.is_null(11)) {
        row.reported_duration_s = cells.float8(11);
    }
    if (!cells.is_null(12)) {
        row.observed_duration_s = cells.float8(12);
    }
    if (!cells.is_null(13)) {
        row.message_count = cells.int64(13);
    }
    if (!cells.is_null(14)) {
        row.ended_by = std::string(cells.text(14));
    }
    if (cost_column >= 0 && row.status == "ended") {
        row.estimated_cost_usd = cells.float8(cost_column);
    }
    return row;
}

/// The columns of a session's call (migration 5) that decode_call_info() reads, in order.
inline constexpr std::string_view kCallColumns =
    "call_state, flow, call_id, call_started_at_ms, cap_ms, true_input_text_tokens, "
    "true_input_audio_tokens, true_input_image_tokens, true_cached_text_tokens, "
    "true_cached_audio_tokens, true_cached_image_tokens, true_output_text_tokens, "
    "true_output_audio_tokens, transcription_in_tokens, transcription_out_tokens, "
    "transcription_seconds, responses, true_cost_usd";

/// True usage from 13 columns starting at `first`: the 8 true_* token columns in TokenUsage
/// order, transcription in/out tokens and seconds, responses, true_cost_usd (the tail of
/// kCallColumns, and the columns a claim returns). `Cells` as decode_session_row's.
template <class Cells>
TrueUsage decode_true_usage(const Cells& cells, int first) {
    TrueUsage u;
    TokenUsage& t = u.tokens;
    std::int64_t* const fields[] = {&t.input_text,  &t.input_audio,  &t.input_image,
                                    &t.cached_text, &t.cached_audio, &t.cached_image,
                                    &t.output_text, &t.output_audio};
    for (int i = 0; i < 8; ++i) {
        *fields[i] = cells.int64(first + i);
    }
    u.transcription_in_tokens = cells.int64(first + 8);
    u.transcription_out_tokens = cells.int64(first + 9);
    u.transcription_seconds = cells.float8(first + 10);
    u.responses = cells.int64(first + 11);
    u.cost_usd = cells.float8(first + 12);
    return u;
}

/// The call of a session from the kCallColumns starting at column `first`; nullopt when the
/// session is no call (call_state NULL). `Cells` as decode_session_row's.
template <class Cells>
std::optional<CallInfo> decode_call_info(const Cells& cells, int first) {
    if (cells.is_null(first)) {
        return std::nullopt;
    }
    CallInfo call;
    call.state = std::string(cells.text(first));
    call.flow = std::string(cells.text(first + 1));
    call.call_id = std::string(cells.text(first + 2));
    call.started_at_ms = cells.int64(first + 3);
    call.cap_ms = cells.int64(first + 4);
    call.usage = decode_true_usage(cells, first + 5);
    return call;
}

}  // namespace voicegate::store
