-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- The batched create_session: each parameter is an array with one element per op, `n` the
-- op's 1-based position. Within one statement the session ids are distinct (the writer cuts
-- batches into such waves). Written without joins between the statement's own parts (whose
-- sizes the planner cannot know for a prepared statement, so it might nest loops over them):
-- the answer carries the inserted ids, which the writer maps back to ops.
WITH ins AS ( INSERT INTO sessions (session_id, user_id, model, voice, profile, issued_at_ms,
token_expires_at, client_ip, user_agent, status) SELECT session_id, user_id, model, voice,
profile, issued_at_ms, token_expires_at, client_ip, user_agent, 'issued' FROM unnest($1, $2, $3,
$4, $5, $6, $7, $8, $9) WITH ORDINALITY AS r(session_id, user_id, model, voice, profile,
issued_at_ms, token_expires_at, client_ip, user_agent, n) ORDER BY n ON CONFLICT (session_id) DO
NOTHING RETURNING *), ev AS ( INSERT INTO events (at_ms, type, session_id, user_id, client_ip,
reason, detail) SELECT issued_at_ms, 'token_issued', session_id, user_id, NULLIF(client_ip, ''),
NULL, jsonb_strip_nulls(jsonb_build_object('model', model, 'voice', voice, 'profile',
NULLIF(profile, '')))::text FROM ins) SELECT session_id FROM ins
