// connect() and the session: the seed's WebRTC start with injected classes, events, the time
// limit and end(), against a fake fetch and a fake RTCPeerConnection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVoicegateClient } from '../dist/esm/index.js';
import {
  FakeStream, FakeTrack, endBody, fakeFetch, fakeMediaDevices, fakePeerConnectionClass, manualClock,
  recordingSleep, reply, tokenBody,
} from './fakes.mjs';

const TOKEN = 'POST /api/realtime/token';
const END = 'POST /api/realtime/end';
const ATTACH = 'POST /api/realtime/attach';
const UPSTREAM = 'https://upstream.example.test/v1/realtime/calls';
const CALLS = 'POST /v1/realtime/calls';
const ANSWER = 'v=0\r\no=- fake-answer\r\n';

function answer(callId = 'rtc_fake1') {
  return reply(201, ANSWER, { 'Content-Type': 'application/sdp', Location: `/v1/realtime/calls/${callId}` });
}

function setup(routes = {}, extra = {}) {
  const fetch = fakeFetch({
    [TOKEN]: (u, i, n) => reply(200, tokenBody(n + 1)),
    [CALLS]: [answer()],
    [END]: (u, init) => reply(200, endBody(JSON.parse(init.body))),
    [ATTACH]: [reply(200, { success: true })],
    ...routes,
  });
  const clock = manualClock();
  const sleep = recordingSleep();
  const client = createVoicegateClient({ baseUrl: 'https://vg.example.test', fetch, now: clock.now, sleep, random: () => 0.5, ...extra });
  const PC = fakePeerConnectionClass(extra.pc);
  const mediaDevices = fakeMediaDevices();
  const opts = (more = {}) => ({ config: { userId: 'u1' }, RTCPeerConnection: PC, mediaDevices, upstreamUrl: UPSTREAM, ...more });
  return { client, fetch, clock, sleep, PC, mediaDevices, opts };
}

