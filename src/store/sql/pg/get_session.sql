-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- One session's columns, as decode_session_row() reads them.
SELECT session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, client_ip,
user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s, message_count,
ended_by FROM sessions WHERE session_id = $1
