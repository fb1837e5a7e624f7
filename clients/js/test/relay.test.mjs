// connect({ flow: 'relay' }) and client.relayOffer(): the offer goes to voicegate's
// POST /api/realtime/calls (raw SDP or JSON form), the answer comes back from it, and no token
// is ever on the device. Fake fetch and fake RTCPeerConnection (test/fakes.mjs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVoicegateClient } from '../dist/esm/index.js';
import {
  endBody, fakeFetch, fakeMediaDevices, fakePeerConnectionClass, manualClock, recordingSleep, reply, tokenBody,
} from './fakes.mjs';

const RELAY = 'POST /api/realtime/calls';
const TOKEN = 'POST /api/realtime/token';
const END = 'POST /api/realtime/end';
const ATTACH = 'POST /api/realtime/attach';
const ANSWER = 'v=0\r\no=- relayed-answer\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n';
const AUDIO_ONLY_OFFER = 'v=0\r\no=- fake-offer\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';

/** The relay's answer in the raw SDP form (SPEC §7.1). */
function sdpAnswer(sessionId = 'sess_relay1', extraHeaders = {}) {
  return reply(201, ANSWER, {
    'Content-Type': 'application/sdp', 'X-Session-Id': sessionId,
    Location: `/api/realtime/calls/${sessionId}`, ...extraHeaders,
  });
}

/** The relay's answer in the JSON form. */
function jsonAnswer(sessionId = 'sess_relay2') {
  return reply(201, { success: true, sdp: ANSWER, sessionId, expiresAt: 2_000_000_100,
    config: { model: 'gpt-realtime', voice: 'marin' } }, { 'Content-Type': 'application/json' });
}

function errorReply(status, code, headers = {}) {
  return reply(status, { success: false, error: `refused: ${code}`, code }, { 'X-Request-Id': 'req_relay-1', ...headers });
}

function setup(routes = {}, extra = {}) {
  const fetch = fakeFetch({
    [RELAY]: [sdpAnswer()],
    [END]: (u, init) => reply(200, endBody(JSON.parse(init.body))),
    ...routes,
  });
  const sleep = recordingSleep();
  const client = createVoicegateClient({
    baseUrl: 'https://vg.example.test', fetch, now: manualClock().now, sleep, random: () => 0.5,
    getAuthToken: () => 'jwt-fake-relay', ...extra,
  });
  const PC = fakePeerConnectionClass(extra.pc);
  const mediaDevices = fakeMediaDevices();
  const opts = (more = {}) => ({ flow: 'relay', RTCPeerConnection: PC, mediaDevices, ...more });
  return { client, fetch, sleep, PC, mediaDevices, opts };
}

describe('relay: request shapes', () => {
  test('model, voice and profile only: the raw SDP form, config in the query, the app JWT', async () => {
    const { client, fetch, PC, opts } = setup();
    const s = await client.connect(opts({ config: { sessionConfig: { model: 'gpt-realtime', voice: 'marin', profile: 'diary two' } } }));
    assert.equal(fetch.calls.length, 1);
    const post = fetch.calls[0];
    assert.equal(post.url, 'https://vg.example.test/api/realtime/calls?model=gpt-realtime&voice=marin&profile=diary%20two');
    assert.equal(post.headers['Content-Type'], 'application/sdp');
    assert.equal(post.headers.Authorization, 'Bearer jwt-fake-relay', 'the same auth header as /token');
    assert.equal(post.body, AUDIO_ONLY_OFFER, 'the offer byte for byte');
    assert.deepEqual(PC.instances[0].remote, { type: 'answer', sdp: ANSWER });
    assert.equal(s.sessionId, 'sess_relay1');
    assert.equal(s.flow, 'relay');
    s.close();
  });

  test('no config at all: the raw SDP form without a query', async () => {
    const { client, fetch, opts } = setup();
    const s = await client.connect(opts());
    assert.equal(fetch.calls[0].url, 'https://vg.example.test/api/realtime/calls');
    assert.equal(fetch.calls[0].headers['Content-Type'], 'application/sdp');
    s.close();
  });

  test('a userId or other sessionConfig fields: the JSON form {userId, sessionConfig, sdp}', async () => {
    const { client, fetch, opts } = setup({ [RELAY]: [jsonAnswer()] });
    const config = { userId: 'user_12345', sessionConfig: { model: 'gpt-realtime', instructions: 'Be kind.', maxOutputTokens: 4096 } };
    const s = await client.connect(opts({ config }));
    const post = fetch.calls[0];
    assert.equal(post.url, 'https://vg.example.test/api/realtime/calls', 'nothing in the query');
    assert.equal(post.headers['Content-Type'], 'application/json');
    assert.equal(post.headers.Authorization, 'Bearer jwt-fake-relay');
    assert.deepEqual(JSON.parse(post.body), { ...config, sdp: AUDIO_ONLY_OFFER });
    assert.equal(s.sessionId, 'sess_relay2');
    assert.equal(s.expiresAt, 2_000_000_100);
    assert.deepEqual(s.config, { model: 'gpt-realtime', voice: 'marin' });
    s.close();
  });

  test('relayBody json forces the JSON form; sdp with a userId is refused before anything starts', async () => {
    const { client, fetch, mediaDevices, PC, opts } = setup({ [RELAY]: [jsonAnswer()] });
    const s = await client.connect(opts({ relayBody: 'json', config: { sessionConfig: { voice: 'cedar' } } }));
    assert.deepEqual(JSON.parse(fetch.calls[0].body), { sessionConfig: { voice: 'cedar' }, sdp: AUDIO_ONLY_OFFER });
    s.close();
    await assert.rejects(client.connect(opts({ relayBody: 'sdp', config: { userId: 'u1' } })), { code: 'bad_config' });
    await assert.rejects(client.connect(opts({ relayBody: 'xml' })), { code: 'bad_config' });
    assert.equal(fetch.calls.length, 1);
    assert.equal(mediaDevices.requests.length, 1, 'the microphone was not opened for the refused starts');
    assert.equal(PC.instances.length, 1);
  });

  test('without a JWT hook no Authorization header is sent', async () => {
    const { client, fetch, opts } = setup({}, { getAuthToken: undefined });
    const s = await client.connect(opts());
    assert.equal(fetch.calls[0].headers.Authorization, undefined);
    s.close();
  });
});

