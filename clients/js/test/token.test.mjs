// getToken: request shape, in-memory cache, expiry margin, error mapping, Retry-After.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVoicegateClient, VoicegateError, isVoicegateError, parseRetryAfter } from '../dist/esm/index.js';
import { fakeFetch, manualClock, recordingSleep, reply, tokenBody } from './fakes.mjs';

const BASE = 'https://vg.example.test';
const TOKEN = 'POST /api/realtime/token';

function client(routes, extra = {}) {
  const fetch = fakeFetch(routes);
  const clock = manualClock();
  const sleep = recordingSleep();
  const c = createVoicegateClient({ baseUrl: `${BASE}/`, fetch, now: clock.now, sleep, ...extra });
  return { c, fetch, clock, sleep };
}

describe('getToken', () => {
  test('posts the request as JSON with the app JWT, returns the token fields', async () => {
    const { c, fetch } = client({ [TOKEN]: [reply(200, tokenBody(1, 2_000_000_000, { warnings: ['w'] }))] },
      { getAuthToken: async () => 'jwt-fake-1' });
    const config = { userId: 'user_1', sessionConfig: { model: 'gpt-realtime', voice: 'alloy', temperature: 0.8 } };
    const t = await c.getToken(config);
    assert.deepEqual(t, { token: 'ek_fake-token-0001', sessionId: 'sess_fake1', expiresAt: 2_000_000_000,
      config: { model: 'gpt-realtime', voice: 'alloy' }, warnings: ['w'] });
    const call = fetch.calls[0];
    assert.equal(call.url, `${BASE}/api/realtime/token`, 'trailing slash of baseUrl removed');
    assert.equal(call.headers.Authorization, 'Bearer jwt-fake-1');
    assert.equal(call.headers['Content-Type'], 'application/json');
    assert.deepEqual(JSON.parse(call.body), config);
  });

  test('no Authorization header without getAuthToken (or when it returns nothing)', async () => {
    const { c, fetch } = client({ [TOKEN]: [reply(200, tokenBody())] }, { getAuthToken: () => null });
    await c.getToken();
    assert.equal(fetch.calls[0].headers.Authorization, undefined);
    assert.deepEqual(JSON.parse(fetch.calls[0].body), {});
  });

  test('an identical config reuses the cached token (key order does not matter)', async () => {
    const { c, fetch } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1)) });
    const a = await c.getToken({ userId: 'u', sessionConfig: { model: 'm', voice: 'alloy' } });
    const b = await c.getToken({ sessionConfig: { voice: 'alloy', model: 'm' }, userId: 'u' });
    assert.equal(b.token, a.token);
    assert.equal(fetch.count(TOKEN), 1);
    const other = await c.getToken({ userId: 'u', sessionConfig: { model: 'm', voice: 'ash' } });
    assert.notEqual(other.token, a.token, 'another config gets its own token');
    assert.equal(fetch.count(TOKEN), 2);
  });

  test('a different app JWT (another user) never gets a cached token', async () => {
    let jwt = 'jwt-user-a';
    const { c, fetch } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1)) }, { getAuthToken: () => jwt });
    const a = await c.getToken({});
    jwt = 'jwt-user-b';
    const b = await c.getToken({});
    assert.notEqual(a.token, b.token);
    assert.equal(fetch.count(TOKEN), 2);
  });

  test('concurrent identical requests share one HTTP call', async () => {
    const { c, fetch } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1)) });
    const [a, b, d] = await Promise.all([c.getToken({}), c.getToken({}), c.getToken({})]);
    assert.equal(fetch.count(TOKEN), 1);
    assert.equal(a.token, b.token);
    assert.equal(a.token, d.token);
  });

  test('expiry margin: reused until 60 s before expiresAt, fetched again from then on', async () => {
    const { c, fetch, clock } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1, Math.floor(clock.t / 1000) + 1800)) });
    const start = clock.t;
    const first = await c.getToken({});
    const expiresMs = first.expiresAt * 1000;
    clock.t = expiresMs - 60_000 - 1;
    assert.equal((await c.getToken({})).token, first.token, 'just before the margin: cached');
    clock.t = expiresMs - 60_000;
    const second = await c.getToken({});
    assert.notEqual(second.token, first.token, 'at the margin: a fresh token');
    assert.equal(fetch.count(TOKEN), 2);
    assert.ok(start < expiresMs);
  });

  test('a custom margin of 0 still never hands out a token at or after expiresAt', async () => {
    const { c, fetch, clock } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1, 1_900_000_100)) },
      { tokenRefreshMarginMs: 0 });
    clock.t = 1_900_000_099_999;
    const a = await c.getToken({});
    assert.equal((await c.getToken({})).token, a.token);
    clock.t = 1_900_000_100_000;
    assert.notEqual((await c.getToken({})).token, a.token);
    assert.equal(fetch.count(TOKEN), 2);
  });

  test('a token that arrives already inside the margin is not reused', async () => {
    const { c, fetch, clock } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1, Math.floor(clock.t / 1000) + 30)) });
    await c.getToken({});
    await c.getToken({});
    assert.equal(fetch.count(TOKEN), 2);
  });

  test('forceRefresh and invalidateToken bypass the cache', async () => {
    const { c, fetch } = client({ [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1)) });
    const a = await c.getToken({});
    const b = await c.getToken({}, { forceRefresh: true });
    assert.notEqual(a.token, b.token);
    c.invalidateToken(b.token);
    const d = await c.getToken({});
    assert.notEqual(d.token, b.token);
    c.invalidateToken();
    await c.getToken({});
    assert.equal(fetch.count(TOKEN), 4);
  });

  test('failures are not cached', async () => {
    const { c, fetch } = client({ [TOKEN]: [reply(502, { success: false, error: 'Upstream error', code: 'upstream_error' }), reply(200, tokenBody())] });
    await assert.rejects(c.getToken({}), { code: 'upstream_error' });
    assert.equal((await c.getToken({})).token, 'ek_fake-token-0001');
    assert.equal(fetch.count(TOKEN), 2);
  });
});

