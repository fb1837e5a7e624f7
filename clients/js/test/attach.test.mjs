// The token flow's attach (SPEC §7.2): after the upstream answered, connect() reads the call id
// from its Location and posts {sessionId, callId} to POST /api/realtime/attach in the background,
// with retries on 5xx and network errors; a failure is reported (attachFailed) and never drops
// the call. Fake fetch and fake RTCPeerConnection (test/fakes.mjs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVoicegateClient } from '../dist/esm/index.js';
import {
  endBody, fakeFetch, fakeMediaDevices, fakePeerConnectionClass, manualClock, recordingSleep, reply, tokenBody,
} from './fakes.mjs';

const TOKEN = 'POST /api/realtime/token';
const END = 'POST /api/realtime/end';
const ATTACH = 'POST /api/realtime/attach';
const CALLS = 'POST /v1/realtime/calls';
const UPSTREAM = 'https://upstream.example.test/v1/realtime/calls';
const ANSWER = 'v=0\r\no=- fake-answer\r\n';

function upstreamAnswer(location = '/v1/realtime/calls/rtc_u0_fake1') {
  const headers = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (location !== null) headers.Location = location;
  return reply(201, ANSWER, headers);
}

const attached = () => reply(200, { success: true });
const failure = (status, code) => reply(status, { success: false, error: `attach: ${code}`, code });

function setup(routes = {}, extra = {}) {
  const fetch = fakeFetch({
    [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1)),
    [CALLS]: [upstreamAnswer()],
    [END]: (u, init) => reply(200, endBody(JSON.parse(init.body))),
    [ATTACH]: [attached()],
    ...routes,
  });
  const sleep = extra.sleep ?? recordingSleep();
  const client = createVoicegateClient({
    baseUrl: 'https://vg.example.test', fetch, now: manualClock().now, sleep, random: () => 0.5,
    getAuthToken: () => 'jwt-fake-attach', ...extra,
  });
  const PC = fakePeerConnectionClass();
  const opts = (more = {}) => ({
    config: { userId: 'u1' }, RTCPeerConnection: PC, mediaDevices: fakeMediaDevices(), upstreamUrl: UPSTREAM, ...more,
  });
  return { client, fetch, sleep, PC, opts };
}

/** Records the session's attach events. */
function watch(more = {}) {
  const seen = { attached: [], failed: [], errors: [] };
  return {
    seen,
    opts: {
      ...more,
      on: {
        attached: (e) => seen.attached.push(e),
        attachFailed: (e) => seen.failed.push(e),
        error: (e) => seen.errors.push(e),
      },
    },
  };
}

