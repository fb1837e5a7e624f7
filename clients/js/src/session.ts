import { Emitter } from './emitter.js';
import { VoicegateError, isVoicegateError } from './errors.js';
import { fetchWithDeadline, isObject, upstreamErrorFrom } from './http.js';
import type {
  DataChannelLike, EndedBy, EndResult, EndReport, EventTargetLike, FetchLike, IssuedToken,
  MediaDevicesLike, MediaStreamLike, MediaStreamTrackLike, PeerConnectionConstructor,
  PeerConnectionLike, TokenRequest,
} from './types.js';

/** OpenAI's WebRTC calls endpoint (GA). */
export const DEFAULT_UPSTREAM_URL = 'https://api.openai.com/v1/realtime/calls';
/** The seed app's `sessionTimeLimit`: 30 minutes. */
export const DEFAULT_SESSION_TIME_LIMIT_MS = 30 * 60_000;
/** "Almost up" fires this long before the limit (or at once when the limit is shorter). */
export const DEFAULT_WARN_BEFORE_MS = 60_000;

/** What the client gives a session (internal). */
export interface SessionHost {
  getToken(config: TokenRequest | undefined, forceRefresh: boolean): Promise<{ issued: IssuedToken; fromCache: boolean }>;
  invalidateToken(token?: string): void;
  reportEnd(report: EndReport): Promise<EndResult>;
  fetch(): FetchLike;
  now(): number;
  upstreamTimeoutMs: number;
}

/** A transcript update: deltas while someone speaks (`final` false), then the whole text. */
export interface TranscriptEvent {
  role: 'user' | 'assistant';
  /** The conversation item it belongs to. */
  itemId: string;
  /** The text so far (the whole text when `final`). */
  text: string;
  /** What this event added (empty on the final event). */
  delta: string;
  final: boolean;
}

/** A server event from the `oai-events` data channel (parsed JSON, at least a `type`). */
export interface ServerEvent {
  type: string;
  [field: string]: unknown;
}

/** Events of a {@link VoicegateSession}. */
export interface SessionEvents {
  /** The peer connection's state (`new`, `connecting`, `connected`, `disconnected`, `failed`,
   * `closed`; the ICE state where `connectionState` is missing). */
  connectionStateChange: { state: string };
  /** The `oai-events` data channel opened: `send()` works from now on. */
  dataChannelOpen: Record<string, never>;
  /** Every server event, as parsed JSON. */
  serverEvent: ServerEvent;
  transcript: TranscriptEvent;
  /** A remote (assistant audio) track: in a browser, play `streams[0]` in an audio element;
   * react-native-webrtc plays it by itself. */
  remoteTrack: { track: unknown; streams: unknown[] };
  /** The time limit is near (`warnBeforeMs` before it). */
  timeAlmostUp: { remainingMs: number; limitMs: number; elapsedMs: number };
  /** The time limit is reached; with `autoEndOnTimeUp` (default) `end({endedBy:'timeout'})` follows. */
  timeUp: { limitMs: number; elapsedMs: number };
  /** Something failed that does not throw: an upstream `error` event, a failed connection, a
   * data channel error. */
  error: VoicegateError;
  /** The end report could not be recorded after every retry. Not fatal: the session is closed. */
  endReportFailed: { error: VoicegateError; report: EndReport; attempts: number };
  /** The session is closed and its end report settled. */
  ended: EndResult;
}

type Handlers = { [K in keyof SessionEvents]?: (payload: SessionEvents[K]) => void };