describe('error mapping', () => {
  test("a voicegate error carries the server's code, message, status, request id and details", async () => {
    const { c } = client({ [TOKEN]: [reply(400, { success: false, error: 'voice: not one of the allowed voices', code: 'invalid_voice', details: 'dev' },
      { 'X-Request-Id': 'req_fake-1' })] });
    const err = await c.getToken({ sessionConfig: { voice: 'nope' } }).catch((e) => e);
    assert.ok(err instanceof VoicegateError);
    assert.ok(isVoicegateError(err));
    assert.equal(err.name, 'VoicegateError');
    assert.equal(err.code, 'invalid_voice');
    assert.equal(err.status, 400);
    assert.equal(err.source, 'voicegate');
    assert.equal(err.message, 'voice: not one of the allowed voices');
    assert.equal(err.requestId, 'req_fake-1');
    assert.equal(err.details, 'dev');
    assert.equal(err.retryable, false);
  });

  // The client maps no status to a code: the server's `code` passes through unchanged, and the
  // status decides only `retryable` (test review D13).
  for (const [status, code] of [[401, 'invalid_token'], [403, 'quota_exhausted'], [404, 'not_found'], [504, 'upstream_timeout']]) {
    test(`HTTP ${status}: the server's code ${code} passes through, retryable is ${status >= 500}`, async () => {
      const { c } = client({ [TOKEN]: [reply(status, { success: false, error: 'x', code })] });
      await assert.rejects(c.getToken({}), (e) => e.code === code && e.status === status && e.retryable === (status >= 500));
    });
  }

  for (const status of [401, 503]) {
    test(`HTTP ${status} with an error but no code is code "error", retryable is ${status >= 500}`, async () => {
      const { c } = client({ [TOKEN]: [reply(status, { success: false, error: 'no code here' })] });
      await assert.rejects(c.getToken({}), (e) => e.code === 'error' && e.status === status &&
        e.message === 'no code here' && e.source === 'voicegate' && e.retryable === (status >= 500));
    });
  }

  test('a non-JSON answer is bad_response with its status', async () => {
    const { c } = client({ [TOKEN]: [reply(502, '<html>Bad gateway</html>')] });
    await assert.rejects(c.getToken({}), { code: 'bad_response', status: 502 });
  });

  test('a 200 without success or fields is bad_response', async () => {
    const { c } = client({ [TOKEN]: [reply(200, { success: true, token: 'ek_fake-x' })] });
    await assert.rejects(c.getToken({}), { code: 'bad_response', status: 200 });
  });

  test('no answer at all is network_error (status 0, retryable)', async () => {
    const { c } = client({ [TOKEN]: [new TypeError('fetch failed')] });
    const err = await c.getToken({}).catch((e) => e);
    assert.equal(err.code, 'network_error');
    assert.equal(err.status, 0);
    assert.equal(err.retryable, true);
  });

  test('a hanging server is a timeout after timeouts.tokenMs', async () => {
    const { c } = client({ [TOKEN]: () => new Promise(() => {}) }, { timeouts: { tokenMs: 20 } });
    await assert.rejects(c.getToken({}), { code: 'timeout', status: 0 });
  });

  test('secrets in messages are redacted', async () => {
    const { c } = client({ [TOKEN]: [reply(500, { success: false, error: 'bad ek_fake-secret-abcd1234 and sk-proj-fake-key-123456', code: 'x' })] });
    const err = await c.getToken({}).catch((e) => e);
    assert.doesNotMatch(err.message, /fake-secret|fake-key/);
    assert.match(err.message, /ek_…1234/);
  });

  test('a failing getAuthToken is auth_token_failed, and nothing is sent', async () => {
    const { c, fetch } = client({ [TOKEN]: [reply(200, tokenBody())] }, { getAuthToken: async () => { throw new Error('signed out'); } });
    await assert.rejects(c.getToken({}), (e) => e.code === 'auth_token_failed' && e.retryable === false);
    assert.equal(fetch.calls.length, 0);
  });

  test('baseUrl must be http(s)', () => {
    assert.throws(() => createVoicegateClient({ baseUrl: 'voice.example' }), { code: 'bad_config' });
  });
});

