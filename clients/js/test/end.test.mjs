// reportEnd: retries with exponential back-off, Retry-After, give-up, idempotence.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVoicegateClient } from '../dist/esm/index.js';
import { endBody, fakeFetch, manualClock, recordingSleep, reply } from './fakes.mjs';

const END = 'POST /api/realtime/end';
const REPORT = { sessionId: 'sess_fake1', duration: 320, messageCount: 15, endedBy: 'user' };

function client(routes, extra = {}) {
  const fetch = fakeFetch(routes);
  const sleep = recordingSleep();
  const c = createVoicegateClient({ baseUrl: 'https://vg.example.test', fetch, now: manualClock().now, sleep, random: () => 0.5, ...extra });
  return { c, fetch, sleep };
}

describe('reportEnd', () => {
  test('posts the report and returns the stored record', async () => {
    const { c, fetch } = client({ [END]: [reply(200, endBody(REPORT))] }, { getAuthToken: () => 'jwt-fake-2' });
    const r = await c.reportEnd(REPORT);
    assert.equal(r.ok, true);
    assert.equal(r.attempts, 1);
    assert.equal(r.alreadyEnded, false);
    assert.deepEqual(r.record.sessionData, REPORT);
    assert.deepEqual(JSON.parse(fetch.calls[0].body), REPORT);
    assert.equal(fetch.calls[0].headers.Authorization, 'Bearer jwt-fake-2');
  });

  test('retries network errors and 5xx with exponential back-off, then succeeds', async () => {
    const { c, fetch, sleep } = client({ [END]: [
      new TypeError('fetch failed'),
      reply(503, { success: false, error: 'busy', code: 'store_unavailable' }),
      reply(502, 'bad gateway'),
      reply(200, endBody(REPORT)),
    ] });
    const r = await c.reportEnd(REPORT);
    assert.equal(r.ok, true);
    assert.equal(r.attempts, 4);
    assert.deepEqual(sleep.delays, [500, 1000, 2000]);
    assert.equal(fetch.count(END), 4);
  });

  test("waits at least the server's Retry-After (429), capped at 30 s", async () => {
    const { c, sleep } = client({ [END]: [
      reply(429, { success: false, error: 'slow down', code: 'rate_limited' }, { 'Retry-After': '3' }),
      reply(429, { success: false, error: 'slow down', code: 'rate_limited' }, { 'Retry-After': '600' }),
      reply(200, endBody(REPORT)),
    ] });
    assert.equal((await c.reportEnd(REPORT)).ok, true);
    assert.deepEqual(sleep.delays, [3000, 30_000]);
  });

  test('back-off is capped by maxDelayMs and jittered by ±20 %', async () => {
    const down = new TypeError('down');
    const low = client({ [END]: [down] }, { random: () => 0, endRetry: { attempts: 6, baseDelayMs: 1000, maxDelayMs: 4000 } });
    await low.c.reportEnd(REPORT);
    assert.deepEqual(low.sleep.delays, [800, 1600, 3200, 3200, 3200]);
    const high = client({ [END]: [down] }, { random: () => 1, endRetry: { attempts: 3, baseDelayMs: 1000 } });
    await high.c.reportEnd(REPORT);
    assert.deepEqual(high.sleep.delays, [1200, 2400]);
  });

  test('gives up after the last attempt: ok false with the error, never a throw', async () => {
    const { c, fetch } = client({ [END]: [reply(503, { success: false, error: 'busy', code: 'store_unavailable' })] },
      { endRetry: { attempts: 3 } });
    const r = await c.reportEnd(REPORT);
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 3);
    assert.equal(r.error.code, 'store_unavailable');
    assert.equal(fetch.count(END), 3);
  });

  test('permanent errors (404, 403, 400) are not retried', async () => {
    for (const [status, code] of [[404, 'session_not_found'], [403, 'forbidden'], [400, 'bad_request']]) {
      const { c, fetch } = client({ [END]: [reply(status, { success: false, error: 'no', code })] });
      const r = await c.reportEnd(REPORT);
      assert.equal(r.ok, false);
      assert.equal(r.error.code, code);
      assert.equal(r.error.status, status);
      assert.equal(fetch.count(END), 1);
    }
  });

  test('idempotent: the same session is reported once; the server says alreadyEnded on a repeat', async () => {
    const { c, fetch } = client({ [END]: [reply(200, endBody(REPORT)), reply(200, endBody(REPORT, true))] });
    const [a, b] = await Promise.all([c.reportEnd(REPORT), c.reportEnd(REPORT)]);
    assert.equal(a, b);
    assert.equal(fetch.count(END), 1);
    assert.equal(await c.reportEnd({ ...REPORT, messageCount: 99 }), a, 'a recorded end is final');
    const other = createVoicegateClient({ baseUrl: 'https://vg.example.test', fetch });
    const again = await other.reportEnd(REPORT);
    assert.equal(again.ok, true);
    assert.equal(again.alreadyEnded, true, "the server's own idempotence is surfaced");
  });

  test('a failed report may be tried again later', async () => {
    const { c, fetch } = client({ [END]: [reply(404, { success: false, error: 'no', code: 'not_found' }), reply(200, endBody(REPORT))] });
    assert.equal((await c.reportEnd(REPORT)).ok, false);
    assert.equal((await c.reportEnd(REPORT)).ok, true);
    assert.equal(fetch.count(END), 2);
  });

  test('an invalid report is not sent', async () => {
    const { c, fetch } = client({ [END]: [reply(200, endBody(REPORT))] });
    const r = await c.reportEnd({ ...REPORT, endedBy: 'crash' });
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 0);
    assert.equal(r.error.code, 'bad_request');
    assert.equal(fetch.count(END), 0);
  });
});