describe('token flow: attach', () => {
  test('posts {sessionId, callId} from Location with the app JWT, then fires attached', async () => {
    const { client, fetch, opts } = setup();
    const { seen, opts: on } = watch();
    const s = await client.connect(opts(on));
    const result = await s.attachment;
    assert.deepEqual(result, { ok: true, attempts: 1 });
    const post = fetch.calls.find((c) => c.key === ATTACH);
    assert.equal(post.url, 'https://vg.example.test/api/realtime/attach');
    assert.equal(post.headers['Content-Type'], 'application/json');
    assert.equal(post.headers.Authorization, 'Bearer jwt-fake-attach', 'voicegate auth, never the ek_');
    assert.deepEqual(JSON.parse(post.body), { sessionId: 'sess_fake1', callId: 'rtc_u0_fake1' });
    assert.deepEqual(seen.attached, [{ sessionId: 'sess_fake1', callId: 'rtc_u0_fake1', attempts: 1 }]);
    assert.deepEqual(seen.failed, []);
    assert.ok(fetch.calls.findIndex((c) => c.key === ATTACH) > fetch.calls.findIndex((c) => c.key === CALLS),
      'after the upstream answered');
    s.close();
  });

  for (const [location, callId] of [
    ['https://api.openai.com/v1/realtime/calls/rtc_u2_AbC123xyz', 'rtc_u2_AbC123xyz'],
    ['/v1/realtime/calls/rtc_0123456789abcdef0123456789abcdef/', 'rtc_0123456789abcdef0123456789abcdef'],
    ['/v1/realtime/calls/rtc_q?x=1#frag', 'rtc_q'],
    ['/v1/realtime/calls/rtc_%41pct', 'rtc_Apct'],
  ]) {
    test(`the call id is the last path segment of Location ${location}`, async () => {
      const { client, fetch, opts } = setup({ [CALLS]: [upstreamAnswer(location)] });
      const s = await client.connect(opts());
      await s.attachment;
      assert.equal(s.callId, callId);
      assert.equal(JSON.parse(fetch.calls.find((c) => c.key === ATTACH).body).callId, callId);
      s.close();
    });
  }

  test('5xx and network errors are retried with back-off; success on the third attempt', async () => {
    const { client, fetch, sleep, opts } = setup({ [ATTACH]: [failure(503, 'store_unavailable'), new TypeError('offline'), attached()] });
    const { seen, opts: on } = watch();
    const s = await client.connect(opts(on));
    assert.deepEqual(await s.attachment, { ok: true, attempts: 3 });
    assert.equal(fetch.count(ATTACH), 3);
    assert.deepEqual(sleep.delays, [500, 1000]);
    assert.deepEqual(seen.attached.map((e) => e.attempts), [3]);
    s.close();
  });

  test('after every attempt failed: attachFailed, and the call goes on', async () => {
    const { client, fetch, PC, opts } = setup({ [ATTACH]: [failure(502, 'bad_gateway')] });
    const { seen, opts: on } = watch();
    const s = await client.connect(opts(on));
    const r = await s.attachment;
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 3);
    assert.equal(r.error.code, 'bad_gateway');
    assert.equal(fetch.count(ATTACH), 3);
    assert.equal(seen.failed.length, 1);
    assert.equal(seen.failed[0].error.status, 502);
    assert.equal(seen.failed[0].attempts, 3);
    assert.deepEqual(seen.errors, [], 'not an error of the call');
    assert.equal(PC.instances[0].closed, false, 'the working call is not dropped');
    assert.equal(fetch.count(END), 0);
    assert.ok(s.startedAt > 0);
    const end = await s.end();
    assert.equal(end.ok, true);
  });

  test('a refusal (403, 404) is not retried', async () => {
    for (const [status, code] of [[403, 'forbidden'], [404, 'session_not_found']]) {
      const { client, fetch, opts } = setup({ [ATTACH]: [failure(status, code)] });
      const { seen, opts: on } = watch();
      const s = await client.connect(opts(on));
      const r = await s.attachment;
      assert.equal(r.attempts, 1);
      assert.equal(r.error.code, code);
      assert.equal(fetch.count(ATTACH), 1);
      assert.equal(seen.failed[0].error.status, status);
      s.close();
    }
  });

  test('attachRetry sets the attempts and the back-off', async () => {
    const { client, fetch, sleep, opts } = setup({ [ATTACH]: [new TypeError('offline')] },
      { attachRetry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 250 } });
    const s = await client.connect(opts());
    const r = await s.attachment;
    assert.equal(r.error.code, 'network_error');
    assert.equal(fetch.count(ATTACH), 4);
    assert.deepEqual(sleep.delays, [100, 200, 250]);
    s.close();
  });

  test('no Location: no attach request, attachFailed with missing_call_id', async () => {
    const { client, fetch, opts } = setup({ [CALLS]: [upstreamAnswer(null)] });
    const { seen, opts: on } = watch();
    const s = await client.connect(opts(on));
    const r = await s.attachment;
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 0);
    assert.equal(r.error.code, 'missing_call_id');
    assert.equal(fetch.count(ATTACH), 0);
    assert.equal(s.callId, undefined);
    assert.equal(seen.failed.length, 1);
    assert.equal(s.peerConnection.closed, false);
    s.close();
  });

  test('attach: false sends nothing', async () => {
    const { client, fetch, opts } = setup();
    const s = await client.connect(opts({ attach: false }));
    assert.equal(s.attachment, undefined);
    await s.end();
    assert.equal(fetch.count(ATTACH), 0);
  });

  test('a session that ends during the back-off stops retrying', async () => {
    let session;
    const sleep = async () => { if (session) await session.end(); };
    const { client, fetch, opts } = setup({ [ATTACH]: [failure(503, 'store_unavailable')] }, { sleep });
    session = await client.connect(opts());
    const r = await session.attachment;
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 1);
    assert.equal(fetch.count(ATTACH), 1);
    assert.equal(fetch.count(END), 1);
  });

  test('after a cached token was refused (401), the fresh session id is attached', async () => {
    const refused = reply(401, { error: { message: 'used', type: 'invalid_request_error', code: 'invalid_api_key' } });
    const { client, fetch, opts } = setup({ [CALLS]: [refused, upstreamAnswer('/v1/realtime/calls/rtc_second')] });
    await client.getToken({ userId: 'u1' });
    const s = await client.connect(opts());
    await s.attachment;
    assert.deepEqual(JSON.parse(fetch.calls.find((c) => c.key === ATTACH).body), { sessionId: 'sess_fake2', callId: 'rtc_second' });
    s.close();
  });

  test('a failed start attaches nothing', async () => {
    const { client, fetch, opts } = setup({ [CALLS]: [reply(500, { error: { message: 'boom', code: 'server_error' } })] });
    await assert.rejects(client.connect(opts()), { source: 'upstream' });
    assert.equal(fetch.count(ATTACH), 0);
  });
});

describe('client.attachCall', () => {
  test('posts the pair for apps that run WebRTC themselves; never throws', async () => {
    const { client, fetch } = setup();
    assert.deepEqual(await client.attachCall('sess_own', 'rtc_own'), { ok: true, attempts: 1 });
    assert.deepEqual(JSON.parse(fetch.calls[0].body), { sessionId: 'sess_own', callId: 'rtc_own' });
    const r = await client.attachCall('sess_own', '');
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 0);
    assert.equal(r.error.code, 'bad_request');
    assert.equal(fetch.calls.length, 1);
  });

  test('a 200 without success is bad_response', async () => {
    const { client } = setup({ [ATTACH]: [reply(200, 'ok')] });
    const r = await client.attachCall('sess_own', 'rtc_own');
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'bad_response');
  });
});
