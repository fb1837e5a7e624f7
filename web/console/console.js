// voicegate test console. Plain ES module: no framework, no build step, nothing from a CDN.
// Talks to the same origin it was served from:
//   GET  /api/realtime/options   fills the form
//   POST /api/realtime/token     issues an ephemeral token
//   POST /api/realtime/end       ends a session and shows the stored record
// The live voice session loads the client library (clients/js, embedded at /lib/index.js): in the
// token flow it posts its SDP offer to the upstream named by the options' realtimeCallsUrl and
// attaches the call (/api/realtime/attach); in the relay flow it posts the offer to
// /api/realtime/calls on this origin.

const API = {
  options: '/api/realtime/options',
  token: '/api/realtime/token',
  end: '/api/realtime/end',
};
const CLIENT_LIBRARY = '/lib/index.js';
const DEFAULT_CALLS_URL = 'https://api.openai.com/v1/realtime/calls';
const BEARER_KEY = 'voicegate.console.bearer';
const MASK = '••••••••';
const REQUEST_TIMEOUT_MS = 45_000; // above the server's own 30 s upstream deadline

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`console: missing element #${id}`);
  return el;
};

const state = {
  options: null,
  issued: null, // { token, sessionId, expiresAt (s), issuedAtMs, ttlSeconds }
  revealed: false,
  durationEdited: false,
  sessionEnded: false,
  timer: 0,
  live: null, // { session, limitMs, flow } while a voice session runs
};

// ---------------------------------------------------------------- helpers

/** UTF-8 byte length, as the server counts instructions. */
export function utf8Bytes(text) {
  return new TextEncoder().encode(text).length;
}

/** `ek_••••••••abcd`: the prefix up to the first "_", a fixed mask, the last four characters. */
export function maskToken(token) {
  if (typeof token !== 'string' || token.length === 0) return '';
  const cut = token.indexOf('_');
  const prefix = cut >= 0 && cut < 8 ? token.slice(0, cut + 1) : '';
  const last4 = token.length - prefix.length > 4 ? token.slice(-4) : '';
  return `${prefix}${MASK}${last4}`;
}

