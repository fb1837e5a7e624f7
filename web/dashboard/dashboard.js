// voicegate dashboard (/dashboard): usage figures from the admin API (docs/admin-api.md).
//
// The admin token is entered once and kept in this tab's sessionStorage; every request sends it
// as `Authorization: Bearer`, and a 401 returns to the sign-in form. The first paint asks only
// for aggregates (usage by day, user and model, and live sessions, in parallel); the sessions
// table loads after. When the charts hold data the page sets `performance.mark('vg-first-data-paint')`
// and `<body data-ready="true">`, which bench/dashboard-paint.mjs reads.
// Chart.js is the global `Chart` from /dashboard/vendor/chart.umd.min.js (compiled into the binary),
// loaded after this module so that the first requests start before the library is parsed.

const TOKEN_KEY = 'voicegate.adminToken';
const REFRESH_MS = 15_000;
const TOP_USERS = 10;
const DAY_MS = 86_400_000;
const PALETTE = ['#4f46e5', '#0f7b4f', '#d97706', '#dc2626', '#0891b2', '#7c3aed', '#65a30d', '#db2777'];

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  filters: null,
  charts: {},
  pageCursors: [null], // cursor of each page visited; the last is the page shown
  nextCursor: null,
  refreshing: false,
  timer: 0,
  painted: false,
  generation: 0, // bumps on sign-out and filter changes so stale responses are dropped
};

// ------------------------------------------------------------------ formatting

const fmtInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fmtMin1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const fmtSmall = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 2 });
const fmtUsd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtUsdSmall = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 2 });

/** Minutes: one decimal, but a small non-zero amount keeps two significant digits (not "0"). */
const fmtMin = { format: (v) => (v !== 0 && Math.abs(v) < 0.1 ? fmtSmall.format(v) : fmtMin1.format(v)) };

function usd(v) {
  return v !== 0 && Math.abs(v) < 0.01 ? fmtUsdSmall.format(v) : fmtUsd.format(v);
}

/** "2026-11-27T12:31:05.120Z" → "2026-11-27 12:31:05" (UTC), or "–". */
function utcTime(iso) {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '–';
}

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function sum(obj) {
  return Object.values(obj || {}).reduce((a, b) => a + b, 0);
}

// ------------------------------------------------------------------ API

class AuthError extends Error {}

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v !== null && v !== undefined) q.set(k, String(v));
  }
  return q.toString();
}

/** GET an admin route with the token; resolves to the Response (2xx) or throws AuthError/ApiError. */
async function adminFetch(path, params) {
  const q = query(params);
  const res = await fetch(q ? `${path}?${q}` : path, {
    headers: { Authorization: `Bearer ${state.token}` },
    cache: 'no-store',
  });
  if (res.status === 401) throw new AuthError('The admin token was not accepted (401). Enter it again.');
  if (res.ok) return res;
  if (res.status === 404) {
    throw new ApiError('The admin API is off on this server: it needs VOICEGATE_ADMIN_TOKEN (or JWT admins).', 404, 'not_found');
  }
  const body = await res.json().catch(() => null);
  throw new ApiError(body?.error || `HTTP ${res.status}`, res.status, body?.code || '');
}

async function adminJson(path, params) {
  const body = await (await adminFetch(path, params)).json();
  if (!body || body.success !== true) throw new ApiError('Unexpected answer from the server', 200, '');
  return body;
}

// ------------------------------------------------------------------ filters

function defaultFilters() {
  const now = Date.now();
  return { from: isoDay(now - 29 * DAY_MS), to: isoDay(now), userId: '', model: '', status: '', endedBy: '' };
}

function readFilters() {
  const f = Object.fromEntries(new FormData($('filters')).entries());
  for (const k of Object.keys(f)) f[k] = String(f[k]).trim();
  return f;
}

function writeFilters(f) {
  $('f-from').value = f.from;
  $('f-to').value = f.to;
  $('f-user').value = f.userId;
  $('f-model').value = f.model;
  $('f-status').value = f.status;
  $('f-ended-by').value = f.endedBy;
}