/** Options of `client.connect()`. */
export interface ConnectOptions {
  /** The token request (`userId`, `sessionConfig`); the client's cache applies. */
  config?: TokenRequest;
  /** A token the app already holds (e.g. from `getToken`): used as is, `config` ignored. */
  token?: IssuedToken;
  /** `RTCPeerConnection` of the browser (`window.RTCPeerConnection`) or of react-native-webrtc. */
  RTCPeerConnection: PeerConnectionConstructor;
  /** Passed to the `RTCPeerConnection` constructor. */
  rtcConfiguration?: unknown;
  /** Where to get the microphone: `navigator.mediaDevices` or react-native-webrtc's `mediaDevices`. */
  mediaDevices?: MediaDevicesLike;
  /** Or a stream the app already has. Its tracks are not stopped by `end()` unless `stopStream`. */
  stream?: MediaStreamLike;
  /** `getUserMedia` audio constraints (default `true`). */
  audio?: unknown;
  /** Stop the tracks of a given `stream` on `end()` (tracks the library acquired are always stopped). */
  stopStream?: boolean;
  /** The upstream calls endpoint (default `https://api.openai.com/v1/realtime/calls`). */
  upstreamUrl?: string;
  /** The session time limit (default 30 min); `Infinity` or 0 for none. */
  sessionTimeLimitMs?: number;
  /** When `timeAlmostUp` fires before the limit (default 60 s). */
  warnBeforeMs?: number;
  /** On `timeUp`, end with `endedBy: 'timeout'` (default true). */
  autoEndOnTimeUp?: boolean;
  /** When the connection `failed`, end with `endedBy: 'error'` (default true). */
  endOnConnectionFailure?: boolean;
  /** Keep the token in the cache after it started a call (default false: voicegate records one
   * end per session id, so a token that started a call is not handed to the next one). */
  reuseToken?: boolean;
  /** Listeners registered before anything starts (so no early event is missed). */
  on?: Handlers;
}

/** Options of `session.end()`. */
export interface EndOptions {
  /** Default: the number of final transcripts seen (user and assistant). */
  messageCount?: number;
  /** Default: `timeout` after `timeUp`, else `user`. */
  endedBy?: EndedBy;
}

function listen(target: EventTargetLike, type: string, fn: (event: any) => void): () => void {
  if (typeof target.addEventListener === 'function') {
    target.addEventListener(type, fn);
    return () => target.removeEventListener?.(type, fn);
  }
  const t = target as Record<string, unknown>;
  const prop = `on${type}`;
  const previous = t[prop];
  t[prop] = fn;
  return () => { if (t[prop] === fn) t[prop] = previous ?? null; };
}