/** mm:ss (minutes are not capped at 59: a 2 h TTL reads 120:00). */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${mm}:${ss}`;
}

/** POSIX shell single-quoting: safe for any string, including quotes, $, backticks and newlines. */
export function shellQuote(value) {
  const s = String(value);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The curl command that makes the same request as the page. */
export function buildCurl(url, body, { bearer = false } = {}) {
  const lines = [`curl -sS ${shellQuote(url)}`, `-H ${shellQuote('Content-Type: application/json')}`];
  // The bearer itself is never printed: the command reads it from the shell.
  if (bearer) lines.push('-H "Authorization: Bearer $VOICEGATE_JWT"');
  lines.push(`--data-raw ${shellQuote(JSON.stringify(body))}`);
  return lines.join(' \\\n  ');
}

/** 1800 → "30 min", 90 → "90 s". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

function formatNumber(n) {
  return Number(n).toLocaleString('en-US');
}

function setHidden(el, hidden) {
  el.hidden = hidden;
}

let statusClear = 0;
function announce(message) {
  const el = $('status');
  el.textContent = message;
  clearTimeout(statusClear);
  statusClear = setTimeout(() => { if (el.textContent === message) el.textContent = ''; }, 5000);
}

function bearerValue() {
  return $('auth-bearer').value.trim();
}

function authHeaders() {
  const bearer = bearerValue();
  return bearer ? { Authorization: `Bearer ${bearer}` } : {};
}

/**
 * fetch + JSON with a deadline. Always resolves to
 * { ok, status, body, requestId, retryAfter, error: {code, message} | null }.
 */
async function callApi(url, { method = 'GET', body } = {}) {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  const headers = { Accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
      signal: controller.signal,
    });
  } catch (err) {
    clearTimeout(deadline);
    const timedOut = err && err.name === 'AbortError';
    return {
      ok: false, status: 0, body: null, requestId: '', retryAfter: '',
      error: timedOut
        ? { code: 'client_timeout', message: `No answer from the server within ${REQUEST_TIMEOUT_MS / 1000} s.` }
        : { code: 'network_error', message: 'Could not reach the server. Is it running?' },
    };
  }
  const requestId = res.headers.get('X-Request-Id') || '';
  const retryAfter = res.headers.get('Retry-After') || '';
  let text = '';
  try {
    text = await res.text();
  } catch {
    text = '';
  } finally {
    clearTimeout(deadline);
  }
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  const isObject = json !== null && typeof json === 'object' && !Array.isArray(json);
  if (res.ok && isObject && json.success === true) {
    return { ok: true, status: res.status, body: json, requestId, retryAfter, error: null };
  }
  let error;
  if (isObject && (typeof json.error === 'string' || typeof json.code === 'string')) {
    error = {
      code: typeof json.code === 'string' ? json.code : 'error',
      message: typeof json.error === 'string' ? json.error : `HTTP ${res.status}`,
    };
  } else if (!isObject) {
    error = { code: 'bad_response', message: `The server answered HTTP ${res.status} without a JSON body.` };
  } else {
    error = { code: 'unexpected_response', message: `The server answered HTTP ${res.status} without success.` };
  }
  return { ok: false, status: res.status, body: isObject ? json : null, requestId, retryAfter, error };
}

/** Renders an error: HTTP status, the server's code and message, Retry-After, request id. */
function showError(box, title, result) {
  box.replaceChildren();
  const head = document.createElement('p');
  head.className = 'error-title';
  const strong = document.createElement('strong');
  strong.textContent = title;
  head.append(strong);
  if (result.status) {
    const status = document.createElement('span');
    status.className = 'error-status';
    status.dataset.testid = 'error-status';
    status.textContent = `HTTP ${result.status}`;
    head.append(' ', status);
  }
  const code = document.createElement('code');
  code.className = 'error-code';
  code.dataset.testid = 'error-code';
  code.textContent = result.error.code;
  head.append(' ', code);
  box.append(head);

  const msg = document.createElement('p');
  msg.className = 'error-message';
  msg.dataset.testid = 'error-message';
  msg.textContent = result.error.message;
  box.append(msg);

  const extra = [];
  if (result.retryAfter) {
    const secs = Number(result.retryAfter);
    extra.push(['error-retry-after', Number.isFinite(secs)
      ? `Retry after ${secs} s.`
      : `Retry after ${result.retryAfter}.`]);
  }
  if (result.requestId) extra.push(['error-request-id', `Request id ${result.requestId}`]);
  for (const [testid, text] of extra) {
    const p = document.createElement('p');
    p.className = 'error-extra';
    p.dataset.testid = testid;
    p.textContent = text;
    box.append(p);
  }
  setHidden(box, false);
}

function clearError(box) {
  box.replaceChildren();
  setHidden(box, true);
}

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the legacy path (e.g. permission denied)
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

async function copyWithFeedback(button, text, what) {
  const ok = await copyText(text);
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = ok ? 'Copied' : 'Copy failed';
  button.classList.toggle('is-done', ok);
  announce(ok ? `${what} copied to the clipboard.` : `Could not copy the ${what.toLowerCase()}; select it by hand.`);
  setTimeout(() => {
    button.textContent = label;
    button.classList.remove('is-done');
  }, 1500);
}

// ---------------------------------------------------------------- options

function fillSelect(select, values, selected, { serverDefault = true } = {}) {
  select.replaceChildren();
  if (serverDefault) select.append(new Option('(server default)', ''));
  for (const v of values) select.append(new Option(v, v, false, v === selected));
  if (selected && values.includes(selected)) select.value = selected;
}

function renderOptions(opts) {
  const models = Array.isArray(opts.models) ? opts.models.filter((m) => typeof m === 'string') : [];
  const voices = Array.isArray(opts.voices) ? opts.voices.filter((v) => typeof v === 'string') : [];
  const aliases = opts.aliases && typeof opts.aliases === 'object' ? opts.aliases : {};

  const model = $('model');
  fillSelect(model, models, opts.defaultModel);
  const aliasNames = Object.keys(aliases).filter((k) => typeof aliases[k] === 'string');
  if (aliasNames.length) {
    // Retired names still accepted by the server: pick one to see how it is mapped.
    const group = document.createElement('optgroup');
    group.label = 'Aliases (retired names)';
    for (const name of aliasNames) group.append(new Option(`${name} → ${aliases[name]}`, name));
    model.append(group);
  }
  model.disabled = false;

  fillSelect($('voice'), voices, opts.defaultVoice);
  $('voice').disabled = false;

  // Aliases as a compact, expandable hint: retired names the server maps to current ones.
  const hint = $('model-hint');
  hint.replaceChildren();
  if (aliasNames.length) {
    const details = document.createElement('details');
    details.className = 'aliases';
    const summary = document.createElement('summary');
    summary.textContent = `${aliasNames.length} retired name${aliasNames.length === 1 ? '' : 's'} accepted as aliases`;
    const list = document.createElement('ul');
    for (const name of aliasNames) {
      const li = document.createElement('li');
      const from = document.createElement('code');
      from.textContent = name;
      const to = document.createElement('code');
      to.textContent = aliases[name];
      li.append(from, ' → ', to);
      list.append(li);
    }
    details.append(summary, list);
    hint.append(details);
  } else {
    hint.textContent = 'No aliases configured.';
  }

  const profiles = Array.isArray(opts.profiles) ? opts.profiles : [];
  const profileSelect = $('profile');
  profileSelect.replaceChildren(new Option('None (use the fields below)', ''));
  for (const p of profiles) {
    const name = typeof p === 'string' ? p : p && typeof p.name === 'string' ? p.name : '';
    if (!name) continue;
    const desc = p && typeof p === 'object' && typeof p.description === 'string' ? ` — ${p.description}` : '';
    profileSelect.append(new Option(`${name}${desc}`, name));
  }
  setHidden($('profile-field'), profileSelect.options.length <= 1);

  const facts = [];
  if (Number.isFinite(opts.tokenTtl)) facts.push(`token TTL ${formatDuration(opts.tokenTtl)}`);
  if (Number.isFinite(opts.maxInstructionsBytes)) {
    facts.push(`instructions ≤ ${formatNumber(opts.maxInstructionsBytes)} bytes`);
  }
  facts.push(`${models.length} model${models.length === 1 ? '' : 's'}`);
  facts.push(`${voices.length} voice${voices.length === 1 ? '' : 's'}`);
  $('server-facts').textContent = facts.join(' · ');
  // Tokens from the built-in emulator look real but cannot reach OpenAI: say so.
  setHidden($('emulator-badge'), opts.emulator !== true);
  setHidden($('live-emulator-note'), opts.emulator !== true);
  if (typeof opts.realtimeCallsUrl === 'string' && opts.realtimeCallsUrl && !$('live-upstream').dataset.edited) {
    $('live-upstream').value = opts.realtimeCallsUrl;
  }

  updateInstructionsCount();
  $('issue-token').disabled = false;
}

async function loadOptions() {
  const box = $('options-error');
  clearError(box);
  $('server-facts').textContent = 'Loading server options…';
  document.body.dataset.options = 'loading';
  const result = await callApi(API.options);
  if (!result.ok) {
    $('server-facts').textContent = 'Server options unavailable';
    showError(box, 'Could not load the server options.', result);
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'btn btn-small';
    retry.id = 'options-retry';
    retry.dataset.testid = 'options-retry';
    retry.textContent = 'Retry';
    retry.addEventListener('click', loadOptions);
    box.append(retry);
    // Still usable: the server picks its defaults for anything left out.
    if (!state.options) {
      for (const id of ['model', 'voice']) {
        fillSelect($(id), [], '');
        $(id).disabled = false;
      }
      $('model-hint').textContent = 'Options unavailable: the server default is used.';
      $('issue-token').disabled = false;
    }
    announce('Could not load the server options.');
    document.body.dataset.options = 'failed';
    document.body.dataset.ready = 'true';
    return;
  }
  state.options = result.body;
  renderOptions(result.body);
  announce('Ready.');
  document.body.dataset.options = 'loaded';
  document.body.dataset.ready = 'true';
}

// ---------------------------------------------------------------- instructions counter

function updateInstructionsCount() {
  const bytes = utf8Bytes($('instructions').value);
  const max = state.options && Number.isFinite(state.options.maxInstructionsBytes)
    ? state.options.maxInstructionsBytes : null;
  const counter = $('instructions-count');
  const over = max !== null && bytes > max;
  counter.textContent = max !== null
    ? `${formatNumber(bytes)} / ${formatNumber(max)} bytes`
    : `${formatNumber(bytes)} bytes`;
  counter.classList.toggle('is-over', over);
  counter.dataset.over = String(over);
  $('instructions').setAttribute('aria-invalid', String(over));
  $('instructions-hint').textContent = over
    ? `Over the server's limit by ${formatNumber(bytes - max)} bytes: the server will refuse this request.`
    : 'Measured in UTF-8 bytes, as the server counts them.';
  $('instructions-hint').classList.toggle('is-over', over);
}