/** A message when the range is unusable, else ''. */
function checkRange(f) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(f.from) || !/^\d{4}-\d{2}-\d{2}$/.test(f.to)) return 'Choose both dates of the range.';
  if (f.to < f.from) return '"To" is before "From".';
  return '';
}

/** Parameters every aggregate request shares: the date range, user and model filters. */
function usageScope() {
  const f = state.filters;
  return { from: f.from, to: f.to, userId: f.userId, model: f.model };
}

function sessionParams() {
  const f = state.filters;
  return { ...usageScope(), status: f.status, endedBy: f.endedBy };
}

// ------------------------------------------------------------------ views

function show(view) {
  document.body.dataset.view = view;
  $('login').hidden = view !== 'login';
  $('dashboard').hidden = view !== 'dashboard';
  $('logout').hidden = view !== 'dashboard';
}

function setStatus(text) {
  $('status').textContent = text;
}

function showError(box, err) {
  box.textContent = err ? err.message : '';
  box.hidden = !err;
}

function signOut(message) {
  state.generation++;
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.timer);
  show('login');
  showError($('login-error'), message ? new Error(message) : null);
  $('admin-token').value = '';
  $('admin-token').focus();
}

/** Routes a failed request: a 401 signs out, anything else is shown above the figures. */
function handleFailure(err) {
  if (err instanceof AuthError) {
    signOut(err.message);
  } else {
    showError($('error'), err instanceof ApiError ? err : new Error(`Request failed: ${err.message}`));
  }
}

// ------------------------------------------------------------------ charts

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  return { text: css.getPropertyValue('--muted').trim(), grid: css.getPropertyValue('--border').trim() };
}

function baseOptions(extra = {}) {
  const { text, grid } = themeColors();
  return {
    animation: false, // draw synchronously: the first data paint is measured
    responsive: true,
    maintainAspectRatio: false,
    color: text,
    plugins: { legend: { labels: { color: text, boxWidth: 12 } } },
    scales: {
      x: { ticks: { color: text }, grid: { color: grid } },
      y: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
    },
    ...extra,
  };
}

function roundOptions() {
  const { text } = themeColors();
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom', labels: { color: text, boxWidth: 12 } } },
  };
}

function makeCharts() {
  const Chart = window.Chart;
  const c = state.charts;
  c.daily = new Chart($('chart-daily'), {
    data: {
      labels: [],
      datasets: [
        { type: 'bar', label: 'Sessions', data: [], backgroundColor: PALETTE[0], yAxisID: 'y' },
        { type: 'line', label: 'Billable minutes', data: [], borderColor: PALETTE[2], backgroundColor: PALETTE[2], yAxisID: 'y1', tension: 0.2, pointRadius: 2 },
      ],
    },
    options: (() => {
      const o = baseOptions();
      o.scales.y1 = { beginAtZero: true, position: 'right', ticks: { color: o.scales.y.ticks.color }, grid: { drawOnChartArea: false } };
      return o;
    })(),
  });
  c.cost = new Chart($('chart-cost'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'Estimated cost (USD)', data: [], backgroundColor: PALETTE[1] }] },
    options: (() => {
      const o = baseOptions();
      o.scales.y.ticks = { ...o.scales.y.ticks, precision: undefined, callback: (v) => usd(v) };
      o.plugins.tooltip = { callbacks: { label: (ctx) => `Estimated: ${usd(ctx.parsed.y)}` } };
      return o;
    })(),
  });
  c.users = new Chart($('chart-users'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'Billable minutes', data: [], backgroundColor: PALETTE[0] }] },
    options: (() => {
      const o = baseOptions({ indexAxis: 'y' });
      o.scales.x.beginAtZero = true;
      o.plugins.legend.display = false;
      return o;
    })(),
  });
  c.models = new Chart($('chart-models'), {
    type: 'doughnut',
    data: { labels: [], datasets: [{ label: 'Sessions', data: [], backgroundColor: PALETTE }] },
    options: roundOptions(),
  });
  c.endedBy = new Chart($('chart-ended-by'), {
    type: 'doughnut',
    data: { labels: [], datasets: [{ label: 'Sessions', data: [], backgroundColor: PALETTE.slice(1) }] },
    options: roundOptions(),
  });
  c.denied = new Chart($('chart-denied'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'Denied requests', data: [], backgroundColor: PALETTE[3] }] },
    options: (() => {
      const o = baseOptions();
      o.plugins.legend.display = false;
      return o;
    })(),
  });
}

