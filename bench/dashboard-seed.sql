-- bench/dashboard-seed.sql: 1,000,000 ended sessions (5,000 users, 3 models, every endedBy) over the
-- 30 days before an hour ago, plus 20,000 token denials, into a migrated SQLite database, for
-- bench/dashboard-paint.mjs. Then `voicegate migrate --rebuild-rollups` builds the rollups:
--   voicegate migrate --database-url sqlite:DB && sqlite3 DB < bench/dashboard-seed.sql &&
--   voicegate migrate --rebuild-rollups --database-url sqlite:DB
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO sessions (session_id, user_id, model, voice, issued_at_ms, token_expires_at, client_ip, user_agent,
  status, ended_at_ms, reported_duration_s, observed_duration_s, message_count, ended_by, estimated_cost_usd)
SELECT printf('sess_seed%07d', i), 'user-' || (i * 7919 % 5000),
  CASE i % 3 WHEN 0 THEN 'gpt-realtime' WHEN 1 THEN 'gpt-realtime-mini' ELSE 'gpt-realtime-1.5' END, 'alloy',
  (CAST(strftime('%s','now') AS INTEGER) * 1000) - 3600000 - i * 2592, 0, '127.0.0.1', 'seed',
  'ended', (CAST(strftime('%s','now') AS INTEGER) * 1000) - 3600000 - i * 2592 + (30 + i % 600) * 1000,
  30 + i % 600, 31 + i % 600, i % 40,
  CASE WHEN i % 10 < 8 THEN 'user' WHEN i % 10 = 8 THEN 'timeout' ELSE 'error' END,
  (30 + i % 600) / 60.0 * 0.06
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO events (at_ms, type, user_id, client_ip, reason)
SELECT (CAST(strftime('%s','now') AS INTEGER) * 1000) - i * 129600, 'token_denied', 'user-' || (i % 5000), '127.0.0.1',
  CASE WHEN i % 4 = 0 THEN 'quota_exhausted' ELSE 'rate_limited' END FROM n;
COMMIT;
