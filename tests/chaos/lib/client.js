// Load and connection clients of tests/chaos/run.sh. Node's core modules only, loopback only,
// every mode bounded in time (it exits by itself) and stopped early by SIGTERM/SIGINT.
//
//   node client.js loop URL [key=value...]   token (+end) requests from C concurrent workers
//       conns=4 duration=10 (s) end=0|1 timeout=5000 (ms per request) rate=0 (req/s in total,
//       0: as fast as answers come) log=FILE (one line per request: start_ms end_ms status
//       kind retry_after session_id; status is the HTTP code or ERR:<code>) user=PREFIX
//       On exit prints "LOOPJSON {...}": counts by status, latency percentiles (all answers
//       and 200s only), failures without Retry-After among 503s.
//   node client.js idle HOST PORT N [hold=60]  N keep-alive connections, each sends one
//       GET /healthz and then stays silent. Prints "IDLE {...}" once every connection was
//       answered or failed (or after 30 s), then holds them until `hold` s or SIGTERM, and
//       prints "IDLEEND {...}" (how many are still open).
//   node client.js slowloris HOST PORT N [hold=60] [gap=2000]  N connections, each sends a
//       request header one byte every `gap` ms and never finishes it; a closed one is replaced.
//       Prints "SLOWEND {...}" (opened, closed by the server, lifetimes).
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');

const mode = process.argv[2];
const kv = (args) => {
  const o = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i > 0) o[a.slice(0, i)] = a.slice(i + 1);
  }
  return o;
};
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms, monotonic
const wall0 = Date.now() - now(); // to print wall-clock ms
const pct = (sorted, q) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))] : 0;

function loop(base, o) {
  const conns = Number(o.conns || 4);
  const duration = Number(o.duration || 10) * 1000;
  const timeout = Number(o.timeout || 5000);
  const rate = Number(o.rate || 0);
  const withEnd = o.end === '1';
  const prefix = o.user || `chaos-${process.pid}`;
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const logFd = o.log ? fs.openSync(o.log, 'a') : null;
  const counts = {};
  const lat = [];
  const lat200 = [];
  let noRetryAfter503 = 0;
  let seq = 0;
  let stopping = false;
  const t0 = now();
  let nextSend = t0;

  const record = (kind, start, status, retryAfter, sid) => {
    const end = now();
    const key = `${kind}:${status}`;
    counts[key] = (counts[key] || 0) + 1;
    lat.push(end - start);
    if (status === 200) lat200.push(end - start);
    if (status === 503 && !retryAfter) noRetryAfter503++;
    if (logFd !== null) {
      fs.writeSync(logFd, `${Math.round(wall0 + start)} ${Math.round(wall0 + end)} ${status} ${kind} ` +
        `${retryAfter || '-'} ${sid || '-'}\n`);
    }
  };

  const post = (path, body) =>
    new Promise((resolve) => {
      const start = now();
      const data = Buffer.from(JSON.stringify(body));
      const req = http.request({
        host: url.hostname, port: url.port, path, method: 'POST', agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': data.length },
      });
      let done = false;
      const finish = (status, headers, text) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ start, status, headers: headers || {}, text: text || '' });
      };
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }));
      }, timeout);
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => finish(res.statusCode, res.headers, Buffer.concat(chunks).toString()));
        res.on('error', (e) => finish(`ERR:${e.code || 'RESPONSE'}`));
      });
      req.on('error', (e) => finish(`ERR:${e.code || e.message}`));
      req.end(data);
    });

  const worker = async () => {
    while (!stopping && now() - t0 < duration) {
      if (rate > 0) {
        const at = nextSend;
        nextSend += 1000 / rate;
        const wait = at - now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (stopping || now() - t0 >= duration) break;
      }
      const user = `${prefix}-${seq++}`;
      const r = await post('/api/realtime/token', {
        userId: user, sessionConfig: { model: 'gpt-realtime', voice: 'alloy' },
      });
      let sid = null;
      if (r.status === 200) {
        try { sid = JSON.parse(r.text).sessionId; } catch (e) { sid = null; }
      }
      record('token', r.start, r.status, r.headers['retry-after'], sid);
      if (withEnd && sid && !stopping) {
        const e = await post('/api/realtime/end', {
          sessionId: sid, duration: 12, messageCount: 3, endedBy: 'user',
        });
        record('end', e.start, e.status, e.headers['retry-after'], sid);
      }
    }
  };

  const finish = () => {
    lat.sort((a, b) => a - b);
    lat200.sort((a, b) => a - b);
    const r = (x) => Math.round(x * 100) / 100;
    const out = {
      seconds: r((now() - t0) / 1000), counts, noRetryAfter503, answers: lat.length,
      p50_ms: r(pct(lat, 50)), p99_ms: r(pct(lat, 99)), max_ms: r(lat.length ? lat[lat.length - 1] : 0),
      ok_p50_ms: r(pct(lat200, 50)), ok_p99_ms: r(pct(lat200, 99)),
    };
    console.log(`LOOPJSON ${JSON.stringify(out)}`);
    if (logFd !== null) fs.closeSync(logFd);
    process.exit(0);
  };
  const stop = () => { stopping = true; };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Hard stop: the loop's duration plus one request deadline.
  setTimeout(finish, duration + timeout + 1000).unref();
  Promise.all(Array.from({ length: conns }, worker)).then(finish);
}