describe('Retry-After', () => {
  test('parseRetryAfter reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('17', 0), 17_000);
    assert.equal(parseRetryAfter('0.5', 0), 500);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(parseRetryAfter(null, 0), undefined);
    assert.equal(parseRetryAfter('soon', 0), undefined);
  });

  test('a short Retry-After on 429 is waited out and the request retried once', async () => {
    const { c, fetch, sleep } = client({ [TOKEN]: [
      reply(429, { success: false, error: 'Too many token requests', code: 'rate_limited' }, { 'Retry-After': '2' }),
      reply(200, tokenBody()),
    ] });
    assert.equal((await c.getToken({})).token, 'ek_fake-token-0001');
    assert.deepEqual(sleep.delays, [2000]);
    assert.equal(fetch.count(TOKEN), 2);
  });

  test('a 503 with Retry-After is retried too, but only maxRetries times', async () => {
    const busy = reply(503, { success: false, error: 'busy', code: 'upstream_unavailable' }, { 'Retry-After': '1' });
    const { c, fetch, sleep } = client({ [TOKEN]: [busy, busy, busy] });
    const err = await c.getToken({}).catch((e) => e);
    assert.equal(err.code, 'upstream_unavailable');
    assert.equal(err.retryAfterMs, 1000);
    assert.equal(fetch.count(TOKEN), 2, 'one retry by default');
    assert.deepEqual(sleep.delays, [1000]);
  });

  test('a long Retry-After is not waited: the error carries retryAfterMs for the app', async () => {
    const { c, fetch, sleep } = client({ [TOKEN]: [reply(429, { success: false, error: 'Too many token requests', code: 'rate_limited' }, { 'Retry-After': '17' })] });
    const err = await c.getToken({}).catch((e) => e);
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 17_000);
    assert.equal(err.retryable, true);
    assert.equal(fetch.count(TOKEN), 1);
    assert.deepEqual(sleep.delays, []);
  });

  test('maxRetries 0 disables the automatic retry; 429 without Retry-After is not retried', async () => {
    const limited = reply(429, { success: false, error: 'x', code: 'rate_limited' }, { 'Retry-After': '1' });
    const a = client({ [TOKEN]: [limited] }, { tokenRetry: { maxRetries: 0 } });
    await assert.rejects(a.c.getToken({}), { code: 'rate_limited', retryAfterMs: 1000 });
    assert.equal(a.fetch.count(TOKEN), 1);
    const b = client({ [TOKEN]: [reply(429, { success: false, error: 'x', code: 'rate_limited' })] });
    await assert.rejects(b.c.getToken({}), { code: 'rate_limited', retryAfterMs: undefined });
    assert.equal(b.fetch.count(TOKEN), 1);
  });

  test('other errors (400, 502) are never retried: a token request is not idempotent', async () => {
    const { c, fetch } = client({ [TOKEN]: [reply(502, { success: false, error: 'x', code: 'upstream_error' }, { 'Retry-After': '1' })] });
    await assert.rejects(c.getToken({}), { code: 'upstream_error' });
    assert.equal(fetch.count(TOKEN), 1);
  });
});
