// Browser tests of the usage dashboard served at `/dashboard` by the real voicegate binary.
//
// Starts `voicegate serve` (SQLite in a temp dir, built-in emulator, an admin token, a per-user
// rate of 3/h so that a fourth token is denied), creates sessions through the real
// POST /api/realtime/token and /api/realtime/end, then uses the dashboard in headless Chromium:
// sign-in, charts and figures equal to what was created, the user filter, cursor paging, the
// CSV export, a 401 later on, a phone-sized screen. The admin token never appears in output.
//
// Artifacts: test-artifacts/dashboard.png, dashboard-mobile.png, dashboard-sessions.csv,
// dashboard-server.log. The committed pictures of the product (docs/dashboard.png, docs/console.png)
// come from scripts/screenshots.sh, over a seeded month.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  ACTION_MS, ARTIFACTS, PHONE, horizontalOverflow, launchBrowser, newPage, paintedPixels, settlesWithin, startServer,
  stopServer,
} from './support.mjs';

const ADMIN_TOKEN = `adm_${crypto.randomBytes(24).toString('base64url')}`;
const MODEL_A = 'gpt-realtime';
const MODEL_B = 'gpt-realtime-mini';

// What the test creates: [userId, model, end (null: left open), duration s, messages].
const PLAN = [
  ['alice', MODEL_A, 'user', 120, 10],
  ['alice', MODEL_A, 'user', 60, 4],
  ['alice', MODEL_A, null, 0, 0],
  ['bob', MODEL_B, 'timeout', 300, 7],
  ['bob', MODEL_B, 'error', 30, 1],
  ['carol', MODEL_A, 'user', 90, 6],
  ...Array.from({ length: 8 }, (_, i) => [`load-${String(i + 1).padStart(2, '0')}`, MODEL_B, 'user', 60, 2]),
];
const DENIED_USER = 'alice'; // a fourth token within the hour: rate_limited

/** Counts of `PLAN` rows by `keyOf`, skipping null keys. */
function countBy(rows, keyOf) {
  const out = {};
  for (const r of rows) {
    const k = keyOf(r);
    if (k !== null) out[k] = (out[k] || 0) + 1;
  }
  return out;
}

function expected(rows) {
  return {
    sessions: rows.length,
    ended: rows.filter((r) => r[2]).length,
    open: rows.filter((r) => !r[2]).length,
    reportedMinutes: rows.reduce((a, r) => a + (r[2] ? r[3] : 0), 0) / 60,
    byModel: countBy(rows, (r) => r[1]),
    byEndedBy: countBy(rows, (r) => r[2]),
  };
}

async function post(baseUrl, route, body) {
  const res = await fetch(`${baseUrl}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(ACTION_MS),
  });
  return { status: res.status, body: await res.json() };
}

/** Issues and ends the PLAN's sessions, then the denied request; returns the session ids. */
async function createSessions(baseUrl) {
  const ids = [];
  for (const [userId, model, endedBy, duration, messageCount] of PLAN) {
    const t = await post(baseUrl, '/api/realtime/token', { userId, sessionConfig: { model } });
    assert.equal(t.status, 200, `token for ${userId}: ${t.body.code}`);
    ids.push(t.body.sessionId);
    if (endedBy) {
      const e = await post(baseUrl, '/api/realtime/end', { sessionId: t.body.sessionId, duration, messageCount, endedBy });
      assert.equal(e.status, 200, `end for ${userId}: ${e.body.code}`);
    }
  }
  const denied = await post(baseUrl, '/api/realtime/token', { userId: DENIED_USER, sessionConfig: { model: MODEL_A } });
  assert.equal(denied.status, 429, 'the fourth token of a user within the hour is rate limited');
  return ids;
}

async function adminGet(baseUrl, route) {
  const res = await fetch(`${baseUrl}${route}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(ACTION_MS),
  });
  assert.equal(res.status, 200, `${route}: HTTP ${res.status}`);
  return res.json();
}

/** { label: value } of a Chart.js chart's first dataset, read from the page's chart instance. */
function chartData(page, canvasId) {
  return page.evaluate((id) => {
    const chart = window.Chart.getChart(id);
    const out = {};
    chart.data.labels.forEach((l, i) => { out[l] = chart.data.datasets[0].data[i]; });
    return out;
  }, canvasId);
}


