// Times the admin usage query (SPEC §9: under 50 ms over 1,000,000 sessions) over HTTP with a
// keep-alive connection, as the dashboard asks for it: the last 30 days, each groupBy.
//   node bench/usage-query.mjs BASE_URL   (admin token in VOICEGATE_ADMIN_TOKEN; never printed)
// Prints one JSON object: per groupBy the first request's time (cold: right after the server
// started), then the median, p90 and max of RUNS timed requests after WARMUP untimed ones, and
// the totals the query answered (so a wrong or empty answer shows).
import http from 'node:http';

const base = process.argv[2];
const token = process.env.VOICEGATE_ADMIN_TOKEN;
if (!base || !token) {
  console.error('usage: VOICEGATE_ADMIN_TOKEN=... node bench/usage-query.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const RUNS = Number(process.env.USAGE_RUNS || 20);
const WARMUP = Number(process.env.USAGE_WARMUP || 3);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(path) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get(new URL(path, base), { agent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (res.statusCode !== 200) {
          reject(new Error(`${path}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
          return;
        }
        resolve({ ms, body: JSON.parse(Buffer.concat(chunks).toString()) });
      });
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`${path}: timed out`)));
  });
}

const day = (d) => d.toISOString().slice(0, 10);
const to = new Date();
const from = new Date(to.getTime() - 29 * 86400000);
const out = { from: day(from), to: day(to), runs: RUNS, groupBy: {} };
for (const groupBy of ['day', 'user', 'model']) {
  const path = `/api/admin/usage?from=${day(from)}&to=${day(to)}&groupBy=${groupBy}`;
  // The first request after the server started reads every day (cold); later ones reuse each
  // unchanged day's per-user sums (UserRankCache), as a dashboard's refreshes do.
  const first = await get(path);
  for (let i = 1; i < WARMUP; i++) await get(path);
  const times = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    last = await get(path);
    times.push(last.ms);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  out.groupBy[groupBy] = {
    first_ms: first.ms, median_ms: q(0.5), p90_ms: q(0.9), max_ms: times[times.length - 1],
    rows: last.body.rows.length, sessions: last.body.totals.sessions,
  };
}
// The live panel too: it reads recent raw sessions through an index.
{
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push((await get('/api/admin/live')).ms);
  times.sort((a, b) => a - b);
  out.live = { median_ms: times[Math.floor(times.length / 2)], max_ms: times[times.length - 1] };
}
agent.destroy();
console.log(JSON.stringify(out));