function idle(host, port, total, o) {
  const hold = Number(o.hold || 60) * 1000;
  const PARALLEL = 256;
  const sockets = new Set();
  let started = 0, answered = 0, failed = 0, inflight = 0, reported = false, refused = 0;
  const request = `GET /healthz HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`;
  const report = () => {
    if (reported) return;
    reported = true;
    console.log(`IDLE ${JSON.stringify({ wanted: total, answered, failed, refused, pending: inflight, open: sockets.size })}`);
  };
  const openOne = () => {
    started++;
    inflight++;
    const s = net.connect({ host, port });
    let done = false, seen = '';
    const fin = (ok) => {
      if (done) return;
      done = true;
      inflight--;
      if (ok) answered++; else failed++;
      pump();
    };
    s.on('connect', () => s.write(request));
    s.on('data', (c) => {
      if (done) return;
      seen += c.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(seen.slice(0, end));
      if (!m || seen.length >= end + 4 + Number(m[1])) fin(/^HTTP\/1\.1 200/.test(seen));
    });
    s.on('error', (e) => { if (e.code === 'ECONNREFUSED') refused++; fin(false); });
    s.on('close', () => { sockets.delete(s); fin(false); });
    sockets.add(s);
  };
  const pump = () => {
    while (inflight < PARALLEL && started < total) openOne();
    if (answered + failed === total) report();
  };
  setTimeout(report, 30000).unref();
  const end = () => {
    report();
    console.log(`IDLEEND ${JSON.stringify({ open: sockets.size })}`);
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', end);
  process.on('SIGINT', end);
  setTimeout(end, hold);
  pump();
}

function slowloris(host, port, total, o) {
  const hold = Number(o.hold || 60) * 1000;
  const gap = Number(o.gap || 2000);
  const header = `POST /api/realtime/token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    'X-Padding: ' + 'a'.repeat(4000);
  let opened = 0, closedByServer = 0, errors = 0, answered = 0;
  const lifetimes = [];
  const sockets = new Set();
  let stopping = false;
  const openOne = () => {
    if (stopping) return;
    opened++;
    const s = net.connect({ host, port });
    const born = now();
    let i = 0, timer = null;
    const drip = () => {
      if (i < header.length) s.write(header[i++]);
    };
    s.on('connect', () => { drip(); timer = setInterval(drip, gap); });
    s.on('data', () => { answered++; });
    s.on('error', () => { errors++; });
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
      if (!stopping) {
        closedByServer++;
        lifetimes.push(now() - born);
        setTimeout(openOne, 50);
      }
    });
    sockets.add(s);
  };
  // Spread the openings over a second, so they do not all drip in step.
  for (let k = 0; k < total; k++) setTimeout(openOne, (k * 1000) / total);
  const end = () => {
    stopping = true;
    lifetimes.sort((a, b) => a - b);
    const r = (x) => Math.round(x);
    console.log(`SLOWEND ${JSON.stringify({
      opened, open: sockets.size, closedByServer, errors, answered,
      life_min_ms: r(lifetimes[0] || 0), life_p50_ms: r(pct(lifetimes, 50)),
      life_max_ms: r(lifetimes[lifetimes.length - 1] || 0),
    })}`);
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', end);
  process.on('SIGINT', end);
  setTimeout(end, hold);
}

const a = process.argv.slice(3);
if (mode === 'loop') loop(a[0], kv(a.slice(1)));
else if (mode === 'idle') idle(a[0], Number(a[1]), Number(a[2]), kv(a.slice(3)));
else if (mode === 'slowloris') slowloris(a[0], Number(a[1]), Number(a[2]), kv(a.slice(3)));
else {
  console.error('usage: client.js loop URL [k=v...] | idle HOST PORT N [hold=S] | slowloris HOST PORT N [hold=S] [gap=MS]');
  process.exit(2);
}
