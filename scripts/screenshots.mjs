#!/usr/bin/env node
// The browser half of scripts/screenshots.sh: opens a running voicegate (seeded, built-in
// emulator) in headless Chromium and writes OUT_DIR/dashboard.png and OUT_DIR/console.png.
//
//   VOICEGATE_ADMIN_TOKEN=… node scripts/screenshots.mjs http://127.0.0.1:8080 docs
//
// The database holds a seeded history (`voicegate seed --days 31`): the dashboard is shown over
// the last 30 full UTC days, up to yesterday, and its live table holds the seeded sessions of the
// last half hour that have not ended yet.
//
// The admin token is read from the environment, put in the dashboard tab's sessionStorage (as a
// sign-in would) and never printed or typed on screen. The console's token is the emulator's,
// shown masked as the page shows it by default. Uses the e2e tests' playwright-core
// (tests/e2e/node_modules) and their Chromium launcher and flags (tests/e2e/support.mjs).

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const VIEWPORT = { width: 1280, height: 800 };
const WAIT_MS = 30_000;

function log(message) {
  const t = new Date().toTimeString().slice(0, 8);
  console.error(`[screenshots ${t}] ${message}`);
}

function usage(message) {
  console.error(`screenshots: ${message}`);
  console.error('usage: VOICEGATE_ADMIN_TOKEN=… node scripts/screenshots.mjs BASE_URL OUT_DIR');
  process.exit(2);
}

async function loadSupport() {
  try {
    return await import('../tests/e2e/support.mjs');
  } catch {
    usage('playwright-core is not installed: run scripts/screenshots.sh (or `cd tests/e2e && npm ci`)');
  }
  return null;
}

function contextOptions() {
  return { viewport: VIEWPORT, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-US', timezoneId: 'UTC' };
}

// ------------------------------------------------------------------ PNG size

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * The same pixels in fewer bytes: Chromium's PNGs filter every row (sub/up/paeth), which suits
 * photos; flat UI with text compresses about a quarter smaller unfiltered at deflate level 9.
 * Lossless; returns `png` itself if it is not 8-bit RGB/RGBA, non-interlaced, or nothing is won.
 */
function smallerPng(png) {
  const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!png.subarray(0, 8).equals(SIG)) return png;
  const chunks = [];
  for (let i = 8; i < png.length;) {
    const len = png.readUInt32BE(i);
    chunks.push({ type: png.toString('latin1', i + 4, i + 8), data: png.subarray(i + 8, i + 8 + len) });
    i += 12 + len;
  }
  const ihdr = chunks[0]?.type === 'IHDR' ? chunks[0].data : null;
  if (!ihdr || ihdr[8] !== 8 || ![2, 6].includes(ihdr[9]) || ihdr[12] !== 0) return png;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const bpp = ihdr[9] === 6 ? 4 : 3;
  const stride = width * bpp;
  const raw = zlib.inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  if (raw.length !== height * (stride + 1)) return png;
  const out = Buffer.alloc(raw.length); // every row with filter type 0 (none)
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const ft = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? row[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      let p = 0;
      if (ft === 1) p = a;
      else if (ft === 2) p = b;
      else if (ft === 3) p = (a + b) >> 1;
      else if (ft === 4) {
        const q = a + b - c;
        const pa = Math.abs(q - a);
        const pb = Math.abs(q - b);
        const pc = Math.abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (ft !== 0) return png;
      row[x] = (src[x] + p) & 0xff;
    }
    prev = row;
  }
  const idat = zlib.deflateSync(out, { level: 9, memLevel: 8 });
  const rebuilt = [SIG];
  let wroteIdat = false;
  for (const c of chunks) {
    if (c.type !== 'IDAT') rebuilt.push(chunk(c.type, c.data));
    else if (!wroteIdat) {
      rebuilt.push(chunk('IDAT', idat));
      wroteIdat = true;
    }
  }
  const smaller = Buffer.concat(rebuilt);
  return smaller.length < png.length ? smaller : png;
}

/** A full-page screenshot of `page`, written to `file` in as few bytes as losslessly possible. */
async function capture(page, file) {
  const png = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
  fs.writeFileSync(file, smallerPng(png));
}

// ------------------------------------------------------------------ data

const DAY_MS = 86_400_000;
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

