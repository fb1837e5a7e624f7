import { Emitter } from './emitter.js';
import { VoicegateError, isVoicegateError } from './errors.js';
import { fetchWithDeadline, isObject, lastPathSegment, upstreamErrorFrom, type ReadResponse } from './http.js';
import { relayForm } from './relay.js';
import type {
  AttachResult, ConnectFlow, DataChannelLike, EndedBy, EndResult, EndReport, EventTargetLike, FetchLike,
  IssuedToken, MediaDevicesLike, MediaStreamLike, MediaStreamTrackLike, PeerConnectionConstructor,
  PeerConnectionLike, RelayBody, RelayedCall, TokenRequest,
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
  relayOffer(sdp: string, config: TokenRequest | undefined, body: RelayBody): Promise<RelayedCall>;
  attachCall(sessionId: string, callId: string, cancelled: () => boolean): Promise<AttachResult>;
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
  /** Token flow: voicegate took the call over for supervision (`POST /api/realtime/attach`
   * answered). */
  attached: { sessionId: string; callId: string; attempts: number };
  /** Token flow: the call could not be attached after the retries (or the upstream gave no call
   * id: code `missing_call_id`). Not fatal: the call goes on, unsupervised. */
  attachFailed: { error: VoicegateError; attempts: number };
  /** The session is closed and its end report settled. */
  ended: EndResult;
}

type Handlers = { [K in keyof SessionEvents]?: (payload: SessionEvents[K]) => void };

/** Options of `client.connect()`. */
export interface ConnectOptions {
  /** `token` (default: what every earlier version did, and what a voicegate without the relay
   * serves) or `relay` (no credential on the device; needs voicegate's `/api/realtime/calls`). */
  flow?: ConnectFlow;
  /** The session request (`userId`, `sessionConfig`): the token request in the token flow (the
   * client's cache applies), the relay request's fields in the relay flow. */
  config?: TokenRequest;
  /** Token flow: a token the app already holds (e.g. from `getToken`): used as is, `config`
   * ignored. Refused in the relay flow. */
  token?: IssuedToken;
  /** Open the `oai-events` data channel (transcripts, server events, `send()`). Default: `true`
   * in the token flow, `false` in the relay flow (an audio-only offer: every control event then
   * comes from voicegate, the only way a profile's locked fields really hold). */
  dataChannel?: boolean;
  /** Relay flow: the request form (default `auto`, see {@link RelayBody}). */
  relayBody?: RelayBody;
  /** Token flow: report the call id to `POST /api/realtime/attach` after connecting so that
   * voicegate supervises the call (default `true`). */
  attach?: boolean;
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
  /** Token flow: the upstream calls endpoint (default `https://api.openai.com/v1/realtime/calls`). */
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
  return lastPathSegment(location);
}

/** What a session knows of itself once the server named it. */
interface SessionInfo {
  sessionId: string;
  expiresAt: number;
  config: { model?: string; voice?: string };
}

