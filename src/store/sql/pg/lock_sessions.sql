-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- Rows are locked in session_id order (LockRows runs above the Sort), the same order in every
-- instance, so two batches ending overlapping sessions cannot deadlock.
SELECT session_id FROM sessions WHERE session_id = ANY($1) ORDER BY session_id FOR UPDATE
