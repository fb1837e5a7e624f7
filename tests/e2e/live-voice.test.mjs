// Browser test of the console's live voice session (issue 5): the client library (clients/js,
// embedded at /lib/index.js) in headless Chromium with fake media devices, against the real
// binary and its built-in emulator: token → offer → the emulator's SDP answer accepted by
// setRemoteDescription → call id from Location → the call id reported to /api/realtime/attach →
// end → the record through the API. The relay flow's round trip is in live-relay.test.mjs.
//
// Artifacts (gitignored): test-artifacts/live-voice.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ACTION_MS, ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, newPage, startServer, stopServer,
} from './support.mjs';

const MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

async function postJson(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('console: live voice session', { timeout: 120_000 }, () => {
  let server;
  let browser;
  let page;
  const pageErrors = [];
  const calls = []; // what the page posted to the upstream calls endpoint, and what it got back
  const attaches = []; // what the page posted to /api/realtime/attach

  before(async () => {
    server = startServer();
    await server.ready;
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...MEDIA_ARGS], timeout: 30_000,
    });
    const context = await browser.newContext();
    page = await newPage(context, pageErrors);
    page.on('request', (req) => {
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/v1/realtime/calls') {
        const headers = req.headers();
        calls.push({
          url: req.url(),
          bearerIsEk: /^Bearer ek_[A-Za-z0-9_-]+$/.test(headers.authorization ?? ''),
          contentType: headers['content-type'],
          offer: req.postData() ?? '',
          response: req.response(),
        });
      }
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/realtime/attach') {
        attaches.push({ contentType: req.headers()['content-type'], body: JSON.parse(req.postData() ?? 'null') });
      }
    });
    await page.goto(`${server.baseUrl}/`);
    await page.locator('body[data-ready="true"]').waitFor();
  });

  after(async () => {
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'live-voice.png'), fullPage: true }).catch(() => {});
    await browser?.close();
    if (server) {
      const fs = await import('node:fs');
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      fs.writeFileSync(path.join(ARTIFACTS, 'e2e-live-voice-server.log'), server.log());
    }
    await stopServer(server);
  });

  test('the library is embedded at /lib/ and the upstream is the emulator on this origin', async () => {
    const lib = await fetch(`${server.baseUrl}/lib/index.js`);
    assert.equal(lib.status, 200);
    assert.match(lib.headers.get('content-type'), /^text\/javascript/);
    assert.match(await lib.text(), /createVoicegateClient/);
    assert.equal(await page.locator('#live-upstream').inputValue(), '/v1/realtime/calls');
    assert.ok(await page.locator('#live-emulator-note').isVisible());
  });

  test('start: token → offer → emulator answer applied → call id; end: the record through the API', async () => {
    await page.locator('#user-id').fill('e2e-live');
    await page.locator('#live-start').click();
    await page.locator('#live-end:enabled').waitFor();
    assert.ok(await page.locator('#live-error').isHidden(), await page.locator('#live-error').textContent());

    // The token the library used is the one issued and shown in step 2.
    const sessionId = (await page.locator('#session-id').textContent()).trim();
    assert.match(sessionId, /^sess_/);
    assert.equal((await page.locator('#live-session-id').textContent()).trim(), sessionId);

    // The offer went to the emulator's calls endpoint as OpenAI expects it.
    assert.equal(calls.length, 1);
    const call = calls[0];
    assert.equal(call.url, `${server.baseUrl}/v1/realtime/calls`);
    assert.ok(call.bearerIsEk, 'Authorization: Bearer ek_…');
    assert.equal(call.contentType, 'application/sdp');
    assert.match(call.offer, /^v=0\r\n/);
    assert.match(call.offer, /m=audio /, 'the microphone track is offered');
    assert.match(call.offer, /m=application .*DTLS\/SCTP|webrtc-datachannel/, 'the oai-events data channel is offered');
    const res = await call.response;
    assert.equal(res.status(), 201);
    const callId = (await res.headerValue('location')).split('/').pop();
    assert.match(callId, /^rtc_/);

    // setRemoteDescription accepted the answer, and the call id came from Location.
    assert.equal(await page.locator('#live-panel').getAttribute('data-signaling'), 'stable');
    assert.equal(await page.locator('#live-call-id').getAttribute('data-call-id'), callId);
    assert.equal((await page.locator('#live-message-count').textContent()).trim(), '0');

    // The call id went to voicegate for supervision. Whatever the answer, the call goes on and
    // no error is shown (the answer itself is checked in live-relay.test.mjs).
    await page.locator('#live-supervision[data-state="attached"], #live-supervision[data-state="failed"]').waitFor();
    assert.equal(attaches.length, 1);
    assert.equal(attaches[0].contentType, 'application/json');
    assert.deepEqual(attaches[0].body, { sessionId, callId });
    assert.ok(await page.locator('#live-error').isHidden(), await page.locator('#live-error').textContent());
    assert.ok(await page.locator('#live-end').isEnabled(), 'the call goes on');
    assert.doesNotMatch(await page.locator('#live-state').getAttribute('data-state'), /^(failed|ended|ending)$/);
    await page.locator('#live-elapsed', { hasText: /^00:0[1-9]$/ }).waitFor();

    await page.locator('#live-end').click();
    await page.locator('#live-state[data-state="ended"]').waitFor();
    await page.locator('#end-result').waitFor({ state: 'visible' });
    const record = JSON.parse(await page.locator('#end-record').textContent());
    assert.equal(record.success, true);
    assert.equal(record.sessionData.sessionId, sessionId);
    assert.equal(record.sessionData.endedBy, 'user');
    assert.equal(record.sessionData.messageCount, 0);
    assert.ok(record.sessionData.duration >= 1, `duration ${record.sessionData.duration}`);
    assert.notEqual(record.alreadyEnded, true);
    assert.ok(await page.locator('#live-start').isEnabled());

    // Through the API: the stored record stands, and a repeat counts nothing twice.
    const again = await postJson(`${server.baseUrl}/api/realtime/end`,
      { sessionId, duration: 999, messageCount: 9, endedBy: 'error' });
    assert.equal(again.status, 200);
    assert.equal(again.body.alreadyEnded, true);
    assert.deepEqual(again.body.sessionData, record.sessionData);
  });

  test('time limit: an almost-up warning, then the session ends by itself with endedBy timeout', async () => {
    await page.locator('#live-limit').fill('6');
    const before = calls.length;
    await page.locator('#live-start').click();
    await page.locator('#live-end:enabled').waitFor();
    assert.equal(calls.length, before + 1, 'a fresh token and a new call (the first token is spent)');
    const sessionId = (await page.locator('#live-session-id').textContent()).trim();
    assert.equal((await page.locator('#live-limit-shown').textContent()).trim(), 'of 00:06');
    const warning = page.locator('#live-warning');
    await warning.waitFor({ state: 'visible', timeout: 6_000 });
    assert.match(await warning.textContent(), /almost up: [1-3] s left/);
    await page.locator('#live-state[data-state="ended"]').waitFor({ timeout: 10_000 });
    assert.match(await warning.textContent(), /Time is up/);
    const record = JSON.parse(await page.locator('#end-record').textContent());
    assert.equal(record.sessionData.sessionId, sessionId);
    assert.equal(record.sessionData.endedBy, 'timeout');
    assert.ok(record.sessionData.duration >= 5 && record.sessionData.duration <= 8, `duration ${record.sessionData.duration}`);
    assert.equal(await page.locator('#end-ended-by').inputValue(), 'timeout');
    await page.locator('#live-limit').fill('1800');
  });

  test('an offer the upstream refuses shows its error (no secret) and leaves nothing running', async () => {
    await page.route('**/v1/realtime/calls', (route) => route.fulfill({
      status: 401,
      headers: { 'Content-Type': 'application/json', 'x-request-id': 'req_e2e_up' },
      body: JSON.stringify({ error: { message: 'Incorrect API key provided: ek_e2e-fake-secret-wxyz.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }),
    }));
    try {
      await page.locator('#live-start').click();
      const box = page.locator('#live-error');
      await box.waitFor({ state: 'visible' });
      assert.equal((await box.locator('[data-testid="error-code"]').textContent()).trim(), 'invalid_api_key');
      assert.equal((await box.locator('[data-testid="error-status"]').textContent()).trim(), 'HTTP 401');
      const text = await box.textContent();
      assert.match(text, /OpenAI connection failed/);
      assert.doesNotMatch(text, /e2e-fake-secret/, 'the secret is redacted');
      assert.match(text, /req_e2e_up/);
      assert.equal(await page.locator('#live-state').getAttribute('data-state'), 'failed');
      assert.ok(await page.locator('#live-start').isEnabled());
      assert.ok(await page.locator('#live-end').isDisabled());
    } finally {
      await page.unroute('**/v1/realtime/calls');
    }
  });

  test('relay flow: a refused offer (400 invalid_sdp) shows its code, no token is issued, nothing runs', async () => {
    const relayed = [];
    await page.route('**/api/realtime/calls*', (route) => {
      const contentType = route.request().headers()['content-type'];
      const body = route.request().postData() ?? '';
      relayed.push({ contentType, offer: contentType === 'application/json' ? JSON.parse(body).sdp : body });
      return route.fulfill({
        status: 400,
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'req_e2e_relay' },
        body: JSON.stringify({ success: false, error: 'The offer is not valid SDP', code: 'invalid_sdp' }),
      });
    });
    const upstreamBefore = calls.length;
    const tokenRequests = [];
    const onRequest = (req) => { if (new URL(req.url()).pathname === '/api/realtime/token') tokenRequests.push(req.url()); };
    page.on('request', onRequest);
    try {
      await page.locator('#live-flow').selectOption('relay');
      assert.equal(await page.locator('#live-data-channel').isChecked(), false, 'the relay offers audio only by default');
      assert.ok(await page.locator('#live-upstream').isDisabled());
      await page.locator('#live-start').click();
      const box = page.locator('#live-error');
      await box.locator('[data-testid="error-code"]', { hasText: 'invalid_sdp' }).waitFor();
      assert.equal((await box.locator('[data-testid="error-status"]').textContent()).trim(), 'HTTP 400');
      assert.match(await box.textContent(), /req_e2e_relay/);
      assert.equal(relayed.length, 1);
      assert.match(relayed[0].offer, /m=audio /);
      assert.doesNotMatch(relayed[0].offer, /m=application/, 'no data channel offered');
      assert.equal(calls.length, upstreamBefore, 'nothing went to the upstream');
      assert.deepEqual(tokenRequests, [], 'the relay asks for no token');
      assert.equal(await page.locator('#live-state').getAttribute('data-state'), 'failed');
      assert.ok(await page.locator('#live-start').isEnabled());
      assert.ok(await page.locator('#live-end').isDisabled());
    } finally {
      page.off('request', onRequest);
      await page.unroute('**/api/realtime/calls*');
      await page.locator('#live-flow').selectOption('token');
    }
    assert.equal(await page.locator('#live-data-channel').isChecked(), true, 'back to the token flow default');
  });

  test('a wrong calls URL (the retired beta endpoint) is refused before any request', async () => {
    const before = calls.length;
    await page.locator('#live-upstream').fill('/v1/realtime?model=gpt-realtime');
    await page.locator('#live-start').click();
    const box = page.locator('#live-error');
    await box.locator('[data-testid="error-code"]', { hasText: 'bad_upstream_url' }).waitFor();
    assert.equal(calls.length, before);
    await page.locator('#live-upstream').fill('/v1/realtime/calls');
  });

  test('no uncaught errors or CSP violations in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
void ACTION_MS;
