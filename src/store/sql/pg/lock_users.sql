-- Embedded at build time (cmake/EmbedSql.cmake): lines starting with -- are dropped and the
-- rest joined with single spaces, so line breaks here are free.
-- One transaction-scoped advisory lock per user (by hash: a collision only serializes two
-- users), taken in key order by every instance, so batches cannot deadlock on them. The
-- subquery (kept apart by OFFSET 0) fixes the order before the locking function runs.
SELECT pg_advisory_xact_lock(1986489704, k) FROM (SELECT DISTINCT hashtext(u) AS k FROM
unnest($1::text[]) AS u ORDER BY k OFFSET 0) AS keys
