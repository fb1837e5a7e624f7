-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- The events of one session, oldest first.
SELECT at_ms, type, session_id, user_id, client_ip, reason, detail FROM events WHERE session_id
= $1 ORDER BY id