// ---------------------------------------------------------------- token

/** The request body, with only the fields the user gave. Free-text numbers go as typed if not numeric. */
function buildTokenRequest() {
  const body = {};
  const userId = $('user-id').value.trim();
  if (userId) body.userId = userId;

  const sc = {};
  const profile = $('profile-field').hidden ? '' : $('profile').value;
  if (profile) sc.profile = profile;
  const model = $('model').value;
  if (model) sc.model = model;
  const voice = $('voice').value;
  if (voice) sc.voice = voice;
  const instructions = $('instructions').value;
  if (instructions.trim()) sc.instructions = instructions;

  const temperature = $('temperature').value.trim();
  if (temperature) sc.temperature = Number.isFinite(Number(temperature)) ? Number(temperature) : temperature;
  const mot = $('max-output-tokens').value.trim();
  if (mot) sc.maxOutputTokens = /^-?\d+$/.test(mot) ? Number(mot) : mot;

  if (Object.keys(sc).length) body.sessionConfig = sc;
  return body;
}

function showCurl(codeId, blockId, path, body) {
  const url = new URL(path, window.location.origin).href;
  $(codeId).textContent = buildCurl(url, body, { bearer: Boolean(bearerValue()) });
  setHidden($(blockId), false);
}

function renderToken(body, requestId, requested) {
  const issuedAtMs = Date.now();
  const expiresAt = Number(body.expiresAt);
  state.issued = {
    token: String(body.token ?? ''),
    sessionId: String(body.sessionId ?? ''),
    expiresAt,
    issuedAtMs,
    // The meter's full width: the configured TTL, or what was left when the token arrived.
    ttlSeconds: Math.max(1, Number(state.options && state.options.tokenTtl) || 0,
      expiresAt - issuedAtMs / 1000),
  };
  state.revealed = false;
  state.durationEdited = false;
  state.sessionEnded = false;

  renderTokenValue();
  $('session-id').textContent = state.issued.sessionId;

  const config = body.config && typeof body.config === 'object' ? body.config : {};
  $('effective-model').textContent = config.model ?? '—';
  $('effective-voice').textContent = config.voice ?? '—';
  const mapped = requested.model && config.model && requested.model !== config.model;
  $('model-mapped').textContent = mapped ? `(asked for ${requested.model})` : '';
  $('token-request-id').textContent = requestId || '—';

  if (Number.isFinite(expiresAt)) {
    const when = new Date(expiresAt * 1000);
    $('expires-at').textContent = `at ${when.toLocaleTimeString()}`;
    $('expires-at').title = when.toISOString();
  } else {
    $('expires-at').textContent = '';
  }

  const warnings = Array.isArray(body.warnings) ? body.warnings : [];
  const list = $('token-warnings-list');
  list.replaceChildren(...warnings.map((w) => {
    const li = document.createElement('li');
    li.textContent = String(w);
    return li;
  }));
  setHidden($('token-warnings'), warnings.length === 0);

  // Prepare the end form for this session.
  $('end-session-id').value = state.issued.sessionId;
  $('end-message-count').value = '0';
  $('end-duration').value = '0';
  $('end-duration-hint').textContent = 'Counts up live from the issue time until you edit it.';
  clearError($('end-error'));
  setHidden($('end-result'), true);
  setHidden($('curl-end-block'), true);

  setHidden($('token-empty'), true);
  setHidden($('token-result'), false);
  $('token-card').classList.add('is-fresh');
  setTimeout(() => $('token-card').classList.remove('is-fresh'), 1200);
  tick();
}

