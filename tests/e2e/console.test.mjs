// Browser tests of the test console served at `/` by the real voicegate binary.
//
// Starts `voicegate serve` on 127.0.0.1:0 with a throw-away data dir and the built-in upstream
// emulator, drives Debian's Chromium through playwright-core, and checks the page as a user
// would. Every wait is bounded; the server and the browser are stopped even on failure.
//
//   VOICEGATE_BIN  the binary (default ../../build/voicegate, relative to this file)
//   CHROMIUM_PATH  the browser (default /usr/bin/chromium)
//
// Artifacts (gitignored): test-artifacts/console.png, console-mobile.png, e2e-server.log.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ACTION_MS, ARTIFACTS, PHONE, horizontalOverflow, launchBrowser, newPage, settlesWithin, startServer, stopServer,
} from './support.mjs';

// ------------------------------------------------------------------ helpers

/** "mm:ss" → seconds. */
function parseCountdown(text) {
  const m = /^(\d+):(\d{2})$/.exec(text.trim());
  assert.ok(m, `countdown "${text}" is not mm:ss`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function runShell(command) {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', command], { timeout: ACTION_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function openConsole(context, baseUrl, pageErrors) {
  const page = await newPage(context, pageErrors);
  await page.goto(`${baseUrl}/`);
  await page.locator('body[data-options="loaded"]').waitFor();
  return page;
}

/** Clicks a submit button and waits until its request has been answered (aria-busy cleared). */
async function submit(page, buttonId) {
  await page.locator(`#${buttonId}`).click();
  await page.locator(`#${buttonId}:not([aria-busy])`).waitFor();
}

async function issueToken(page) {
  await submit(page, 'issue-token');
  await page.locator('#token-result').waitFor({ state: 'visible' });
}

// ------------------------------------------------------------------ tests

describe('test console (real binary, emulator upstream)', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  let options;
  const pageErrors = [];
  const instructions = `Tu es "gentil" — it's $HOME and \`whoami\`; für das Tagebuch ✓\nSecond line.`;
  let token = '';
  let sessionId = '';

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = startServer();
    await server.ready;
    const res = await fetch(`${server.baseUrl}/api/realtime/options`, { signal: AbortSignal.timeout(ACTION_MS) });
    options = await res.json();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.baseUrl });
    page = await openConsole(context, server.baseUrl, pageErrors);
  }, { timeout: 90_000 });

  after(async () => {
    try {
      if (server) fs.writeFileSync(path.join(ARTIFACTS, 'e2e-server.log'), server.log());
    } catch { /* best effort */ }
    try {
      // A browser that does not close in time is killed by playwright when node exits.
      if (browser) await settlesWithin(browser.close(), 10_000);
    } finally {
      await stopServer(server);
    }
  }, { timeout: 30_000 });

  test('the page loads with models and voices from /api/realtime/options', async () => {
    assert.equal(await page.title(), 'voicegate · test console');
    const models = await page.locator('#model option').evaluateAll((els) => els.map((e) => e.value));
    const voices = await page.locator('#voice option').evaluateAll((els) => els.map((e) => e.value));
    assert.ok(options.models.length > 0 && options.voices.length > 0, 'server offers models and voices');
    for (const m of options.models) assert.ok(models.includes(m), `model ${m} offered`);
    for (const v of options.voices) assert.ok(voices.includes(v), `voice ${v} offered`);
    assert.equal(await page.locator('#model').inputValue(), options.defaultModel);
    assert.equal(await page.locator('#voice').inputValue(), options.defaultVoice);
    for (const alias of Object.keys(options.aliases || {})) {
      assert.match(await page.locator('#model-hint').textContent(), new RegExp(alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
    assert.ok(await page.locator('#issue-token').isEnabled());
    // No OPENAI_API_KEY here: the page says the tokens come from the emulator.
    assert.equal(options.emulator, true, 'the e2e server runs on the built-in emulator');
    assert.ok(await page.locator('#emulator-badge').isVisible());
    // The live voice section (driven in live-voice.test.mjs) is ready to start.
    assert.equal(await page.locator('#live-session').getAttribute('data-placeholder'), null);
    assert.ok(await page.locator('#live-start').isEnabled());
    assert.match(await page.locator('#live-session h2').textContent(), /Live voice session/);
  });

  test('the instructions byte counter counts UTF-8 bytes against the limit', async () => {
    await page.locator('#user-id').fill('e2e-console');
    await page.locator('#instructions').fill(instructions);
    const bytes = Buffer.byteLength(instructions, 'utf8');
    const limit = options.maxInstructionsBytes.toLocaleString('en-US');
    assert.equal((await page.locator('#instructions-count').textContent()).trim(), `${bytes} / ${limit} bytes`);
    assert.equal(await page.locator('#instructions-count').getAttribute('data-over'), 'false');
  });

  test('issuing a token shows it masked, with reveal, copy, session id and a live countdown', async () => {
    await issueToken(page);
    assert.ok(await page.locator('#token-error').isHidden(), 'no error shown');

    const masked = (await page.locator('#token-value').textContent()).trim();
    assert.match(masked, /^ek_•{8}[A-Za-z0-9_-]{4}$/, `masked token "${masked}"`);

    await page.locator('#token-reveal').click();
    assert.equal(await page.locator('#token-reveal').getAttribute('aria-pressed'), 'true');
    token = (await page.locator('#token-value').textContent()).trim();
    assert.match(token, /^ek_[A-Za-z0-9_-]{8,}$/, `revealed token "${token}"`);
    assert.equal(token.slice(-4), masked.slice(-4), 'mask shows the last four characters');
    await page.locator('#token-reveal').click();
    assert.equal((await page.locator('#token-value').textContent()).trim(), masked, 'hide masks again');

    await page.locator('#token-copy').click();
    await page.locator('#token-copy.is-done').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token, 'Copy puts the full token on the clipboard');

    sessionId = (await page.locator('#session-id').textContent()).trim();
    assert.match(sessionId, /^sess_[A-Za-z0-9_-]+$/);
    assert.equal(await page.locator('#end-session-id').inputValue(), sessionId, 'end form prefilled');
    assert.equal((await page.locator('#effective-model').textContent()).trim(), options.defaultModel);
    assert.equal((await page.locator('#effective-voice').textContent()).trim(), options.defaultVoice);

    const first = parseCountdown(await page.locator('#countdown').textContent());
    assert.ok(first > 0 && first <= options.tokenTtl, `countdown ${first} within the TTL ${options.tokenTtl}`);
    await page.waitForTimeout(1500);
    const second = parseCountdown(await page.locator('#countdown').textContent());
    assert.ok(second < first, `countdown decreases: ${first} then ${second}`);

    // The duration field counts up live from the issue time.
    const duration = Number(await page.locator('#end-duration').inputValue());
    assert.ok(Number.isInteger(duration) && duration >= 1, `live duration ${duration}`);
  });

  test('the curl command is shell-quoted, names the endpoint and works when run', async () => {
    const curl = (await page.locator('#curl-token').textContent()).trim();
    assert.match(curl, /^curl /);
    assert.ok(curl.includes(`${server.baseUrl}/api/realtime/token`), curl);
    assert.ok(!curl.includes('Authorization'), 'no bearer was given, so none is sent');
    const out = JSON.parse(await runShell(curl));
    assert.equal(out.success, true, JSON.stringify(out));
    assert.match(out.token, /^ek_/);
    assert.notEqual(out.sessionId, sessionId, 'a second, separate session');
  });

  test('ending the session shows the stored record; ending again shows alreadyEnded', async () => {
    await page.locator('#end-duration').fill('42');
    await page.locator('#end-message-count').fill('7');
    await page.locator('#end-ended-by').selectOption('timeout');
    await submit(page, 'end-session');
    await page.locator('#end-result').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#end-error').isHidden(), 'no error shown');

    const record = JSON.parse(await page.locator('#end-record').textContent());
    assert.equal(record.success, true);
    assert.deepEqual(record.sessionData, { sessionId, duration: 42, messageCount: 7, endedBy: 'timeout' });
    assert.notEqual(record.alreadyEnded, true);
    assert.equal((await page.locator('#end-outcome').textContent()).trim(), 'Ended');
    assert.ok(await page.locator('#end-already').isHidden());
    assert.match(await page.locator('#curl-end').textContent(), /\/api\/realtime\/end/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console.png'), fullPage: true });

    // Again: the server answers with the stored record and alreadyEnded.
    await page.locator('#end-message-count').fill('99');
    await submit(page, 'end-session');
    await page.locator('#end-already').waitFor({ state: 'visible' });
    const again = JSON.parse(await page.locator('#end-record').textContent());
    assert.equal(again.alreadyEnded, true);
    assert.equal(again.sessionData.messageCount, 7, 'the first record stands');
    assert.equal((await page.locator('#end-outcome').textContent()).trim(), 'Already ended');
  });

  test('the end curl command works when run', async () => {
    const out = JSON.parse(await runShell((await page.locator('#curl-end').textContent()).trim()));
    assert.equal(out.success, true, JSON.stringify(out));
    assert.equal(out.alreadyEnded, true);
    assert.equal(out.sessionData.sessionId, sessionId);
  });

  test('instructions over the limit: counter warns, server error code is shown', async () => {
    await page.locator('#user-id').fill('e2e-errors');
    await page.locator('#instructions').fill('x'.repeat(options.maxInstructionsBytes + 1));
    assert.equal(await page.locator('#instructions-count').getAttribute('data-over'), 'true');
    assert.equal(await page.locator('#instructions').getAttribute('aria-invalid'), 'true');
    await submit(page, 'issue-token');
    const box = page.locator('#token-error');
    await box.waitFor({ state: 'visible' });
    assert.equal((await box.locator('[data-testid="error-status"]').textContent()).trim(), 'HTTP 400');
    const code = (await box.locator('[data-testid="error-code"]').textContent()).trim();
    assert.equal(code, 'bad_request', `machine code "${code}"`);
    const text = await box.textContent();
    assert.match(text, /instructions/i, 'the error names the field');
    assert.doesNotMatch(text, /\n\s+at\s|Traceback|Error:\s*\n/, 'no stack trace');
    // The previous token stays on screen.
    assert.equal((await page.locator('#session-id').textContent()).trim(), sessionId);
  });

  test('an unknown voice forced into the form is refused with the server code', async () => {
    await page.locator('#instructions').fill('');
    await page.evaluate(() => {
      const select = document.getElementById('voice');
      select.append(new Option('no-such-voice', 'no-such-voice'));
      select.value = 'no-such-voice';
    });
    await submit(page, 'issue-token');
    const box = page.locator('#token-error');
    await box.waitFor({ state: 'visible' });
    assert.equal((await box.locator('[data-testid="error-status"]').textContent()).trim(), 'HTTP 400');
    assert.equal((await box.locator('[data-testid="error-code"]').textContent()).trim(), 'bad_request');
    assert.match(await box.textContent(), /voice/i, 'the error names the field');
    assert.match(await page.locator('#curl-token').textContent(), /no-such-voice/, 'curl shows the failing request');
    await page.locator('#voice').selectOption(options.defaultVoice);
  });

  test('ending an unknown session shows a 404 with its code', async () => {
    await page.locator('#end-session-id').fill('sess_doesnotexist000000');
    await submit(page, 'end-session');
    await page.locator('#end-error').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#end-error [data-testid="error-status"]').textContent()).trim(), 'HTTP 404');
    assert.equal((await page.locator('#end-error [data-testid="error-code"]').textContent()).trim(), 'session_not_found');
    assert.ok(await page.locator('#end-result').isHidden());
  });

  test('a 429 shows the code, the message and Retry-After', async () => {
    // The server's limiter is not driven here (that is the C++ suites' job): the page's
    // rendering of a rate-limited answer is checked with an intercepted response.
    await page.route('**/api/realtime/token', (route) => route.fulfill({
      status: 429,
      headers: { 'Content-Type': 'application/json', 'Retry-After': '17', 'X-Request-Id': 'req_e2e_429' },
      body: JSON.stringify({ success: false, error: 'Too many token requests', code: 'rate_limited' }),
    }));
    try {
      await submit(page, 'issue-token');
      await page.locator('#token-error [data-testid="error-retry-after"]').waitFor();
      const box = page.locator('#token-error');
      assert.equal((await box.locator('[data-testid="error-status"]').textContent()).trim(), 'HTTP 429');
      assert.equal((await box.locator('[data-testid="error-code"]').textContent()).trim(), 'rate_limited');
      assert.equal((await box.locator('[data-testid="error-message"]').textContent()).trim(), 'Too many token requests');
      assert.equal((await box.locator('[data-testid="error-retry-after"]').textContent()).trim(), 'Retry after 17 s.');
      assert.match(await box.textContent(), /req_e2e_429/);
    } finally {
      await page.unroute('**/api/realtime/token');
    }
  });

  test('a JWT bearer is sent as Authorization, kept in sessionStorage, never printed; expiry shows "expired"', async () => {
    // An intercepted answer with a 2 s lifetime shows the countdown running out without
    // waiting for a real token to expire.
    let authorization = null;
    await page.route('**/api/realtime/token', (route) => {
      authorization = route.request().headers().authorization ?? null;
      return route.fulfill({
        status: 200,
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'req_e2e_short' },
        body: JSON.stringify({
          success: true, token: 'ek_e2eshortlivedtoken0000wxyz', sessionId: 'sess_e2eShortLived',
          expiresAt: Math.floor(Date.now() / 1000) + 2, config: { model: options.defaultModel, voice: options.defaultVoice },
        }),
      });
    });
    try {
      await page.locator('#auth-details summary').click();
      await page.locator('#auth-bearer').fill('e2e.jwt.value');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('voicegate.console.bearer')), 'e2e.jwt.value');
      await issueToken(page);
      assert.equal(authorization, 'Bearer e2e.jwt.value');
      const curl = await page.locator('#curl-token').textContent();
      assert.ok(curl.includes('Authorization: Bearer $VOICEGATE_JWT'), curl);
      assert.ok(!curl.includes('e2e.jwt.value'), 'the bearer itself is not printed');
      assert.equal((await page.locator('#token-value').textContent()).trim(), 'ek_••••••••wxyz');
      await page.locator('#countdown', { hasText: /^expired$/ }).waitFor({ timeout: 5_000 });
      assert.equal(await page.locator('#countdown').getAttribute('data-expired'), 'true');
    } finally {
      await page.unroute('**/api/realtime/token');
      await page.locator('#auth-bearer').fill('');
    }
    assert.equal(await page.evaluate(() => sessionStorage.getItem('voicegate.console.bearer')), null);
  });

  test('options unavailable: the error is shown with a Retry button and the form stays usable', async () => {
    const p = await context.newPage();
    p.setDefaultTimeout(ACTION_MS);
    p.on('pageerror', (err) => pageErrors.push(String(err)));
    let calls = 0;
    await p.route('**/api/realtime/options', (route) => {
      calls += 1;
      if (calls === 1) {
        return route.fulfill({
          status: 503,
          headers: { 'Content-Type': 'application/json', 'Retry-After': '3' },
          body: JSON.stringify({ success: false, error: 'Server is overloaded', code: 'overloaded' }),
        });
      }
      return route.continue();
    });
    try {
      await p.goto(`${server.baseUrl}/`);
      const box = p.locator('#options-error');
      await box.waitFor({ state: 'visible' });
      assert.equal((await box.locator('[data-testid="error-code"]').textContent()).trim(), 'overloaded');
      assert.equal((await box.locator('[data-testid="error-retry-after"]').textContent()).trim(), 'Retry after 3 s.');
      assert.ok(await p.locator('#issue-token').isEnabled(), 'server defaults still usable');
      await p.locator('body[data-options="failed"]').waitFor();
      await p.locator('#options-retry').click();
      await p.locator('body[data-options="loaded"]').waitFor();
      assert.ok(await box.isHidden());
      assert.equal(await p.locator('#model').inputValue(), options.defaultModel);
    } finally {
      await p.close();
    }
  });

  test('phone-sized screen: no sideways scrolling; alias and legacy temperature are explained', async () => {
    const phone = await browser.newContext(PHONE);
    try {
      const p = await openConsole(phone, server.baseUrl, pageErrors);
      await p.locator('#user-id').fill('e2e-mobile');
      const aliases = Object.entries(options.aliases || {});
      assert.ok(aliases.length > 0, 'the server reports its model aliases');
      await p.locator('#model').selectOption(aliases[0][0]);
      await p.locator('#temperature').fill('0.8');
      await issueToken(p);
      assert.equal((await p.locator('#effective-model').textContent()).trim(), aliases[0][1], 'alias mapped');
      assert.match(await p.locator('#model-mapped').textContent(), new RegExp(`asked for ${aliases[0][0]}`));
      await p.locator('#token-warnings').waitFor({ state: 'visible' });
      assert.match(await p.locator('#token-warnings').textContent(), /temperature/i);
      const overflow = await horizontalOverflow(p);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      await p.screenshot({ path: path.join(ARTIFACTS, 'console-mobile.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  test('no uncaught errors or CSP violations in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