describe('relay: the offer and the device', () => {
  test('audio only by default: no data channel, no m=application, send() is false', async () => {
    const { client, fetch, PC, opts } = setup();
    const s = await client.connect(opts());
    assert.deepEqual(PC.instances[0].channels, []);
    assert.doesNotMatch(fetch.calls[0].body, /m=application/);
    assert.equal(s.dataChannel, undefined);
    assert.equal(s.send({ type: 'response.create' }), false);
    s.close();
  });

  test('dataChannel: true opens oai-events and offers it', async () => {
    const { client, fetch, PC, opts } = setup();
    const s = await client.connect(opts({ dataChannel: true }));
    assert.deepEqual(PC.instances[0].channels.map((c) => c.label), ['oai-events']);
    assert.match(fetch.calls[0].body, /m=application .*webrtc-datachannel/);
    PC.instances[0].channels[0].open();
    assert.equal(s.send({ type: 'response.create' }), true);
    s.close();
  });

  test('no token is ever requested, held or sent; no upstream request, no attach', async () => {
    const { client, fetch, opts } = setup({ [TOKEN]: [reply(200, tokenBody())] });
    const s = await client.connect(opts({ config: { sessionConfig: { model: 'gpt-realtime' } } }));
    assert.deepEqual(fetch.calls.map((c) => c.key), [RELAY]);
    assert.equal(s.attachment, undefined);
    assert.equal(s.callId, undefined, 'the upstream call id stays on the server');
    for (const [k, v] of Object.entries(s)) {
      assert.doesNotMatch(typeof v === 'string' ? v : '', /ek_/, `session.${k}`);
    }
    assert.doesNotMatch(JSON.stringify(fetch.calls.map((c) => [c.headers, c.body])), /ek_/);
    // Nothing was cached either: a token asked for now comes from the server.
    await client.getToken({ sessionConfig: { model: 'gpt-realtime' } });
    assert.equal(fetch.count(TOKEN), 1);
    s.close();
  });

  test('a token given in the relay flow is refused before anything starts', async () => {
    const { client, fetch, mediaDevices, opts } = setup();
    await assert.rejects(client.connect(opts({ token: tokenBody() })), { code: 'bad_config' });
    await assert.rejects(client.connect(opts({ flow: 'sip' })), { code: 'bad_config' });
    assert.equal(fetch.calls.length, 0);
    assert.equal(mediaDevices.requests.length, 0);
  });

  test('end() reports the relayed session id to /api/realtime/end', async () => {
    const { client, fetch, opts } = setup();
    const s = await client.connect(opts());
    const r = await s.end({ messageCount: 2 });
    assert.equal(r.ok, true);
    assert.deepEqual(JSON.parse(fetch.calls.find((c) => c.key === END).body),
      { sessionId: 'sess_relay1', duration: 0, messageCount: 2, endedBy: 'user' });
    assert.equal(fetch.count(ATTACH), 0);
  });
});