async function kpi(page, name) {
  return Number(await page.locator(`#kpi-${name}`).getAttribute('data-value'));
}

/** Waits until a KPI shows `value` (after a filter or refresh). */
async function waitForKpi(page, name, value) {
  await page.waitForFunction(([n, v]) => document.getElementById(`kpi-${n}`)?.dataset.value === String(v), [name, value]);
}

/** Polls `condition` (test-side state) until true, for at most ACTION_MS. */
async function eventually(condition, what) {
  const deadline = Date.now() + ACTION_MS;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function signIn(page, token) {
  await page.locator('#admin-token').fill(token);
  await page.locator('[data-testid="login-submit"]').click();
}

// ------------------------------------------------------------------ tests

describe('dashboard (real binary, admin API, emulator upstream)', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  let sessionIds = [];
  const pageErrors = [];
  const all = expected(PLAN);

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = startServer({ VOICEGATE_ADMIN_TOKEN: ADMIN_TOKEN, VOICEGATE_RATE_USER: '3/h' });
    await server.ready;
    sessionIds = await createSessions(server.baseUrl);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light', acceptDownloads: true });
    page = await newPage(context, pageErrors);
  }, { timeout: 90_000 });

  after(async () => {
    try {
      // The admin token is in no log line, but redact it anyway before saving the log.
      if (server) fs.writeFileSync(path.join(ARTIFACTS, 'dashboard-server.log'), server.log().replaceAll(ADMIN_TOKEN, 'adm_…'));
    } catch { /* best effort */ }
    try {
      if (browser) await settlesWithin(browser.close(), 10_000);
    } finally {
      await stopServer(server);
    }
  });

  test('sign-in rejects a wrong token with a clear message and accepts the right one', async () => {
    await page.goto(`${server.baseUrl}/dashboard`);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#dashboard').isHidden(), 'no figures before sign-in');

    await signIn(page, 'not-the-admin-token');
    await page.locator('#login-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#login-error').textContent(), /not accepted \(401\)/);
    assert.ok(await page.locator('#login').isVisible(), 'back on the sign-in form');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('voicegate.adminToken')), null, 'a rejected token is not kept');

    await signIn(page, ADMIN_TOKEN);
    await page.locator('body[data-ready="true"]').waitFor();
    assert.ok(await page.locator('#login').isHidden());
    assert.ok(await page.locator('#login-error').isHidden());
    assert.equal(await page.evaluate(() => sessionStorage.getItem('voicegate.adminToken') !== null), true, 'kept in sessionStorage');
    const marks = await page.evaluate(() => performance.getEntriesByName('vg-first-data-paint').length);
    assert.equal(marks, 1, 'first data paint is marked');

    // A reload keeps the tab signed in: no second prompt.
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor();
    assert.ok(await page.locator('#login').isHidden());
  });

  test('figures and charts equal the sessions created through the API', async () => {
    await page.locator('#sessions[data-loaded="true"]').waitFor();
    assert.equal(await kpi(page, 'sessions'), all.sessions);
    assert.equal(await kpi(page, 'denied'), 1);
    assert.equal(await kpi(page, 'live'), all.open);
    assert.match(await page.locator('#kpi-ended').textContent(), new RegExp(`^${all.ended} ended`));
    assert.match(await page.locator('#kpi-reported').textContent(), new RegExp(`^${all.reportedMinutes} reported`));
    // Billable minutes and cost: what the API computes, shown as such (the cost labelled estimated).
    const usage = await adminGet(server.baseUrl, '/api/admin/usage?groupBy=day');
    assert.equal(await kpi(page, 'minutes'), usage.totals.billableMinutes);
    assert.equal(await kpi(page, 'cost'), usage.totals.estimatedCostUsd);
    assert.match(await page.locator('#t-cost').textContent(), /estimated/i);
    assert.match(await page.locator('.kpi', { has: page.locator('#kpi-cost') }).textContent(), /estimated/i);

    assert.deepEqual(await chartData(page, 'chart-models'), all.byModel);
    assert.deepEqual(await chartData(page, 'chart-ended-by'), all.byEndedBy);
    assert.deepEqual(await chartData(page, 'chart-denied'), { rate_limited: 1 });
    const daily = await chartData(page, 'chart-daily');
    assert.equal(Object.keys(daily).length, 30, 'thirty days by default');
    assert.equal(Object.values(daily).reduce((a, b) => a + b, 0), all.sessions, 'sessions per day add up');
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(daily[today], all.sessions, 'all of them today');
    const users = await chartData(page, 'chart-users');
    const planUsers = new Set(PLAN.map((r) => r[0]));
    assert.equal(Object.keys(users).length, 10, 'top ten users');
    assert.ok(Object.keys(users).every((u) => planUsers.has(u)), `users ${Object.keys(users)}`);
    for (const id of ['chart-daily', 'chart-cost', 'chart-users', 'chart-models', 'chart-ended-by', 'chart-denied']) {
      assert.ok(await paintedPixels(page, id) > 500, `${id} is drawn`);
    }
    // Live sessions: alice's open one.
    assert.equal(await page.locator('#live-rows tr').count(), all.open);
    assert.match(await page.locator('#live-rows').textContent(), new RegExp(sessionIds[2]));
  });

  test('the user filter narrows every figure to that user', async () => {
    await page.locator('#f-user').fill('bob');
    await page.locator('[data-testid="apply-filters"]').click();
    const bob = expected(PLAN.filter((r) => r[0] === 'bob'));
    await waitForKpi(page, 'sessions', bob.sessions);
    await page.waitForFunction(() => document.querySelectorAll('#session-rows tr').length === 2);
    assert.deepEqual(await chartData(page, 'chart-models'), bob.byModel);
    assert.deepEqual(await chartData(page, 'chart-ended-by'), bob.byEndedBy);
    assert.deepEqual(Object.keys(await chartData(page, 'chart-users')), ['bob']);
    assert.equal(await kpi(page, 'denied'), 0, 'bob was never denied');
    assert.equal(await kpi(page, 'live'), 0);
    const users = await page.locator('#session-rows tr td:nth-child(3)').allTextContents();
    assert.deepEqual(users, ['bob', 'bob']);

    await page.locator('#f-user').fill(DENIED_USER);
    await page.locator('[data-testid="apply-filters"]').click();
    await waitForKpi(page, 'sessions', 3);
    assert.equal(await kpi(page, 'denied'), 1, 'alice was denied once');
    assert.equal(await kpi(page, 'live'), 1);

    await page.locator('[data-testid="reset-filters"]').click();
    await waitForKpi(page, 'sessions', all.sessions);
    assert.equal(await page.locator('#f-user').inputValue(), '');
  });

  test('the sessions table pages with the cursor, newest first', async () => {
    await page.locator('#page-size').selectOption('10');
    await page.waitForFunction(() => document.querySelectorAll('#session-rows tr').length === 10);
    assert.ok(await page.locator('#page-older').isEnabled());
    assert.ok(await page.locator('#page-newer').isDisabled());
    const first = await page.locator('#session-rows tr td:nth-child(2)').allTextContents();
    const issued = await page.locator('#session-rows tr td:nth-child(1)').allTextContents();
    assert.deepEqual(issued, [...issued].sort().reverse(), 'newest first');

    await page.locator('#page-older').click();
    await page.waitForFunction(() => document.getElementById('page-label').textContent === 'Page 2');
    const second = await page.locator('#session-rows tr td:nth-child(2)').allTextContents();
    assert.equal(second.length, all.sessions - 10);
    assert.ok(await page.locator('#page-older').isDisabled(), 'last page');
    assert.deepEqual([...first, ...second].sort(), [...sessionIds].sort(), 'every session once');

    await page.locator('#page-newer').click();
    await page.waitForFunction(() => document.getElementById('page-label').textContent === 'Page 1');
    assert.deepEqual(await page.locator('#session-rows tr td:nth-child(2)').allTextContents(), first);
  });

  test('CSV export downloads the selection with a header row', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#csv-export').click(),
    ]);
    assert.match(download.suggestedFilename(), /^voicegate-sessions-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const file = path.join(ARTIFACTS, 'dashboard-sessions.csv');
    await download.saveAs(file);
    const lines = fs.readFileSync(file, 'utf8').trim().split(/\r?\n/);
    assert.match(lines[0], /^sessionId,userId,model,/, 'header row of the JSON field names');
    assert.equal(lines.length, 1 + all.sessions);
    for (const id of sessionIds) {
      assert.ok(lines.some((l) => l.startsWith(`${id},`)), `${id} in the CSV`);
    }
  });

  test('Refresh now shows a new session; a token rejected later returns to sign-in', async () => {
    const t = await post(server.baseUrl, '/api/realtime/token', { userId: 'dave', sessionConfig: { model: MODEL_A } });
    assert.equal(t.status, 200);
    await page.locator('#refresh').click();
    await waitForKpi(page, 'sessions', all.sessions + 1);
    await waitForKpi(page, 'live', all.open + 1);

    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    await page.evaluate(() => sessionStorage.setItem('voicegate.adminToken', 'revoked-token'));
    await page.reload();
    await page.locator('#login-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#login-error').textContent(), /401/);
    await signIn(page, ADMIN_TOKEN);
    await page.locator('body[data-ready="true"]').waitFor();
  });

  test('auto-refresh: every 15 s, paused by its checkbox, never two refreshes at once', async () => {
    const p = await newPage(context, pageErrors);
    try {
      await p.clock.install();
      await p.addInitScript((t) => sessionStorage.setItem('voicegate.adminToken', t), ADMIN_TOKEN);
      let refreshes = 0; // one groupBy=day request per refresh
      p.on('request', (r) => { if (/groupBy=day/.test(r.url())) refreshes++; });
      await p.goto(`${server.baseUrl}/dashboard`);
      await p.locator('#sessions[data-loaded="true"]').waitFor();
      await p.locator('#refresh:not([aria-busy])').waitFor();
      assert.equal(refreshes, 1);

      await p.clock.fastForward(15_000);
      await eventually(() => refreshes === 2, 'refreshed after 15 s');
      await p.locator('#refresh:not([aria-busy])').waitFor();

      // While one refresh is slow, more clicks start no second one.
      await p.route('**/api/admin/usage?*', async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await route.continue();
      });
      await p.locator('#refresh').click();
      await p.locator('#refresh[aria-busy="true"]').waitFor();
      await p.locator('#refresh').click();
      await p.locator('#refresh').click();
      await p.locator('#refresh:not([aria-busy])').waitFor();
      assert.equal(refreshes, 3, 'clicks during a refresh do not overlap it');
      await p.unroute('**/api/admin/usage?*');

      await p.locator('#auto-refresh').uncheck();
      await p.clock.fastForward(60_000);
      await p.waitForTimeout(300);
      assert.equal(refreshes, 3, 'paused: no refresh');
      await p.locator('#auto-refresh').check();
      await p.clock.fastForward(15_000);
      await eventually(() => refreshes === 4, 'resumed');
    } finally {
      await p.close();
    }
  });

  test('phone-sized screen: no sideways scrolling, charts drawn', async () => {
    const phone = await browser.newContext(PHONE);
    try {
      const p = await newPage(phone, pageErrors);
      await p.goto(`${server.baseUrl}/dashboard`);
      await signIn(p, ADMIN_TOKEN);
      await p.locator('body[data-ready="true"]').waitFor();
      await p.locator('#sessions[data-loaded="true"]').waitFor();
      const overflow = await horizontalOverflow(p);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      assert.ok(await paintedPixels(p, 'chart-daily') > 500, 'daily chart drawn on the phone');
      await p.screenshot({ path: path.join(ARTIFACTS, 'dashboard-mobile.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  test('keyboard: every control is labelled, the filters are reachable and submit with Enter', async () => {
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select')]
      .filter((el) => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
      .map((el) => el.id));
    assert.deepEqual(unlabelled, [], 'every control has a label');
    await page.locator('#f-user').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'f-model');
    await page.keyboard.type('no-such-model');
    await page.keyboard.press('Enter'); // submits the filters
    await waitForKpi(page, 'sessions', 0);
    assert.equal((await page.locator('#kpi-denied').textContent()).trim(), '–', 'denials are not counted per model');
    await page.locator('[data-testid="reset-filters"]').click();
    await waitForKpi(page, 'sessions', all.sessions + 1);
  });

  test('no uncaught errors or CSP violations in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