function renderTokenValue() {
  const el = $('token-value');
  const token = state.issued ? state.issued.token : '';
  el.textContent = state.revealed ? token : maskToken(token);
  el.dataset.masked = String(!state.revealed);
  const btn = $('token-reveal');
  btn.textContent = state.revealed ? 'Hide' : 'Reveal';
  btn.setAttribute('aria-pressed', String(state.revealed));
  btn.setAttribute('aria-label', state.revealed ? 'Hide the token' : 'Reveal the token');
}

/** Issues a token with the form's request; true when one was issued (and rendered). */
async function issueToken() {
  const button = $('issue-token');
  const body = buildTokenRequest();
  const box = $('token-error');
  clearError(box);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Issuing…';
  announce('Issuing a token…');
  showCurl('curl-token', 'curl-token-block', API.token, body);
  $('curl-token-note').hidden = !bearerValue();
  try {
    const result = await callApi(API.token, { method: 'POST', body });
    if (!result.ok) {
      showError(box, 'The token request failed.', result);
      announce(`Token request failed: ${result.error.code}.`);
      return false;
    }
    renderToken(result.body, result.requestId, body.sessionConfig || {});
    announce(`Token issued for session ${result.body.sessionId}.`);
    return true;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = 'Issue token';
  }
}

async function onIssue(event) {
  event.preventDefault();
  if ($('issue-token').disabled) return;
  await issueToken();
}

