-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- One op's append_event. $1-$7: at_ms, type, session_id, user_id, client_ip, reason, detail
-- (empty text stored as NULL).
INSERT INTO events (at_ms, type, session_id, user_id, client_ip, reason, detail) VALUES ($1, $2,
NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''))
