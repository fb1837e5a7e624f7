#!/usr/bin/env node
// Dashboard first data paint (SPEC §9: under 1 s in headless Chromium).
//
//   VOICEGATE_ADMIN_TOKEN=… node bench/dashboard-paint.mjs http://127.0.0.1:8080 [--runs 5] [--json]
//
// Opens /dashboard RUNS times (default 5), each in a fresh browser context (cold cache) with the
// admin token already in sessionStorage, waits for <body data-ready="true"> and reads the
// `vg-first-data-paint` performance mark: milliseconds from navigation start to the charts drawn
// with data. Prints every run and the median (with --json: one JSON object on stdout).
// The token is read from the environment, never from the command line, and never printed.
// A 1,000,000-session history to measure against: bench/dashboard-seed.sql (see bench/README.md).
// Needs playwright-core from tests/e2e (scripts/e2e.sh or `cd tests/e2e && npm ci` installs it)
// and Chromium at CHROMIUM_PATH (default /usr/bin/chromium).

const LOAD_TIMEOUT_MS = 30_000;

function usage(message) {
  console.error(`dashboard-paint: ${message}`);
  console.error('usage: VOICEGATE_ADMIN_TOKEN=… node bench/dashboard-paint.mjs BASE_URL [--runs N] [--json]');
  process.exit(2);
}

function parseArgs(argv) {
  const out = { baseUrl: '', runs: 5, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') out.runs = Number(argv[++i]);
    else if (argv[i] === '--json') out.json = true;
    else if (!out.baseUrl) out.baseUrl = argv[i].replace(/\/+$/, '');
    else usage(`unexpected argument "${argv[i]}"`);
  }
  if (!/^https?:\/\/./.test(out.baseUrl)) usage('BASE_URL (http://host:port) is required');
  if (!Number.isInteger(out.runs) || out.runs < 1) usage('--runs must be a positive integer');
  return out;
}

/** The browser launcher the e2e tests use (their playwright-core and Chromium flags). */
async function loadLauncher() {
  try {
    return (await import('../tests/e2e/support.mjs')).launchBrowser;
  } catch {
    console.error('dashboard-paint: playwright-core is not installed: run `cd tests/e2e && npm ci` (scripts/e2e.sh does)');
    process.exit(2);
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One cold load: ms from navigation start to the first-data-paint mark. */
async function measureOnce(browser, baseUrl, token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    await context.addInitScript((t) => sessionStorage.setItem('voicegate.adminToken', t), token);
    const page = await context.newPage();
    await page.goto(`${baseUrl}/dashboard`, { timeout: LOAD_TIMEOUT_MS });
    await page.locator('body[data-ready="true"], #login-error:visible, #error:visible')
      .first().waitFor({ timeout: LOAD_TIMEOUT_MS });
    const result = await page.evaluate(() => ({
      mark: performance.getEntriesByName('vg-first-data-paint')[0]?.startTime ?? null,
      error: document.getElementById('login-error').hidden ? document.getElementById('error').textContent : document.getElementById('login-error').textContent,
    }));
    if (result.mark === null) throw new Error(`the dashboard showed no data: ${result.error.trim()}`);
    return result.mark;
  } finally {
    await context.close();
  }
}

const args = parseArgs(process.argv.slice(2));
const token = process.env.VOICEGATE_ADMIN_TOKEN || '';
if (!token) usage('VOICEGATE_ADMIN_TOKEN must be set (the admin token of the server under test)');

const launchBrowser = await loadLauncher();
const browser = await launchBrowser();
try {
  const times = [];
  for (let i = 0; i < args.runs; i++) {
    const ms = await measureOnce(browser, args.baseUrl, token);
    times.push(ms);
    if (!args.json) console.log(`load ${i + 1}: ${ms.toFixed(1)} ms`);
  }
  const med = median(times);
  if (args.json) {
    console.log(JSON.stringify({ metric: 'dashboard_first_data_paint_ms', median: med, runs: times }));
  } else {
    console.log(`dashboard first data paint: median ${med.toFixed(1)} ms over ${times.length} loads (bar: < 1000 ms)`);
  }
} catch (err) {
  console.error(`dashboard-paint: ${err.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