/** A live voice session: WebRTC to the upstream, events, the time limit and the end report. */
export class VoicegateSession extends Emitter<SessionEvents> {
  /** How the call was started. */
  readonly flow: ConnectFlow;
  /** `sess_…`, the id the end report names. */
  readonly sessionId: string;
  /** Token flow: `rtc_…` from the upstream's `Location`, when it sent one. Always undefined in
   * the relay flow (the upstream call id stays on the server). */
  callId: string | undefined;
  /** Token flow: the token's expiry (unix seconds); a session started before it keeps running
   * after it. Relay flow: the JSON answer's `expiresAt`, or 0 when the server did not say. */
  readonly expiresAt: number;
  /** The model and voice the server used (empty for a relay answer in the raw SDP form). */
  readonly config: { model?: string; voice?: string };
  readonly peerConnection: PeerConnectionLike;
  /** The `oai-events` data channel; undefined for an audio-only session (`dataChannel: false`). */
  readonly dataChannel: DataChannelLike | undefined;
  readonly localStream: MediaStreamLike;
  /** Token flow: the attach to voicegate's supervision, settled (never rejected) with its
   * result; undefined in the relay flow (voicegate supervises relayed calls by itself) or with
   * `attach: false`. */
  attachment: Promise<AttachResult> | undefined;
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
  constructor(host: SessionHost, options: ConnectOptions, flow: ConnectFlow, info: SessionInfo,
      pc: PeerConnectionLike, dc: DataChannelLike | undefined, stream: MediaStreamLike, ownsStream: boolean) {
    super();
    this.host = host;
    this.options = options;
    this.flow = flow;
    this.sessionId = info.sessionId;
    this.expiresAt = info.expiresAt;
    this.config = { ...info.config };
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
    );
    if (dc) {
      this.unlisten.push(
        listen(dc, 'open', () => this.emit('dataChannelOpen', {})),
        listen(dc, 'message', (e: { data?: unknown }) => this.onMessage(e?.data)),
        listen(dc, 'error', () => {
          if (!this.closed) this.emit('error', new VoicegateError({ code: 'data_channel_error', message: 'The oai-events data channel failed', source: 'client' }));
        }),
      );
    }
  }

  /** Sends a client event (e.g. `{type:'response.create'}`) on the data channel; false when it
   * is not open, or when the session has none. */
  send(event: { type: string; [field: string]: unknown }): boolean {
    if (this.closed || !this.dataChannel || this.dataChannel.readyState !== 'open') {
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

  /** @internal The server named the session (relay answer, or a fresh token after a 401). */
  adopt(info: SessionInfo): void {
    const self = this as { sessionId: string; expiresAt: number; config: SessionInfo['config'] };
    self.sessionId = info.sessionId;
    self.expiresAt = info.expiresAt;
    self.config = { ...info.config };
  }

  /** @internal Token flow: hands the call id to voicegate's supervision, in the background. */
  beginAttach(): void {
    const callId = this.callId;
    if (!callId) {
      const error = new VoicegateError({
        code: 'missing_call_id', source: 'upstream',
        message: 'The upstream answer had no Location header: the call cannot be attached for supervision',
      });
      this.attachment = Promise.resolve({ ok: false, attempts: 0, error });
      this.emit('attachFailed', { error, attempts: 0 });
      return;
    }
    const sessionId = this.sessionId;
    this.attachment = this.host.attachCall(sessionId, callId, () => this.closed).then((r) => {
      if (r.ok) {
        this.emit('attached', { sessionId, callId, attempts: r.attempts });
      } else if (r.error) {
        this.emit('attachFailed', { error: r.error, attempts: r.attempts });
      }
      return r;
    });
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
    try { this.dataChannel?.close(); } catch { /* already closed */ }
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

/** The flow `options` ask for, after checking what the start needs. Throws `bad_config`. */
function checkConnectOptions(options: ConnectOptions): ConnectFlow {
  if (!options || typeof options.RTCPeerConnection !== 'function') {
    throw new VoicegateError({ code: 'bad_config', message: 'connect() needs the RTCPeerConnection class' });
  }
  if (!options.stream && !options.mediaDevices) {
    throw new VoicegateError({ code: 'bad_config', message: 'connect() needs mediaDevices or a stream' });
  }
  const flow = options.flow ?? 'token';
  if (flow !== 'token' && flow !== 'relay') {
    throw new VoicegateError({ code: 'bad_config', message: `flow must be "token" or "relay", got "${String(flow)}"` });
  }
  if (flow === 'relay' && options.token) {
    throw new VoicegateError({ code: 'bad_config', message: 'The relay flow uses no token: drop the token option or use flow "token"' });
  }
  if (flow === 'token') {
    checkUpstreamUrl(options.upstreamUrl ?? DEFAULT_UPSTREAM_URL);
  } else {
    relayForm(options.config, options.relayBody ?? 'auto'); // a form that cannot carry the config
  }
  return flow;
}

async function openMicrophone(options: ConnectOptions): Promise<{ stream: MediaStreamLike; ownsStream: boolean }> {
  if (options.stream) {
    return { stream: options.stream, ownsStream: false };
  }
  try {
    return { stream: await options.mediaDevices!.getUserMedia({ audio: options.audio ?? true, video: false }), ownsStream: true };
  } catch (err) {
    throw new VoicegateError({ code: 'media_error', message: 'Could not open the microphone', cause: err });
  }
}

/** The peer connection, and the `oai-events` data channel when asked for; on failure the
 * microphone the library opened is released. */
function openPeer(options: ConnectOptions, stream: MediaStreamLike, ownsStream: boolean, withDataChannel: boolean):
    { pc: PeerConnectionLike; dc: DataChannelLike | undefined } {
  let pc: PeerConnectionLike;
  try {
    pc = new options.RTCPeerConnection(options.rtcConfiguration);
  } catch (err) {
    closeMedia(stream, ownsStream);
    throw new VoicegateError({ code: 'webrtc_error', message: 'Could not create the peer connection', cause: err });
  }
  if (!withDataChannel) {
    return { pc, dc: undefined };
  }
  try {
    return { pc, dc: pc.createDataChannel('oai-events') };
  } catch (err) {
    closeMedia(stream, ownsStream);
    try { pc.close(); } catch { /* ignore */ }
    throw new VoicegateError({ code: 'webrtc_error', message: 'Could not create the oai-events data channel', cause: err });
  }
}

/** Adds the microphone's audio (video tracks disabled, as the seed app does) and makes the offer. */
async function makeOffer(pc: PeerConnectionLike, stream: MediaStreamLike): Promise<string> {
  for (const track of stream.getTracks()) {
    if (track.kind === 'video') {
      track.enabled = false;
      continue;
    }
    pc.addTrack(track, stream);
  }
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  return offer.sdp ?? '';
}

async function applyAnswer(pc: PeerConnectionLike, sdp: string, source: 'voicegate' | 'upstream'): Promise<void> {
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (err) {
    throw new VoicegateError({ code: 'webrtc_error', message: `The ${source} SDP answer was not accepted`, source, cause: err });
  }
}

/** Token flow: posts the offer upstream with `Bearer ek_…`. A cached secret refused with 401 is
 * replaced by a fresh token once (the session adopts its id). Resolves to the 2xx answer and
 * the token that got it; throws the upstream's error otherwise. */
async function exchangeWithToken(host: SessionHost, options: ConnectOptions, session: VoicegateSession,
    issued: IssuedToken, fromCache: boolean, sdp: string): Promise<{ res: ReadResponse; issued: IssuedToken }> {
  const upstreamUrl = options.upstreamUrl ?? DEFAULT_UPSTREAM_URL;
  let res = await postOffer(host, upstreamUrl, issued.token, sdp);
  if (res.status === 401 && fromCache) {
    // A cached secret refused (expired early, or single-use upstream): one fresh token, once.
    host.invalidateToken(issued.token);
    issued = (await host.getToken(options.config, true)).issued;
    session.adopt(issued);
    res = await postOffer(host, upstreamUrl, issued.token, sdp);
  }
  if (!res.ok) {
    if (res.status === 401) {
      host.invalidateToken(issued.token);
    }
    throw upstreamErrorFrom(res, host.now());
  }
  return { res, issued };
}

const UNNAMED: SessionInfo = { sessionId: '', expiresAt: 0, config: {} };

/** The seed app's whole start, in either flow. Token flow: token, microphone, peer connection,
 * `oai-events`, offer, SDP POST to the upstream with `Bearer ek_…`, answer, call id, timers, then
 * the attach in the background. Relay flow: microphone, peer connection (audio only unless
 * `dataChannel`), offer, `POST /api/realtime/calls` to voicegate, answer, timers. On failure
 * everything acquired is released and a {@link VoicegateError} is thrown; once a call exists
 * upstream, a failure also reports the end (`endedBy: 'error'`). */
export async function connectSession(host: SessionHost, options: ConnectOptions): Promise<VoicegateSession> {
  const flow = checkConnectOptions(options);
  let issued: IssuedToken | undefined;
  let fromCache = false;
  if (flow === 'token') {
    if (options.token) {
      issued = options.token;
    } else {
      ({ issued, fromCache } = await host.getToken(options.config, false));
    }
  }
  const { stream, ownsStream } = await openMicrophone(options);
  const { pc, dc } = openPeer(options, stream, ownsStream, options.dataChannel ?? flow === 'token');
  const session = new VoicegateSession(host, options, flow, issued ?? UNNAMED, pc, dc, stream, ownsStream);
  let callCreated = false;
  try {
    const sdp = await makeOffer(pc, stream);
    if (flow === 'relay') {
      const call = await host.relayOffer(sdp, options.config, options.relayBody ?? 'auto');
      callCreated = true;
      session.adopt({ sessionId: call.sessionId, expiresAt: call.expiresAt ?? 0, config: call.config });
      await applyAnswer(pc, call.sdp, 'voicegate');
    } else {
      const got = await exchangeWithToken(host, options, session, issued!, fromCache, sdp);
      callCreated = true;
      if (!options.reuseToken) {
        host.invalidateToken(got.issued.token);
      }
      session.callId = callIdFromLocation(got.res.response.headers.get('Location'));
      await applyAnswer(pc, got.res.text, 'upstream');
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
  if (flow === 'token' && options.attach !== false) {
    session.beginAttach();
  }
  return session;
}
