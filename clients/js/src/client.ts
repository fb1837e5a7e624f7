import { VoicegateError, isVoicegateError } from './errors.js';
import { fetchWithDeadline, isObject, voicegateErrorFrom, type ReadResponse } from './http.js';
import { parseRelayed, relayRequest } from './relay.js';
import { connectSession, type ConnectOptions, type SessionHost, type VoicegateSession } from './session.js';
import type {
  AttachResult, EndRecord, EndReport, EndResult, FetchLike, IssuedToken, RelayBody, RelayedCall, TokenRequest,
} from './types.js';

/** Options of {@link createVoicegateClient}. Only `baseUrl` is required. */
export interface VoicegateClientOptions {
  /** Where voicegate answers, e.g. `https://voice.example.com` (the app's `API_BASE_URL`). */
  baseUrl: string;
  /** The app user's JWT (e.g. a Supabase access token), sent as `Authorization: Bearer …` to
   * voicegate; called before every request, so it may refresh. Omit when auth is off. */
  getAuthToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** A cached token is reused only while more than this is left before its `expiresAt`
   * (default 60 000 ms: time to finish the SDP exchange with a token that is still valid). */
  tokenRefreshMarginMs?: number;
  /** Automatic retries of the token request and of the relay's `POST /api/realtime/calls` after
   * 429/503 (nothing was issued then). Only when the server's `Retry-After` is at most
   * `maxRetryAfterMs` (default 5 000 ms); a longer wait is the app's decision, so the error (with
   * `retryAfterMs`) is thrown. Default 1 retry. */
  tokenRetry?: { maxRetries?: number; maxRetryAfterMs?: number };
  /** Retries of the end report (the server's `/end` is idempotent): `attempts` in all (default
   * 5), exponential back-off from `baseDelayMs` (500) doubling up to `maxDelayMs` (8 000), ±20 %
   * jitter, never sooner than the server's `Retry-After` (capped at 30 s). */
  endRetry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Retries of the token flow's attach (`POST /api/realtime/attach`, idempotent on the server)
   * on no answer, timeouts, 408, 425, 429 and 5xx: `attempts` in all (default 3), back-off from
   * `baseDelayMs` (500) doubling up to `maxDelayMs` (4 000), as `endRetry`. */
  attachRetry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Per-request deadlines: token 45 000 ms and relay 45 000 ms (above voicegate's 30 s upstream
   * deadline), end 10 000 ms, attach 10 000 ms, the upstream SDP POST 20 000 ms. */
  timeouts?: { tokenMs?: number; relayMs?: number; endMs?: number; attachMs?: number; upstreamMs?: number };
  /** For tests: the clock (ms since the epoch), sleeping and jitter. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** A voicegate client. Holds the token cache; safe to share across the app. */
export interface VoicegateClient {
  readonly baseUrl: string;
  /** `POST /api/realtime/token`. The answer is cached in memory for an identical request (and
   * the same auth token) until `tokenRefreshMarginMs` before `expiresAt`, never after;
   * concurrent identical requests share one HTTP call. Throws {@link VoicegateError}. */
  getToken(config?: TokenRequest, options?: { forceRefresh?: boolean }): Promise<IssuedToken>;
  /** Drops one token (by value) from the cache, or every token without an argument. */
  invalidateToken(token?: string): void;
  /** `POST /api/realtime/end` with retries and back-off. Never throws: the result says whether it
   * was recorded. A second call for the same session returns the first call's result (or retries
   * if that one failed). */
  reportEnd(report: EndReport): Promise<EndResult>;
  /** `POST /api/realtime/calls`: the relay, for apps that run WebRTC themselves. Posts `sdp` (an
   * offer) with `config` in the form `body` picks (see {@link RelayBody}) and resolves to the
   * answer and voicegate's session id. Throws {@link VoicegateError} (e.g. 400 `invalid_sdp`,
   * 400 `sdp_policy`). The call exists once this resolves: report its end with `reportEnd`. */
  relayOffer(sdp: string, config?: TokenRequest, body?: RelayBody): Promise<RelayedCall>;
  /** `POST /api/realtime/attach` `{sessionId, callId}` with retries (token flow; `connect()` does
   * it by itself). Never throws: the result says whether voicegate took the call over. */
  attachCall(sessionId: string, callId: string): Promise<AttachResult>;
  /** Starts a voice session over WebRTC, through the token flow or the relay (see
   * {@link ConnectOptions}). */
  connect(options: ConnectOptions): Promise<VoicegateSession>;
}

interface CacheEntry {
  issued: IssuedToken;
}

const DEFAULTS = {
  marginMs: 60_000,
  tokenRetries: 1,
  maxRetryAfterMs: 5_000,
  endAttempts: 5,
  endBaseDelayMs: 500,
  endMaxDelayMs: 8_000,
  retryAfterCapMs: 30_000,
  attachAttempts: 3,
  attachBaseDelayMs: 500,
  attachMaxDelayMs: 4_000,
  tokenTimeoutMs: 45_000,
  relayTimeoutMs: 45_000,
  endTimeoutMs: 10_000,
  attachTimeoutMs: 10_000,
  upstreamTimeoutMs: 20_000,
};

/** Attempts and back-off of a retried request (end report, attach). */
interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

function retryPolicy(given: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number } | undefined,
    attempts: number, baseDelayMs: number, maxDelayMs: number): RetryPolicy {
  const base = Math.max(0, given?.baseDelayMs ?? baseDelayMs);
  return {
    attempts: Math.max(1, given?.attempts ?? attempts),
    baseDelayMs: base,
    maxDelayMs: Math.max(base, given?.maxDelayMs ?? maxDelayMs),
  };
}

