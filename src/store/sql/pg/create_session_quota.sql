-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- create_session with the quota check (SPEC §4), for one op: run after lock_users holds the
-- user's advisory lock, so this statement's snapshot already shows every create of the user
-- committed before (READ COMMITTED takes it at statement start). Concurrent ends are not
-- serialized by the lock; missing one only makes the decision stricter for this instant.
-- Expired slots are deleted here, each once, and the open count is the user's counter less
-- them (a CTE does not see another's changes), so deciding costs O(1) amortized. Denied:
-- nothing is written but that cleanup, and the answer's counts say why; a duplicate id also
-- inserts nothing, with counts that allow.
-- $10 reserve ms, $11 day, $12 concurrent, $13 sessions per day, $14 charged-ms cap (0: none).
WITH del AS (DELETE FROM quota_slots WHERE user_id = $2 AND release_at_ms <= $6), cnt AS (SELECT
COALESCE(SUM(n), 0) AS n_open, COALESCE(MIN(release_at_ms), 0) AS first_expiry FROM quota_slots
WHERE user_id = $2 AND release_at_ms > $6 AND n > 0), used AS (SELECT COALESCE(MAX(sessions), 0)
AS sessions, COALESCE(MAX(charged_ms), 0) AS charged FROM quota_usage WHERE user_id = $2 AND day
= $11), ok AS (SELECT 1 FROM cnt, used WHERE NOT (($12 > 0 AND cnt.n_open >= $12) OR ($13 > 0
AND used.sessions >= $13) OR ($14 > 0 AND used.charged >= $14))), ins AS ( INSERT INTO sessions
(session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at, client_ip,
user_agent, status, quota_reserved_ms) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'issued', $10
FROM ok ON CONFLICT (session_id) DO NOTHING RETURNING *), ev AS ( INSERT INTO events (at_ms,
type, session_id, user_id, client_ip, reason, detail) SELECT issued_at_ms, 'token_issued',
session_id, user_id, NULLIF(client_ip, ''), NULL, jsonb_strip_nulls(jsonb_build_object('model',
model, 'voice', voice, 'profile', NULLIF(profile, '')))::text FROM ins), os AS (INSERT INTO
quota_slots (user_id, release_at_ms, n) SELECT user_id, (((issued_at_ms + $10) + 59999) / 60000
* 60000), 1 FROM ins ON CONFLICT (user_id, release_at_ms) DO UPDATE SET n = quota_slots.n + 1),
qu AS (INSERT INTO quota_usage (user_id, day, sessions, charged_ms) SELECT user_id, $11, 1, $10
FROM ins ON CONFLICT (user_id, day) DO UPDATE SET sessions = quota_usage.sessions + 1,
charged_ms = quota_usage.charged_ms + EXCLUDED.charged_ms) SELECT (SELECT COUNT(*) FROM ins),
cnt.n_open, cnt.first_expiry, used.sessions, used.charged FROM cnt, used