// ---------------------------------------------------------------- countdown and live duration

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function tick() {
  liveTick();
  const issued = state.issued;
  if (!issued) return;
  const now = Date.now() / 1000;
  const countdown = $('countdown');
  if (Number.isFinite(issued.expiresAt)) {
    const remaining = Math.max(0, Math.floor(issued.expiresAt - now));
    const wasExpired = countdown.dataset.expired === 'true';
    countdown.dataset.remaining = String(remaining);
    if (remaining <= 0) {
      setText(countdown, 'expired');
      countdown.dataset.expired = 'true';
      if (!wasExpired) announce('The token has expired. Sessions already started keep running.');
    } else {
      setText(countdown, formatCountdown(remaining));
      countdown.dataset.expired = 'false';
    }
    countdown.classList.toggle('is-low', remaining > 0 && remaining <= 60);
    countdown.classList.toggle('is-expired', remaining <= 0);
    const frac = Math.min(1, remaining / issued.ttlSeconds);
    $('countdown-bar').style.width = `${(frac * 100).toFixed(1)}%`;
  } else {
    countdown.textContent = '—';
  }

  if (!state.durationEdited && !state.sessionEnded) {
    const elapsed = Math.max(0, Math.floor((Date.now() - issued.issuedAtMs) / 1000));
    const input = $('end-duration');
    // Never change the field under the user's caret.
    if (document.activeElement !== input && input.value !== String(elapsed)) input.value = String(elapsed);
  }
}

// ---------------------------------------------------------------- end

function buildEndRequest() {
  const num = (id) => {
    const raw = $(id).value.trim();
    return raw === '' ? 0 : Number(raw);
  };
  return {
    sessionId: $('end-session-id').value.trim(),
    duration: num('end-duration'),
    messageCount: num('end-message-count'),
    endedBy: $('end-ended-by').value,
  };
}

/** Shows a stored `/end` record (from the form or from the live session's end report). */
function renderEndRecord(sessionId, res, requestId) {
  const already = res.alreadyEnded === true;
  if (state.issued && sessionId === state.issued.sessionId) {
    state.sessionEnded = true;
    $('end-duration-hint').textContent = 'The session has ended.';
  }
  const outcome = $('end-outcome');
  outcome.textContent = already ? 'Already ended' : 'Ended';
  outcome.classList.toggle('badge-ok', !already);
  outcome.classList.toggle('badge-info', already);
  outcome.dataset.alreadyEnded = String(already);
  $('end-message').textContent = typeof res.message === 'string' ? res.message : '';
  setHidden($('end-already'), !already);
  $('end-record').textContent = JSON.stringify(res, null, 2);
  $('end-request-id').textContent = requestId ? `request id ${requestId}` : '';
  setHidden($('end-result'), false);
  announce(already ? 'The session had already ended; the stored record is shown.' : 'Session ended and logged.');
}