describe('relay: answers', () => {
  test('without X-Session-Id the session id comes from Location', async () => {
    const answer = reply(201, ANSWER, { 'Content-Type': 'text/plain; charset=utf-8', Location: '/api/realtime/calls/sess_fromLocation' });
    const { client, opts } = setup({ [RELAY]: [answer] });
    const s = await client.connect(opts());
    assert.equal(s.sessionId, 'sess_fromLocation');
    s.close();
  });

  for (const [name, res] of [
    ['no session id at all', reply(201, ANSWER, { 'Content-Type': 'application/sdp' })],
    ['a body that is not SDP', reply(201, '<html>proxy</html>', { 'X-Session-Id': 'sess_x' })],
    ['JSON without sdp', reply(201, { success: true, sessionId: 'sess_x' })],
  ]) {
    test(`${name} is bad_response and leaves nothing running`, async () => {
      const { client, fetch, PC, mediaDevices, opts } = setup({ [RELAY]: [res] });
      await assert.rejects(client.connect(opts()), { code: 'bad_response', status: 201, source: 'voicegate' });
      assert.equal(PC.instances[0].closed, true);
      assert.ok(mediaDevices.stream.tracks.every((t) => t.stopped));
      assert.equal(fetch.count(END), 0, 'no session id to report');
    });
  }

  test('an answer the peer connection refuses ends the relayed call with endedBy error', async () => {
    const { client, fetch, opts } = setup({}, { pc: { failRemote: true } });
    await assert.rejects(client.connect(opts()), { code: 'webrtc_error', source: 'voicegate' });
    assert.deepEqual(JSON.parse(fetch.calls.find((c) => c.key === END).body),
      { sessionId: 'sess_relay1', duration: 0, messageCount: 0, endedBy: 'error' });
  });
});

describe('relay: errors map as the token errors do', () => {
  for (const [status, code, headers] of [
    [400, 'invalid_sdp', {}],
    [400, 'sdp_policy', {}],
    [401, 'unauthorized', { 'WWW-Authenticate': 'Bearer' }],
    [403, 'quota_exhausted', {}],
    [502, 'upstream_error', {}],
    [504, 'upstream_timeout', {}],
  ]) {
    test(`HTTP ${status} ${code}: thrown with code, status and request id, not retried, nothing left open`, async () => {
      const { client, fetch, PC, mediaDevices, opts } = setup({ [RELAY]: [errorReply(status, code, headers)] });
      const err = await client.connect(opts()).catch((e) => e);
      assert.equal(err.name, 'VoicegateError');
      assert.equal(err.code, code);
      assert.equal(err.status, status);
      assert.equal(err.source, 'voicegate');
      assert.equal(err.requestId, 'req_relay-1');
      assert.equal(err.message, `refused: ${code}`);
      assert.equal(fetch.count(RELAY), 1, 'a relay request is not idempotent: not retried');
      assert.equal(fetch.count(END), 0);
      assert.equal(PC.instances[0].closed, true);
      assert.ok(mediaDevices.stream.tracks.every((t) => t.stopped));
    });
  }

  test('429 with a short Retry-After is waited out and retried once (nothing was issued)', async () => {
    const { client, fetch, sleep, opts } = setup({ [RELAY]: [errorReply(429, 'rate_limited', { 'Retry-After': '2' }), sdpAnswer()] });
    const s = await client.connect(opts());
    assert.equal(fetch.count(RELAY), 2);
    assert.deepEqual(sleep.delays, [2000]);
    assert.equal(fetch.calls[0].body, fetch.calls[1].body, 'the same offer again');
    s.close();
  });

  test('429 with a long Retry-After is thrown with retryAfterMs for the app', async () => {
    const { client, fetch, sleep, opts } = setup({ [RELAY]: [errorReply(429, 'rate_limited', { 'Retry-After': '60' })] });
    const err = await client.connect(opts()).catch((e) => e);
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.retryAfterMs, 60_000);
    assert.equal(err.retryable, true);
    assert.equal(fetch.count(RELAY), 1);
    assert.deepEqual(sleep.delays, []);
  });

  test('no answer at all is network_error from voicegate', async () => {
    const { client, opts } = setup({ [RELAY]: [new TypeError('offline')] });
    await assert.rejects(client.connect(opts()), { code: 'network_error', status: 0, source: 'voicegate' });
  });
});

describe('client.relayOffer', () => {
  test('posts an offer the app made itself and returns answer and session id', async () => {
    const { client, fetch } = setup({ [RELAY]: [sdpAnswer('sess_own')] });
    const call = await client.relayOffer('v=0\r\no=- own\r\n', { sessionConfig: { profile: 'diary' } });
    assert.deepEqual(call, { sdp: ANSWER, sessionId: 'sess_own', config: {} });
    assert.equal(fetch.calls[0].url, 'https://vg.example.test/api/realtime/calls?profile=diary');
    assert.equal(fetch.calls[0].body, 'v=0\r\no=- own\r\n');
  });

  test('an empty offer is bad_config and nothing is sent', async () => {
    const { client, fetch } = setup();
    await assert.rejects(client.relayOffer(''), { code: 'bad_config' });
    assert.equal(fetch.calls.length, 0);
  });
});
