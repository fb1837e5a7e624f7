// Reads a request log of `client.js loop ... log=FILE` (start_ms end_ms status kind retry_after
// session_id, wall-clock ms) for tests/chaos/run.sh.
//   node analyze.js phases LOG FAULT_START_MS FAULT_END_MS
//       JSON: statuses before / during / after the fault (by answer time), 503s without
//       Retry-After, recovery_ms (first 200 answered after FAULT_END_MS, from FAULT_END_MS),
//       last_fail_ms (last failure answered after FAULT_END_MS, from FAULT_END_MS; 0 if none).
//   node analyze.js ids LOG KIND   the session ids of the 200 answers of KIND (token or end)
'use strict';
const fs = require('fs');
const [cmd, file, ...rest] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [start, end, status, kind, ra, sid] = l.split(' ');
  return { start: Number(start), end: Number(end), status, kind, ra, sid };
});
if (cmd === 'ids') {
  for (const r of rows) if (r.kind === rest[0] && r.status === '200' && r.sid !== '-') console.log(r.sid);
} else if (cmd === 'phases') {
  const fs0 = Number(rest[0]);
  const fe = Number(rest[1]);
  const ph = { before: {}, during: {}, after: {} };
  let firstOk = null, lastFail = null, no503ra = 0;
  for (const r of rows) {
    const p = r.end < fs0 ? 'before' : r.end < fe ? 'during' : 'after';
    const key = `${r.kind}:${r.status}`;
    ph[p][key] = (ph[p][key] || 0) + 1;
    if (r.status === '503' && r.ra === '-') no503ra++;
    if (r.end >= fe) {
      if (r.status === '200') { if (firstOk === null || r.end < firstOk) firstOk = r.end; }
      else if (lastFail === null || r.end > lastFail) lastFail = r.end;
    }
  }
  console.log(JSON.stringify({
    ...ph, no_retry_after_503: no503ra,
    recovery_ms: firstOk === null ? -1 : firstOk - fe,
    last_fail_ms: lastFail === null ? 0 : lastFail - fe,
  }));
} else {
  console.error('usage: analyze.js phases LOG T0 T1 | ids LOG KIND');
  process.exit(2);
}