describe('connect', () => {
  test('does the whole start: token, mic, oai-events, offer POST with Bearer ek_, answer, call id', async () => {
    const { client, fetch, PC, mediaDevices, opts } = setup();
    const s = await client.connect(opts({ rtcConfiguration: { iceServers: [] } }));
    const pc = PC.instances[0];
    assert.deepEqual(pc.config, { iceServers: [] });
    assert.deepEqual(mediaDevices.requests, [{ audio: true, video: false }]);
    assert.equal(pc.tracks.length, 1);
    assert.equal(pc.tracks[0].stream, mediaDevices.stream);
    assert.deepEqual(pc.channels.map((c) => c.label), ['oai-events']);
    const post = fetch.calls.find((c) => c.key === CALLS);
    assert.equal(post.url, UPSTREAM);
    assert.equal(post.headers.Authorization, 'Bearer ek_fake-token-0001');
    assert.equal(post.headers['Content-Type'], 'application/sdp');
    assert.equal(post.body, 'v=0\r\no=- fake-offer\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n',
      'the offer as the peer connection made it: audio and the data channel');
    assert.deepEqual(pc.remote, { type: 'answer', sdp: ANSWER });
    assert.equal(s.callId, 'rtc_fake1');
    assert.equal(s.sessionId, 'sess_fake1');
    assert.ok(s.startedAt > 0);
    await s.end();
  });

  test('the default upstream is OpenAI GA calls endpoint', async () => {
    const { opts } = setup();
    const o = opts();
    delete o.upstreamUrl;
    const routes = fakeFetch({ [TOKEN]: [reply(200, tokenBody())], [CALLS]: [answer()], [ATTACH]: [reply(200, { success: true })] });
    const c2 = createVoicegateClient({ baseUrl: 'https://vg.example.test', fetch: routes });
    const s = await c2.connect(o);
    assert.equal(routes.calls.find((c) => c.key === CALLS).url, 'https://api.openai.com/v1/realtime/calls');
    s.close();
  });

  test('a wrong calls URL (the retired beta /v1/realtime?model=) is refused before any request', async () => {
    const { client, fetch, opts } = setup();
    await assert.rejects(client.connect(opts({ upstreamUrl: 'https://api.openai.com/v1/realtime?model=gpt-realtime' })),
      { code: 'bad_upstream_url' });
    assert.equal(fetch.calls.length, 0);
  });

  test('a given stream is used as is and its tracks are not stopped; video tracks are disabled', async () => {
    const { client, PC, mediaDevices, opts } = setup();
    const audio = new FakeTrack('audio');
    const video = new FakeTrack('video');
    const s = await client.connect(opts({ stream: new FakeStream([audio, video]), mediaDevices: undefined }));
    assert.equal(mediaDevices.requests.length, 0);
    assert.deepEqual(PC.instances[0].tracks.map((t) => t.track.kind), ['audio']);
    assert.equal(video.enabled, false);
    await s.end();
    assert.equal(audio.stopped, false, "the app's stream stays the app's");
  });

  test('a token given to connect() is used without a token request', async () => {
    const { client, fetch, opts } = setup();
    const s = await client.connect(opts({ token: tokenBody(7) }));
    assert.equal(fetch.count(TOKEN), 0);
    assert.equal(s.sessionId, 'sess_fake7');
    s.close();
  });

  test('uses a cached token, then drops it once it started a call', async () => {
    const { client, fetch, opts } = setup();
    const t = await client.getToken({ userId: 'u1' });
    const s = await client.connect(opts());
    assert.equal(s.sessionId, t.sessionId, 'the prefetched token started the call');
    assert.equal(fetch.count(TOKEN), 1);
    s.close();
    const next = await client.getToken({ userId: 'u1' });
    assert.notEqual(next.token, t.token, 'one session id per call: the next call gets a fresh token');
  });

  test('a cached token refused upstream (401) is replaced by a fresh one, once', async () => {
    const refused = reply(401, { error: { message: 'The client secret ek_fake-token-0001 has already been used.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    const { client, fetch, opts } = setup({ [CALLS]: [refused, answer('rtc_second')] });
    await client.getToken({ userId: 'u1' });
    const s = await client.connect(opts());
    assert.equal(s.callId, 'rtc_second');
    assert.equal(s.sessionId, 'sess_fake2');
    const posts = fetch.calls.filter((c) => c.key === CALLS);
    assert.deepEqual(posts.map((p) => p.headers.Authorization), ['Bearer ek_fake-token-0001', 'Bearer ek_fake-token-0002']);
    s.close();
  });

  test('an upstream refusal throws "OpenAI connection failed" with its code, no secret, and releases everything', async () => {
    const refused = reply(401, { error: { message: 'Incorrect API key provided: ek_fake-token-0001.', type: 'invalid_request_error', code: 'invalid_api_key' } },
      { 'x-request-id': 'req_up-1' });
    const { client, fetch, PC, mediaDevices, opts } = setup({ [CALLS]: [refused] });
    const err = await client.connect(opts()).catch((e) => e);
    assert.equal(err.name, 'VoicegateError');
    assert.equal(err.source, 'upstream');
    assert.equal(err.code, 'invalid_api_key');
    assert.equal(err.status, 401);
    assert.equal(err.requestId, 'req_up-1');
    assert.match(err.message, /^OpenAI connection failed \(HTTP 401\)/);
    assert.doesNotMatch(err.message, /fake-token-0001/);
    assert.ok(PC.instances[0].closed);
    assert.ok(mediaDevices.stream.tracks.every((t) => t.stopped));
    assert.equal(fetch.count(END), 0, 'no call was created: nothing to report');
    const again = await client.getToken({ userId: 'u1' });
    assert.equal(again.token, 'ek_fake-token-0002', 'the refused token is not cached');
  });

  test('a failed call start (network) keeps the token cached for the next try', async () => {
    const { client, fetch, opts } = setup({ [CALLS]: [new TypeError('offline'), answer()] });
    await assert.rejects(client.connect(opts()), { code: 'network_error', source: 'upstream' });
    const s = await client.connect(opts());
    assert.equal(fetch.count(TOKEN), 1, 'the unused token was reused');
    s.close();
  });

  test('a microphone failure is media_error and nothing is left open', async () => {
    const { client, PC, opts } = setup();
    const mediaDevices = { getUserMedia: async () => { throw new Error('NotAllowedError'); } };
    await assert.rejects(client.connect(opts({ mediaDevices })), { code: 'media_error' });
    assert.equal(PC.instances.length, 0);
  });

  test('an answer the peer connection refuses ends the created call with endedBy error', async () => {
    const { client, fetch, opts } = setup({}, { pc: { failRemote: true } });
    await assert.rejects(client.connect(opts()), { code: 'webrtc_error' });
    const end = fetch.calls.find((c) => c.key === END);
    assert.ok(end, 'the call exists upstream, so its end is recorded');
    assert.equal(JSON.parse(end.body).endedBy, 'error');
  });
});

describe('session events', () => {
  test('connection state, remote tracks, server events, transcripts and message count', async () => {
    const { client, PC, opts } = setup();
    const seen = { states: [], transcripts: [], events: [], tracks: 0, errors: [], open: 0 };
    const s = await client.connect(opts({ on: { connectionStateChange: (e) => seen.states.push(e.state) } }));
    s.on('transcript', (t) => seen.transcripts.push(t));
    s.on('serverEvent', (e) => seen.events.push(e.type));
    s.on('remoteTrack', () => { seen.tracks += 1; });
    s.on('error', (e) => seen.errors.push(e));
    s.on('dataChannelOpen', () => { seen.open += 1; });
    const pc = PC.instances[0];
    const dc = pc.channels[0];
    pc.setState('connecting');
    pc.setState('connected');
    pc.dispatch('track', { track: {}, streams: [{}] });
    assert.equal(s.send({ type: 'response.create' }), false, 'not open yet');
    dc.open();
    assert.equal(s.send({ type: 'response.create' }), true);
    assert.deepEqual(dc.sent.map((d) => JSON.parse(d)), [{ type: 'response.create' }]);
    dc.receive({ type: 'session.created', session: {} });
    dc.receive({ type: 'conversation.item.input_audio_transcription.delta', item_id: 'i1', delta: 'Hel' });
    dc.receive({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'i1', transcript: 'Hello' });
    dc.receive({ type: 'response.output_audio_transcript.delta', item_id: 'i2', delta: 'Hi ' });
    dc.receive({ type: 'response.output_audio_transcript.delta', item_id: 'i2', delta: 'there' });
    dc.receive({ type: 'response.output_audio_transcript.done', item_id: 'i2', transcript: 'Hi there' });
    dc.receive({ type: 'response.audio_transcript.done', item_id: 'i3', transcript: 'beta name' });
    dc.receive({ type: 'error', error: { type: 'invalid_request_error', code: 'unknown_parameter', message: 'nope' } });
    dc.receive('not json');
    assert.deepEqual(seen.states, ['connecting', 'connected']);
    assert.equal(seen.tracks, 1);
    assert.equal(seen.open, 1);
    assert.equal(seen.events[0], 'session.created');
    assert.deepEqual(seen.transcripts.map((t) => [t.role, t.text, t.final]), [
      ['user', 'Hel', false], ['user', 'Hello', true],
      ['assistant', 'Hi ', false], ['assistant', 'Hi there', false], ['assistant', 'Hi there', true],
      ['assistant', 'beta name', true],
    ]);
    assert.equal(s.messageCount, 3);
    assert.equal(seen.errors[0].code, 'unknown_parameter');
    assert.equal(seen.errors[0].source, 'upstream');
    const r = await s.end();
    assert.equal(r.report.messageCount, 3, 'end() defaults to the transcripts seen');
    assert.deepEqual(seen.states, ['connecting', 'connected', 'closed']);
  });

  test('a failed connection is reported and ends the session with endedBy error', async () => {
    const { client, fetch, PC, opts } = setup();
    const s = await client.connect(opts());
    const ended = new Promise((resolve) => s.on('ended', resolve));
    PC.instances[0].setState('failed');
    const r = await ended;
    assert.equal(r.report.endedBy, 'error');
    assert.equal(fetch.count(END), 1);
  });

  test('a listener that throws does not break the session; its error surfaces on a later tick', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { client, PC, opts } = setup();
    const s = await client.connect(opts());
    let second = 0;
    s.on('connectionStateChange', () => { throw new Error('app bug'); });
    s.on('connectionStateChange', () => { second += 1; });
    PC.instances[0].setState('connected');
    assert.equal(second, 1, 'the next listener still ran');
    assert.throws(() => t.mock.timers.tick(1), /app bug/, 'rethrown later, as an uncaught error');
    s.close();
  });
});

describe('time limit', () => {
  test('almost-up before the limit, time-up at it, then end with endedBy timeout', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { client, fetch, clock, opts } = setup();
    const events = [];
    const s = await client.connect(opts({ sessionTimeLimitMs: 5 * 60_000, warnBeforeMs: 60_000 }));
    s.on('timeAlmostUp', (e) => events.push(['almost', e.remainingMs, e.limitMs]));
    s.on('timeUp', (e) => events.push(['up', e.limitMs]));
    const ended = new Promise((resolve) => s.on('ended', resolve));
    clock.advance(4 * 60_000);
    t.mock.timers.tick(4 * 60_000);
    assert.deepEqual(events, [['almost', 60_000, 300_000]]);
    assert.equal(s.timeAlmostUp, true);
    clock.advance(60_000);
    t.mock.timers.tick(60_000);
    const r = await ended;
    assert.deepEqual(events[1], ['up', 300_000]);
    assert.equal(r.report.endedBy, 'timeout');
    assert.equal(r.report.duration, 300);
    assert.equal(fetch.count(END), 1);
  });

  test('the default limit is 30 minutes; autoEndOnTimeUp false leaves ending to the app', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { client, fetch, opts } = setup();
    const s = await client.connect(opts({ autoEndOnTimeUp: false }));
    let up = 0;
    s.on('timeUp', () => { up += 1; });
    t.mock.timers.tick(30 * 60_000 - 1);
    assert.equal(up, 0);
    t.mock.timers.tick(1);
    assert.equal(up, 1);
    assert.equal(fetch.count(END), 0);
    const r = await s.end();
    assert.equal(r.report.endedBy, 'timeout', 'after time-up, end() defaults to timeout');
  });
});

