// Turns the fragments bench/run.sh wrote (one JSON file per measurement) into the final table,
// one PASS/FAIL line per bar of SPEC §9, and bench/results/latest.json.
//   node report.js RESULTS_DIR OUT_JSON
// Exits 0 whatever the bars say (the bench is a report); non-zero only if a fragment is missing.
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, outFile] = process.argv.slice(2);
const r = {};
for (const f of fs.readdirSync(dir)) {
  if (f.endsWith('.json')) {
    const j = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    r[j.label] = j;
  }
}
for (const need of ['meta', 'emulator', 'nginx', 'voicegate', 'express', 'paced-emulator', 'paced-voicegate', 'end', 'memory']) {
  if (!r[need]) {
    console.error(`report: missing measurement "${need}"`);
    process.exit(2);
  }
}
const meta = r.meta;
// Optional: the PostgreSQL/Redis runs are skipped (with a reason) when those could not start.
const skipped = (label) => (r[label] && r[label].wrk ? null : (r[label] && r[label].skipped) || 'not run');

const MB = (kb) => (kb == null ? null : (kb * 1024) / 1e6); // /proc reports KiB; bars are in MB
const rps = (w) => w.requests / (w.duration_us / 1e6);
const ms = (us) => us / 1000;

function run(label, name) {
  const x = r[label];
  const w = x.wrk;
  return {
    name,
    requests: w.requests,
    duration_s: w.duration_us / 1e6,
    rps: rps(w),
    p50_ms: ms(w.latency_us.p50),
    p90_ms: ms(w.latency_us.p90),
    p99_ms: ms(w.latency_us.p99),
    max_ms: ms(w.latency_us.max),
    non_2xx: w.errors.status,
    socket_errors: w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout,
    rss_peak_mb: MB(x.rss_peak_kb),
    upstream_conns_run: x.server === 'emulator' ? null : x.upstream_conns_run ?? null,
    upstream_conns_total: x.server === 'emulator' ? null : x.upstream_conns_total,
    // CPU time of the server (all threads, nginx workers included) per request: far less
    // sensitive to other load on the machine than req/s.
    cpu_us_per_req: x.cpu_s == null ? null : (x.cpu_s * 1e6) / w.requests,
    emulator_cpu_us_per_req: x.emulator_cpu_s == null || x.server === 'emulator' ? null : (x.emulator_cpu_s * 1e6) / w.requests,
  };
}

const token = {
  emulator: run('emulator', 'emulator (direct)'),
  nginx: run('nginx', 'nginx -> emulator'),
  voicegate: run('voicegate', 'voicegate -> emulator'),
  express: run('express', 'Express -> emulator'),
  voicegate_jwt_pg: skipped('voicegate-jwt-pg') ? null : run('voicegate-jwt-pg', 'voicegate JWT+Redis+PG -> emu'),
};
const paced = { emulator: run('paced-emulator', 'emulator (direct)'), voicegate: run('paced-voicegate', 'voicegate -> emulator') };
const added = { p50_ms: paced.voicegate.p50_ms - paced.emulator.p50_ms, p99_ms: paced.voicegate.p99_ms - paced.emulator.p99_ms };
function endOf(label, name) {
  const w = r[label].wrk;
  return {
    ...run(label, name),
    ended: w.ended,
    repeats: w.repeats,
    issued: r[label].issued,
    records_per_s: w.ended / (w.duration_us / 1e6),
    run_s: r[label].duration_s,
  };
}
const end = endOf('end', 'voicegate /end (SQLite)');
const endPg = skipped('end-pg') ? null : { ...endOf('end-pg', 'voicegate /end (PostgreSQL)'),
  pg_fsync: r['end-pg'].pg_fsync, pg_synchronous_commit: r['end-pg'].pg_synchronous_commit };
const mem = r.memory;
const memory = {
  fresh_mb: MB(mem.fresh_kb),
  idle_mb: MB(mem.idle_kb),
  connections: mem.conns,
  connections_open: mem.conns_open,
  with_connections_mb: MB(mem.conns_kb),
  after_bench_mb: r['voicegate-after-load'] ? MB(r['voicegate-after-load'].rss_kb) : null,
  emulator_peak_mb: r['emulator-final'] ? MB(r['emulator-final'].rss_peak_kb) : null,
};
const loopsTimesPool = meta.loops * meta.pool;