/** Replaces a chart's labels and each dataset's data, redraws without animation and describes it. */
function setChart(chart, labels, series, summary) {
  chart.data.labels = labels;
  series.forEach((data, i) => { chart.data.datasets[i].data = data; });
  chart.update('none');
  chart.canvas.setAttribute('aria-label', summary);
}

function describe(labels, values, fmt = fmtInt) {
  if (labels.length === 0) return 'No data';
  return labels.map((l, i) => `${l}: ${fmt.format(values[i])}`).join(', ');
}

/** A breakdown chart from [label, count] pairs (zero counts left out). */
function setBreakdown(chart, pairs, title) {
  const shown = pairs.filter(([, n]) => n > 0);
  const labels = shown.map(([k]) => k);
  const values = shown.map(([, n]) => n);
  setChart(chart, labels, [values], `${title}: ${describe(labels, values)}`);
}

/** Totals, the per-day charts and the endedBy / denial breakdowns: from usage?groupBy=day. */
function renderDays(byDay) {
  const t = byDay.totals;
  const kpi = (id, value, text) => {
    $(id).textContent = text;
    $(id).dataset.value = String(value);
  };
  kpi('kpi-sessions', t.sessions, fmtInt.format(t.sessions));
  $('kpi-ended').textContent = `${fmtInt.format(t.endedSessions)} ended`;
  kpi('kpi-minutes', t.billableMinutes, fmtMin.format(t.billableMinutes));
  $('kpi-reported').textContent = `${fmtMin.format(t.minutes)} reported by clients`;
  kpi('kpi-cost', t.estimatedCostUsd, usd(t.estimatedCostUsd));
  $('kpi-cost').title = byDay.costBasis || 'Estimated';
  // A denial comes before any session, so it has no model: with a model filter there is no count.
  const byModel = Boolean(state.filters.model);
  kpi('kpi-denied', byModel ? '' : sum(t.denied), byModel ? '–' : fmtInt.format(sum(t.denied)));
  $('kpi-denied-note').textContent = byModel ? 'not counted per model' : 'all reasons';
  $('cost-basis').textContent = byDay.costBasis ? `Estimated: ${byDay.costBasis}` : 'Estimated.';

  const c = state.charts;
  const days = byDay.rows.map((r) => r.key);
  setChart(c.daily, days, [byDay.rows.map((r) => r.sessions), byDay.rows.map((r) => r.billableMinutes)],
    `Sessions and billable minutes per day from ${byDay.from} to ${byDay.to}: ${fmtInt.format(t.sessions)} sessions, ${fmtMin.format(t.billableMinutes)} minutes`);
  setChart(c.cost, days, [byDay.rows.map((r) => r.estimatedCostUsd)],
    `Estimated cost per day, ${usd(t.estimatedCostUsd)} in total`);
  setBreakdown(c.endedBy, Object.entries(t.endedBy || {}), 'Ended sessions by who ended them');
  setBreakdown(c.denied, Object.entries(t.denied || {}), 'Denied token requests by reason');
}

function renderUsers(byUser) {
  const users = byUser.rows.slice(0, TOP_USERS);
  setChart(state.charts.users, users.map((r) => r.key), [users.map((r) => r.billableMinutes)],
    `Top users by billable minutes: ${describe(users.map((r) => r.key), users.map((r) => r.billableMinutes), fmtMin)}`);
  fillDatalist('user-list', byUser.rows.map((r) => r.key));
}

