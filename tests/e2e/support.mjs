// Shared by the browser tests: start and stop the real binary, Chromium's flags, paths.
//
//   VOICEGATE_BIN  the binary (default ../../build/voicegate, relative to this file)
//   CHROMIUM_PATH  the browser (default /usr/bin/chromium)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const ARTIFACTS = path.join(REPO, 'test-artifacts');
export const BIN = path.resolve(process.env.VOICEGATE_BIN || path.join(HERE, '../../build/voicegate'));
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const SERVER_START_MS = 30_000;
const SERVER_STOP_MS = 5_000;
export const ACTION_MS = 10_000;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// ------------------------------------------------------------------ server

/** Resolves to `true` if `promise` settled within `ms`, else `false`; leaves no timer behind. */
export async function settlesWithin(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Environment for the server: hermetic, emulator mode (no key), nothing inherited that changes
 * policy, then `extra` (e.g. VOICEGATE_ADMIN_TOKEN). */
function serverEnv(extra) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(OPENAI_|VOICEGATE_|JWT_)/.test(k) || k === 'DATABASE_URL' || k === 'REDIS_URL') delete env[k];
  }
  return { ...env, ...extra };
}

export function startServer(extraEnv = {}) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`voicegate binary not found at ${BIN}: run \`make build\` or set VOICEGATE_BIN`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voicegate-e2e-'));
  // cwd is the data dir, so no stray .env from the developer's checkout is read.
  const proc = spawn(BIN, [
    'serve', '--listen', '127.0.0.1:0', '--database-url', `sqlite:${path.join(dataDir, 'vg.db')}`,
  ], { cwd: dataDir, env: serverEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });

  let log = '';
  const server = { proc, dataDir, baseUrl: '', log: () => log };
  const killOnExit = () => { try { proc.kill('SIGKILL'); } catch { /* already gone */ } };
  process.once('exit', killOnExit);
  server.killOnExit = killOnExit;

  server.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not print "listening on" within ${SERVER_START_MS} ms; log:\n${log}`));
    }, SERVER_START_MS);
    const onData = (chunk) => {
      log += chunk.toString();
      // The service's own line, not that of an emulator it may start beside itself.
      const complete = log.split('\n').slice(0, -1); // a port cut between two chunks must not match
      const line = complete.find((l) => /listening on http:/.test(l) && !/emulator listening/.test(l));
      const m = line && /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m && !server.baseUrl) {
        server.baseUrl = m[1];
        clearTimeout(timer);
        resolve(server);
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!server.baseUrl) reject(new Error(`server exited early (code ${code}, signal ${signal}); log:\n${log}`));
    });
  });
  return server;
}

export async function stopServer(server) {
  if (!server) return;
  const { proc } = server;
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    if (!(await settlesWithin(exited, SERVER_STOP_MS))) {
      proc.kill('SIGKILL');
      await settlesWithin(exited, SERVER_STOP_MS);
    }
  }
  process.removeListener('exit', server.killOnExit);
  fs.rmSync(server.dataDir, { recursive: true, force: true });
}


/** Headless Debian Chromium with the flags every test uses. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** A phone-sized browser context's options (390×844, touch). */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** How many CSS pixels the page is wider than its viewport (> 0: sideways scrolling). */
export function horizontalOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/**
 * A page with bounded waits (`timeoutMs`) whose uncaught errors and Content-Security-Policy
 * violations land in `errors` (the server sends a strict CSP with its pages: any violation is a
 * bug); with `consoleErrors`, every console error too.
 */
export async function newPage(context, errors, { timeoutMs = ACTION_MS, consoleErrors = false } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.setDefaultNavigationTimeout(timeoutMs);
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if ((consoleErrors && msg.type() === 'error') || /Content Security Policy/i.test(msg.text())) errors.push(msg.text());
  });
  return page;
}

/** Number of canvas pixels that are not fully transparent. */
export function paintedPixels(page, canvasId) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
  }, canvasId);
}