// --- bars ---------------------------------------------------------------------------------
const fmt = (n, d = 0) => (n == null ? '—' : n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const bars = [];
const bar = (id, text, pass, detail) => bars.push({ id, bar: text, status: pass == null ? 'NOT MEASURED' : pass ? 'PASS' : 'FAIL', detail });
const vg = token.voicegate;
bar('token_vs_nginx', '/token throughput >= nginx reverse-proxying the emulator', vg.rps >= token.nginx.rps,
  `${fmt(vg.rps)} vs ${fmt(token.nginx.rps)} req/s (${fmt(vg.rps / token.nginx.rps, 2)}x)`);
bar('token_vs_express', '/token throughput >= 10x Express', vg.rps >= 10 * token.express.rps,
  `${fmt(vg.rps)} vs ${fmt(token.express.rps)} req/s (${fmt(vg.rps / token.express.rps, 1)}x)`);
const paceRate = paced.voicegate.rps;
bar('added_p50', `median added latency < 0.2 ms at ${fmt(meta.rate)} req/s`, added.p50_ms < 0.2,
  `${fmt(added.p50_ms, 3)} ms (voicegate p50 ${fmt(paced.voicegate.p50_ms, 3)} - emulator p50 ${fmt(paced.emulator.p50_ms, 3)}; ${fmt(paceRate)} req/s)`);
bar('added_p99', `p99 added latency < 1 ms at ${fmt(meta.rate)} req/s`, added.p99_ms < 1,
  `${fmt(added.p99_ms, 3)} ms (voicegate p99 ${fmt(paced.voicegate.p99_ms, 3)} - emulator p99 ${fmt(paced.emulator.p99_ms, 3)})`);
bar('upstream_conns', 'upstream connections opened <= event loops x pool size', vg.upstream_conns_total <= loopsTimesPool,
  `${vg.upstream_conns_total} opened since start (warm-up + run) <= ${meta.loops} x ${meta.pool} = ${loopsTimesPool}`);
// Steady state: the paced run (10 connections, after a warm-up, with the pool already filled by
// the throughput runs). The throughput run's count is shown too: there, wrk's fresh 64 connections
// can land on the event loops differently than in its warm-up (SO_REUSEPORT hashing), and a loop
// that got more of them than before opens a few more upstream connections.
const steady = paced.voicegate.upstream_conns_run;
bar('upstream_steady', 'no new upstream connection per token in steady state', steady === 0,
  `${steady} opened during ${fmt(paced.voicegate.requests)} tokens at ${fmt(paceRate)}/s; ` +
    `${vg.upstream_conns_run} during ${fmt(vg.requests)} tokens of the throughput run ` +
    `(${fmt((1000 * vg.upstream_conns_run) / vg.requests, 3)} per 1,000)`);
// A run that ran out of ids ended fewer sessions than it could have: its rate is a lower bound.
const endPass = end.records_per_s >= 20000;
bar('end_sqlite', '/end >= 20,000 durable records/s on SQLite', endPass,
  `${fmt(end.records_per_s)} first-time ends/s (synchronous=${r.end.sqlite_synchronous}` +
    (end.repeats > 0 ? `; the ids ran out: a lower bound, ${fmt(end.repeats)} repeats not counted` : '') + ')');
if (!endPass && end.repeats > 0) bars[bars.length - 1].status = 'INCONCLUSIVE';
if (endPg) {
  const pgPass = endPg.records_per_s >= 10000;
  bar('end_postgres', '/end >= 10,000 records/s on PostgreSQL', pgPass,
    `${fmt(endPg.records_per_s)} first-time ends/s (fsync=${endPg.pg_fsync}, synchronous_commit=${endPg.pg_synchronous_commit}` +
      (endPg.repeats > 0 ? `; the ids ran out: a lower bound, ${fmt(endPg.repeats)} repeats not counted` : '') + ')');
  if (!pgPass && endPg.repeats > 0) bars[bars.length - 1].status = 'INCONCLUSIVE';
} else {
  bar('end_postgres', '/end >= 10,000 records/s on PostgreSQL', null, `PostgreSQL unavailable: ${skipped('end-pg')}`);
}
bar('mem_idle', 'idle RSS < 30 MB', memory.idle_mb < 30,
  `${fmt(memory.idle_mb, 1)} MB after a 2 s burst of /token and 2 s quiet (${fmt(memory.fresh_mb, 1)} MB fresh)`);
bar('mem_conns', `RSS < 100 MB with ${fmt(memory.connections)} open client connections`,
  memory.with_connections_mb == null ? null : memory.with_connections_mb < 100 && memory.connections_open === memory.connections,
  memory.with_connections_mb == null ? 'skipped (ulimit -n too low)'
    : `${fmt(memory.with_connections_mb, 1)} MB, ${fmt(memory.connections_open)} of ${fmt(memory.connections)} still open when measured`);
// Operators: the usage query over the seeded sessions (slowest groupBy's median), and the
// dashboard's first data paint.
const usage = {};
for (const [k, label] of [['sqlite', 'usage-sqlite'], ['postgresql', 'usage-pg']]) {
  const x = r[label];
  if (x && x.query) {
    const worst = Object.entries(x.query.groupBy).reduce((a, b) => (b[1].median_ms > a[1].median_ms ? b : a));
    usage[k] = { sessions: x.sessions, seed_s: x.seed_s, query: x.query, paint: x.paint, rss_mb: MB(x.rss_kb),
      worst_groupBy: worst[0], worst_median_ms: worst[1].median_ms };
  }
}
const usageDetail = (k) => {
  const u = usage[k];
  if (!u) return `${k}: ${skipped(k === 'sqlite' ? 'usage-sqlite' : 'usage-pg')}`;
  const per = Object.entries(u.query.groupBy).map(([g, v]) => `${g} ${fmt(v.median_ms, 1)}`).join(', ');
  const cold = Object.entries(u.query.groupBy).map(([g, v]) => `${g} ${fmt(v.first_ms, 1)}`).join(', ');
  return `${k} over ${fmt(u.sessions)} sessions: median ms ${per} (p90 of the slowest ${fmt(u.query.groupBy[u.worst_groupBy].p90_ms, 1)}; ` +
    `first request after start, cold: ${cold})`;
};
for (const k of ['sqlite', 'postgresql']) {
  bar(`admin_usage_${k}`, `admin usage query over 1,000,000 sessions < 50 ms (${k})`,
    usage[k] ? usage[k].sessions >= 1e6 && usage[k].worst_median_ms < 50 : null, usageDetail(k));
}
const paint = usage.sqlite && usage.sqlite.paint;
bar('dashboard_paint', "dashboard's first data paint < 1 s (1,000,000 sessions, headless Chromium)",
  paint ? usage.sqlite.sessions >= 1e6 && paint.median < 1000 : null,
  paint ? `median ${fmt(paint.median)} ms, max ${fmt(Math.max(...paint.runs))} ms over ${paint.runs.length} loads` : 'not measured');

// --- table --------------------------------------------------------------------------------
const pad = (s, n) => String(s).padStart(n);
const padr = (s, n) => String(s).padEnd(n);
const lines = [];
lines.push('');
lines.push(`voicegate bench  ${meta.started_at}  commit ${meta.commit}  ${meta.voicegate_version}`);
lines.push(`machine: ${meta.cores} cores, load average ${meta.load_start} at start, ${meta.load_end} at end; ` +
  `kernel ${meta.kernel}; wrk ${meta.wrk_version}, ${meta.nginx_version}, node ${meta.node_version}, express ${meta.express_version}`);
lines.push(`load: wrk -t${meta.wrk_threads} -c${meta.connections} -d${meta.duration_s}s after ${meta.warmup_s}s warm-up; ` +
  `voicegate ${meta.loops} event loops x pool ${meta.pool}; nginx ${meta.loops} workers; emulator 1 thread${meta.pinned ? ' pinned to the last core' : ''}`);
lines.push('');
const H = ['POST /token (or client_secrets)', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'CPU us/req', 'peak RSS MB', 'upstream conns run/total'];
const W = [30, 10, 8, 8, 8, 11, 12, 25];
const row = (cells) => cells.map((c, i) => (i === 0 ? padr(c, W[i]) : pad(c, W[i]))).join(' ');
lines.push(row(H));
lines.push(row(W.map((w) => '-'.repeat(w))));
const tr = (x) => row([x.name, fmt(x.rps), fmt(x.p50_ms, 3), fmt(x.p99_ms, 3), x.non_2xx, fmt(x.cpu_us_per_req, 1),
  fmt(x.rss_peak_mb, 1), x.upstream_conns_run == null ? '—' : `${x.upstream_conns_run} / ${x.upstream_conns_total}`]);
const notMeasured = (name, why) => `${padr(name, W[0])} NOT MEASURED (${why})`;
for (const k of ['emulator', 'nginx', 'voicegate']) lines.push(tr(token[k]));
lines.push(token.voicegate_jwt_pg ? tr(token.voicegate_jwt_pg) : notMeasured('voicegate JWT+Redis+PG -> emu', skipped('voicegate-jwt-pg')));
lines.push(tr(token.express));
const er = (e) => row([e.name, fmt(e.records_per_s), fmt(e.p50_ms, 3), fmt(e.p99_ms, 3), e.non_2xx, fmt(e.cpu_us_per_req, 1),
  fmt(e.rss_peak_mb, 1), '—']);
lines.push(er(end));
lines.push(endPg ? er(endPg) : notMeasured('voicegate /end (PostgreSQL)', skipped('end-pg')));
const cpuShares = ['nginx', 'voicegate', 'voicegate_jwt_pg', 'express'].filter((k) => token[k])
  .map((k) => `${fmt(token[k].emulator_cpu_us_per_req, 1)} (${k.replace(/_/g, '-')})`);
lines.push(`  (CPU us/req: the server's own CPU time per request, all threads/workers; the emulator adds ${cpuShares.join(', ')})`);
lines.push(`  (voicegate: embedded defaults, SQLite + in-process limiter + no auth; voicegate-jwt-pg: HS256 JWT per user, ` +
  `Redis limiter, PostgreSQL store; limits raised so nothing is refused)`);
for (const e of [end, endPg].filter(Boolean)) {
  lines.push(`  (${e.name}: ${fmt(e.ended)} sessions ended once of ${fmt(e.issued)} issued, ${fmt(e.repeats)} repeats, -d${e.run_s}s)`);
}
lines.push('');
lines.push(`added latency at ${fmt(meta.rate)} req/s (paced over ${meta.pace_connections} connections):`);
lines.push(`  emulator direct      ${fmt(paced.emulator.rps)} req/s  p50 ${fmt(paced.emulator.p50_ms, 3)} ms  p99 ${fmt(paced.emulator.p99_ms, 3)} ms`);
lines.push(`  voicegate /token     ${fmt(paced.voicegate.rps)} req/s  p50 ${fmt(paced.voicegate.p50_ms, 3)} ms  p99 ${fmt(paced.voicegate.p99_ms, 3)} ms`);
lines.push(`  added                p50 ${fmt(added.p50_ms, 3)} ms  p99 ${fmt(added.p99_ms, 3)} ms` +
  (added.p50_ms < 0 || added.p99_ms < 0 ? '  (negative: the two runs differ by more than voicegate adds: noise)' : ''));
lines.push('');
lines.push(`memory (voicegate RSS): fresh ${fmt(memory.fresh_mb, 1)} MB, idle ${fmt(memory.idle_mb, 1)} MB, ` +
  `${fmt(memory.connections)} connections ${fmt(memory.with_connections_mb, 1)} MB, after the whole bench ${fmt(memory.after_bench_mb, 1)} MB ` +
  `(emulator peak ${fmt(memory.emulator_peak_mb, 1)} MB)`);
lines.push('');
lines.push('SPEC §9 bars:');
for (const b of bars) lines.push(`  ${padr(b.status, 12)} ${b.bar}: ${b.detail}`);
lines.push('');
console.log(lines.join('\n'));

const out = { meta, token, paced, added_latency: added, end, end_postgres: endPg, memory, usage, bars };
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(out, null, 2) + '\n');
console.log(`written: ${path.relative(process.cwd(), outFile) || outFile}`);
