-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- One op's create_session. Like every write statement it also writes its audit event and
-- reports outcomes (duplicate id) as data, not errors, so a pipelined batch normally runs to
-- COMMIT. The rollups are summed by the writer (RollupBatch), not written here.
-- $1-$9: session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, client_ip,
-- user_agent. Answers the inserted session_id (no row: a duplicate).
WITH ins AS ( INSERT INTO sessions (session_id, user_id, model, voice, profile, issued_at_ms,
token_expires_at, client_ip, user_agent, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
'issued') ON CONFLICT (session_id) DO NOTHING RETURNING *), ev AS ( INSERT INTO events (at_ms,
type, session_id, user_id, client_ip, reason, detail) SELECT issued_at_ms, 'token_issued',
session_id, user_id, NULLIF(client_ip, ''), NULL, jsonb_strip_nulls(jsonb_build_object('model',
model, 'voice', voice, 'profile', NULLIF(profile, '')))::text FROM ins) SELECT session_id FROM
ins