async function onEnd(event) {
  event.preventDefault();
  const form = $('end-form');
  if (!form.checkValidity()) {
    form.reportValidity();
    return;
  }
  const button = $('end-session');
  if (button.disabled) return;
  const body = buildEndRequest();
  const box = $('end-error');
  clearError(box);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Ending…';
  announce('Ending the session…');
  showCurl('curl-end', 'curl-end-block', API.end, body);
  try {
    const result = await callApi(API.end, { method: 'POST', body });
    if (!result.ok) {
      setHidden($('end-result'), true);
      showError(box, 'The end request failed.', result);
      announce(`End request failed: ${result.error.code}.`);
      return;
    }
    renderEndRecord(body.sessionId, result.body, result.requestId);
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = 'End session';
  }
}

// ---------------------------------------------------------------- live voice session

/** A library error in the shape showError() renders. */
function libraryErrorResult(err) {
  const e = err && typeof err === 'object' ? err : {};
  const retryMs = Number(e.retryAfterMs);
  return {
    status: Number(e.status) || 0,
    error: {
      code: typeof e.code === 'string' ? e.code : 'client_error',
      message: typeof e.message === 'string' && e.message ? e.message : String(err),
    },
    retryAfter: Number.isFinite(retryMs) && retryMs > 0 ? String(Math.ceil(retryMs / 1000)) : '',
    requestId: typeof e.requestId === 'string' ? e.requestId : '',
  };
}

/** The issued token, if it can still start a call: not ended, not used by a call, not about to expire. */
function usableIssuedToken() {
  const issued = state.issued;
  if (!issued || state.sessionEnded || issued.usedForCall) return null;
  if (!Number.isFinite(issued.expiresAt) || issued.expiresAt * 1000 - Date.now() < 10_000) return null;
  return issued;
}

function setLiveState(text) {
  setText($('live-state'), text);
  $('live-state').dataset.state = text;
}

function showLiveWarning(text) {
  const box = $('live-warning');
  box.textContent = text;
  setHidden(box, !text);
}

function renderTranscript(t) {
  const list = $('live-transcript');
  const key = `${t.role}:${t.itemId}`;
  let li = [...list.children].find((el) => el.dataset.key === key);
  if (!li) {
    li = document.createElement('li');
    li.dataset.key = key;
    li.dataset.role = t.role;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = t.role === 'user' ? 'You' : 'Assistant';
    const text = document.createElement('span');
    text.className = 'text';
    li.append(who, text);
    list.append(li);
  }
  li.dataset.final = String(t.final);
  li.querySelector('.text').textContent = t.text;
  setHidden($('live-transcript-empty'), true);
  list.scrollTop = list.scrollHeight;
}

function liveTick() {
  const live = state.live;
  if (!live || !live.session) return;
  setText($('live-elapsed'), formatCountdown(live.session.elapsedMs() / 1000));
  setText($('live-message-count'), String(live.session.messageCount));
}

/** Start while idle; End only while a session is up (not while it is starting or ending). The
 * flow and data channel choices hold still while a session runs. */
function liveButtons(phase) {
  $('live-start').disabled = phase !== 'idle';
  $('live-end').disabled = phase !== 'running';
  $('live-flow').disabled = phase !== 'idle';
  $('live-data-channel').disabled = phase !== 'idle';
}

function liveFlow() {
  return $('live-flow').value === 'relay' ? 'relay' : 'token';
}

/** The flow picks the data channel's default (on for the token flow, off for the relay) until the
 * user sets it; the upstream URL only matters to the token flow. */
function onLiveFlowChange() {
  const relay = liveFlow() === 'relay';
  if (!$('live-data-channel').dataset.edited) $('live-data-channel').checked = !relay;
  $('live-upstream').disabled = relay;
}

/** What the panel says about voicegate's supervision of the call (`data-state` for tests). */
function setSupervision(stateName, text) {
  setText($('live-supervision'), text);
  $('live-supervision').dataset.state = stateName;
}

