-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- The batched end_session. The answer: the session's columns before the end (0-14), whether
-- this op ended it (15), the observed duration (16), n (17), the token counts (18-25), and what
-- the end adds to billable (26) and reported ms (27), and whether it was a late report on a
-- call the server ended first (28), as end_session.sql's. `cur` carries each
-- request along with its locked row, so nothing joins back: as cur holds the row lock, the
-- UPDATE changes exactly the rows that cur shows 'issued' with a matching owner, and the answer
-- says so from cur alone. `rel` and `qu` count per slot and sum per (user, day) first:
-- UPDATE ... FROM applies one joined row per target row.
WITH cur AS (SELECT s.session_id, s.user_id, s.model, s.voice, s.profile, s.issued_at_ms,
s.token_expires_at, s.client_ip, s.user_agent, s.status, s.ended_at_ms, s.reported_duration_s,
s.observed_duration_s, s.message_count, s.ended_by, s.input_text_tokens, s.input_audio_tokens,
s.input_image_tokens, s.cached_text_tokens, s.cached_audio_tokens, s.cached_image_tokens,
s.output_text_tokens, s.output_audio_tokens, r.ended_at, r.reported, r.messages, r.req_ended_by,
r.check_owner, r.caller, r.req_client_ip, r.n, s.status = 'issued' AND (NOT r.check_owner OR
s.user_id = r.caller) AS ending, s.status = 'ended' AND s.reported_duration_s IS NULL AND
s.ended_by IN ('cap', 'quota', 'lock_violation', 'hangup', 'upstream_expired', 'closed', 'gone')
AND (NOT r.check_owner OR s.user_id = r.caller) AS late, GREATEST(0, r.ended_at - s.issued_at_ms)::float8 / 1000 AS
observed, s.quota_reserved_ms AS reserved FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) WITH
ORDINALITY AS r(id, ended_at, reported, messages, req_ended_by, check_owner, caller,
req_client_ip, n) JOIN sessions AS s ON s.session_id = r.id ORDER BY s.session_id FOR UPDATE OF
s), upd AS ( UPDATE sessions AS s SET status = 'ended', ended_at_ms = cur.ended_at,
reported_duration_s = cur.reported, observed_duration_s = cur.observed, message_count =
cur.messages, ended_by = cur.req_ended_by, estimated_cost_usd = COALESCE((SELECT CASE WHEN
s.input_text_tokens + s.input_audio_tokens + s.input_image_tokens + s.output_text_tokens +
s.output_audio_tokens > 0 THEN ((s.input_text_tokens - s.cached_text_tokens) * p.text_in +
s.cached_text_tokens * p.text_cached + (s.input_audio_tokens - s.cached_audio_tokens) *
p.audio_in + s.cached_audio_tokens * p.audio_cached + (s.input_image_tokens -
s.cached_image_tokens) * p.image_in + s.cached_image_tokens * p.image_cached +
s.output_text_tokens * p.text_out + s.output_audio_tokens * p.audio_out) / 1e6 ELSE
(ROUND((LEAST(GREATEST(cur.reported, 0), cur.observed) * 1000)::numeric)::bigint)::float8 /
60000 * p.per_minute END FROM pg_temp.vg_prices AS p WHERE p.model = s.model), 0) FROM cur WHERE
s.session_id = cur.session_id AND cur.ending AND s.status = 'issued' RETURNING s.*), lat AS (UPDATE sessions AS s SET
reported_duration_s = cur.reported, message_count = cur.messages FROM cur WHERE s.session_id =
cur.session_id AND cur.late), rel AS
(UPDATE quota_slots AS o SET n = GREATEST(0, o.n - d.c) FROM (SELECT user_id, (((issued_at_ms +
reserved) + 59999) / 60000 * 60000) AS release_at, COUNT(*) AS c FROM cur WHERE ending AND
reserved IS NOT NULL GROUP BY 1, 2) AS d WHERE o.user_id = d.user_id AND o.release_at_ms =
d.release_at), qu AS (UPDATE quota_usage AS q SET charged_ms = q.charged_ms + d.delta FROM
(SELECT user_id, issued_at_ms / 86400000 AS day, SUM(ROUND((LEAST(GREATEST(reported, 0),
observed) * 1000)::numeric)::bigint - reserved)::bigint AS delta FROM cur WHERE ending AND
reserved IS NOT NULL GROUP BY user_id, issued_at_ms / 86400000) AS d WHERE q.user_id = d.user_id
AND q.day = d.day), ev AS ( INSERT INTO events (at_ms, type, session_id, user_id, client_ip,
reason, detail) SELECT ended_at, 'session_ended', session_id, user_id, NULLIF(req_client_ip,
''), NULLIF(req_ended_by, ''), '{"reported_duration_s":' || reported::text ||
',"observed_duration_s":' || (CASE WHEN ending THEN observed ELSE observed_duration_s END)::text
|| ',"message_count":' || messages::text || '}' FROM cur WHERE ending OR late ORDER BY n) SELECT session_id, user_id, model, voice, profile, issued_at_ms,
token_expires_at, client_ip, user_agent, status, ended_at_ms, reported_duration_s,
observed_duration_s, message_count, ended_by, ending, observed, n, input_text_tokens,
input_audio_tokens, input_image_tokens, cached_text_tokens, cached_audio_tokens,
cached_image_tokens, output_text_tokens, output_audio_tokens, ROUND((LEAST(GREATEST(reported,
0), observed) * 1000)::numeric)::bigint, ROUND((GREATEST(reported, 0) * 1000)::numeric)::bigint,
late FROM cur
