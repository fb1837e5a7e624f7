-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- One op's end_session. `cur` locks the row (FOR UPDATE: a concurrent end, from this or
-- another instance, waits and then sees status 'ended'); `upd` changes it only while it is
-- 'issued' and the owner matches. At a session's first end (`upd` non-empty) the quota
-- bookkeeping is settled in the same statement: its open slot is released (the whole minute
-- store/quota.hpp's slot_release_ms gives) and its day's charge goes from the reservation to
-- what it used; the day is quota_day() of the issue time (integer division: times after 1970).
-- Billable ms: the smaller of the reported (a negative counts as 0) and the observed duration,
-- rounded half away from zero as billable_ms() does (numeric ROUND; float8's rounds half to
-- even). The cost comes from the session's tokens when it has any, else per minute, from the
-- connection's pg_temp.vg_prices (0 for a model without prices), as estimate_cost_usd().
-- A supervised call whose end the server recorded first (end_call: ended_by one of
-- call_end_name()'s names, no reported duration yet) takes the client's first /end as a late
-- report (`late`): the reported duration and message count only, and the event.
-- The answer has end_sessions.sql's columns, n being 0.
WITH cur AS (SELECT session_id, user_id, model, voice, profile, issued_at_ms, token_expires_at,
client_ip, user_agent, status, ended_at_ms, reported_duration_s, observed_duration_s,
message_count, ended_by, input_text_tokens, input_audio_tokens, input_image_tokens,
cached_text_tokens, cached_audio_tokens, cached_image_tokens, output_text_tokens,
output_audio_tokens FROM sessions WHERE session_id = $1 FOR UPDATE), upd AS ( UPDATE sessions AS
s SET status = 'ended', ended_at_ms = $2, reported_duration_s = $3, observed_duration_s =
GREATEST(0, $2 - s.issued_at_ms)::float8 / 1000, message_count = $4, ended_by = $5,
estimated_cost_usd = COALESCE((SELECT CASE WHEN s.input_text_tokens + s.input_audio_tokens +
s.input_image_tokens + s.output_text_tokens + s.output_audio_tokens > 0 THEN
((s.input_text_tokens - s.cached_text_tokens) * p.text_in + s.cached_text_tokens * p.text_cached
+ (s.input_audio_tokens - s.cached_audio_tokens) * p.audio_in + s.cached_audio_tokens *
p.audio_cached + (s.input_image_tokens - s.cached_image_tokens) * p.image_in +
s.cached_image_tokens * p.image_cached + s.output_text_tokens * p.text_out +
s.output_audio_tokens * p.audio_out) / 1e6 ELSE (ROUND((LEAST(GREATEST($3, 0), (GREATEST(0, $2 -
s.issued_at_ms)::float8 / 1000)) * 1000)::numeric)::bigint)::float8 / 60000 * p.per_minute END
FROM pg_temp.vg_prices AS p WHERE p.model = s.model), 0) FROM cur WHERE s.session_id =
cur.session_id AND s.status = 'issued' AND cur.status = 'issued' AND (NOT $6 OR cur.user_id =
$7) RETURNING s.*), late AS (UPDATE sessions AS s SET reported_duration_s = $3, message_count = $4
FROM cur WHERE s.session_id = cur.session_id AND cur.status = 'ended' AND
cur.reported_duration_s IS NULL AND cur.ended_by IN ('cap', 'quota', 'lock_violation', 'hangup',
'upstream_expired', 'closed', 'gone') AND (NOT $6 OR cur.user_id = $7) RETURNING s.session_id,
s.observed_duration_s), lev AS (INSERT INTO events (at_ms, type, session_id, user_id, client_ip,
reason, detail) SELECT $2, 'session_ended', $1, cur.user_id, NULLIF($8, ''), NULLIF($5, ''),
'{"reported_duration_s":' || $3::text || ',"observed_duration_s":' ||
late.observed_duration_s::text || ',"message_count":' || $4::text || '}' FROM cur JOIN late ON
late.session_id = cur.session_id), rel AS (UPDATE quota_slots AS o SET n = o.n - 1 FROM upd WHERE
upd.quota_reserved_ms IS NOT NULL AND o.user_id = upd.user_id AND o.release_at_ms =
(((upd.issued_at_ms + upd.quota_reserved_ms) + 59999) / 60000 * 60000) AND o.n > 0), qu AS
(UPDATE quota_usage AS q SET charged_ms = q.charged_ms + ROUND((LEAST(GREATEST($3, 0),
upd.observed_duration_s) * 1000)::numeric)::bigint - upd.quota_reserved_ms FROM upd WHERE
upd.quota_reserved_ms IS NOT NULL AND q.user_id = upd.user_id AND q.day = upd.issued_at_ms /
86400000), ev AS ( INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason,
detail) SELECT $2, 'session_ended', $1, upd.user_id, NULLIF($8, ''), NULLIF($5, ''),
'{"reported_duration_s":' || $3::text || ',"observed_duration_s":' ||
upd.observed_duration_s::text || ',"message_count":' || $4::text || '}' FROM upd) SELECT
cur.session_id, cur.user_id, cur.model, cur.voice, cur.profile, cur.issued_at_ms,
cur.token_expires_at, cur.client_ip, cur.user_agent, cur.status, cur.ended_at_ms,
cur.reported_duration_s, cur.observed_duration_s, cur.message_count, cur.ended_by, upd.user_id
IS NOT NULL, upd.observed_duration_s, 0, cur.input_text_tokens, cur.input_audio_tokens,
cur.input_image_tokens, cur.cached_text_tokens, cur.cached_audio_tokens,
cur.cached_image_tokens, cur.output_text_tokens, cur.output_audio_tokens,
ROUND((LEAST(GREATEST(upd.reported_duration_s, 0), upd.observed_duration_s) *
1000)::numeric)::bigint, ROUND((GREATEST(upd.reported_duration_s, 0) * 1000)::numeric)::bigint, late.session_id IS NOT
NULL FROM cur LEFT JOIN upd ON TRUE LEFT JOIN late ON TRUE
