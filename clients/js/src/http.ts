import { VoicegateError, type ErrorSource, parseRetryAfter } from './errors.js';
import type { FetchLike, ResponseLike } from './types.js';

/** An HTTP answer read to the end: status, headers of interest, text and JSON (if any). */
export interface ReadResponse {
  status: number;
  ok: boolean;
  response: ResponseLike;
  text: string;
  json: unknown;
}

interface AbortControllerLike {
  readonly signal: unknown;
  abort(): void;
}

function newAbortController(): AbortControllerLike | undefined {
  const ctor = (globalThis as { AbortController?: new () => AbortControllerLike }).AbortController;
  return typeof ctor === 'function' ? new ctor() : undefined;
}

/** `fetch` with a deadline: aborts when possible, and gives up waiting in any case. Network
 * failures and timeouts become `VoicegateError`s (`network_error`, `timeout`, status 0). */
export async function fetchWithDeadline(
  fetchFn: FetchLike,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  timeoutMs: number,
  source: ErrorSource,
): Promise<ReadResponse> {
  const controller = newAbortController();
  let timer: unknown;
  let timedOut = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      controller?.abort();
      reject(new VoicegateError({ code: 'timeout', message: `No answer within ${timeoutMs} ms`, source }));
    }, timeoutMs);
  });
  const attempt = (async () => {
    let response: ResponseLike;
    try {
      response = await fetchFn(url, { ...init, signal: controller?.signal });
    } catch (cause) {
      if (timedOut) {
        throw new VoicegateError({ code: 'timeout', message: `No answer within ${timeoutMs} ms`, source });
      }
      throw new VoicegateError({ code: 'network_error', message: `Could not reach ${originOf(url)}`, source, cause });
    }
    let text = '';
    try {
      text = await response.text();
    } catch (cause) {
      throw new VoicegateError({
        code: 'network_error', message: `The answer from ${originOf(url)} was cut off`, source,
        status: response.status, cause,
      });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, ok: response.ok, response, text, json };
  })();
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
    attempt.catch(() => undefined); // settled after the deadline: nobody waits for it
  }
}

function originOf(url: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+/i.exec(url);
  return m ? m[0] : url;
}

/** The last path segment of a URL or path (`/v1/realtime/calls/rtc_abc` → `rtc_abc`), without
 * query or fragment; undefined when there is none. */
export function lastPathSegment(location: string | null | undefined): string | undefined {
  if (!location) {
    return undefined;
  }
  const last = location.split(/[?#]/)[0]!.replace(/\/+$/, '').split('/').pop();
  if (!last) {
    return undefined;
  }
  try {
    return decodeURIComponent(last);
  } catch {
    return last; // a stray "%": the segment as it is
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The error of a voicegate answer that is not a success: the server's `code`, message, status,
 * `Retry-After`, request id and `details`; `bad_response` when the body is not voicegate's JSON. */
export function voicegateErrorFrom(res: ReadResponse, nowMs: number): VoicegateError {
  const headers = res.response.headers;
  const retryAfterMs = parseRetryAfter(headers.get('Retry-After'), nowMs);
  const requestId = headers.get('X-Request-Id') ?? undefined;
  const body = res.json;
  if (isObject(body) && (typeof body.code === 'string' || typeof body.error === 'string')) {
    return new VoicegateError({
      code: typeof body.code === 'string' ? body.code : 'error',
      message: typeof body.error === 'string' ? body.error : `HTTP ${res.status}`,
      status: res.status,
      source: 'voicegate',
      retryAfterMs,
      requestId,
      details: typeof body.details === 'string' ? body.details : undefined,
    });
  }
  return new VoicegateError({
    code: 'bad_response',
    message: res.ok
      ? `Unexpected answer (HTTP ${res.status}) without success`
      : `HTTP ${res.status} without a voicegate JSON body`,
    status: res.status,
    source: 'voicegate',
    retryAfterMs,
    requestId,
  });
}

/** The error of a failed upstream `POST /realtime/calls`: OpenAI's `{"error":{message,code}}`. */
export function upstreamErrorFrom(res: ReadResponse, nowMs: number): VoicegateError {
  const headers = res.response.headers;
  const body = res.json;
  const err = isObject(body) && isObject(body.error) ? body.error : undefined;
  const message = err && typeof err.message === 'string' ? err.message : res.text.slice(0, 300);
  return new VoicegateError({
    code: err && typeof err.code === 'string' ? err.code : 'upstream_call_failed',
    message: `OpenAI connection failed (HTTP ${res.status}): ${message}`,
    status: res.status,
    source: 'upstream',
    retryAfterMs: parseRetryAfter(headers.get('retry-after'), nowMs),
    requestId: headers.get('x-request-id') ?? undefined,
  });
}

export { isObject };