async function api(baseUrl, route, { token, body, headers = {} } = {}) {
  const res = await fetch(`${baseUrl}${route}`, {
    method: body ? 'POST' : 'GET',
    headers: {
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${body ? 'POST' : 'GET'} ${route.split('?')[0]}: HTTP ${res.status} ${json.code || ''}`);
  return json;
}

async function dashboard(browser, baseUrl, token, file) {
  const errors = [];
  const context = await browser.newContext(contextOptions());
  try {
    await context.addInitScript((t) => sessionStorage.setItem('voicegate.adminToken', t), token);
    const page = await newPage(context, errors);
    log('dashboard: loading /dashboard');
    await page.goto(`${baseUrl}/dashboard`);
    await page.locator('body[data-ready="true"], #login-error:visible, #error:visible').first().waitFor();
    if (await page.locator('body[data-ready="true"]').count() === 0) {
      throw new Error(`the dashboard showed no data: ${(await page.locator('#login-error, #error').allTextContents()).join(' ').trim()}`);
    }
    // The last 30 full UTC days (see the top of this file), as an operator picks them.
    const from = isoDay(Date.now() - 30 * DAY_MS);
    const to = isoDay(Date.now() - DAY_MS);
    const month = await api(baseUrl, `/api/admin/usage?from=${from}&to=${to}&groupBy=model`, { token });
    await page.locator('#sessions[data-loaded="true"]').waitFor();
    await page.locator('#f-from').fill(from);
    await page.locator('#f-to').fill(to);
    await page.locator('[data-testid="apply-filters"]').click();
    await page.waitForFunction((n) => document.getElementById('kpi-sessions')?.dataset.value === String(n), month.totals.sessions);
    // Ten rows in the sessions table (as the README's picture has always had), newest first.
    await page.locator('#sessions[data-loaded="true"]').waitFor();
    await page.locator('#page-size').selectOption('10');
    await page.waitForFunction(() => document.querySelectorAll('#session-rows tr').length === 10);
    await page.locator('#refresh:not([aria-busy])').waitFor();
    for (const id of ['chart-daily', 'chart-cost', 'chart-users', 'chart-models', 'chart-ended-by', 'chart-denied']) {
      const painted = await paintedPixels(page, id);
      if (painted < 500) throw new Error(`${id} is not drawn (${painted} pixels)`);
    }
    const kpis = await page.evaluate(() => Object.fromEntries(
      ['sessions', 'minutes', 'cost', 'denied', 'live'].map((k) => [k, document.getElementById(`kpi-${k}`).textContent.trim()]),
    ));
    log(`dashboard: ${from} to ${to}: sessions ${kpis.sessions}, billable minutes ${kpis.minutes}, estimated cost ${kpis.cost}, denied ${kpis.denied}, open now ${kpis.live}`);
    // Nothing hovered or focused (the Apply button was just clicked).
    await page.mouse.move(0, 0);
    await page.evaluate(() => document.activeElement?.blur());
    // Two frames: the last chart update is on screen before the capture.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await capture(page, file);
    if (errors.length) throw new Error(`dashboard page errors: ${errors.join('; ')}`);
  } finally {
    await context.close();
  }
}

/** Presses a console step's button, waits for its answer and fails on the step's error box. */
async function submitStep(page, button, result, error) {
  await page.locator(button).click();
  await page.locator(`${button}:not([aria-busy])`).waitFor();
  await page.locator(result).waitFor({ state: 'visible' });
  if (await page.locator(error).isVisible()) {
    throw new Error(`the console showed an error: ${(await page.locator(error).textContent()).trim()}`);
  }
}

async function consolePage(browser, baseUrl, file) {
  const errors = [];
  const context = await browser.newContext(contextOptions());
  try {
    const page = await newPage(context, errors);
    log('console: loading /, requesting a token from the built-in emulator, then ending its session');
    await page.goto(`${baseUrl}/`);
    await page.locator('body[data-options="loaded"]').waitFor();
    if (await page.locator('#voice option[value="marin"]').count()) await page.locator('#voice').selectOption('marin');
    await page.locator('#user-id').fill('diary-user-2817');
    await page.locator('#instructions').fill(
      'You are a warm, curious diary companion. Ask one short question at a time about the '
      + "user's day, reflect back what you hear, and keep each answer under three sentences.",
    );
    await page.locator('#max-output-tokens').fill('1024');
    await submitStep(page, '#issue-token', '#token-result', '#token-error');
    // The token stays masked (ek_••••••••abcd), as the page shows it until Reveal is pressed.
    const shown = (await page.locator('#token-value').textContent()).trim();
    if (!/^ek_•+[A-Za-z0-9_-]{4}$/.test(shown)) throw new Error(`the token is not masked on screen: "${shown.slice(0, 6)}…"`);
    log(`console: session ${(await page.locator('#session-id').textContent()).trim()}, token ${shown}, expires in ${(await page.locator('#countdown').textContent()).trim()}`);
    // Then the end report an app sends when the user hangs up (step 4), with the stored record.
    await page.locator('#end-duration').fill('184');
    await page.locator('#end-message-count').fill('9');
    await page.locator('#end-ended-by').selectOption('user');
    await submitStep(page, '#end-session', '#end-result', '#end-error');
    await page.mouse.move(0, 0);
    await page.evaluate(() => document.activeElement?.blur());
    // The status toast (fixed at the bottom of the window) clears itself after 5 s.
    await page.waitForFunction(() => document.getElementById('status').textContent === '');
    await capture(page, file);
    if (errors.length) throw new Error(`console page errors: ${errors.join('; ')}`);
  } finally {
    await context.close();
  }
}

const [baseArg, outDir] = process.argv.slice(2);
if (!baseArg || !/^https?:\/\/./.test(baseArg)) usage('BASE_URL (http://host:port) is required');
if (!outDir) usage('OUT_DIR is required');
const baseUrl = baseArg.replace(/\/+$/, '');
const token = process.env.VOICEGATE_ADMIN_TOKEN || '';
if (!token) usage('VOICEGATE_ADMIN_TOKEN must be set (the admin token of the server)');
fs.mkdirSync(outDir, { recursive: true });

const { launchBrowser, newPage: supportPage, paintedPixels } = await loadSupport();
const newPage = (context, errors) => supportPage(context, errors, { timeoutMs: WAIT_MS, consoleErrors: true });
log(`launching ${process.env.CHROMIUM_PATH || '/usr/bin/chromium'} (headless, ${VIEWPORT.width}x${VIEWPORT.height})`);
const browser = await launchBrowser();
try {
  // The dashboard first, so the console's session is not among the live ones.
  await dashboard(browser, baseUrl, token, path.join(outDir, 'dashboard.png'));
  await consolePage(browser, baseUrl, path.join(outDir, 'console.png'));
} catch (err) {
  console.error(`screenshots: ${err.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