/** What a retried POST gave: the successful answer's JSON, or the last error. */
interface RetriedPost {
  ok: boolean;
  json?: Record<string, unknown>;
  error?: VoicegateError;
  attempts: number;
}

/** Key of an object with sorted keys: identical configs in any key order share a cache entry. */
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(stableStringify).join(',')}]`;
  }
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function parseIssued(json: unknown): IssuedToken | undefined {
  if (!isObject(json) || json.success !== true || typeof json.token !== 'string' || json.token === '' ||
      typeof json.sessionId !== 'string' || typeof json.expiresAt !== 'number') {
    return undefined;
  }
  const config = isObject(json.config) ? json.config : {};
  const issued: IssuedToken = {
    token: json.token,
    sessionId: json.sessionId,
    expiresAt: json.expiresAt,
    config: {
      model: typeof config.model === 'string' ? config.model : undefined,
      voice: typeof config.voice === 'string' ? config.voice : undefined,
    },
  };
  if (Array.isArray(json.warnings)) {
    issued.warnings = json.warnings.map(String);
  }
  return issued;
}

function checkReport(report: EndReport): string | undefined {
  if (typeof report.sessionId !== 'string' || report.sessionId === '') {
    return 'sessionId is missing';
  }
  if (!Number.isFinite(report.duration) || report.duration < 0) {
    return 'duration must be a number of seconds >= 0';
  }
  if (!Number.isInteger(report.messageCount) || report.messageCount < 0) {
    return 'messageCount must be an integer >= 0';
  }
  if (!['user', 'timeout', 'error'].includes(report.endedBy)) {
    return 'endedBy must be user, timeout or error';
  }
  return undefined;
}

/** Creates a client for one voicegate deployment. */
export function createVoicegateClient(options: VoicegateClientOptions): VoicegateClient {
  if (!options || typeof options.baseUrl !== 'string' || !/^https?:\/\//i.test(options.baseUrl)) {
    throw new VoicegateError({ code: 'bad_config', message: 'baseUrl must be an http(s) URL' });
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
  const fetchFn: FetchLike | undefined = options.fetch ?? (globalFetch ? globalFetch.bind(globalThis) : undefined);
  const now = options.now ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => { setTimeout(resolve, ms); }));
  const random = options.random ?? Math.random;
  const marginMs = Math.max(0, options.tokenRefreshMarginMs ?? DEFAULTS.marginMs);
  const tokenRetries = Math.max(0, options.tokenRetry?.maxRetries ?? DEFAULTS.tokenRetries);
  const maxRetryAfterMs = Math.max(0, options.tokenRetry?.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs);
  const endPolicy = retryPolicy(options.endRetry, DEFAULTS.endAttempts, DEFAULTS.endBaseDelayMs, DEFAULTS.endMaxDelayMs);
  const attachPolicy = retryPolicy(options.attachRetry, DEFAULTS.attachAttempts, DEFAULTS.attachBaseDelayMs,
    DEFAULTS.attachMaxDelayMs);
  const timeouts = {
    tokenMs: options.timeouts?.tokenMs ?? DEFAULTS.tokenTimeoutMs,
    relayMs: options.timeouts?.relayMs ?? DEFAULTS.relayTimeoutMs,
    endMs: options.timeouts?.endMs ?? DEFAULTS.endTimeoutMs,
    attachMs: options.timeouts?.attachMs ?? DEFAULTS.attachTimeoutMs,
    upstreamMs: options.timeouts?.upstreamMs ?? DEFAULTS.upstreamTimeoutMs,
  };

  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<IssuedToken>>();
  const ends = new Map<string, Promise<EndResult>>();

  function requireFetch(): FetchLike {
    if (!fetchFn) {
      throw new VoicegateError({ code: 'bad_config', message: 'No fetch available: pass options.fetch' });
    }
    return fetchFn;
  }

  async function headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    let auth: string | null | undefined;
    try {
      auth = options.getAuthToken ? await options.getAuthToken() : undefined;
    } catch (cause) {
      throw new VoicegateError({ code: 'auth_token_failed', message: 'getAuthToken() failed', cause });
    }
    if (auth) {
      h.Authorization = `Bearer ${auth}`;
    }
    return h;
  }

  function fresh(entry: CacheEntry | undefined): boolean {
    return entry !== undefined && now() < entry.issued.expiresAt * 1000 - marginMs;
  }

  /** A POST that issues something (a token, a relayed call): `parse` takes a successful answer.
   * Retried only after 429/503 with a short `Retry-After`, when nothing was issued. */
  async function postIssuing<T>(path: string, init: { headers: Record<string, string>; body: string },
      timeoutMs: number, parse: (res: ReadResponse) => T | undefined): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const res = await fetchWithDeadline(requireFetch(), `${baseUrl}${path}`,
        { method: 'POST', headers: init.headers, body: init.body }, timeoutMs, 'voicegate');
      const issued = res.ok ? parse(res) : undefined;
      if (issued !== undefined) {
        return issued;
      }
      const error = voicegateErrorFrom(res, now());
      // 429 and 503 mean nothing was issued, so trying again cannot double-issue a session.
      const retryable = (res.status === 429 || res.status === 503) && error.retryAfterMs !== undefined &&
        error.retryAfterMs <= maxRetryAfterMs;
      if (!retryable || attempt >= tokenRetries) {
        throw error;
      }
      await sleep(error.retryAfterMs ?? 0);
    }
  }

  function requestToken(body: TokenRequest, h: Record<string, string>): Promise<IssuedToken> {
    return postIssuing('/api/realtime/token', { headers: h, body: JSON.stringify(body) }, timeouts.tokenMs,
      (res) => parseIssued(res.json));
  }

  async function relayOffer(sdp: string, config: TokenRequest = {}, body: RelayBody = 'auto'): Promise<RelayedCall> {
    const request = relayRequest(sdp, config, body); // throws bad_config before anything is sent
    const h = await headers();
    return postIssuing(`/api/realtime/calls${request.query}`,
      { headers: { ...h, ...request.headers }, body: request.body }, timeouts.relayMs, parseRelayed);
  }

  async function getTokenTracked(config: TokenRequest = {}, forceRefresh = false):
      Promise<{ issued: IssuedToken; fromCache: boolean }> {
    const h = await headers();
    const key = `${stableStringify(config)}\u0000${h.Authorization ?? ''}`;
    const cached = cache.get(key);
    if (!forceRefresh && cached && fresh(cached)) {
      return { issued: cached.issued, fromCache: true };
    }
    cache.delete(key);
    const pending = inflight.get(key);
    if (!forceRefresh && pending) {
      return { issued: await pending, fromCache: false };
    }
    const p = requestToken(config, h);
    inflight.set(key, p);
    try {
      const issued = await p;
      cache.set(key, { issued });
      return { issued, fromCache: false };
    } finally {
      if (inflight.get(key) === p) {
        inflight.delete(key);
      }
    }
  }

  function invalidateToken(token?: string): void {
    for (const [key, entry] of cache) {
      if (token === undefined || entry.issued.token === token) {
        cache.delete(key);
      }
    }
  }

  function forgetSession(sessionId: string): void {
    for (const [key, entry] of cache) {
      if (entry.issued.sessionId === sessionId) {
        cache.delete(key);
      }
    }
  }

  function backoff(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined): number {
    const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    const jittered = Math.round(exp * (0.8 + 0.4 * random()));
    const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, DEFAULTS.retryAfterCapMs);
    return Math.max(jittered, floor);
  }

  /** A JSON POST that is safe to repeat (the server is idempotent): retried with back-off on no
   * answer, timeouts, 408, 425, 429 and 5xx, until `policy.attempts` or until `cancelled()`. */
  async function postRetrying(path: string, body: unknown, policy: RetryPolicy, timeoutMs: number,
      what: string, cancelled: () => boolean = () => false): Promise<RetriedPost> {
    let last: VoicegateError | undefined;
    for (let attempt = 1; attempt <= policy.attempts; attempt += 1) {
      try {
        const res = await fetchWithDeadline(requireFetch(), `${baseUrl}${path}`,
          { method: 'POST', headers: await headers(), body: JSON.stringify(body) }, timeoutMs, 'voicegate');
        if (res.ok && isObject(res.json) && res.json.success === true) {
          return { ok: true, json: res.json, attempts: attempt };
        }
        last = voicegateErrorFrom(res, now());
      } catch (err) {
        last = isVoicegateError(err) ? err
          : new VoicegateError({ code: 'network_error', message: `${what} failed`, cause: err });
      }
      if (!last.retryable || attempt === policy.attempts) {
        return { ok: false, error: last, attempts: attempt };
      }
      await sleep(backoff(policy, attempt, last.retryAfterMs));
      if (cancelled()) {
        return { ok: false, error: last, attempts: attempt };
      }
    }
    /* c8 ignore next */
    return { ok: false, error: last, attempts: policy.attempts };
  }

  async function postEnd(report: EndReport): Promise<EndResult> {
    const problem = checkReport(report);
    if (problem) {
      return {
        ok: false, alreadyEnded: false, attempts: 0, report,
        error: new VoicegateError({ code: 'bad_request', message: `End report not sent: ${problem}` }),
      };
    }
    const r = await postRetrying('/api/realtime/end', report, endPolicy, timeouts.endMs, 'The end report');
    if (!r.ok) {
      return { ok: false, alreadyEnded: false, error: r.error, attempts: r.attempts, report };
    }
    const record = r.json as unknown as EndRecord;
    forgetSession(report.sessionId);
    return { ok: true, record, alreadyEnded: record.alreadyEnded === true, attempts: r.attempts, report };
  }

  async function attachCall(sessionId: string, callId: string, cancelled?: () => boolean): Promise<AttachResult> {
    if (typeof sessionId !== 'string' || sessionId === '' || typeof callId !== 'string' || callId === '') {
      return {
        ok: false, attempts: 0,
        error: new VoicegateError({ code: 'bad_request', message: 'Attach not sent: sessionId and callId are needed' }),
      };
    }
    try {
      const r = await postRetrying('/api/realtime/attach', { sessionId, callId }, attachPolicy, timeouts.attachMs,
        'The attach request', cancelled);
      return r.ok ? { ok: true, attempts: r.attempts } : { ok: false, attempts: r.attempts, error: r.error };
    } catch (err) {
      return {
        ok: false, attempts: 0,
        error: isVoicegateError(err) ? err : new VoicegateError({ code: 'client_error', message: 'Attach failed', cause: err }),
      };
    }
  }

  function reportEnd(report: EndReport): Promise<EndResult> {
    const key = report && typeof report.sessionId === 'string' ? report.sessionId : '';
    const existing = ends.get(key);
    if (key && existing) {
      return existing;
    }
    const p = postEnd(report).catch((err: unknown): EndResult => ({
      ok: false, alreadyEnded: false, attempts: 0, report,
      error: isVoicegateError(err) ? err : new VoicegateError({ code: 'client_error', message: 'End report failed', cause: err }),
    }));
    if (key) {
      ends.set(key, p);
      // A failed report may be tried again later; a recorded one is final.
      void p.then((r) => { if (!r.ok && ends.get(key) === p) ends.delete(key); });
    }
    return p;
  }

  const host: SessionHost = {
    getToken: (config, forceRefresh) => getTokenTracked(config, forceRefresh),
    invalidateToken,
    reportEnd,
    relayOffer,
    attachCall,
    fetch: () => requireFetch(),
    now,
    upstreamTimeoutMs: timeouts.upstreamMs,
  };

  return {
    baseUrl,
    getToken: async (config, opts) => (await getTokenTracked(config, opts?.forceRefresh === true)).issued,
    invalidateToken,
    reportEnd,
    relayOffer,
    attachCall: (sessionId, callId) => attachCall(sessionId, callId),
    connect: (connectOptions) => connectSession(host, connectOptions),
  };
}
