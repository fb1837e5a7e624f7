// Browser test of the console's live voice session through the relay (SPEC §7.1) and of the
// token flow's attach succeeding (SPEC §7.2): the client library (clients/js, embedded at
// /lib/index.js) in headless Chromium with fake media devices, against the real binary and its
// built-in emulator. Relay: the offer goes to POST /api/realtime/calls on this origin (never to
// the upstream, no token anywhere in the page), the answer is applied, the session id comes
// from X-Session-Id, and the end is recorded under it.
//
// Artifacts (gitignored): test-artifacts/live-relay.png and the server log.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, newPage, startServer, stopServer } from './support.mjs';

const MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

async function postJson(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('console: live voice session through the relay', { timeout: 120_000 }, () => {
  let server;
  let browser;
  let page;
  const pageErrors = [];
  const posts = []; // every POST the page made: path, content type, body, response
  const secrets = []; // API paths whose answer to the page held an ek_

  before(async () => {
    server = startServer();
    await server.ready;
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...MEDIA_ARGS], timeout: 30_000,
    });
    page = await newPage(await browser.newContext(), pageErrors);
    page.on('request', (req) => {
      if (req.method() !== 'POST') return;
      const url = new URL(req.url());
      posts.push({ path: url.pathname, url, contentType: req.headers()['content-type'], body: req.postData() ?? '', response: req.response() });
    });
    page.on('response', async (res) => {
      const where = new URL(res.url()).pathname;
      if (!where.startsWith('/api/')) return; // the console's and the library's code name ek_ in text
      const text = await res.text().catch(() => '');
      if (/\bek_/.test(text)) secrets.push(where);
    });
    await page.goto(`${server.baseUrl}/`);
    await page.locator('body[data-ready="true"]').waitFor();
  });

  after(async () => {
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'live-relay.png'), fullPage: true }).catch(() => {});
    await browser?.close();
    if (server) {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      fs.writeFileSync(path.join(ARTIFACTS, 'e2e-live-relay-server.log'), server.log());
    }
    await stopServer(server);
  });

  /** Clicks Start and waits until the session runs; a start error fails with its text. */
  async function start() {
    await page.locator('#live-start').click();
    await page.locator('#live-end:enabled, #live-error:visible').first().waitFor();
    assert.ok(await page.locator('#live-error').isHidden(), await page.locator('#live-error').textContent());
  }

  /** Starts a relayed session and checks what every relayed start must satisfy. */
  async function startRelayed() {
    const before = posts.length;
    await page.locator('#live-flow').selectOption('relay');
    await start();
    const mine = posts.slice(before);
    assert.deepEqual(mine.map((p) => p.path), ['/api/realtime/calls'], 'one relay request, no token, no upstream');
    const res = await mine[0].response;
    assert.equal(res.status(), 201);
    assert.equal(await page.locator('#live-panel').getAttribute('data-signaling'), 'stable', 'the answer was applied');
    assert.equal(await page.locator('#live-supervision').getAttribute('data-state'), 'relayed');
    assert.equal(await page.locator('#live-call-id').getAttribute('data-call-id'), '', 'the upstream call id is not shown');
    return { post: mine[0], res, sessionId: (await page.locator('#live-session-id').textContent()).trim() };
  }

  async function endAndCheck(sessionId) {
    await page.locator('#live-end').click();
    await page.locator('#live-state[data-state="ended"]').waitFor();
    await page.locator('#end-result').waitFor({ state: 'visible' });
    const record = JSON.parse(await page.locator('#end-record').textContent());
    assert.equal(record.success, true);
    assert.equal(record.sessionData.sessionId, sessionId);
    assert.equal(record.sessionData.endedBy, 'user');
    const again = await postJson(`${server.baseUrl}/api/realtime/end`, { sessionId, duration: 999, messageCount: 9, endedBy: 'error' });
    assert.equal(again.status, 200);
    assert.equal(again.body.alreadyEnded, true);
    return record;
  }

  test('raw SDP form: audio-only offer with the config in the query, the answer and X-Session-Id back', async () => {
    const model = await page.locator('#model').inputValue();
    const voice = await page.locator('#voice').inputValue();
    const { post, res, sessionId } = await startRelayed();
    assert.equal(post.contentType, 'application/sdp');
    if (model) assert.equal(post.url.searchParams.get('model'), model);
    if (voice) assert.equal(post.url.searchParams.get('voice'), voice);
    assert.match(post.body, /^v=0\r\n/);
    assert.match(post.body, /m=audio /);
    assert.doesNotMatch(post.body, /m=application/, 'no data channel unless asked for');
    assert.match(res.headers()['content-type'], /^application\/sdp/);
    assert.match(await res.text(), /^v=0\r\n/);
    assert.equal(res.headers()['x-session-id'], sessionId);
    assert.match(sessionId, /^sess_[A-Za-z0-9]{21}$/);
    assert.equal(res.headers().location, `/api/realtime/calls/${sessionId}`);
    assert.ok(await page.locator('#token-empty').isVisible(), 'no token was issued');
    await page.locator('#live-elapsed', { hasText: /^00:0[1-9]$/ }).waitFor();
    const record = await endAndCheck(sessionId);
    assert.ok(record.sessionData.duration >= 1);
    assert.deepEqual(secrets, [], 'no ek_ in anything the page received');
  });

  test('JSON form: a user id and the data channel asked for', async () => {
    await page.locator('#user-id').fill('e2e-relay-json');
    await page.locator('#live-data-channel').check();
    try {
      const { post, res, sessionId } = await startRelayed();
      assert.equal(post.contentType, 'application/json');
      const body = JSON.parse(post.body);
      assert.equal(body.userId, 'e2e-relay-json');
      assert.match(body.sdp, /m=audio /);
      assert.match(body.sdp, /m=application .*(DTLS\/SCTP|webrtc-datachannel)/, 'the data channel is offered');
      const answer = await res.json();
      assert.equal(answer.success, true);
      assert.equal(answer.sessionId, sessionId);
      assert.match(answer.sdp, /^v=0\r\n/);
      assert.equal(typeof answer.expiresAt, 'number');
      await endAndCheck(sessionId);
      assert.deepEqual(secrets, [], 'no ek_ in anything the page received');
    } finally {
      await page.locator('#user-id').fill('');
    }
  });

  test('token flow: the call id is attached and voicegate supervises the call', async () => {
    await page.locator('#live-flow').selectOption('token');
    const before = posts.length;
    await start();
    await page.locator('#live-supervision[data-state="attached"], #live-supervision[data-state="failed"]').waitFor();
    assert.equal(await page.locator('#live-supervision').textContent(), 'attached');
    const attach = posts.slice(before).find((p) => p.path === '/api/realtime/attach');
    const sessionId = (await page.locator('#live-session-id').textContent()).trim();
    const callId = await page.locator('#live-call-id').getAttribute('data-call-id');
    assert.deepEqual(JSON.parse(attach.body), { sessionId, callId });
    assert.equal((await attach.response).status(), 200);
    await endAndCheck(sessionId);
  });

  test('no uncaught errors or CSP violations in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