/** The connect() options of each flow: a token and the upstream, or the form's request. */
async function flowOptions(flow) {
  if (flow === 'relay') {
    setSupervision('relaying', 'relaying…');
    return { flow: 'relay', config: buildTokenRequest() };
  }
  setLiveState('issuing token');
  if (!usableIssuedToken() && !(await issueToken())) {
    throw Object.assign(new Error('No token: see the token request error above.'), { code: 'token_failed' });
  }
  const issued = usableIssuedToken();
  if (!issued) throw Object.assign(new Error('The issued token cannot start a call.'), { code: 'token_failed' });
  setText($('live-session-id'), issued.sessionId);
  const upstream = $('live-upstream').value.trim() || DEFAULT_CALLS_URL;
  return {
    flow: 'token',
    token: { token: issued.token, sessionId: issued.sessionId, expiresAt: issued.expiresAt, config: {} },
    upstreamUrl: new URL(upstream, window.location.origin).href,
  };
}

async function onLiveStart() {
  if (state.live) return;
  const box = $('live-error');
  clearError(box);
  showLiveWarning('');
  const limitS = Number($('live-limit').value);
  if (!Number.isFinite(limitS) || limitS < 4) {
    showError(box, 'The time limit must be at least 4 seconds.', { status: 0, error: { code: 'bad_time_limit', message: `Got "${$('live-limit').value}".` } });
    return;
  }
  const flow = liveFlow();
  state.live = { session: null, limitMs: limitS * 1000, flow };
  liveButtons('starting');
  setHidden($('live-panel'), false);
  $('live-panel').dataset.flow = flow;
  $('live-transcript').replaceChildren();
  setHidden($('live-transcript-empty'), false);
  setText($('live-call-id'), '');
  setText($('live-session-id'), '');
  setSupervision('none', '—');
  setText($('live-elapsed'), '00:00');
  setText($('live-message-count'), '0');
  $('live-limit-shown').textContent = `of ${formatCountdown(limitS)}`;
  try {
    const flowOpts = await flowOptions(flow);

    setLiveState('loading library');
    const lib = await import(CLIENT_LIBRARY);
    const client = lib.createVoicegateClient({
      baseUrl: window.location.origin,
      getAuthToken: () => bearerValue() || null,
    });
    const limitMs = state.live.limitMs;
    setLiveState('connecting');
    announce('Starting the voice session…');
    const session = await client.connect({
      ...flowOpts,
      dataChannel: $('live-data-channel').checked,
      RTCPeerConnection: window.RTCPeerConnection,
      mediaDevices: navigator.mediaDevices,
      sessionTimeLimitMs: limitMs,
      warnBeforeMs: Math.min(60_000, Math.floor(limitMs / 2)),
      on: {
        connectionStateChange: ({ state: s }) => setLiveState(s),
        remoteTrack: ({ streams }) => { if (streams[0]) $('live-audio').srcObject = streams[0]; },
        transcript: (t) => { renderTranscript(t); liveTick(); },
        timeAlmostUp: ({ remainingMs }) => {
          showLiveWarning(`Time is almost up: ${Math.ceil(remainingMs / 1000)} s left in this session.`);
          announce('The voice session is almost over.');
        },
        timeUp: () => showLiveWarning('Time is up: the session ends (endedBy timeout).'),
        error: (err) => showError(box, 'The voice session reported a problem.', libraryErrorResult(err)),
        endReportFailed: ({ error }) => showError(box, 'The end report could not be recorded (the session is closed).', libraryErrorResult(error)),
        // Not fatal: the call goes on without voicegate's supervision.
        attached: () => setSupervision('attached', 'attached'),
        attachFailed: ({ error }) => setSupervision('failed', `not attached: ${error.code}${error.status ? ` (HTTP ${error.status})` : ''}`),
        ended: (result) => onLiveEnded(result),
      },
    });
    state.live.session = session;
    // One call per token: voicegate records one end per session id.
    if (flow === 'token' && state.issued) state.issued.usedForCall = true;
    // 'stable' once the SDP answer is applied (what an app's setRemoteDescription does).
    $('live-panel').dataset.signaling = session.peerConnection.signalingState || '';
    setText($('live-session-id'), session.sessionId);
    if (flow === 'relay') {
      setText($('live-call-id'), '(kept by the server)');
      $('live-call-id').dataset.callId = '';
      setSupervision('relayed', 'relayed: supervised by voicegate');
    } else {
      setText($('live-call-id'), session.callId || '(no Location header)');
      $('live-call-id').dataset.callId = session.callId || '';
      if ($('live-supervision').dataset.state === 'none') setSupervision('attaching', 'attaching…');
    }
    setLiveState('started');
    liveButtons('running');
    announce(flow === 'relay' ? 'Voice session started through the relay.' : `Voice session started (call ${session.callId || 'unknown'}).`);
  } catch (err) {
    // A token the upstream refused cannot start another call; one that never reached it can.
    if (flow === 'token' && err && err.source === 'upstream' && state.issued) state.issued.usedForCall = true;
    if ($('live-supervision').dataset.state === 'relaying') setSupervision('none', '—');
    showError(box, 'The voice session could not start.', libraryErrorResult(err));
    setLiveState('failed');
    announce('The voice session could not start.');
    state.live = null;
    liveButtons('idle');
  }
}

