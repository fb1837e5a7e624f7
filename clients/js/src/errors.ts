/** Where a failure came from: voicegate's API, the upstream Realtime API (the SDP POST or a
 * server event on the data channel), or this client itself (network, media, timeouts). */
export type ErrorSource = 'voicegate' | 'upstream' | 'client';

/** Fields of a {@link VoicegateError}. */
export interface VoicegateErrorInit {
  /** Machine code: the server's `code` (e.g. `rate_limited`, `quota_exhausted`), the upstream's
   * `error.code`, or one of the client's own (`network_error`, `timeout`, `bad_response`,
   * `media_error`, `webrtc_error`, `bad_upstream_url`, `upstream_call_failed`). */
  code: string;
  message: string;
  /** HTTP status; 0 when there was no HTTP answer. */
  status?: number;
  source?: ErrorSource;
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  retryAfterMs?: number;
  /** `X-Request-Id` (voicegate) or `x-request-id` (upstream), for support tickets. */
  requestId?: string;
  /** The server's `details` (only in its dev mode). */
  details?: string;
  cause?: unknown;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Every failure the library reports is one of these: never a bare `Error`, never a token in
 * its message. */
export class VoicegateError extends Error {
  override readonly name = 'VoicegateError';
  readonly code: string;
  readonly status: number;
  readonly source: ErrorSource;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  readonly details: string | undefined;
  readonly cause: unknown;

  constructor(init: VoicegateErrorInit) {
    super(scrubSecrets(init.message));
    this.code = init.code;
    this.status = init.status ?? 0;
    this.source = init.source ?? 'client';
    this.retryAfterMs = init.retryAfterMs;
    this.requestId = init.requestId;
    this.details = init.details === undefined ? undefined : scrubSecrets(init.details);
    this.cause = init.cause;
  }

  /** True when trying again later can succeed: no answer at all, a timeout, 408, 425, 429 or 5xx. */
  get retryable(): boolean {
    if (this.status === 0) {
      return this.code === 'network_error' || this.code === 'timeout';
    }
    return RETRYABLE_STATUS.has(this.status);
  }
}

/** `instanceof` across the ESM and CommonJS builds (two copies of the class) is unreliable. */
export function isVoicegateError(value: unknown): value is VoicegateError {
  return value instanceof VoicegateError ||
    (typeof value === 'object' && value !== null && (value as { name?: unknown }).name === 'VoicegateError' &&
      typeof (value as { code?: unknown }).code === 'string');
}

/** `ek_…wxyz`: what may be shown of a client secret (the last four characters). */
export function redactToken(token: string): string {
  return token.length > 7 ? `${token.slice(0, 3)}…${token.slice(-4)}` : '…';
}

/** Replaces anything that looks like a client secret or an API key in `text`. */
export function scrubSecrets(text: string): string {
  return String(text)
    .replace(/\bek_[A-Za-z0-9_-]+/g, (m) => redactToken(m))
    .replace(/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-…')
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer …');
}

/** `Retry-After` (delta seconds or an HTTP date) in milliseconds from `nowMs`; undefined if absent
 * or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  const text = value.trim();
  if (text === '') {
    return undefined;
  }
  if (/^\d+(\.\d+)?$/.test(text)) {
    return Math.round(Number(text) * 1000);
  }
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