function renderModels(byModel) {
  setBreakdown(state.charts.models, byModel.rows.map((r) => [r.key, r.sessions]), 'Sessions by model');
  fillDatalist('model-list', byModel.rows.map((r) => r.key));
}

function fillDatalist(id, values) {
  const list = $(id);
  list.replaceChildren(...values.map((v) => Object.assign(document.createElement('option'), { value: v })));
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text ?? '–';
  if (className) td.className = className;
  return td;
}

function row(cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function renderLive(live) {
  const f = state.filters;
  // The live view is "now": the date range does not apply, the user and model filters do.
  const open = live.sessions.filter((s) => (!f.userId || s.userId === f.userId) && (!f.model || s.model === f.model));
  const filtered = Boolean(f.userId || f.model);
  const count = filtered ? open.length : live.openSessions;
  $('kpi-live').textContent = fmtInt.format(count);
  $('kpi-live').dataset.value = String(count);
  $('kpi-live-note').textContent = filtered ? `of ${fmtInt.format(live.openSessions)} open, matching the filters` : 'live sessions';
  $('live-rows').replaceChildren(...open.map((s) => row([
    cell(utcTime(s.issuedAt)), cell(s.sessionId, 'mono'), cell(s.userId), cell(s.model),
    cell(utcTime(s.expiresAt)), cell(utcTime(s.reservationEndsAt)),
  ])));
  $('live-empty').hidden = open.length > 0;
  $('live-rows').closest('.table-wrap').hidden = open.length === 0;
}

function renderSessions(page) {
  $('session-rows').replaceChildren(...page.sessions.map((s) => row([
    cell(utcTime(s.issuedAt)), cell(s.sessionId, 'mono'), cell(s.userId), cell(s.model), cell(s.status),
    cell(s.endedBy), cell(s.billableMinutes === null ? null : fmtMin.format(s.billableMinutes), 'num'),
    cell(s.messageCount === null ? null : fmtInt.format(s.messageCount), 'num'),
    cell(s.estimatedCostUsd === null ? null : usd(s.estimatedCostUsd), 'num'),
  ])));
  state.nextCursor = page.nextCursor ?? null;
  $('sessions-empty').hidden = page.sessions.length > 0;
  $('page-label').textContent = `Page ${state.pageCursors.length}`;
  $('page-newer').disabled = state.pageCursors.length <= 1;
  $('page-older').disabled = !state.nextCursor;
  $('sessions').dataset.loaded = 'true';
}

// ------------------------------------------------------------------ loading

/**
 * First-paint data: aggregates only, requested in parallel, each drawn as soon as it arrives
 * (and the charts exist). Resolves once all four are drawn; `isCurrent()` false drops a stale one.
 */
function loadAggregates(isCurrent) {
  const scope = usageScope();
  const part = (promise, render) => promise.then(async (body) => {
    await chartsReady;
    if (isCurrent()) render(body);
  });
  // The per-user view is asked for last: with many users it is the slowest to compute, and the
  // server answers the others first.
  return Promise.all([
    part(adminJson('/api/admin/usage', { ...scope, groupBy: 'day' }), renderDays),
    part(adminJson('/api/admin/usage', { ...scope, groupBy: 'model' }), renderModels),
    part(adminJson('/api/admin/live', {}), renderLive),
    part(adminJson('/api/admin/usage', { ...scope, groupBy: 'user', limit: TOP_USERS }), renderUsers),
  ]);
}

async function loadSessions() {
  const cursor = state.pageCursors[state.pageCursors.length - 1];
  return adminJson('/api/admin/sessions', { ...sessionParams(), limit: $('page-size').value, cursor });
}

function markFirstPaint() {
  if (state.painted) return;
  state.painted = true;
  // Every first-paint chart is drawn by now, synchronously (no animation); the mark lands on the
  // frame that shows them.
  requestAnimationFrame(() => {
    performance.mark('vg-first-data-paint');
    document.body.dataset.ready = 'true';
  });
}

/** Reloads everything for the current filters; never two at once. */
async function refresh() {
  if (state.refreshing || !state.token) return;
  state.refreshing = true;
  clearTimeout(state.timer);
  const gen = state.generation;
  $('refresh').setAttribute('aria-busy', 'true');
  try {
    await loadAggregates(() => gen === state.generation);
    if (gen !== state.generation) return;
    markFirstPaint();
    showError($('error'), null);
    const page = await loadSessions();
    if (gen !== state.generation) return;
    renderSessions(page);
    setStatus(`Updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    if (gen === state.generation) handleFailure(err);
  } finally {
    state.refreshing = false;
    $('refresh').removeAttribute('aria-busy');
    if (gen !== state.generation && state.token && !$('dashboard').hidden) {
      refresh(); // the filters changed while this one ran
    } else {
      schedule();
    }
  }
}

/** Arms the next auto-refresh: one timer at a time, counted from the end of the last refresh. */
function schedule() {
  clearTimeout(state.timer);
  if (state.token && $('auto-refresh').checked && !document.hidden && !$('dashboard').hidden) {
    state.timer = setTimeout(refresh, REFRESH_MS);
  }
}

async function turnPage(delta) {
  if (delta > 0 && state.nextCursor) state.pageCursors.push(state.nextCursor);
  if (delta < 0 && state.pageCursors.length > 1) state.pageCursors.pop();
  const gen = state.generation;
  try {
    const page = await loadSessions();
    if (gen === state.generation) renderSessions(page);
  } catch (err) {
    handleFailure(err);
  }
}

/** CSV of the current selection: fetched with the auth header, saved under the server's filename. */
async function exportCsv() {
  const button = $('csv-export');
  button.setAttribute('aria-busy', 'true');
  button.disabled = true;
  try {
    const res = await adminFetch('/api/admin/sessions', { ...sessionParams(), format: 'csv' });
    const disposition = res.headers.get('Content-Disposition') || '';
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `voicegate-sessions-${state.filters.from}-${state.filters.to}.csv`;
    const more = res.headers.get('X-Next-Cursor');
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = Object.assign(document.createElement('a'), { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $('csv-note').textContent = more ? 'The CSV holds the first 100,000 sessions only: narrow the date range for the rest.' : '';
    $('csv-note').hidden = !more;
    setStatus(`Downloaded ${name}`);
  } catch (err) {
    handleFailure(err);
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// ------------------------------------------------------------------ wiring

function applyFilters(f) {
  const problem = checkRange(f);
  if (problem) {
    showError($('error'), new Error(problem));
    return;
  }
  state.filters = f;
  state.pageCursors = [null];
  state.generation++;
  refresh();
}

function start() {
  show('dashboard');
  showError($('login-error'), null);
  state.filters = defaultFilters();
  writeFilters(state.filters);
  state.pageCursors = [null];
  refresh();
}

// This module runs before Chart.js (it comes first in the page, both deferred), so the first
// requests overlap the library's parse; the charts are made once it has run.
const chartsReady = new Promise((resolve) => {
  document.addEventListener('DOMContentLoaded', () => {
    makeCharts();
    resolve();
  }, { once: true });
});

function init() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('admin-token').value.trim();
    if (!token) {
      showError($('login-error'), new Error('Enter the admin token.'));
      return;
    }
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('admin-token').value = '';
    start();
  });
  $('logout').addEventListener('click', () => signOut(''));
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    applyFilters(readFilters());
  });
  $('reset-filters').addEventListener('click', () => {
    writeFilters(defaultFilters());
    applyFilters(readFilters());
  });
  $('refresh').addEventListener('click', () => refresh());
  $('auto-refresh').addEventListener('change', schedule);
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) clearTimeout(state.timer);
    else if ($('auto-refresh').checked && state.token) refresh();
  });
  $('page-older').addEventListener('click', () => turnPage(1));
  $('page-newer').addEventListener('click', () => turnPage(-1));
  $('csv-export').addEventListener('click', exportCsv);
  $('page-size').addEventListener('change', () => {
    state.pageCursors = [null];
    turnPage(0);
  });

  if (state.token) start();
  else signOut('');
}

init();