describe('end', () => {
  test('closes channel, tracks and connection, reports duration, count and endedBy once', async () => {
    const { client, fetch, clock, PC, mediaDevices, opts } = setup();
    const s = await client.connect(opts());
    clock.advance(320_400);
    const [a, b] = await Promise.all([s.end({ messageCount: 15 }), s.end({ messageCount: 99, endedBy: 'error' })]);
    assert.equal(a, b, 'idempotent: the second call gets the first result');
    assert.equal(fetch.count(END), 1);
    assert.deepEqual(JSON.parse(fetch.calls.find((c) => c.key === END).body),
      { sessionId: 'sess_fake1', duration: 320, messageCount: 15, endedBy: 'user' });
    assert.equal(a.ok, true);
    assert.equal(PC.instances[0].closed, true);
    assert.equal(PC.instances[0].channels[0].readyState, 'closed');
    assert.ok(mediaDevices.stream.tracks.every((t) => t.stopped));
    assert.equal(await s.end(), a);
  });

  test('a logging failure never throws: endReportFailed, then ended with ok false', async () => {
    const { client, fetch, opts } = setup({ [END]: [new TypeError('offline')] }, { endRetry: { attempts: 3 } });
    const s = await client.connect(opts());
    const failed = [];
    s.on('endReportFailed', (e) => failed.push(e));
    const r = await s.end();
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'network_error');
    assert.equal(fetch.count(END), 3);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].attempts, 3);
    assert.equal(failed[0].report.sessionId, 'sess_fake1');
  });

  test('an alreadyEnded answer counts as recorded', async () => {
    const { client, opts } = setup({ [END]: (u, init) => reply(200, endBody(JSON.parse(init.body), true)) });
    const s = await client.connect(opts());
    const r = await s.end();
    assert.equal(r.ok, true);
    assert.equal(r.alreadyEnded, true);
  });
});

describe('CommonJS build', () => {
  test('require() gives the same API', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const cjs = require('../dist/cjs/index.js');
    assert.equal(typeof cjs.createVoicegateClient, 'function');
    assert.equal(cjs.DEFAULT_UPSTREAM_URL, 'https://api.openai.com/v1/realtime/calls');
    const err = new cjs.VoicegateError({ code: 'x', message: 'm' });
    assert.equal(err.status, 0);
  });
});
