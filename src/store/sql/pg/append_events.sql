-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- The batched append_event: one array element per op, inserted in op order.
INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail) SELECT at_ms,
type, NULLIF(session_id, ''), NULLIF(user_id, ''), NULLIF(client_ip, ''), NULLIF(reason, ''),
NULLIF(detail, '') FROM unnest($1, $2, $3, $4, $5, $6, $7) WITH ORDINALITY AS r(at_ms, type,
session_id, user_id, client_ip, reason, detail, n) ORDER BY n