function checkUpstreamUrl(url: string): void {
  if (!/^https?:\/\//i.test(url)) {
    throw new VoicegateError({ code: 'bad_upstream_url', message: `upstreamUrl must be an http(s) URL, got "${url}"` });
  }
  const path = url.replace(/^https?:\/\/[^/]+/i, '').split(/[?#]/)[0] ?? '';
  if (!/\/realtime\/calls\/?$/.test(path)) {
    // The retired beta posted to /v1/realtime?model=…, which now answers beta_api_shape_disabled.
    throw new VoicegateError({
      code: 'bad_upstream_url',
      message: `upstreamUrl must be the calls endpoint (…/v1/realtime/calls), got "${url}"`,
    });
  }
}

/** The call id from a `Location` like `/v1/realtime/calls/rtc_abc`. */
export function callIdFromLocation(location: string | null | undefined): string | undefined {
  if (!location) {
    return undefined;
  }
  const last = location.split(/[?#]/)[0]!.replace(/\/+$/, '').split('/').pop();
  return last ? decodeURIComponent(last) : undefined;
}

/** A live voice session: WebRTC to the upstream, events, the time limit and the end report. */
export class VoicegateSession extends Emitter<SessionEvents> {
  /** `sess_…`, the id the end report names. */
  readonly sessionId: string;
  /** `rtc_…` from the upstream's `Location`, when it sent one. */
  callId: string | undefined;
  /** The token's expiry (unix seconds). A session started before it keeps running after it. */
  readonly expiresAt: number;
  /** The model and voice the server used. */
  readonly config: { model?: string; voice?: string };
  readonly peerConnection: PeerConnectionLike;
  readonly dataChannel: DataChannelLike;
  readonly localStream: MediaStreamLike;
  /** Start of the call (ms since the epoch), set once the answer is applied. */
  startedAt = 0;
  /** Final transcripts seen (user and assistant): the default `messageCount` of `end()`. */
  messageCount = 0;
  /** True after `timeAlmostUp` / `timeUp`. */
  timeAlmostUp = false;
  timeUp = false;

  private readonly host: SessionHost;
  private readonly options: ConnectOptions;
  private readonly ownsStream: boolean;
  private readonly timers: unknown[] = [];
  private readonly unlisten: Array<() => void> = [];
  private readonly partial = new Map<string, string>();
  private ending: Promise<EndResult> | undefined;
  private closed = false;
  private lastState = '';

  /** @internal Use `client.connect()`. */
  constructor(host: SessionHost, options: ConnectOptions, issued: IssuedToken, pc: PeerConnectionLike,
      dc: DataChannelLike, stream: MediaStreamLike, ownsStream: boolean) {
    super();
    this.host = host;
    this.options = options;
    this.sessionId = issued.sessionId;
    this.expiresAt = issued.expiresAt;
    this.config = { ...issued.config };
    this.peerConnection = pc;
    this.dataChannel = dc;
    this.localStream = stream;
    this.ownsStream = ownsStream;
    for (const [type, fn] of Object.entries(options.on ?? {})) {
      if (typeof fn === 'function') {
        this.on(type as keyof SessionEvents, fn as (p: unknown) => void);
      }
    }
    this.unlisten.push(
      listen(pc, 'connectionstatechange', () => this.onState(pc.connectionState ?? '')),
      listen(pc, 'iceconnectionstatechange', () => {
        if (pc.connectionState === undefined) this.onState(pc.iceConnectionState ?? '');
      }),
      listen(pc, 'track', (e: { track?: unknown; streams?: unknown[] }) => {
        this.emit('remoteTrack', { track: e?.track, streams: Array.isArray(e?.streams) ? e.streams : [] });
      }),
      listen(dc, 'open', () => this.emit('dataChannelOpen', {})),
      listen(dc, 'message', (e: { data?: unknown }) => this.onMessage(e?.data)),
      listen(dc, 'error', () => {
        if (!this.closed) this.emit('error', new VoicegateError({ code: 'data_channel_error', message: 'The oai-events data channel failed', source: 'client' }));
      }),
    );
  }

  /** Sends a client event (e.g. `{type:'response.create'}`) on the data channel; false when it is not open. */
  send(event: { type: string; [field: string]: unknown }): boolean {
    if (this.closed || this.dataChannel.readyState !== 'open') {
      return false;
    }
    this.dataChannel.send(JSON.stringify(event));
    return true;
  }

  /** Milliseconds since the call started. */
  elapsedMs(): number {
    return this.startedAt ? Math.max(0, this.host.now() - this.startedAt) : 0;
  }

  /** Closes tracks, data channel and connection, then reports the end to voicegate (with
   * retries). Idempotent: every call returns the first call's promise. Never rejects; a failed
   * report is in the result and in an `endReportFailed` event. */
  end(options: EndOptions = {}): Promise<EndResult> {
    if (!this.ending) {
      this.ending = this.doEnd(options);
    }
    return this.ending;
  }

  /** @internal */
  start(): void {
    this.startedAt = this.host.now();
    const limit = this.options.sessionTimeLimitMs ?? DEFAULT_SESSION_TIME_LIMIT_MS;
    if (!Number.isFinite(limit) || limit <= 0) {
      return;
    }
    const warnBefore = Math.max(0, this.options.warnBeforeMs ?? DEFAULT_WARN_BEFORE_MS);
    this.timers.push(setTimeout(() => {
      if (this.closed) return;
      this.timeAlmostUp = true;
      this.emit('timeAlmostUp', { remainingMs: Math.max(0, limit - this.elapsedMs()), limitMs: limit, elapsedMs: this.elapsedMs() });
    }, Math.max(0, limit - warnBefore)));
    this.timers.push(setTimeout(() => {
      if (this.closed) return;
      this.timeUp = true;
      this.emit('timeUp', { limitMs: limit, elapsedMs: this.elapsedMs() });
      if (this.options.autoEndOnTimeUp !== false) {
        void this.end({ endedBy: 'timeout' });
      }
    }, limit));
  }

  /** @internal Closes everything without reporting (a start that failed before a call existed). */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const off of this.unlisten) off();
    try { this.dataChannel.close(); } catch { /* already closed */ }
    closeMedia(this.localStream, this.ownsStream || this.options.stopStream === true);
    try { this.peerConnection.close(); } catch { /* already closed */ }
    // Browsers fire no connectionstatechange for close().
    if (this.lastState !== 'closed') {
      this.lastState = 'closed';
      this.emit('connectionStateChange', { state: 'closed' });
    }
  }

  private async doEnd(options: EndOptions): Promise<EndResult> {
    const endedAt = this.host.now();
    this.close();
    const report: EndReport = {
      sessionId: this.sessionId,
      duration: this.startedAt ? Math.max(0, Math.round((endedAt - this.startedAt) / 1000)) : 0,
      messageCount: options.messageCount ?? this.messageCount,
      endedBy: options.endedBy ?? (this.timeUp ? 'timeout' : 'user'),
    };
    let result: EndResult;
    try {
      result = await this.host.reportEnd(report);
    } catch (err) {
      result = { ok: false, alreadyEnded: false, attempts: 0, report,
        error: isVoicegateError(err) ? err : new VoicegateError({ code: 'client_error', message: 'End report failed', cause: err }) };
    }
    if (!result.ok && result.error) {
      this.emit('endReportFailed', { error: result.error, report, attempts: result.attempts });
    }
    this.emit('ended', result);
    return result;
  }

  private onState(state: string): void {
    if (!state || state === this.lastState || this.closed) {
      return;
    }
    this.lastState = state;
    this.emit('connectionStateChange', { state });
    if (state === 'failed') {
      this.emit('error', new VoicegateError({ code: 'webrtc_error', message: 'The WebRTC connection failed', source: 'client' }));
      if (this.options.endOnConnectionFailure !== false && this.startedAt) {
        void this.end({ endedBy: 'error' });
      }
    }
  }

  private onMessage(data: unknown): void {
    if (this.closed || typeof data !== 'string') {
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!isObject(event) || typeof event.type !== 'string') {
      return;
    }
    const ev = event as ServerEvent;
    this.emit('serverEvent', ev);
    const itemId = typeof ev.item_id === 'string' ? ev.item_id : '';
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    switch (ev.type) {
      // GA names first, then the beta names some deployments still send.
      case 'response.output_audio_transcript.delta':
      case 'response.audio_transcript.delta':
      case 'response.output_text.delta':
      case 'response.text.delta':
        this.delta('assistant', itemId, str(ev.delta));
        break;
      case 'response.output_audio_transcript.done':
      case 'response.audio_transcript.done':
        this.done('assistant', itemId, str(ev.transcript));
        break;
      case 'response.output_text.done':
      case 'response.text.done':
        this.done('assistant', itemId, str(ev.text));
        break;
      case 'conversation.item.input_audio_transcription.delta':
        this.delta('user', itemId, str(ev.delta));
        break;
      case 'conversation.item.input_audio_transcription.completed':
        this.done('user', itemId, str(ev.transcript));
        break;
      case 'error': {
        const e = isObject(ev.error) ? ev.error : {};
        this.emit('error', new VoicegateError({
          code: typeof e.code === 'string' ? e.code : typeof e.type === 'string' ? e.type : 'upstream_error',
          message: typeof e.message === 'string' ? e.message : 'The Realtime API reported an error',
          source: 'upstream',
        }));
        break;
      }
      default:
        break;
    }
  }

  private delta(role: 'user' | 'assistant', itemId: string, delta: string): void {
    const key = `${role}:${itemId}`;
    const text = (this.partial.get(key) ?? '') + delta;
    this.partial.set(key, text);
    this.emit('transcript', { role, itemId, text, delta, final: false });
  }

  private done(role: 'user' | 'assistant', itemId: string, transcript: string): void {
    const key = `${role}:${itemId}`;
    const text = transcript || this.partial.get(key) || '';
    this.partial.delete(key);
    this.messageCount += 1;
    this.emit('transcript', { role, itemId, text, delta: '', final: true });
  }
}

function closeMedia(stream: MediaStreamLike | undefined, stop: boolean): void {
  if (!stream || !stop) {
    return;
  }
  let tracks: MediaStreamTrackLike[] = [];
  try { tracks = stream.getTracks(); } catch { tracks = []; }
  for (const t of tracks) {
    try { t.stop(); } catch { /* already stopped */ }
  }
}

function asError(err: unknown, code: string, message: string): VoicegateError {
  return isVoicegateError(err) ? err : new VoicegateError({ code, message, cause: err });
}

async function postOffer(host: SessionHost, url: string, token: string, sdp: string) {
  return fetchWithDeadline(host.fetch(), url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/sdp' },
    body: sdp,
  }, host.upstreamTimeoutMs, 'upstream');
}

/** The seed app's whole start: token, peer connection, microphone, `oai-events`, offer, SDP POST
 * to the upstream with `Bearer ek_…`, answer, call id, timers. On failure everything acquired
 * is released and a {@link VoicegateError} is thrown; once a call exists upstream, a failure
 * also reports the end (`endedBy: 'error'`). */
export async function connectSession(host: SessionHost, options: ConnectOptions): Promise<VoicegateSession> {
  if (!options || typeof options.RTCPeerConnection !== 'function') {
    throw new VoicegateError({ code: 'bad_config', message: 'connect() needs the RTCPeerConnection class' });
  }
  if (!options.stream && !options.mediaDevices) {
    throw new VoicegateError({ code: 'bad_config', message: 'connect() needs mediaDevices or a stream' });
  }
  const upstreamUrl = options.upstreamUrl ?? DEFAULT_UPSTREAM_URL;
  checkUpstreamUrl(upstreamUrl);

  let issued: IssuedToken;
  let fromCache = false;
  if (options.token) {
    issued = options.token;
  } else {
    ({ issued, fromCache } = await host.getToken(options.config, false));
  }

  let stream: MediaStreamLike;
  const ownsStream = !options.stream;
  if (options.stream) {
    stream = options.stream;
  } else {
    try {
      stream = await options.mediaDevices!.getUserMedia({ audio: options.audio ?? true, video: false });
    } catch (err) {
      throw new VoicegateError({ code: 'media_error', message: 'Could not open the microphone', cause: err });
    }
  }

  let pc: PeerConnectionLike;
  let dc: DataChannelLike;
  try {
    pc = new options.RTCPeerConnection(options.rtcConfiguration);
  } catch (err) {
    closeMedia(stream, ownsStream);
    throw new VoicegateError({ code: 'webrtc_error', message: 'Could not create the peer connection', cause: err });
  }
  try {
    dc = pc.createDataChannel('oai-events');
  } catch (err) {
    closeMedia(stream, ownsStream);
    try { pc.close(); } catch { /* ignore */ }
    throw new VoicegateError({ code: 'webrtc_error', message: 'Could not create the oai-events data channel', cause: err });
  }
  const session = new VoicegateSession(host, options, issued, pc, dc, stream, ownsStream);
  let callCreated = false;
  try {
    for (const track of stream.getTracks()) {
      if (track.kind === 'video') {
        track.enabled = false; // audio only, as the seed app does
        continue;
      }
      pc.addTrack(track, stream);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const sdp = offer.sdp ?? '';

    let res = await postOffer(host, upstreamUrl, issued.token, sdp);
    if (res.status === 401 && fromCache) {
      // A cached secret refused (expired early, or single-use upstream): one fresh token, once.
      host.invalidateToken(issued.token);
      const again = await host.getToken(options.config, true);
      issued = again.issued;
      (session as { sessionId: string }).sessionId = issued.sessionId;
      (session as { expiresAt: number }).expiresAt = issued.expiresAt;
      res = await postOffer(host, upstreamUrl, issued.token, sdp);
    }
    if (!res.ok) {
      if (res.status === 401) {
        host.invalidateToken(issued.token);
      }
      throw upstreamErrorFrom(res, host.now());
    }
    callCreated = true;
    if (!options.reuseToken) {
      host.invalidateToken(issued.token);
    }
    session.callId = callIdFromLocation(res.response.headers.get('Location'));
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: res.text });
    } catch (err) {
      throw new VoicegateError({ code: 'webrtc_error', message: 'The upstream SDP answer was not accepted', source: 'upstream', cause: err });
    }
  } catch (err) {
    const error = asError(err, 'webrtc_error', 'Could not start the WebRTC session');
    if (callCreated) {
      await session.end({ endedBy: 'error', messageCount: 0 });
    } else {
      session.close();
    }
    throw error;
  }
  session.start();
  return session;
}
