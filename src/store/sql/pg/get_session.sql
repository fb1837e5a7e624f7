-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- One session's columns, as decode_session_row() reads them (0-14), its cost (15), and its call
-- as decode_call_info() reads it (16-33: store/session_row.hpp's kCallColumns).
SELECT session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, client_ip,
user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s, message_count,
ended_by, estimated_cost_usd, call_state, flow, call_id, call_started_at_ms, cap_ms,
true_input_text_tokens, true_input_audio_tokens, true_input_image_tokens,
true_cached_text_tokens, true_cached_audio_tokens, true_cached_image_tokens,
true_output_text_tokens, true_output_audio_tokens, transcription_in_tokens,
transcription_out_tokens, transcription_seconds, responses, true_cost_usd FROM sessions WHERE
session_id = $1
