// The relay's wire shapes (SPEC §7.1): how `POST /api/realtime/calls` is asked, and how its
// answer is read. Pure functions: the HTTP round trip (auth header, deadline, retry) is the
// client's.
import { VoicegateError } from './errors.js';
import { isObject, lastPathSegment, type ReadResponse } from './http.js';
import type { RelayBody, RelayedCall, SessionConfig, TokenRequest } from './types.js';

/** The `sessionConfig` fields the raw SDP form carries, in its query. */
const QUERY_FIELDS = ['model', 'voice', 'profile'] as const;

/** What to send: the query (with its `?`, or empty), the body and the content headers. */
export interface RelayHttpRequest {
  query: string;
  body: string;
  headers: Record<string, string>;
}

/** True when `config` holds something only the JSON form can carry: a `userId`, or a
 * `sessionConfig` field besides model, voice and profile. */
export function needsJsonForm(config: TokenRequest | undefined): boolean {
  if (!config) {
    return false;
  }
  if (config.userId !== undefined) {
    return true;
  }
  const sc = (config.sessionConfig ?? {}) as Record<string, unknown>;
  return Object.keys(sc).some((k) => sc[k] !== undefined && !(QUERY_FIELDS as readonly string[]).includes(k));
}

function queryOf(sc: SessionConfig | undefined): string {
  const parts: string[] = [];
  for (const k of QUERY_FIELDS) {
    const v = sc?.[k];
    if (v !== undefined && v !== null && v !== '') {
      parts.push(`${k}=${encodeURIComponent(String(v))}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The form a relay request takes for `config` (see {@link RelayBody}). Throws `bad_config` for an
 * unknown form, or for `sdp` when `config` holds what only the JSON form can carry. */
export function relayForm(config: TokenRequest | undefined, form: RelayBody): 'sdp' | 'json' {
  if (form !== 'auto' && form !== 'sdp' && form !== 'json') {
    throw new VoicegateError({ code: 'bad_config', message: `relayBody must be auto, sdp or json, got "${String(form)}"` });
  }
  if (form === 'sdp' && needsJsonForm(config)) {
    throw new VoicegateError({
      code: 'bad_config',
      message: 'userId and sessionConfig fields other than model, voice and profile need relayBody "json" (or "auto")',
    });
  }
  return form === 'auto' ? (needsJsonForm(config) ? 'json' : 'sdp') : form;
}

/** The request for an offer `sdp` and a token-style `config`, in the form `form` picks. Throws
 * `bad_config` for an empty offer or a form that cannot carry `config`. */
export function relayRequest(sdp: string, config: TokenRequest | undefined, form: RelayBody): RelayHttpRequest {
  if (typeof sdp !== 'string' || sdp.trim() === '') {
    throw new VoicegateError({ code: 'bad_config', message: 'The relay needs an SDP offer' });
  }
  const json = relayForm(config, form) === 'json';
  if (json) {
    const body: Record<string, unknown> = {};
    if (config?.userId !== undefined) body.userId = config.userId;
    if (config?.sessionConfig !== undefined) body.sessionConfig = config.sessionConfig;
    body.sdp = sdp;
    return {
      query: '',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    };
  }
  return {
    query: queryOf(config?.sessionConfig),
    body: sdp,
    headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp, application/json' },
  };
}

function looksLikeSdp(text: string): boolean {
  return /^v=0\r?\n/.test(text);
}

/** The call of a successful (2xx) relay answer, either form: JSON `{success, sdp, sessionId,
 * expiresAt, config}`, or the SDP answer as the body with `X-Session-Id` (else the session id
 * from `Location: /api/realtime/calls/{sessionId}`). Undefined when it is neither. */
export function parseRelayed(res: ReadResponse): RelayedCall | undefined {
  const json = res.json;
  if (isObject(json)) {
    if (json.success !== true || typeof json.sdp !== 'string' || !looksLikeSdp(json.sdp) ||
        typeof json.sessionId !== 'string' || json.sessionId === '') {
      return undefined;
    }
    const config = isObject(json.config) ? json.config : {};
    const call: RelayedCall = {
      sdp: json.sdp,
      sessionId: json.sessionId,
      config: {
        model: typeof config.model === 'string' ? config.model : undefined,
        voice: typeof config.voice === 'string' ? config.voice : undefined,
      },
    };
    if (typeof json.expiresAt === 'number') call.expiresAt = json.expiresAt;
    if (Array.isArray(json.warnings)) call.warnings = json.warnings.map(String);
    return call;
  }
  if (!looksLikeSdp(res.text)) {
    return undefined;
  }
  const headers = res.response.headers;
  const sessionId = headers.get('X-Session-Id')?.trim() || lastPathSegment(headers.get('Location'));
  if (!sessionId) {
    return undefined;
  }
  return { sdp: res.text, sessionId, config: {} };
}