function onLiveEnded(result) {
  const live = state.live;
  state.live = null;
  liveButtons('idle');
  setLiveState('ended');
  const report = result.report;
  $('end-session-id').value = report.sessionId;
  $('end-duration').value = String(report.duration);
  $('end-message-count').value = String(report.messageCount);
  $('end-ended-by').value = report.endedBy;
  setText($('live-message-count'), String(report.messageCount));
  if (result.ok && result.record) {
    clearError($('end-error'));
    renderEndRecord(report.sessionId, result.record, '');
  }
  if (live && live.session) setText($('live-elapsed'), formatCountdown(report.duration));
}

async function onLiveEnd() {
  const live = state.live;
  if (!live || !live.session) return;
  liveButtons('ending');
  setLiveState('ending');
  await live.session.end({ endedBy: 'user' });
}

// ---------------------------------------------------------------- wiring

function restoreBearer() {
  try {
    const saved = sessionStorage.getItem(BEARER_KEY);
    if (saved) {
      $('auth-bearer').value = saved;
      $('auth-details').open = true;
    }
  } catch {
    // storage disabled: the field still works for this page view
  }
}

function saveBearer() {
  try {
    const v = bearerValue();
    if (v) sessionStorage.setItem(BEARER_KEY, v);
    else sessionStorage.removeItem(BEARER_KEY);
  } catch {
    // storage disabled
  }
}

function init() {
  restoreBearer();
  $('auth-bearer').addEventListener('input', saveBearer);
  $('instructions').addEventListener('input', updateInstructionsCount);
  $('profile').addEventListener('change', () => {
    // A profile decides model and voice unless the user picks them again.
    if ($('profile').value) {
      $('model').value = '';
      $('voice').value = '';
    }
  });
  $('token-form').addEventListener('submit', onIssue);
  $('end-form').addEventListener('submit', onEnd);
  $('end-duration').addEventListener('input', () => {
    state.durationEdited = true;
    $('end-duration-hint').textContent = 'Your value is sent as is.';
  });

  $('token-reveal').addEventListener('click', () => {
    state.revealed = !state.revealed;
    renderTokenValue();
  });
  $('token-copy').addEventListener('click', (e) => {
    if (state.issued) copyWithFeedback(e.currentTarget, state.issued.token, 'Token');
  });
  $('session-copy').addEventListener('click', (e) => {
    if (state.issued) copyWithFeedback(e.currentTarget, state.issued.sessionId, 'Session id');
  });
  for (const btn of document.querySelectorAll('[data-copy-target]')) {
    btn.addEventListener('click', () => {
      copyWithFeedback(btn, $(btn.dataset.copyTarget).textContent, 'Command');
    });
  }

  $('live-start').addEventListener('click', onLiveStart);
  $('live-end').addEventListener('click', onLiveEnd);
  $('live-upstream').addEventListener('input', () => { $('live-upstream').dataset.edited = 'true'; });
  $('live-flow').addEventListener('change', onLiveFlowChange);
  $('live-data-channel').addEventListener('change', () => { $('live-data-channel').dataset.edited = 'true'; });
  onLiveFlowChange();
  window.addEventListener('pagehide', () => { if (state.live && state.live.session) state.live.session.end({ endedBy: 'user' }); });

  updateInstructionsCount();
  // Four ticks a second keep the display within 250 ms of the real second boundary.
  state.timer = setInterval(tick, 250);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
  loadOptions();
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}
